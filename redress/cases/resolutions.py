"""Each time a case is resolved: by an agent, by the assistant (the customer said it is
fixed) or by an incident being resolved. The customer's answers afterwards (fixed? a rating,
still working?) are kept on that resolution, so a case resolved twice keeps both.

One resolution of several cases at once (an agent resolving a conversation with two open
complaints) is a group: the rows made at the same moment, the same way, by the same person.
"Is it fixed?" and the rating are asked once per group, and the answer lands on each row.

A "no" (not fixed, or no longer working at the follow-up) reopens the case and puts it back
with its team: the complaint is open again, the team is told in the case's thread, a new
reply-by is promised (the time first given, if it is still ahead, else the category's reply
time in the team's hours), and a conversation a person had goes back to the desk as a new
handoff. The rating is not asked right after a "no": it is asked after the case is
resolved again, about that resolution.

Resolving keeps only the reply-by promise; a callback or visit an agent promised stays owed
until it is marked done, so a reopened case still has it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.business import Business
from redress.cases import notices, promises
from redress.cases.records import ASSISTANT as MADE_BY_ASSISTANT
from redress.cases.records import CANCELLED as PROMISE_CANCELLED
from redress.cases.records import OPEN as PROMISE_OPEN
from redress.cases.records import REPLY_BY, REPLY_WHAT, reply_due
from redress.complaints import status as complaint_status
from redress.complaints.categories import Severity
from redress.conversations import records as conversations
from redress.db.models import Complaint, Promise, Resolution

AGENT = "agent"
ASSISTANT = "assistant"
INCIDENT = "incident"
VIA = (AGENT, ASSISTANT, INCIDENT)

# Why a case is reopened.
NOT_FIXED = "not_fixed"
NOT_WORKING = "not_still_working"
# The reason recorded with the handoff a reopened case asks for.
HANDOFF_REASON = "not_fixed"
# What a poor rating is: this or lower raises an alert to the team.
LOW_RATING_AT_MOST = 2


def record(
    session: Session,
    complaint: Complaint,
    via: str,
    by: str,
    now: datetime,
    *,
    handoff_id: int | None = None,
) -> Resolution:
    """Resolves the case and records who resolved it and how. Its reply-by promise is kept:
    the team did get back to the customer. A callback, visit or other thing an agent
    promised is not: resolving the case does not make the call, so it stays owed (and
    watched) until it is marked done. ``handoff_id``: the handoff an agent resolved it from
    (a person had the conversation), so a "no" sends it back to the desk."""
    if via not in VIA:
        raise ValueError(f"a case is resolved by one of {', '.join(VIA)}, not {via!r}")
    complaint.status = "resolved"
    complaint.desk_status = None
    complaint.resolved_at = now
    complaint.resolved_by = by[:120]
    complaint.resolved_via = via
    resolution = Resolution(
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        via=via,
        by=by[:120],
        resolved_at=now,
        handoff_id=handoff_id,
    )
    session.add(resolution)
    promises.keep_all(session, complaint.id, by, now, kinds=(REPLY_BY,))
    session.flush()
    return resolution


def latest(session: Session, complaint_id: int) -> Resolution | None:
    return session.scalar(
        select(Resolution)
        .where(Resolution.complaint_id == complaint_id)
        .order_by(Resolution.id.desc())
        .limit(1)
    )


def of_conversation(session: Session, conversation_id: str) -> list[Resolution]:
    return list(
        session.scalars(
            select(Resolution)
            .where(Resolution.conversation_id == conversation_id)
            .order_by(Resolution.id)
        )
    )


# Which resolution an answer is about --------------------------------------------------------


def latest_group(
    session: Session, conversation_id: str, wanted: Callable[[Resolution], bool]
) -> list[Resolution]:
    """The latest resolution of the conversation that ``wanted`` picks, with the rest of
    its group that ``wanted`` picks too."""
    rows = list(reversed(of_conversation(session, conversation_id)))
    first = next((r for r in rows if wanted(r)), None)
    if first is None:
        return []
    same = (first.resolved_at, first.via, first.by)
    return sorted(
        (r for r in rows if (r.resolved_at, r.via, r.by) == same and wanted(r)),
        key=lambda r: r.id,
    )


def awaiting_fixed(session: Session, conversation_id: str) -> list[Resolution]:
    """The resolutions "is it fixed?" is about: the latest ones not answered yet, whose
    cases are still resolved."""

    def wanted(r: Resolution) -> bool:
        return r.fixed is None and r.reopened_at is None and _still_resolved(session, r)

    return latest_group(session, conversation_id, wanted)


def awaiting_rating(session: Session, conversation_id: str) -> list[Resolution]:
    """The resolutions whose rating was asked and not given yet (the latest ones)."""
    return latest_group(
        session,
        conversation_id,
        lambda r: r.rating_asked_at is not None and r.rating is None,
    )


def rating_owed(session: Session, conversation_id: str) -> list[Resolution]:
    """Resolutions whose "is it fixed?" was answered and whose rating was never asked: the
    assistant heard the answer (after an incident fix), and the rating comes next."""
    return latest_group(
        session,
        conversation_id,
        lambda r: (
            r.fixed is not None
            and r.reopened_at is None
            and r.rating_asked_at is None
            and r.rating is None
        ),
    )


def _still_resolved(session: Session, resolution: Resolution) -> bool:
    complaint = session.get(Complaint, resolution.complaint_id)
    return complaint is not None and complaint.status == "resolved"


# Answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reopened:
    """A case put back with its team: what the customer is told comes from this."""

    reference: str
    team_name: str
    # The case's owner, who has it again, if anyone claimed it.
    person: str | None
    # When a reply is now promised (recorded as a reply-by promise), if it could be worked out.
    reply_by: datetime | None
    # Whether it went back to the desk as a handoff (a person had the conversation).
    handoff: bool


def answer_fixed(
    session: Session,
    group: list[Resolution],
    fixed: bool,
    now: datetime,
    business: Business | None = None,
) -> list[Reopened]:
    """The customer's answer to "is it fixed?" for this group. A no reopens each case."""
    reopened = []
    for resolution in group:
        resolution.fixed = fixed
        if not fixed:
            done = reopen(session, resolution, NOT_FIXED, now, business)
            if done is not None:
                reopened.append(done)
    return reopened


