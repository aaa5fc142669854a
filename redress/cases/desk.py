"""Working a case at the desk: posting each new case to its team, and what agents do with it
(claim it, say who is waiting on whom, reassign it to another team, resolve it, promise the
customer something, mark it done, add notes). The Slack desk and the web console both call
these, with an ``Actor`` for whoever acts; each action writes its audit entry in the same
transaction. Nothing here knows Slack: channel and thread are opaque ids.

A case is posted once per team: it is due while it has a team, no thread and is still open.
Reassigning it clears the thread, so it is posted again, as a new card, to the new team."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from redress import audit
from redress.business import Business
from redress.cases import promises, resolutions
from redress.cases.records import ASSISTANT, CALLBACK, OPEN, OTHER, REPLY_BY, VISIT
from redress.conversations import records as conversations
from redress.db.models import Complaint, Handoff, Message, Promise, Resolution
from redress.delivery.leased_queue import retry_delay
from redress.handoff.posting import raise_desk_alert
from redress.handoff.records import OPEN_STATUSES as HANDOFF_OPEN

# How long a gateway holds a case while it posts its card.
POST_LEASE = timedelta(minutes=2)

# Desk statuses (None: new, nobody has said).
WAITING_ON_US = "waiting_on_us"
WAITING_ON_CUSTOMER = "waiting_on_customer"
DESK_STATUSES = (WAITING_ON_US, WAITING_ON_CUSTOMER)

# What an agent promises.
AGENT_PROMISE_KINDS = (CALLBACK, VISIT, OTHER)

SUBJECT = "complaint"


class CaseRefused(ValueError):
    """An action that cannot be done on this case (resolved already, an unknown team...):
    nothing changed. The message says why, in an agent's words."""


@dataclass(frozen=True)
class CaseChange:
    """What an action did to a case.

    ``outcome``: ``claimed``, ``taken_from`` (someone else had it), ``already_yours``,
    ``status_set``, ``status_unchanged``, ``reassigned``, ``resolved``, ``noted``,
    ``promised``, ``promise_kept``, ``replied``."""

    complaint_id: int
    reference: str
    conversation_id: str
    outcome: str
    actor: str
    previous_owner: str | None = None
    # The team it left and the thread it had there (reassigned).
    from_team: str | None = None
    old_channel: str | None = None
    old_thread: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.outcome not in ("already_yours", "status_unchanged")


# Posting ---------------------------------------------------------------------------------------


def _due_for_posting(now: datetime) -> Any:
    return and_(
        Complaint.team.is_not(None),
        Complaint.status == "open",
        Complaint.desk_thread.is_(None),
        or_(Complaint.next_post_at.is_(None), Complaint.next_post_at <= now),
    )


def due_for_posting(session: Session, now: datetime, *, limit: int = 20) -> list[int]:
    """Open cases with a team and no card at the desk yet that are due a try, oldest first."""
    return list(
        session.scalars(
            select(Complaint.id).where(_due_for_posting(now)).order_by(Complaint.id).limit(limit)
        )
    )


