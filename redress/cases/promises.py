"""Promises made to customers about their case, and keeping them: each is recorded with its
due time when made, watched while it is open, and kept when an agent replies, resolves the
case or marks it done. Resolving keeps the reply-by promise only: a callback or visit an
agent promised is kept when it is marked done, and is watched even after the case is
resolved.

The watch (``check_due``, run by ``bot/jobs/promises.py`` with the time passed in):

- **Due soon.** A promise is warned once (``warned_at``), as a ``PROMISE_DUE_SOON`` notice
  to its team, when the team is at work and no more than the warning window of the team's
  opening time is left before it falls due. The window is ``warn_before`` (one hour unless
  configured), or a quarter of the promise's own length in opening time when that is
  shorter, so a promise made for 20 minutes' time is not warned about the moment it is
  made. Counting opening time, not the clock, means nobody is warned at 3am about
  something due at 9am: the warning comes when the team is in, an hour before.
- **Missed.** A promise still open at its due time is missed once (``missed_at``, status
  ``missed``): a ``PROMISE_MISSED`` notice to the team, and the customer is told on their
  own channel, through the outbox, that we have not done what we said (``customer_told_at``).
  A customer who asked us to stop messaging them, or whom we can no longer reach, is not
  messaged; the team is still told.
- Each step is a compare-and-set on the promise row, and the notice and the message have
  unique keys, so two gateways, or a check run twice, act once.

A reply-by promise of a complaint that a known incident explains was never said to the
customer (they are told about the incident and when its next update comes instead, and the
incident watches that promise itself): the watch cancels it. ``incident_promise_json`` shows
the incident's next update as the case's promise in the records.

A promise missed and then kept keeps its ``missed_at``: it was kept late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from redress.business import Business
from redress.cases import notices
from redress.cases.records import (
    CANCELLED,
    KEPT,
    MISSED,
    OPEN,
    PROMISE_KINDS,
    REPLY_BY,
    REPLY_WHAT,
)
from redress.db.models import Complaint, Conversation, DataRequest, Incident, Promise
from redress.incidents import notices as incident_notices
from redress.incidents.wording import describe_time

# The warning comes this long (of the team's opening time) before a promise is due...
WARN_BEFORE = timedelta(hours=1)
# ...or this share of the promise's own length, when that is shorter.
WARN_SHARE = 0.25
# The outbox kind of the message telling a customer a promise was missed.
MISSED_MESSAGE = "case_promise_missed"
# The derived kind the records show for an incident's next update.
INCIDENT_UPDATE = "incident_update"
INCIDENT_UPDATE_WHAT = "update you about the problem"
# Promises still owed: open, or missed and not yet kept.
OWED = (OPEN, MISSED)
# Why a customer was not told about a missed promise.
STOPPED = "the customer asked us to stop messaging them"
UNREACHABLE = "we can no longer reach the customer on their channel"


class UnknownPromise(LookupError):
    def __init__(self, promise_id: object) -> None:
        super().__init__(f"there is no promise {promise_id!r}")
        self.promise_id = promise_id


class PromiseClosed(ValueError):
    """The promise was kept or cancelled already: nothing was changed."""


# Making and keeping --------------------------------------------------------------------------


def make(
    session: Session,
    complaint: Complaint,
    kind: str,
    what: str,
    due_at: datetime,
    made_by: str,
    now: datetime,
) -> Promise:
    """Records a promise made about this case (an agent's "I'll call you tomorrow at 10")."""
    if kind not in PROMISE_KINDS:
        raise ValueError(f"a promise is one of {', '.join(PROMISE_KINDS)}, not {kind!r}")
    promise = Promise(
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        kind=kind,
        what=what[:300],
        due_at=due_at,
        status=OPEN,
        made_by=made_by[:120],
        created_at=now,
    )
    session.add(promise)
    session.flush()
    return promise


def open_promises(session: Session, complaint_id: int) -> list[Promise]:
    return list(
        session.scalars(
            select(Promise)
            .where(Promise.complaint_id == complaint_id, Promise.status == OPEN)
            .order_by(Promise.due_at, Promise.id)
        )
    )


def owed_promises(session: Session, complaint_id: int) -> list[Promise]:
    """The case's promises not kept yet: open, or missed (still to be kept, late)."""
    return list(
        session.scalars(
            select(Promise)
            .where(Promise.complaint_id == complaint_id, Promise.status.in_(OWED))
            .order_by(Promise.due_at, Promise.id)
        )
    )


def keep(promise: Promise, by: str, now: datetime) -> None:
    """Marks one promise kept (one that was missed is kept late: ``missed_at`` stays)."""
    promise.status = KEPT
    promise.kept_at = now
    promise.kept_by = by[:120]


def keep_all(
    session: Session,
    complaint_id: int,
    by: str,
    now: datetime,
    *,
    kinds: tuple[str, ...] | None = None,
) -> list[Promise]:
    """Keeps every promise of a case still owed (of these kinds, if given): the case was
    resolved, or an agent replied to the customer. A missed one is kept late. Returns the
    promises kept."""
    kept = [p for p in owed_promises(session, complaint_id) if kinds is None or p.kind in kinds]
    for promise in kept:
        keep(promise, by, now)
    return kept


def keep_on_reply(session: Session, conversation_id: str, by: str, now: datetime) -> list[Promise]:
    """An agent's message to the customer was recorded in this conversation: it is the reply
    each of its open cases promised (``reply_by``), on time or late. Call it in the
    transaction that records the message. Returns the promises kept."""
    cases = session.scalars(
        select(Complaint.id).where(
            Complaint.conversation_id == conversation_id,
            Complaint.team.is_not(None),
            Complaint.status == "open",
        )
    )
    kept: list[Promise] = []
    for complaint_id in list(cases):
        kept += keep_all(session, complaint_id, by, now, kinds=(REPLY_BY,))
    return kept


def mark_done(session: Session, promise_id: int, by: str, now: datetime) -> Promise:
    """Someone at the desk says the promised thing was done (the callback was made). Raises
    UnknownPromise, or PromiseClosed when it was kept or cancelled already."""
    promise = session.get(Promise, promise_id)
    if promise is None:
        raise UnknownPromise(promise_id)
    if promise.status not in OWED:
        raise PromiseClosed(f"promise {promise_id} is already {promise.status}")
    keep(promise, by, now)
    session.flush()
    return promise


# The watch ---------------------------------------------------------------------------------


def warning_window(
    promise: Promise, business: Business, team: str | None, warn_before: timedelta
) -> timedelta:
    """How much of the team's opening time before it is due a promise is warned about: the
    configured window, or a quarter of the promise's own length when that is shorter."""
    length = business.team_hours(team).open_time_between(promise.created_at, promise.due_at)
    return min(warn_before, length * WARN_SHARE)


def should_warn(
    promise: Promise,
    business: Business,
    team: str | None,
    now: datetime,
    warn_before: timedelta = WARN_BEFORE,
) -> bool:
    """Whether an open promise not yet due is to be warned about now: the team is at work,
    and no more of its opening time than the window is left before the promise is due."""
    if now >= promise.due_at or warn_before <= timedelta():
        return False
    hours = business.team_hours(team)
    if not hours.is_open(now):
        return False
    left = hours.open_time_between(now, promise.due_at)
    return left <= warning_window(promise, business, team, warn_before)


@dataclass
class Checked:
    """What one run of the watch did, by promise id."""

    warned: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    # Missed promises whose customer was sent a message (queued in the outbox).
    told: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    @property
    def queued(self) -> bool:
        return bool(self.told)


def watched(promise: Promise, complaint: Complaint) -> bool:
    """Whether the watch looks after this promise: every promise of an open case, and a
    callback, visit or other thing an agent promised even once the case is resolved
    (resolving does not make the call; only marking it done keeps it)."""
    return complaint.status == "open" or promise.kind != REPLY_BY


def due_for_check(session: Session, now: datetime) -> list[int]:
    """Open promises that may need warning, missing or cancelling now: those of open cases,
    and an agent's promises of resolved ones."""
    return list(
        session.scalars(
            select(Promise.id)
            .join(Complaint, Complaint.id == Promise.complaint_id)
            .where(
                Promise.status == OPEN,
                or_(Complaint.status == "open", Promise.kind != REPLY_BY),
                or_(Promise.warned_at.is_(None), Promise.due_at <= now),
            )
            .order_by(Promise.due_at, Promise.id)
        )
    )


def check_due(
    session: Session,
    business: Business,
    now: datetime,
    *,
    warn_before: timedelta = WARN_BEFORE,
) -> Checked:
    """Warns, misses and cancels what is due now, in this session (one transaction)."""
    checked = Checked()
    for promise_id in due_for_check(session, now):
        check_one(session, promise_id, business, now, checked, warn_before=warn_before)
    return checked


def check_one(
    session: Session,
    promise_id: int,
    business: Business,
    now: datetime,
    checked: Checked,
    *,
    warn_before: timedelta = WARN_BEFORE,
) -> None:
    """Does for one promise what is due now (noted in ``checked``); nothing when another
    gateway did it first."""
    promise = session.get(Promise, promise_id)
    complaint = session.get(Complaint, promise.complaint_id) if promise is not None else None
    if promise is None or complaint is None or promise.status != OPEN:
        return
    if not watched(promise, complaint):
        return
    if promise.kind == REPLY_BY and complaint.incident_id is not None:
        if _take(session, promise, now, status=CANCELLED):
            checked.cancelled.append(promise.id)
        return
    if promise.due_at <= now:
        if _take(session, promise, now, status=MISSED, missed_at=now):
            if _missed(session, promise, complaint, business, now):
                checked.told.append(promise.id)
            checked.missed.append(promise.id)
        return
    soon = promise.warned_at is None and should_warn(
        promise, business, complaint.team, now, warn_before
    )
    # The compare-and-set comes last: only a promise that is to be warned is taken.
    if soon and _take(session, promise, now, warned_at=now):
        _warn(session, promise, complaint, business, now)
        checked.warned.append(promise.id)


def _take(session: Session, promise: Promise, now: datetime, **values: Any) -> bool:
    """Compare-and-set: changes the promise only if it is still open (and, for a warning or
    a miss, not warned or missed yet). True for the one caller that changed it."""
    query = update(Promise).where(Promise.id == promise.id, Promise.status == OPEN)
    if "warned_at" in values:
        query = query.where(Promise.warned_at.is_(None))
    if "missed_at" in values:
        query = query.where(Promise.missed_at.is_(None))
    done = session.execute(query.values(**values).execution_options(synchronize_session=False))
    session.refresh(promise)
    return done.rowcount == 1


def desk_time(moment: datetime, business: Business | None, team: str | None) -> str:
    """ "Tue 8 Dec 20:00" in the team's local time, as the desk's cards show a due time (UTC,
    and said so, when there is no business to ask)."""
    if business is None:
        return f"{moment:%a} {moment.day} {moment:%b %H:%M} UTC"
    local = moment.astimezone(ZoneInfo(business.team_hours(team).timezone))
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _team_name(business: Business, complaint: Complaint) -> str:
    return business.team(complaint.team).name


def _warn(
    session: Session, promise: Promise, complaint: Complaint, business: Business, now: datetime
) -> None:
    zone = business.hours.timezone
    when = describe_time(promise.due_at, now, zone)
    notices.tell_team(
        session,
        complaint,
        notices.PROMISE_DUE_SOON,
        (
            f"{complaint.reference} ({_team_name(business, complaint)}): we promised to "
            f"{promise.what} by {when}. {_to_do(promise)}"
        ),
        now,
        dedupe_key=f"{notices.PROMISE_DUE_SOON}:{promise.id}",
        promise=promise.kind,
        what=promise.what,
        due_at=promise.due_at.isoformat(),
    )


def _missed(
    session: Session, promise: Promise, complaint: Complaint, business: Business, now: datetime
) -> bool:
    """The team's notice and, where we may, the customer's message. Returns whether the
    customer's message was queued."""
    zone = business.hours.timezone
    when = describe_time(promise.due_at, now, zone)
    why_not = cannot_message(session, complaint)
    told = False
    if why_not is None:
        told = incident_notices.enqueue(
            session,
            conversation_id=complaint.conversation_id,
            kind=MISSED_MESSAGE,
            text=missed_text(promise, complaint, business, now),
            dedupe_key=f"{MISSED_MESSAGE}:{promise.id}",
            details={"complaint": complaint.reference, "promise": promise.id},
            now=now,
        )
        if told:
            session.execute(
                update(Promise)
                .where(Promise.id == promise.id, Promise.customer_told_at.is_(None))
                .values(customer_told_at=now)
                .execution_options(synchronize_session=False)
            )
    customer = (
        "The customer is being told, with an apology."
        if told
        else (f"The customer was not messaged: {why_not or 'a message was already sent'}.")
    )
    notices.tell_team(
        session,
        complaint,
        notices.PROMISE_MISSED,
        (
            f"{complaint.reference} ({_team_name(business, complaint)}): we promised to "
            f"{promise.what} by {when}, and it has not happened. {customer} "
            f"{_to_do(promise)}"
        ),
        now,
        dedupe_key=f"{notices.PROMISE_MISSED}:{promise.id}",
        promise=promise.kind,
        what=promise.what,
        due_at=promise.due_at.isoformat(),
        customer_told=told,
    )
    return told


def _to_do(promise: Promise) -> str:
    if promise.kind == REPLY_BY:
        return "Reply to the customer in the case's thread, or resolve the case."
    return "Do it and mark it done, or tell the customer what happens now."


def cannot_message(session: Session, complaint: Complaint) -> str | None:
    """Why we may not message this customer unasked, or None when we may."""
    conversation = session.get(Conversation, complaint.conversation_id)
    asked = [DataRequest.conversation_id == complaint.conversation_id]
    if complaint.customer_id is not None:
        asked.append(DataRequest.customer_id == complaint.customer_id)
    stopped = session.scalar(
        select(DataRequest.id)
        .where(
            DataRequest.kind == "stop_messages",
            DataRequest.status != "refused",
            or_(*asked),
        )
        .limit(1)
    )
    if stopped is not None:
        return STOPPED
    if conversation is None or not conversation.reachable:
        return UNREACHABLE
    return None


def missed_text(promise: Promise, complaint: Complaint, business: Business, now: datetime) -> str:
    """What the customer is told when a promise passes unkept: what we said, that we have
    not done it, sorry, and who has it now. No excuses."""
    when = describe_time(promise.due_at, now, business.hours.timezone)
    team = _team_name(business, complaint)
    who = complaint.owner_name or "The first person free"
    what = promise.what.strip() or REPLY_WHAT
    return (
        f"We said we'd {what} about {complaint.reference} by {when}, and we haven't. "
        f"I'm sorry. Your case is with our {team}, and I've told them. "
        f"{who} will {what} as soon as they can."
    )


# The records -------------------------------------------------------------------------------


def incident_promise_json(incident: Incident) -> dict[str, Any] | None:
    """The incident's promised next update, as one of the case's promises in the records.
    The incident watches it (``Incident.next_update_by``, ``missed_promise_handled``); here
    it is only read from what the incident records: ``kept`` once the incident is resolved
    (when it ended), ``missed`` once the incident's watch handled its passing (the holding
    message went), else ``open``. The incident keeps only its latest next-update time, so
    only that one is shown. None when no update is promised."""
    due = incident.next_update_by
    if incident.status == "resolved":
        if due is None and incident.ended_at is None:
            return None
        status, kept_at = KEPT, incident.ended_at
    elif due is None:
        return None
    elif incident.missed_promise_handled == due:
        status, kept_at = MISSED, None
    else:
        status, kept_at = OPEN, None
    shown_due = due or incident.ended_at
    return {
        "kind": INCIDENT_UPDATE,
        "what": INCIDENT_UPDATE_WHAT,
        "due_at": shown_due.isoformat() if shown_due else None,
        "status": status,
        "kept_at": kept_at.isoformat() if kept_at else None,
        "missed_at": incident.missed_promise_handled.isoformat() if status == MISSED else None,
        "made_by": incident.id,
        "incident": incident.id,
    }
