"""Operator alerts: listing them, acknowledging them (raised by ``incident_notices``), and
the bookkeeping of posting them to the agent desk (``bot/slack/alerts.py``).

An alert is due at the desk while it is neither posted nor acknowledged, and its
``next_post_at`` (if any) has come. A gateway claims it for one try with a compare-and-set,
so two gateways never post the same alert; the claim is a lease that lapses, so an alert
whose gateway died while posting it is tried again. Nothing here knows Slack: errors are
strings, and each function takes a session from ``unit_of_work``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from redress.conversations.views import fields
from redress.db.models import OperatorAlert
from redress.delivery.leased_queue import retry_delay

# How long a gateway holds an alert while it posts it; one that dies meanwhile leaves it to
# be tried again after this.
POST_LEASE = timedelta(minutes=2)


class UnknownAlert(LookupError):
    def __init__(self, alert_id: object) -> None:
        super().__init__(f"there is no alert {alert_id!r}")
        self.alert_id = alert_id


def list_alerts(session: Session, *, open_only: bool = True) -> list[OperatorAlert]:
    """Newest first; ``open_only`` leaves out the acknowledged ones."""
    query = select(OperatorAlert).order_by(OperatorAlert.created_at.desc(), OperatorAlert.id.desc())
    if open_only:
        query = query.where(OperatorAlert.acknowledged_at.is_(None))
    return list(session.scalars(query))


def acknowledge(session: Session, alert_id: int, now: datetime) -> OperatorAlert:
    """Marks the alert seen; acknowledging again keeps the first time."""
    return acknowledge_once(session, alert_id, now)[0]


def acknowledge_once(
    session: Session, alert_id: int, now: datetime, *, by: str | None = None
) -> tuple[OperatorAlert, bool]:
    """``acknowledge``, also saying whether this call was the one that acknowledged it (False:
    it already was). Compare-and-set, so of two at once (two gateways, a double click)
    exactly one is first and the first time stands."""
    taken = session.execute(
        update(OperatorAlert)
        .where(OperatorAlert.id == alert_id, OperatorAlert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=by[:120] if by else None)
        .execution_options(synchronize_session=False)
    )
    alert = session.get(OperatorAlert, alert_id, populate_existing=True)
    if alert is None:
        raise UnknownAlert(alert_id)
    return alert, taken.rowcount == 1


def get_alert(session: Session, alert_id: int) -> OperatorAlert | None:
    return session.get(OperatorAlert, alert_id)


# Posting to the agent desk ------------------------------------------------------------------


def due_for_posting(session: Session, now: datetime, *, limit: int = 20) -> list[int]:
    """Alerts not yet at the desk, not acknowledged, and due a try; oldest first."""
    return list(
        session.scalars(
            select(OperatorAlert.id)
            .where(_due_for_posting(now))
            .order_by(OperatorAlert.id)
            .limit(limit)
        )
    )


def _due_for_posting(now: datetime) -> Any:
    return and_(
        OperatorAlert.posted_at.is_(None),
        OperatorAlert.acknowledged_at.is_(None),
        or_(OperatorAlert.next_post_at.is_(None), OperatorAlert.next_post_at <= now),
    )


def claim_for_posting(
    session: Session, alert_id: int, now: datetime, *, lease: timedelta = POST_LEASE
) -> bool:
    """Takes the alert for one try at posting it: only if it is still due (compare-and-set,
    so two gateways never both post it). The try is counted, and the next one is due after
    ``lease`` unless the outcome is noted sooner."""
    taken = session.execute(
        update(OperatorAlert)
        .where(OperatorAlert.id == alert_id, _due_for_posting(now))
        .values(next_post_at=now + lease, post_attempts=OperatorAlert.post_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def note_posted(session: Session, alert_id: int, now: datetime) -> None:
    alert = _alert(session, alert_id)
    alert.posted_at = now
    alert.next_post_at = None
    alert.last_post_error = None


def note_post_failed(
    session: Session,
    alert_id: int,
    error: str,
    now: datetime,
    *,
    retry_after: timedelta | None = None,
) -> datetime:
    """Keeps the error and when to try again: after ``retry_after`` when the desk said how
    long to wait, otherwise with the usual backoff (30 s, doubling, at most 30 min). Returns
    when the next try is due. The alert stays in the API and the command line meanwhile."""
    alert = _alert(session, alert_id)
    alert.last_post_error = error[:300]
    alert.next_post_at = now + (
        retry_after if retry_after is not None else retry_delay(alert.post_attempts)
    )
    return alert.next_post_at


def _alert(session: Session, alert_id: int) -> OperatorAlert:
    alert = session.get(OperatorAlert, alert_id)
    if alert is None:
        raise UnknownAlert(alert_id)
    return alert


def alert_json(alert: OperatorAlert) -> dict[str, Any]:
    names = ("id", "kind", "summary", "detail", "incident_id", "created_at")
    return fields(alert, *names, "acknowledged_at", "acknowledged_by")