def claim_for_posting(
    session: Session, complaint_id: int, now: datetime, *, lease: timedelta = POST_LEASE
) -> bool:
    """Takes the case for one try at posting its card, only if it is still due
    (compare-and-set: two gateways never both post it). The try is counted; the next one is
    due after ``lease`` unless the outcome is noted sooner."""
    taken = session.execute(
        update(Complaint)
        .where(Complaint.id == complaint_id, _due_for_posting(now))
        .values(next_post_at=now + lease, post_attempts=Complaint.post_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def note_posted(
    session: Session, complaint_id: int, channel: str, thread: str, now: datetime
) -> None:
    complaint = case_by_id(session, complaint_id)
    complaint.desk_channel = channel
    complaint.desk_thread = thread
    complaint.posted_at = now
    complaint.next_post_at = None
    complaint.last_post_error = None
    conversations.record_event(
        session,
        complaint.conversation_id,
        "case_posted",
        {"complaint": complaint.reference, "team": complaint.team, "channel": channel},
    )


def note_post_failed(
    session: Session,
    complaint_id: int,
    error: str,
    now: datetime,
    *,
    retry_after: timedelta | None = None,
    alert: bool = False,
) -> datetime:
    """Keeps the error and when to try again (after ``retry_after`` when the desk said,
    otherwise with the usual backoff). ``alert`` raises an operator alert, once per case and
    error: the desk is misconfigured and the team cannot see this case."""
    complaint = case_by_id(session, complaint_id)
    complaint.last_post_error = error[:300]
    complaint.next_post_at = now + (
        retry_after if retry_after is not None else retry_delay(complaint.post_attempts)
    )
    if alert:
        raise_desk_alert(
            session,
            error,
            now,
            key=f"desk:{error}:case:{complaint.id}",
            summary=(
                f"Case {complaint.reference} could not be posted to its team's channel at the "
                f"agent desk ({error}). Nobody in the team can see it yet."
            ),
            detail={
                "complaint": complaint.reference,
                "team": complaint.team,
                "conversation": complaint.conversation_id,
                "attempts": complaint.post_attempts,
            },
        )
    return complaint.next_post_at


def reopened_with_cards(
    session: Session, since: datetime, *, limit: int = 50
) -> list[tuple[int, int]]:
    """Cases reopened since ``since`` (the customer said it is not fixed, or no longer
    working) whose card is at the desk: (case id, resolution id) pairs, so the card, drawn
    while it was resolved, can be drawn again with its buttons."""
    rows = session.execute(
        select(Complaint.id, Resolution.id)
        .join(Resolution, Resolution.complaint_id == Complaint.id)
        .where(
            Resolution.reopened_at.is_not(None),
            Resolution.reopened_at >= since,
            Complaint.status == "open",
            Complaint.desk_thread.is_not(None),
        )
        .order_by(Resolution.id)
        .limit(limit)
    )
    return [(complaint_id, resolution_id) for complaint_id, resolution_id in rows]


def owned_threads(session: Session, conversation_id: str) -> list[tuple[str, str]]:
    """(channel, thread) of the conversation's open cases that someone owns, at the desk:
    where the owner follows what the customer and the assistant say."""
    rows = session.execute(
        select(Complaint.desk_channel, Complaint.desk_thread)
        .where(
            Complaint.conversation_id == conversation_id,
            Complaint.status == "open",
            Complaint.owner_id.is_not(None),
            Complaint.desk_thread.is_not(None),
        )
        .order_by(Complaint.id)
    )
    return [(str(channel), str(thread)) for channel, thread in rows]


def latest_turn(session: Session, conversation_id: str) -> list[tuple[int, str, str]]:
    """(id, role, text) of the turn just finished: the customer's latest message and what
    came after it."""
    start = session.scalar(
        select(Message.id)
        .where(Message.conversation_id == conversation_id, Message.role == "customer")
        .order_by(Message.id.desc())
        .limit(1)
    )
    if start is None:
        return []
    rows = session.execute(
        select(Message.id, Message.role, Message.text)
        .where(Message.conversation_id == conversation_id, Message.id >= start)
        .order_by(Message.id)
        .limit(20)
    )
    return [(message_id, role, text) for message_id, role, text in rows]


def logged_this_turn(session: Session, conversation_id: str) -> list[int]:
    """The conversation's open cases at the desk that were logged since its customer's
    latest message: their card may have been drawn before the turn was recorded."""
    start = session.scalar(
        select(Message.created_at)
        .where(Message.conversation_id == conversation_id, Message.role == "customer")
        .order_by(Message.id.desc())
        .limit(1)
    )
    if start is None:
        return []
    return list(
        session.scalars(
            select(Complaint.id)
            .where(
                Complaint.conversation_id == conversation_id,
                Complaint.status == "open",
                Complaint.desk_thread.is_not(None),
                Complaint.created_at >= start,
            )
            .order_by(Complaint.id)
        )
    )


def customer_answered(session: Session, conversation_id: str) -> list[int]:
    """The customer wrote while their open cases were waiting on them: the move is ours
    again, so those cases are set back to waiting on us. Returns the cases changed."""
    waiting = list(
        session.scalars(
            select(Complaint)
            .where(
                Complaint.conversation_id == conversation_id,
                Complaint.status == OPEN,
                Complaint.desk_status == WAITING_ON_CUSTOMER,
            )
            .order_by(Complaint.id)
        )
    )
    changed = []
    for complaint in waiting:
        taken = session.execute(
            update(Complaint)
            .where(Complaint.id == complaint.id, Complaint.desk_status == WAITING_ON_CUSTOMER)
            .values(desk_status=WAITING_ON_US)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            conversations.record_event(
                session,
                conversation_id,
                "case_status",
                {"complaint": complaint.reference, "by": "customer", "status": WAITING_ON_US},
            )
            changed.append(complaint.id)
    return changed


# Finding cases ---------------------------------------------------------------------------------


def case_by_id(session: Session, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or complaint.team is None:
        raise LookupError(f"no case {complaint_id}")
    return complaint


def case_for_thread(session: Session, channel: str, thread: str) -> Complaint | None:
    """The case whose card started this thread at the desk."""
    return session.scalar(
        select(Complaint)
        .where(Complaint.desk_channel == channel, Complaint.desk_thread == thread)
        .order_by(Complaint.id)
        .limit(1)
    )


def conversation_case(session: Session, conversation_id: str) -> Complaint | None:
    """The conversation's case a handoff belongs with: its first open case with a team."""
    return session.scalar(
        select(Complaint)
        .where(
            Complaint.conversation_id == conversation_id,
            Complaint.status == "open",
            Complaint.team.is_not(None),
        )
        .order_by(Complaint.id)
        .limit(1)
    )


def open_handoff_in_thread(session: Session, complaint: Complaint) -> Handoff | None:
    """The conversation's open handoff, when its card is this case's thread (the shared
    card), or when it has no thread yet."""
    return session.scalar(
        select(Handoff)
        .where(
            Handoff.conversation_id == complaint.conversation_id,
            Handoff.status.in_(HANDOFF_OPEN),
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def case_json(session: Session, complaint: Complaint, business: Business) -> dict[str, Any]:
    """A case as the desk shows it: team, owner, status, promises, repeat-of (UTC times)."""
    repeat_of = session.get(Complaint, complaint.repeat_of_id) if complaint.repeat_of_id else None
    team = business.team(complaint.team)
    return {
        "id": complaint.id,
        "reference": complaint.reference,
        "conversation_id": complaint.conversation_id,
        "status": complaint.status,
        "team": complaint.team,
        "team_name": team.name,
        "owner_id": complaint.owner_id,
        "owner": complaint.owner_name,
        "claimed_at": _iso(complaint.claimed_at),
        "desk_status": complaint.desk_status,
        "repeat_of": repeat_of.reference if repeat_of is not None else None,
        "resolved_by": complaint.resolved_by,
        "resolved_at": _iso(complaint.resolved_at),
        "promises": [
            {
                "id": p.id,
                "kind": p.kind,
                "what": p.what,
                "due_at": p.due_at.isoformat(),
                "status": p.status,
                "made_by": p.made_by,
                "kept_at": _iso(p.kept_at),
            }
            for p in _promises(session, complaint.id)
        ],
    }


def _promises(session: Session, complaint_id: int) -> list[Promise]:
    return list(
        session.scalars(
            select(Promise).where(Promise.complaint_id == complaint_id).order_by(Promise.id)
        )
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# Agents' actions -------------------------------------------------------------------------------


def claim(session: Session, complaint_id: int, actor: audit.Actor, now: datetime) -> CaseChange:
    """The actor owns the case from now on: one owner. Claiming a case someone else owns
    takes it from them, and says so. A new case becomes "waiting on us" (someone is on it);
    a status an agent set stays."""
    complaint = _locked(session, complaint_id)
    _still_open(complaint)
    if complaint.owner_id == _owner_id(actor):
        return _change(complaint, "already_yours", actor)
    previous = complaint.owner_name
    complaint.owner_id = _owner_id(actor)
    complaint.owner_name = actor.name[:120]
    complaint.claimed_at = now
    if complaint.desk_status is None:
        complaint.desk_status = WAITING_ON_US
    outcome = "taken_from" if previous else "claimed"
    detail = {"from_owner": previous} if previous else {}
    _audit(session, actor, "claim", complaint, now, **detail)
    _event(session, complaint, "case_claimed", actor, **detail)
    return _change(complaint, outcome, actor, previous_owner=previous)


def set_status(
    session: Session, complaint_id: int, status: str, actor: audit.Actor, now: datetime
) -> CaseChange:
    """Who the case waits on: ``waiting_on_us`` or ``waiting_on_customer``."""
    if status not in DESK_STATUSES:
        raise CaseRefused(f"a case's status is one of {', '.join(DESK_STATUSES)}, not {status!r}")
    complaint = _locked(session, complaint_id)
    _still_open(complaint)
    if complaint.desk_status == status:
        return _change(complaint, "status_unchanged", actor, detail={"status": status})
    previous = complaint.desk_status
    complaint.desk_status = status
    _audit(session, actor, "set_status", complaint, now, status=status, previous=previous)
    _event(session, complaint, "case_status", actor, status=status)
    return _change(complaint, "status_set", actor, detail={"status": status})


def reassign(
    session: Session,
    complaint_id: int,
    team_key: str,
    actor: audit.Actor,
    now: datetime,
    *,
    business: Business,
) -> CaseChange:
    """Gives the case to another team in teams.yml: nobody owns it any more, and it is due
    to be posted to the new team's channel as a new card. The change names the thread it
    leaves, for a line there saying where it went."""
    teams = business.team_file.teams
    if team_key not in teams:
        raise CaseRefused(f"there is no team {team_key!r}; teams: {', '.join(teams)}")
    complaint = _locked(session, complaint_id)
    _still_open(complaint)
    if complaint.team == team_key:
        raise CaseRefused(f"this case is already with the {teams[team_key].name}")
    from_team, channel, thread = complaint.team, complaint.desk_channel, complaint.desk_thread
    previous = complaint.owner_name
    complaint.team = team_key
    complaint.owner_id = None
    complaint.owner_name = None
    complaint.claimed_at = None
    complaint.desk_status = None
    complaint.desk_channel = None
    complaint.desk_thread = None
    complaint.posted_at = None
    complaint.post_attempts = 0
    complaint.next_post_at = None
    complaint.last_post_error = None
    detail = {"from_team": from_team, "to_team": team_key, "from_owner": previous}
    _audit(session, actor, "reassign", complaint, now, **detail)
    _event(session, complaint, "case_reassigned", actor, **detail)
    return _change(
        complaint,
        "reassigned",
        actor,
        previous_owner=previous,
        from_team=from_team,
        old_channel=channel,
        old_thread=thread,
        detail={"to_team": team_key},
    )


def resolve_case(
    session: Session, complaint_id: int, actor: audit.Actor, now: datetime
) -> CaseChange:
    """The agent resolves the case: a resolution in their name, its open promises kept."""
    complaint = _locked(session, complaint_id)
    _still_open(complaint)
    resolutions.record(session, complaint, resolutions.AGENT, actor.name, now)
    _audit(session, actor, "resolve", complaint, now)
    _event(session, complaint, "case_resolved", actor)
    return _change(complaint, "resolved", actor)


def record_note(
    session: Session,
    complaint_id: int,
    actor: audit.Actor,
    text: str,
    now: datetime,
    *,
    desk_ts: str | None = None,
) -> CaseChange:
    """A note for colleagues about the case; kept, never sent to the customer. The same
    ``agent_note`` event a handoff's thread records, naming the case."""
    complaint = case_by_id(session, complaint_id)
    conversations.record_event(
        session,
        complaint.conversation_id,
        "agent_note",
        {
            "author": actor.name,
            "agent_id": actor.id,
            "text": text,
            "desk_ts": desk_ts,
            "handoff": None,
            "complaint": complaint.reference,
        },
    )
    _audit(session, actor, "note", complaint, now)
    return _change(complaint, "noted", actor)


def record_reply(
    session: Session, complaint_id: int, actor: audit.Actor, now: datetime
) -> CaseChange:
    """The owner replied to the customer from the case: the promised reply is kept."""
    complaint = case_by_id(session, complaint_id)
    kept = promises.keep_all(session, complaint.id, actor.name, now, kinds=(REPLY_BY,))
    _audit(session, actor, "reply", complaint, now, kept=[p.id for p in kept])
    return _change(complaint, "replied", actor)


def promise(
    session: Session,
    complaint_id: int,
    kind: str,
    what: str,
    due_at: datetime,
    actor: audit.Actor,
    now: datetime,
) -> Promise:
    """Records what an agent promised the customer, due at ``due_at`` (in the future)."""
    if kind not in AGENT_PROMISE_KINDS:
        raise CaseRefused(f"an agent's promise is one of {', '.join(AGENT_PROMISE_KINDS)}")
    if due_at <= now:
        raise CaseRefused("a promise is due in the future")
    complaint = _locked(session, complaint_id)
    _still_open(complaint)
    made = promises.make(session, complaint, kind, what, due_at, actor.name, now)
    _audit(
        session,
        actor,
        "promise",
        complaint,
        now,
        promise=made.id,
        kind=kind,
        what=what[:300],
        due_at=due_at.isoformat(),
    )
    _event(session, complaint, "case_promise", actor, kind=kind, due_at=due_at.isoformat())
    return made


def promise_done(
    session: Session, complaint_id: int, actor: audit.Actor, now: datetime
) -> Promise | None:
    """Marks the earliest promise an agent made on the case that is still owed (open, or
    missed and kept late) kept; None if there is none."""
    complaint = _locked(session, complaint_id)
    found = next(
        (
            p
            for p in promises.owed_promises(session, complaint.id)
            if p.kind in AGENT_PROMISE_KINDS and p.made_by != ASSISTANT
        ),
        None,
    )
    if found is None:
        return None
    promises.mark_done(session, found.id, actor.name, now)
    _audit(session, actor, "promise_done", complaint, now, promise=found.id, kind=found.kind)
    _event(session, complaint, "case_promise_kept", actor, kind=found.kind)
    return found


# Helpers ---------------------------------------------------------------------------------------


def _owner_id(actor: audit.Actor) -> str:
    """Who owns a case: the actor's id (a Slack user id), else their name."""
    return (actor.id or actor.name)[:40]


def is_owner(complaint: Complaint, actor: audit.Actor) -> bool:
    return complaint.owner_id is not None and complaint.owner_id == _owner_id(actor)


def _locked(session: Session, complaint_id: int) -> Complaint:
    """The case, locked for this transaction on PostgreSQL (two agents acting at once are
    decided one after the other)."""
    complaint = session.scalar(
        select(Complaint).where(Complaint.id == complaint_id).with_for_update()
    )
    if complaint is None or complaint.team is None:
        raise LookupError(f"no case {complaint_id}")
    return complaint


def _still_open(complaint: Complaint) -> None:
    if complaint.status != OPEN:
        raise CaseRefused(f"case {complaint.reference} is already resolved")


def _audit(
    session: Session,
    actor: audit.Actor,
    action: str,
    complaint: Complaint,
    now: datetime,
    **detail: Any,
) -> None:
    audit.record(
        session, actor, action, SUBJECT, complaint.reference, now, team=complaint.team, **detail
    )


def _event(
    session: Session, complaint: Complaint, event: str, actor: audit.Actor, **detail: Any
) -> None:
    conversations.record_event(
        session,
        complaint.conversation_id,
        event,
        {"complaint": complaint.reference, "by": actor.name, "by_id": actor.id, **detail},
    )


def _change(complaint: Complaint, outcome: str, actor: audit.Actor, **fields: Any) -> CaseChange:
    return CaseChange(
        complaint_id=complaint.id,
        reference=complaint.reference,
        conversation_id=complaint.conversation_id,
        outcome=outcome,
        actor=actor.name,
        **fields,
    )
