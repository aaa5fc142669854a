"""Telling a case's team about it at the desk: a promise about to fall due or missed, a case
reopened because the customer says it is not fixed, a poor rating. Each notice is an operator
alert naming the case, so it is kept, posted once (into the case's thread in the team's
channel, shown in the channel too, mentioning the owner), listed by ``GET /api/alerts``, and
acknowledged like any other."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from redress.db.models import Complaint
from redress.incidents.notices import raise_alert

# Alert kinds about one case.
PROMISE_DUE_SOON = "promise_due_soon"
PROMISE_MISSED = "case_promise_missed"
CASE_REOPENED = "case_reopened"
LOW_RATING = "low_rating"
CASE_KINDS = (PROMISE_DUE_SOON, PROMISE_MISSED, CASE_REOPENED, LOW_RATING)


def tell_team(
    session: Session,
    complaint: Complaint,
    kind: str,
    summary: str,
    now: datetime,
    *,
    dedupe_key: str,
    mention_owner: bool = True,
    **detail: Any,
) -> bool:
    """Raises an alert for the case's team, once per ``dedupe_key``. Its detail names the
    case (``complaint``: the reference), the ``team``, and the owner to mention, if any.
    Returns whether it is new."""
    return raise_alert(
        session,
        kind=kind,
        dedupe_key=dedupe_key[:200],
        summary=summary,
        detail={
            "complaint": complaint.reference,
            "conversation": complaint.conversation_id,
            "team": complaint.team,
            "owner_id": complaint.owner_id if mention_owner else None,
            "owner": complaint.owner_name,
            **detail,
        },
        now=now,
    )