def answer_rating(
    session: Session, group: list[Resolution], rating: int, now: datetime
) -> list[Resolution]:
    """Keeps the rating on each resolution of the group; a poor one (1 or 2) tells each
    case's team, once per resolution. Returns the resolutions rated."""
    if not 1 <= rating <= 5:
        raise ValueError(f"a rating is 1 to 5, not {rating}")
    for resolution in group:
        resolution.rating = rating
        resolution.rated_at = now
        if resolution.rating_asked_at is None:
            resolution.rating_asked_at = now
        if rating <= LOW_RATING_AT_MOST:
            complaint = session.get(Complaint, resolution.complaint_id)
            assert complaint is not None  # a foreign key
            notices.tell_team(
                session,
                complaint,
                notices.LOW_RATING,
                f"{complaint.reference}: the customer rated the help {rating} out of 5 after "
                f"it was resolved by {_who(resolution)}. Worth a look, and a word with them.",
                now,
                dedupe_key=f"{notices.LOW_RATING}:{resolution.id}",
                rating=rating,
                resolution=resolution.id,
                fixed=resolution.fixed,
            )
    return group


def mark_rating_asked(group: list[Resolution], now: datetime) -> None:
    """Notes that the rating was asked about these resolutions. Not about one the customer
    said is not fixed or that was reopened: the rating is not asked right after "it's still
    broken", so it is not recorded as asked. The case's next resolution asks it."""
    for resolution in group:
        if resolution.rating_asked_at is None and _rateable(resolution):
            resolution.rating_asked_at = now


def _rateable(resolution: Resolution) -> bool:
    return resolution.fixed is not False and resolution.reopened_at is None


