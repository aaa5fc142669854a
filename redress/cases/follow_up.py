"""Making sure it stays fixed (docs/principles.md: 10): a while after a case is resolved
(business/handoff.yml, ``after_resolution.follow_up_after_days``), the customer is asked on
their own channel whether everything is still working. "No" reopens the case exactly as a
"no" to "is it fixed?" does; "yes" is kept.

The follow-up goes once per resolution (a group of cases resolved together gets one
message), only in the team's opening hours, only while the case is still resolved and the
customer has not said it is not fixed, and never to a customer who asked us to stop
messaging them or whom we can no longer reach. It is an outbox message
(redress/delivery/outbox.py), queued in the same transaction that marks it sent, so it is
delivered once whatever the restarts.

Also here: whether a question about a resolution is still open, and what the customer is
told when their "no" put a case back with its team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from redress.business import Business
from redress.cases import resolutions
from redress.complaints.categories import Category
from redress.db.models import Complaint, Conversation, DataRequest, Resolution
from redress.handoff import feedback
from redress.incidents.notices import enqueue
from redress.incidents.wording import describe_time

KIND = "case_follow_up"
STOP_MESSAGES = "stop_messages"
WITH_AGENT = "with_agent"


# Questions still open ---------------------------------------------------------------------


def awaiting_still_working(session: Session, conversation_id: str) -> list[Resolution]:
    """The resolutions the latest follow-up asked about, not answered yet."""
    return resolutions.latest_group(
        session,
        conversation_id,
        lambda r: (
            r.follow_up_sent_at is not None and r.still_working is None and r.reopened_at is None
        ),
    )


def question_open(session: Session, conversation_id: str, asking: str | None) -> bool:
    """Whether the question the last bot message asked still waits for its answer, so a
    typed "yes", "no" or 1-5 is taken as the answer."""
    if asking == feedback.ASKS_FIXED:
        return bool(resolutions.awaiting_fixed(session, conversation_id))
    if asking == feedback.ASKS_RATING:
        return bool(resolutions.awaiting_rating(session, conversation_id))
    if asking == feedback.ASKS_STILL_WORKING:
        return bool(awaiting_still_working(session, conversation_id))
    return False


# Answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heard:
    """What the answer to the follow-up did: the cases reopened (no rating is asked after a
    no; the next resolution asks it)."""

    reopened: list[resolutions.Reopened]


def answer(
    session: Session,
    conversation_id: str,
    still_working: bool,
    now: datetime,
    business: Business | None,
) -> Heard:
    """The customer's answer to "is everything still working?". A no reopens the cases it
    asked about, as a no to "is it fixed?" does."""
    group = awaiting_still_working(session, conversation_id)
    reopened = []
    for resolution in group:
        if still_working:
            resolution.still_working = True
            continue
        done = resolutions.reopen(session, resolution, resolutions.NOT_WORKING, now, business)
        if done is not None:
            reopened.append(done)
    return Heard(reopened)


def reopened_question(
    reopened: list[resolutions.Reopened],
    business: Business | None,
    now: datetime,
) -> feedback.Question:
    """What the customer is told when their "no" put cases back with a team: which, with
    whom, and who replies when, only as promised: the owner by name when one person has
    them all, else someone from the team."""
    teams = {r.team_name for r in reopened}
    people = {r.person for r in reopened}
    team, person = "our teams", None
    if len(teams) == 1:
        team = f"our {next(iter(teams))}"
        person = next(iter(people)) if len(people) == 1 else None
    promised = [r.reply_by for r in reopened if r.reply_by is not None]
    when = None
    if promised and len(promised) == len(reopened):
        zone = business.hours.timezone if business is not None else "Europe/London"
        when = describe_time(max(promised), now, zone)
    return feedback.reopened_text([r.reference for r in reopened], team, person, when)


# Sending ------------------------------------------------------------------------------------


def due(session: Session, now: datetime, after: timedelta) -> list[Resolution]:
    """Resolutions old enough for their follow-up that have not had one, were not reopened
    and were not answered "not fixed", oldest first (the hours and opt-outs are checked by
    ``send``)."""
    return list(
        session.scalars(
            select(Resolution)
            .where(
                Resolution.follow_up_sent_at.is_(None),
                # Set without a sent time: it was due and could never go (given up).
                Resolution.follow_up_due_at.is_(None),
                Resolution.reopened_at.is_(None),
                Resolution.still_working.is_(None),
                or_(Resolution.fixed.is_(None), Resolution.fixed.is_(True)),
                Resolution.resolved_at <= now - after,
            )
            .order_by(Resolution.resolved_at, Resolution.id)
        )
    )


def send_due(session: Session, business: Business, now: datetime, after: timedelta) -> list[str]:
    """Queues the follow-up for every resolution due one now. Returns the case references
    asked about."""
    asked: list[str] = []
    seen: set[int] = set()
    for resolution in due(session, now, after):
        if resolution.id in seen:
            continue
        group = resolutions.latest_group(
            session,
            resolution.conversation_id,
            lambda r, first=resolution: (
                (r.resolved_at, r.via, r.by) == (first.resolved_at, first.via, first.by)
                and r.follow_up_sent_at is None
                and r.follow_up_due_at is None
                and r.reopened_at is None
            ),
        )
        seen.update(r.id for r in group)
        asked += send(session, group or [resolution], business, now)
    return asked


def send(session: Session, group: list[Resolution], business: Business, now: datetime) -> list[str]:
    """Queues one follow-up about these resolutions (made together) if it may go now.
    Returns the references asked about (none when it may not go, yet or at all)."""
    live: list[tuple[Resolution, Complaint]] = []
    for resolution in group:
        complaint = session.get(Complaint, resolution.complaint_id)
        assert complaint is not None  # a foreign key
        if _still_this_resolution(complaint, resolution):
            live.append((resolution, complaint))
        else:
            _give_up(resolution, now)  # reopened, or resolved again since
    if not live:
        return []
    first, complaint = live[0]
    conversation = session.get(Conversation, first.conversation_id)
    assert conversation is not None  # a foreign key
    if _opted_out(session, conversation, [c for _, c in live]):
        for resolution, _ in live:
            _give_up(resolution, now)
        return []
    if conversation.status == WITH_AGENT:
        return []  # a person is talking with them now: later
    if not business.team_hours(complaint.team).is_open(now):
        return []  # outside the team's hours: at the next check in them
    references = [c.reference for _, c in live]
    what = business.category_text(Category(complaint.category)).label.lower()
    question = feedback.ask_still_working(
        _when(first.resolved_at, now, business.hours.timezone),
        what,
        ", ".join(references),
    )
    enqueue(
        session,
        conversation_id=conversation.id,
        kind=KIND,
        text=question.text,
        buttons=question.buttons,
        details={"asks": question.asks, "resolutions": [r.id for r, _ in live]},
        dedupe_key=f"{KIND}:{first.id}",
        now=now,
    )
    for resolution, _ in live:
        resolution.follow_up_due_at = now
        resolution.follow_up_sent_at = now
    return references


def _give_up(resolution: Resolution, now: datetime) -> None:
    """No follow-up will go for this resolution: it was due (``follow_up_due_at``) and
    was never sent, so it is not looked at again."""
    resolution.follow_up_due_at = now


def _still_this_resolution(complaint: Complaint, resolution: Resolution) -> bool:
    return complaint.status == "resolved" and complaint.resolved_at == resolution.resolved_at


def _opted_out(session: Session, conversation: Conversation, complaints: list[Complaint]) -> bool:
    """The customer asked us to stop messaging them (here, or as the account holder), or
    we can no longer reach them."""
    if not conversation.reachable:
        return True
    asked = [DataRequest.conversation_id == conversation.id]
    customers = {c.customer_id for c in complaints if c.customer_id is not None}
    if conversation.customer_id is not None:
        customers.add(conversation.customer_id)
    if customers:
        asked.append(DataRequest.customer_id.in_(customers))
    stopped = session.scalar(
        select(DataRequest.id)
        .where(DataRequest.kind == STOP_MESSAGES, DataRequest.status != "refused", or_(*asked))
        .limit(1)
    )
    return stopped is not None


def _when(resolved_at: datetime, now: datetime, zone: str) -> str:
    """When it was sorted, as the customer would say it: "On Monday", "Last week", "On 3
    December"."""
    local = resolved_at.astimezone(ZoneInfo(zone)).date()
    today = now.astimezone(ZoneInfo(zone)).date()
    days = (today - local).days
    if days <= 1:
        return "Yesterday" if days == 1 else "Earlier today"
    if days < 7:
        return f"On {local.strftime('%A')}"
    if days < 14:
        return "Last week"
    return f"On {local.day} {local.strftime('%B')}"