def reopen(
    session: Session,
    resolution: Resolution,
    why: str,
    now: datetime,
    business: Business | None = None,
) -> Reopened | None:
    """Puts the case back with its team because the customer says it is not fixed (``why``
    NOT_FIXED) or no longer working (NOT_WORKING). Once per resolution; None when it was
    reopened already. Without ``business`` no reply time can be worked out, so none is
    promised."""
    if resolution.reopened_at is not None:
        return None
    complaint = session.get(Complaint, resolution.complaint_id)
    assert complaint is not None  # a foreign key
    resolution.reopened_at = now
    if why == NOT_FIXED:
        resolution.fixed = False
    else:
        resolution.still_working = False
    complaint.status = "open"
    if complaint.team is not None:
        complaint.desk_status = "waiting_on_us"
    reply_by = _promise_reply(session, complaint, now, business)
    handoff = False
    if resolution.handoff_id is not None:
        # A person had the conversation: it goes back to the desk, not to the assistant.
        # (Imported here: the handoff records resolve cases through this module.)
        from redress.handoff import records as handoff_records

        handoff_records.request_handoff(session, complaint.conversation_id, HANDOFF_REASON)
        handoff = True
    team_name = business.team(complaint.team).name if business is not None else "team"
    said = "is not fixed" if why == NOT_FIXED else "is no longer working"
    due = (
        f"; we promised a reply by {promises.desk_time(reply_by, business, complaint.team)}"
        if reply_by
        else ""
    )
    notices.tell_team(
        session,
        complaint,
        notices.CASE_REOPENED,
        f"The customer says {complaint.reference} {said} (resolved by {_who(resolution)}){due}.",
        now,
        dedupe_key=f"{notices.CASE_REOPENED}:{resolution.id}",
        why=why,
        resolution=resolution.id,
        handoff=handoff,
        reply_by=reply_by.isoformat() if reply_by else None,
    )
    conversations.record_event(
        session,
        complaint.conversation_id,
        "case_reopened",
        {"complaint": complaint.reference, "why": why, "resolution": resolution.id},
    )
    return Reopened(complaint.reference, team_name, complaint.owner_name, reply_by, handoff)


def _promise_reply(
    session: Session, complaint: Complaint, now: datetime, business: Business | None
) -> datetime | None:
    """A new reply-by for the reopened case (or the one still open). A customer who has just
    said it is still broken does not wait a whole new reply time when the time they were
    first given is still ahead: that time is promised again. Otherwise it is the category's
    reply time from now, in the team's hours."""
    already = session.scalar(
        select(Promise)
        .where(
            Promise.complaint_id == complaint.id,
            Promise.kind == REPLY_BY,
            Promise.status == PROMISE_OPEN,
        )
        .order_by(Promise.due_at)
        .limit(1)
    )
    if already is not None:
        return already.due_at
    if complaint.team is None:
        return None
    earlier = session.scalar(
        select(Promise.due_at)
        .where(
            Promise.complaint_id == complaint.id,
            Promise.kind == REPLY_BY,
            Promise.status != PROMISE_CANCELLED,
        )
        .order_by(Promise.due_at.desc())
        .limit(1)
    )
    if earlier is not None and earlier > now:
        due = earlier
    elif business is None:
        return None
    else:
        due = reply_due(business, complaint.team, Severity(complaint.severity), now)
    promises.make(session, complaint, REPLY_BY, REPLY_WHAT, due, MADE_BY_ASSISTANT, now)
    # "When will I hear back?" answers from the complaint's own reply time: the new one.
    complaint_status.keep_promise(complaint, due)
    return due


def _who(resolution: Resolution) -> str:
    if resolution.via == AGENT:
        return resolution.by
    if resolution.via == INCIDENT:
        return f"the incident {resolution.by}"
    return "the assistant"


def resolution_json(resolution: Resolution) -> dict[str, object]:
    """A resolution as the records API shows it (UTC ISO times)."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "via": resolution.via,
        "by": resolution.by,
        "resolved_at": iso(resolution.resolved_at),
        "fixed": resolution.fixed,
        "rating": resolution.rating,
        "rated_at": iso(resolution.rated_at),
        "follow_up_sent_at": iso(resolution.follow_up_sent_at),
        "still_working": resolution.still_working,
        "reopened_at": iso(resolution.reopened_at),
    }
