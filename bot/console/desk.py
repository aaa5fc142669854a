"""The agent desk in the web console: the desk when no Slack app is configured, and a second
desk beside Slack when one is.

Agents work here through the same domain functions as the Slack desk
(``redress.handoff.records``, ``redress.handoff.waits``, ``redress.cases.desk``), each action
one transaction with its audit entry, and the customer hears what they hear after the same
press in Slack. The relay hands the desk the customers' messages in conversations a person
took over (the assistant stays silent there), and the end of every turn.

The console desk is *on* when at least one console operator account exists
(``redress.operators.accounts.any_active``): then someone can answer, so the assistant
promises a reply time and, without Slack, this desk keeps customers who wait for a person
informed (``check_waits``).

Live changes reach console pages through ``subscribe()``: one JSON-ready dict per change,

    {"kind": "taken_over", "conversation_id": "...", "handoff_id": 12,
     "complaint_id": null, "at": "2026-12-07T12:00:00+00:00"}

``kind`` is one of ``KINDS``. Changes made on one gateway reach the pages open on every
gateway (the live hub, through Redis when configured, under the topic ``TOPIC``); new
handoffs and cases are found by each gateway itself (``check_news``) and shown to its own
pages, so each page hears of each once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from bot.live import LiveHub
from bot.relay import Relay, UnknownConversation
from bot.slack.card import reason_words
from bot.slack.desk.case_texts import CLAIMED, PROMISED, PROMISED_CALL, REASSIGNED
from bot.slack.desk.texts import HANDED_BACK, JOINED
from bot.transactions import in_transaction
from redress import audit
from redress.business import Business
from redress.cases import desk as case_desk
from redress.cases import promises as case_promises
from redress.cases.records import CALLBACK
from redress.cases.when import say_when
from redress.clock import utcnow
from redress.conversations import records as conversations
from redress.db.models import Complaint, Conversation, ConversationEvent, Handoff, Promise
from redress.handoff import feedback
from redress.handoff import records as handoff_records
from redress.handoff import waits as handoff_waits
from redress.operators import accounts

logger = logging.getLogger("redress.gateway.console")

# The live hub's topic for console pages (never a conversation id: those are refused on
# the customers' live socket, and cannot contain a colon).
TOPIC = "console:desk"

# What a change event's ``kind`` can be.
HANDOFF_REQUESTED = "handoff_requested"
CASE_LOGGED = "case_logged"
CUSTOMER_MESSAGE = "customer_message"
FOLLOW_UP_CHOSEN = "follow_up_chosen"
WAIT_STEP = "wait_step"
TAKEN_OVER = "taken_over"
REPLIED = "replied"
NOTED = "noted"
HANDED_BACK_KIND = "handed_back"
RESOLVED = "resolved"
CLAIMED_KIND = "claimed"
REASSIGNED_KIND = "reassigned"
STATUS_SET = "status_set"
PROMISED_KIND = "promised"
KINDS = (
    HANDOFF_REQUESTED,
    CASE_LOGGED,
    CUSTOMER_MESSAGE,
    FOLLOW_UP_CHOSEN,
    WAIT_STEP,
    TAKEN_OVER,
    REPLIED,
    NOTED,
    HANDED_BACK_KIND,
    RESOLVED,
    CLAIMED_KIND,
    REASSIGNED_KIND,
    STATUS_SET,
    PROMISED_KIND,
)

# A reply or a note: what the customer's channels and the records take.
MAX_TEXT_CHARS = 4000
# The desk lists at most this many of each (the oldest first); the page says how many more.
QUEUE_SHOWN = 25
AUDIT_HANDOFF = "handoff"
AUDIT_CONVERSATION = "conversation"
CHANNEL_NAMES = {"web": "web chat", "telegram": "Telegram"}

Clock = Callable[[], datetime]


class ConsoleRefused(ValueError):
    """An action the desk will not do (someone else has the conversation, it is resolved, the
    id is unknown, the text is empty...): nothing changed. The message says why, in words a
    page can show as they are."""


@dataclass(frozen=True)
class PromiseDue:
    """A promise still owed to the customer on a case."""

    id: int
    kind: str
    what: str
    due_at: datetime
    status: str
    made_by: str


@dataclass(frozen=True)
class WaitingHandoff:
    """A conversation that needs a person (``requested``) or has one (``taken_over``), with
    what the Slack card shows about it."""

    handoff_id: int
    conversation_id: str
    status: str
    reason: str
    reason_text: str
    channel: str
    channel_name: str
    customer_name: str | None
    waiting_since: datetime
    # Counted in opening hours, as the customer's wait is.
    waited_minutes: int
    agent_id: str | None
    agent_name: str | None
    # Whether the customer asked to be got back to (True), will wait (False), or neither.
    follow_up_wanted: bool | None
    complaint_id: int | None = None
    reference: str | None = None
    category: str | None = None
    severity: str | None = None
    team: str | None = None
    promises_due: list[PromiseDue] = field(default_factory=list)


@dataclass(frozen=True)
class WaitingCase:
    """An open case nobody has claimed yet."""

    complaint_id: int
    reference: str
    conversation_id: str
    team: str
    team_name: str
    category: str
    severity: str
    summary: str
    customer_name: str | None
    channel: str
    logged_at: datetime
    desk_status: str | None
    repeat_of: str | None
    promises_due: list[PromiseDue] = field(default_factory=list)


@dataclass(frozen=True)
class DeskQueue:
    """What needs a person now: handoffs oldest first, then unclaimed cases oldest first."""

    handoffs: list[WaitingHandoff]
    cases: list[WaitingCase]
    # How many there are in all: the lists hold the oldest ``QUEUE_SHOWN`` of each.
    handoffs_total: int = 0
    cases_total: int = 0

    def as_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Done:
    """What an action did: ``kind`` (as in the change events), and the message the customer
    was sent, if any (as the conversation record shows it)."""

    kind: str
    conversation_id: str
    handoff_id: int | None = None
    complaint_id: int | None = None
    sent: dict[str, Any] | None = None
    # False when the customer's channel cannot reach them now (the reply is in the record).
    reachable: bool = True


class Subscription:
    """A console page's feed of change events (see the module notes for their shape)."""

    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub
        self._queue = hub.subscribe(TOPIC)
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        return await self._queue.get()

    def pending(self) -> list[dict[str, Any]]:
        """The events that have arrived and not been read, without waiting."""
        found = []
        while not self._queue.empty():
            found.append(self._queue.get_nowait())
        return found

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub.unsubscribe(TOPIC, self._queue)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ConsoleDesk:
    """The console's agent desk (see the module notes). ``slack``: whether the Slack desk is
    on too; then the Slack desk keeps waiting customers informed and moves cases a customer
    answered, and this one only shows and acts."""

    def __init__(
        self,
        database_url: str,
        relay: Relay,
        hub: LiveHub,
        business: Business,
        *,
        clock: Clock = utcnow,
        slack: bool = False,
    ) -> None:
        self._database_url = database_url
        self._relay = relay
        self._hub = hub
        self.business = business
        self.clock = clock
        self.slack = slack
        # Called when customers' messages were put in the outbox (the scheduler's wake-up).
        self.on_queued: Callable[[], None] | None = None
        # The newest handoff and case this gateway has told its pages about.
        self._seen: tuple[int, int] | None = None
        self._news = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        relay.attach_desk(self)

    # Live changes ---------------------------------------------------------------------------

    def subscribe(self) -> Subscription:
        """Every change from now on (from the moment this is called), as it happens:
        ``async for event in subscription``, closed with ``close()`` or by using it as a
        context manager (``with desk.subscribe() as events:``)."""
        return Subscription(self._hub)

    def _event(
        self,
        kind: str,
        conversation_id: str,
        *,
        handoff_id: int | None = None,
        complaint_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "kind": kind,
            "conversation_id": conversation_id,
            "handoff_id": handoff_id,
            "complaint_id": complaint_id,
            "at": self.clock().isoformat(),
            **extra,
        }

    def _publish(self, kind: str, conversation_id: str, **ids: Any) -> None:
        """To the console pages on every gateway."""
        self._hub.publish(TOPIC, self._event(kind, conversation_id, **ids))

    def _publish_here(self, kind: str, conversation_id: str, **ids: Any) -> None:
        """To this gateway's console pages only (each gateway finds these itself)."""
        LiveHub.publish(self._hub, TOPIC, self._event(kind, conversation_id, **ids))

    async def start(self) -> None:
        """Notes the handoffs and cases that already exist: only later ones are news. With
        the records out of reach, the first ``check_news`` notes them instead."""
        try:
            self._seen = await in_transaction(self._database_url, _newest)
            if not self.slack and not await self.is_on():
                logger.warning(
                    "Nobody can sign in to the console yet, so customers are told no one answers "
                    "in the chat. Add an account: python -m redress operators add NAME --role admin"
                )
        except SQLAlchemyError as error:
            logger.warning("console desk: records out of reach at start (%s)", error)

    async def check_news(self) -> int:
        """Tells this gateway's pages about handoffs and cases that appeared since the last
        look (whoever made them: the assistant, an operator, a customer's "not fixed").
        Returns how many."""
        async with self._news:
            if self._seen is None:
                self._seen = await in_transaction(self._database_url, _newest)
                return 0
            last_handoff, last_case = self._seen

            def find(session: Session) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
                handoffs = session.execute(
                    select(Handoff.id, Handoff.conversation_id)
                    .where(Handoff.id > last_handoff)
                    .order_by(Handoff.id)
                ).all()
                cases = session.execute(
                    select(Complaint.id, Complaint.conversation_id)
                    .where(Complaint.id > last_case, Complaint.team.is_not(None))
                    .order_by(Complaint.id)
                ).all()
                return [tuple(r) for r in handoffs], [tuple(r) for r in cases]  # type: ignore[misc]

            handoffs, cases = await in_transaction(self._database_url, find)
            for handoff_id, conversation_id in handoffs:
                self._publish_here(HANDOFF_REQUESTED, conversation_id, handoff_id=handoff_id)
            for complaint_id, conversation_id in cases:
                self._publish_here(CASE_LOGGED, conversation_id, complaint_id=complaint_id)
            self._seen = (
                max([last_handoff, *(h for h, _ in handoffs)]),
                max([last_case, *(c for c, _ in cases)]),
            )
            return len(handoffs) + len(cases)

    # What the relay tells the desk (AgentDesk) --------------------------------------------

    def customer_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        """A customer wrote in a conversation a person has: the assistant stayed silent."""
        self._publish(CUSTOMER_MESSAGE, conversation_id, message_id=message.get("id"))
        if not self.slack:
            self._spawn(self._customer_answered(conversation_id), "noting the customer answered")

    def turn_finished(self, conversation_id: str) -> None:
        self._spawn(self._after_turn(conversation_id), "looking for new handoffs and cases")

    def follow_up_chosen(self, conversation_id: str, wants: bool) -> None:
        self._publish(FOLLOW_UP_CHOSEN, conversation_id, follow_up_wanted=wants)

    async def _after_turn(self, conversation_id: str) -> None:
        if not self.slack:
            await self._customer_answered(conversation_id)
        await self.check_news()

    async def _customer_answered(self, conversation_id: str) -> None:
        """A case waiting on the customer waits on us once they write (as the Slack desk
        does when it is the desk)."""
        changed = await in_transaction(
            self._database_url, case_desk.customer_answered, conversation_id
        )
        for complaint_id in changed:
            self._publish(
                STATUS_SET,
                conversation_id,
                complaint_id=complaint_id,
                status=case_desk.WAITING_ON_US,
            )

    def _spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:  # one failed piece of work must not stop the others
                logger.exception("console desk: %s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Waits until the background work in hand (and any it started) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # Waiting customers --------------------------------------------------------------------

    async def is_on(self) -> bool:
        """Whether the console desk has someone to answer: a console operator account."""
        return await in_transaction(self._database_url, accounts.any_active)

    async def check_waits(self) -> int:
        """Tells customers still waiting for a person where they stand and offers a
        follow-up (``redress.handoff.waits``), when this is the desk: no Slack, and someone
        can sign in to answer. Returns how many steps were taken."""
        if self.slack or not await self.is_on():
            return 0
        steps = await in_transaction(
            self._database_url, handoff_waits.due_steps, self.clock(), self.business
        )
        if steps and self.on_queued is not None:
            self.on_queued()
        for step in steps:
            logger.warning(
                "handoff %s: nobody has taken it over after %s minutes (opening hours); %s",
                step.handoff_id,
                int(step.waited.total_seconds() // 60),
                "follow-up offered" if step.step == handoff_waits.FOLLOW_UP else "customer updated",
            )
            self._publish(
                WAIT_STEP, step.conversation_id, handoff_id=step.handoff_id, step=step.step
            )
        return len(steps)

    # The queue ----------------------------------------------------------------------------

    async def queue(self, now: datetime | None = None) -> DeskQueue:
        """The open handoffs (waiting for a person, or with one) and the open cases nobody
        has claimed, with the context the card shows."""
        moment = now or self.clock()
        return await in_transaction(self._database_url, self._queue, moment)

    def _queue(self, session: Session, now: datetime) -> DeskQueue:
        waiting = Handoff.status.in_(handoff_records.OPEN_STATUSES)
        handoffs = list(
            session.scalars(
                select(Handoff)
                .where(waiting)
                .order_by(Handoff.created_at, Handoff.id)
                # The page shows the oldest; the rest wait their turn in the case list.
                .limit(QUEUE_SHOWN)
            )
        )
        unclaimed = (
            Complaint.status == case_desk.OPEN,
            Complaint.team.is_not(None),
            Complaint.owner_id.is_(None),
        )
        cases = list(
            session.scalars(
                select(Complaint)
                .where(*unclaimed)
                .order_by(Complaint.created_at, Complaint.id)
                .limit(QUEUE_SHOWN)
                .options(selectinload(Complaint.customer))
            )
        )
        # What every item needs, read in a few queries rather than a few for each item: the
        # conversations and their customers (kept in the session, so each item finds its own
        # without asking again), and the promises still owed.
        talks = {h.conversation_id for h in handoffs} | {c.conversation_id for c in cases}
        list(
            session.scalars(
                select(Conversation)
                .where(Conversation.id.in_(talks))
                .options(selectinload(Conversation.customer))
            )
        )
        # Each handoff's case: its conversation's first open case with a team.
        case_of: dict[str, Complaint] = {}
        for complaint in session.scalars(
            select(Complaint)
            .where(
                Complaint.conversation_id.in_({h.conversation_id for h in handoffs}),
                Complaint.status == case_desk.OPEN,
                Complaint.team.is_not(None),
            )
            .order_by(Complaint.id)
            .options(selectinload(Complaint.customer))
        ):
            case_of.setdefault(complaint.conversation_id, complaint)
        owed = _owed_by_case(session, [c.id for c in cases] + [c.id for c in case_of.values()])
        choices = _follow_up_choices(session, {h.conversation_id for h in handoffs})
        shown = [
            self._handoff_item(
                session,
                handoff,
                now,
                owed,
                case=case_of.get(handoff.conversation_id),
                follow_up=choices.get(handoff.id),
            )
            for handoff in handoffs
        ]
        return DeskQueue(
            shown,
            [self._case_item(session, complaint, owed) for complaint in cases],
            handoffs_total=_count(session, Handoff, waiting),
            cases_total=_count(session, Complaint, *unclaimed),
        )

    def _handoff_item(
        self,
        session: Session,
        handoff: Handoff,
        now: datetime,
        owed: dict[int, list[PromiseDue]] | None = None,
        *,
        case: Complaint | bool | None = False,
        follow_up: bool | str | None = "unknown",
    ) -> WaitingHandoff:
        """One handoff as the desk shows it. ``case`` and ``follow_up``, when the queue has
        read them for every handoff at once; otherwise they are looked up here."""
        conversation = session.get(Conversation, handoff.conversation_id)
        assert conversation is not None  # a foreign key
        complaint = case_desk.conversation_case(session, conversation.id) if case is False else case
        if follow_up == "unknown":
            follow_up = _follow_up_choice(session, conversation.id, handoff.id)
        customer = (complaint.customer if complaint else None) or conversation.customer
        waited = self.business.hours.open_time_between(handoff.created_at, now)
        return WaitingHandoff(
            handoff_id=handoff.id,
            conversation_id=conversation.id,
            status=handoff.status,
            reason=handoff.reason,
            reason_text=reason_words(handoff.reason),
            channel=conversation.channel,
            channel_name=CHANNEL_NAMES.get(conversation.channel, conversation.channel),
            customer_name=customer.name if customer else None,
            waiting_since=handoff.created_at,
            waited_minutes=int(waited.total_seconds() // 60),
            agent_id=handoff.agent_id,
            agent_name=handoff.agent_name,
            follow_up_wanted=follow_up if isinstance(follow_up, bool) else None,
            complaint_id=complaint.id if complaint else None,
            reference=complaint.reference if complaint else None,
            category=complaint.category if complaint else None,
            severity=complaint.severity if complaint else None,
            team=complaint.team if complaint else None,
            promises_due=_owed_of(session, complaint.id, owed) if complaint else [],
        )

    def _case_item(
        self,
        session: Session,
        complaint: Complaint,
        owed: dict[int, list[PromiseDue]] | None = None,
    ) -> WaitingCase:
        conversation = session.get(Conversation, complaint.conversation_id)
        customer = complaint.customer or (conversation.customer if conversation else None)
        repeat = session.get(Complaint, complaint.repeat_of_id) if complaint.repeat_of_id else None
        return WaitingCase(
            complaint_id=complaint.id,
            reference=complaint.reference,
            conversation_id=complaint.conversation_id,
            team=str(complaint.team),
            team_name=self.business.team(complaint.team).name,
            category=complaint.category,
            severity=complaint.severity,
            summary=complaint.summary,
            customer_name=customer.name if customer else None,
            channel=conversation.channel if conversation else "",
            logged_at=complaint.created_at,
            desk_status=complaint.desk_status,
            repeat_of=repeat.reference if repeat else None,
            promises_due=_owed_of(session, complaint.id, owed),
        )

    # The conversation: take over, reply, note, hand back, resolve ---------------------------

    async def take_over(
        self, handoff_id: int, actor: audit.Actor, *, take_from: bool = False
    ) -> Done:
        """The actor takes the conversation; the assistant goes silent in it and the
        customer hears who joined. Refused when someone else has it, unless ``take_from``
        (then it is taken from them, as Take over does in Slack)."""
        agent_id, now = agent_id_of(actor), self.clock()

        def act(session: Session) -> tuple[handoff_records.DeskChange, str, bool]:
            handoff = _handoff(session, handoff_id)
            if handoff.status not in handoff_records.OPEN_STATUSES:
                raise ConsoleRefused(_closed(handoff))
            if handoff.status == handoff_records.TAKEN_OVER and handoff.agent_id == agent_id:
                raise ConsoleRefused("You already have this conversation.")
            if handoff.status == handoff_records.TAKEN_OVER and not take_from:
                raise ConsoleRefused(
                    f"{handoff.agent_name or 'Someone else'} has this conversation. Take it "
                    "from them only if they agree or are away."
                )
            change = handoff_records.take_over(session, handoff_id, agent_id, actor.name, now)
            detail = {"conversation": change.conversation_id}
            if change.previous_agent:
                detail["from_agent"] = change.previous_agent
            audit.record(session, actor, "take_over", AUDIT_HANDOFF, str(handoff_id), now, **detail)
            team, announced = self._case_team(session, change.conversation_id, agent_id)
            return change, team, announced

        change, team, announced = await self._act(act)
        sent = None
        if not announced:
            sent = await self._push(
                change.conversation_id, JOINED.format(agent=actor.name, team=team)
            )
        self._publish(TAKEN_OVER, change.conversation_id, handoff_id=handoff_id)
        return Done(TAKEN_OVER, change.conversation_id, handoff_id=handoff_id, sent=sent)

    async def reply(self, conversation_id: str, text: str, actor: audit.Actor) -> Done:
        """Sends the actor's reply to the customer on their channel, under the actor's name.
        Only the agent who took the conversation over, or who owns one of its open cases
        (a reply from the case, as in its Slack thread), may reply."""
        plain = _checked_text(text, "reply")
        agent_id, now = agent_id_of(actor), self.clock()

        def may_reply(session: Session) -> None:
            conversation = conversations.get_conversation(session, conversation_id)
            if conversation is None:
                raise ConsoleRefused(f"There is no conversation {conversation_id}.")
            handoff = handoff_records.open_handoff(session, conversation_id)
            if handoff is not None and handoff.status == handoff_records.TAKEN_OVER:
                if handoff.agent_id == agent_id:
                    return
                raise ConsoleRefused(
                    f"{handoff.agent_name or 'Someone else'} has this conversation. Nothing "
                    "was sent; add a note instead, or take the conversation over."
                )
            owned = [
                c
                for c in conversations_open_cases(session, conversation_id)
                if case_desk.is_owner(c, actor)
            ]
            if owned:
                return
            if handoff is not None:
                raise ConsoleRefused("Take the conversation over first. Nothing was sent.")
            if conversations_open_cases(session, conversation_id):
                raise ConsoleRefused("Claim the case to reply to the customer. Nothing was sent.")
            raise ConsoleRefused(
                "This conversation is not with the desk (it was handed back or resolved). "
                "Nothing was sent."
            )

        await self._act(may_reply)
        sent = await self._relay.push(
            conversation_id,
            "agent",
            plain,
            author=actor.name,
            details={"agent_id": agent_id, "via": audit.CONSOLE},
            signed=True,
        )

        def record(session: Session) -> tuple[bool, int | None]:
            conversation = conversations.get_conversation(session, conversation_id)
            reachable = bool(conversation.reachable) if conversation else True
            owned = [
                c
                for c in conversations_open_cases(session, conversation_id)
                if case_desk.is_owner(c, actor)
            ]
            for complaint in owned:
                # The reply its owner promised: kept, and in the audit log under the case.
                case_desk.record_reply(session, complaint.id, actor, now)
            if not owned:
                audit.record(
                    session,
                    actor,
                    "reply",
                    AUDIT_CONVERSATION,
                    conversation_id,
                    now,
                    message=sent.get("id"),
                )
            return reachable, owned[0].id if owned else None

        reachable, complaint_id = await self._act(record)
        self._publish(
            REPLIED, conversation_id, complaint_id=complaint_id, message_id=sent.get("id")
        )
        return Done(
            REPLIED, conversation_id, complaint_id=complaint_id, sent=sent, reachable=reachable
        )

    async def note(
        self,
        text: str,
        actor: audit.Actor,
        *,
        conversation_id: str | None = None,
        complaint_id: int | None = None,
    ) -> Done:
        """A note for colleagues on a conversation or a case: recorded, never sent to the
        customer."""
        plain = _checked_text(text, "note")
        if (conversation_id is None) == (complaint_id is None):
            raise ConsoleRefused("A note is about a conversation or a case: say which one.")
        now = self.clock()

        def act(session: Session) -> tuple[str, int | None]:
            if complaint_id is not None:
                change = case_desk.record_note(
                    session, _case_id(session, complaint_id), actor, plain, now
                )
                return change.conversation_id, complaint_id
            assert conversation_id is not None
            if conversations.get_conversation(session, conversation_id) is None:
                raise ConsoleRefused(f"There is no conversation {conversation_id}.")
            handoff = handoff_records.open_handoff(session, conversation_id)
            handoff_records.record_agent_note(
                session,
                conversation_id,
                author=actor.name,
                agent_id=agent_id_of(actor),
                text=plain,
                handoff_id=handoff.id if handoff else None,
            )
            audit.record(session, actor, "note", AUDIT_CONVERSATION, conversation_id, now)
            return conversation_id, None

        noted_in, case_id = await self._act(act)
        self._publish(NOTED, noted_in, complaint_id=case_id)
        return Done(NOTED, noted_in, complaint_id=case_id)

    async def hand_back(self, handoff_id: int, actor: audit.Actor) -> Done:
        """The assistant takes the conversation again, and says so to the customer."""
        now = self.clock()

        def act(session: Session) -> handoff_records.DeskChange:
            handoff = _handoff(session, handoff_id)
            if handoff.status not in handoff_records.OPEN_STATUSES:
                raise ConsoleRefused(_closed(handoff))
            change = handoff_records.hand_back(
                session, handoff_id, agent_id_of(actor), actor.name, now
            )
            audit.record(
                session,
                actor,
                "hand_back",
                AUDIT_HANDOFF,
                str(handoff_id),
                now,
                conversation=change.conversation_id,
            )
            return change

        change = await self._act(act)
        sent = await self._push(change.conversation_id, HANDED_BACK)
        self._publish(HANDED_BACK_KIND, change.conversation_id, handoff_id=handoff_id)
        return Done(HANDED_BACK_KIND, change.conversation_id, handoff_id=handoff_id, sent=sent)

    async def resolve(
        self,
        actor: audit.Actor,
        *,
        handoff_id: int | None = None,
        complaint_id: int | None = None,
    ) -> Done:
        """Resolves a handoff (and every open case of its conversation) or one case (and the
        conversation's open handoff, once no other case of it is open); the customer is
        asked whether it is fixed, then for a rating, as after a resolve in Slack."""
        if (handoff_id is None) == (complaint_id is None):
            raise ConsoleRefused("Resolve a conversation or a case: say which one.")
        agent_id, now = agent_id_of(actor), self.clock()

        def act(session: Session) -> tuple[str, int | None, str | None]:
            if handoff_id is not None:
                handoff = _handoff(session, handoff_id)
                if handoff.status not in handoff_records.OPEN_STATUSES:
                    raise ConsoleRefused(_closed(handoff))
                change = handoff_records.resolve(session, handoff_id, agent_id, actor.name, now)
                audit.record(
                    session,
                    actor,
                    "resolve",
                    AUDIT_HANDOFF,
                    str(handoff_id),
                    now,
                    conversation=change.conversation_id,
                )
                return change.conversation_id, handoff_id, None
            assert complaint_id is not None
            case = case_desk.resolve_case(session, _case_id(session, complaint_id), actor, now)
            closed = None
            if not conversations_open_cases(session, case.conversation_id):
                handoff = handoff_records.open_handoff(session, case.conversation_id)
                if handoff is not None:
                    handoff_records.resolve(session, handoff.id, agent_id, actor.name, now)
                    closed = handoff.id
            return case.conversation_id, closed, case.reference

        conversation_id, closed, reference = await self._act(act)
        question = feedback.ask_fixed(actor.name)
        details: dict[str, Any] = {"asks": question.asks}
        if reference is not None:
            details["complaint"] = reference
        sent = await self._push(
            conversation_id, question.text, buttons=question.buttons, details=details
        )
        self._publish(RESOLVED, conversation_id, handoff_id=closed, complaint_id=complaint_id)
        return Done(
            RESOLVED, conversation_id, handoff_id=closed, complaint_id=complaint_id, sent=sent
        )

    # Cases --------------------------------------------------------------------------------

    async def claim(self, complaint_id: int, actor: audit.Actor) -> Done:
        """The actor owns the case from now on (taking it from its owner, who is named in
        the record); the customer hears who looks after it, unless that agent already
        joined the conversation."""
        now = self.clock()

        def act(session: Session) -> tuple[case_desk.CaseChange, str, bool]:
            change = case_desk.claim(session, _case_id(session, complaint_id), actor, now)
            if change.outcome == "already_yours":
                raise ConsoleRefused("You already own this case.")
            complaint = case_desk.case_by_id(session, complaint_id)
            handoff = handoff_records.open_handoff(session, change.conversation_id)
            joined = (
                handoff is not None
                and handoff.status == handoff_records.TAKEN_OVER
                and handoff.agent_id == agent_id_of(actor)
            )
            return change, self.business.team(complaint.team).name, joined

        change, team, joined = await self._act(act)
        sent = None
        if not joined:
            text = CLAIMED.format(agent=actor.name, team=team, reference=change.reference)
            sent = await self._push(change.conversation_id, text)
        self._publish(CLAIMED_KIND, change.conversation_id, complaint_id=complaint_id)
        return Done(CLAIMED_KIND, change.conversation_id, complaint_id=complaint_id, sent=sent)

    async def reassign(self, complaint_id: int, team: str, actor: audit.Actor) -> Done:
        """Gives the case to another team (a key of business/teams.yml); nobody owns it any
        more, and the customer hears which team has it."""
        now = self.clock()

        def act(session: Session) -> tuple[case_desk.CaseChange, str]:
            change = case_desk.reassign(
                session, _case_id(session, complaint_id), team, actor, now, business=self.business
            )
            return change, self.business.team(team).name

        change, team_name = await self._act(act)
        sent = await self._push(
            change.conversation_id, REASSIGNED.format(team=team_name, reference=change.reference)
        )
        self._publish(REASSIGNED_KIND, change.conversation_id, complaint_id=complaint_id, team=team)
        return Done(REASSIGNED_KIND, change.conversation_id, complaint_id=complaint_id, sent=sent)

    async def set_status(self, complaint_id: int, status: str, actor: audit.Actor) -> Done:
        """Who the case waits on: ``waiting_on_us`` or ``waiting_on_customer``."""
        now = self.clock()

        def act(session: Session) -> case_desk.CaseChange:
            change = case_desk.set_status(
                session, _case_id(session, complaint_id), status, actor, now
            )
            if change.outcome == "status_unchanged":
                raise ConsoleRefused("The case is already set to that.")
            return change

        change = await self._act(act)
        self._publish(STATUS_SET, change.conversation_id, complaint_id=complaint_id, status=status)
        return Done(STATUS_SET, change.conversation_id, complaint_id=complaint_id)

    async def promise(
        self, complaint_id: int, kind: str, what: str, due_at: datetime, actor: audit.Actor
    ) -> Done:
        """Records what the case's owner promised the customer (``callback``, ``visit`` or
        ``other``), due at ``due_at``, and tells the customer in the owner's name."""
        plain = _checked_text(what, "promise")
        if due_at.tzinfo is None:
            raise ConsoleRefused("Give the promise's time with its time zone.")
        now = self.clock()

        def act(session: Session) -> tuple[str, str | None]:
            complaint = case_desk.case_by_id(session, _case_id(session, complaint_id))
            if not case_desk.is_owner(complaint, actor):
                raise ConsoleRefused(
                    "Claim the case first: a promise is told to the customer in the name of "
                    "the case's owner."
                )
            case_desk.promise(session, complaint.id, kind, plain, due_at, actor, now)
            return complaint.conversation_id, complaint.team

        conversation_id, team = await self._act(act)
        zone = ZoneInfo(self.business.team_hours(team).timezone)
        when = say_when(due_at, now, zone)
        template = PROMISED_CALL if kind == CALLBACK else PROMISED
        text = template.format(
            agent=actor.name, team=self.business.team(team).name, when=when, what=plain
        )
        sent = await self._push(conversation_id, text)
        self._publish(PROMISED_KIND, conversation_id, complaint_id=complaint_id)
        return Done(PROMISED_KIND, conversation_id, complaint_id=complaint_id, sent=sent)

    # Helpers ------------------------------------------------------------------------------

    async def _act(self, work: Callable[[Session], Any]) -> Any:
        """One transaction; the domain's refusals come back as ``ConsoleRefused``."""
        try:
            return await in_transaction(self._database_url, work)
        except case_desk.CaseRefused as refused:
            raise ConsoleRefused(_sentence(str(refused))) from None
        except LookupError:  # gone between the page and the press
            raise ConsoleRefused("That conversation or case is no longer in the records.") from None

    async def _push(
        self,
        conversation_id: str,
        text: str,
        *,
        buttons: list[dict[str, str]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """What the assistant tells the customer after an agent's action, on their channel."""
        try:
            return await self._relay.push(
                conversation_id, "bot", text, buttons=buttons, details=details
            )
        except UnknownConversation:
            logger.error("conversation %s is not in the records", conversation_id)
            return None

    def _case_team(self, session: Session, conversation_id: str, agent_id: str) -> tuple[str, bool]:
        """The team the customer hears of (their case's, else the brand's), and whether this
        agent already told them they look after the case (claimed it)."""
        complaint = case_desk.conversation_case(session, conversation_id)
        if complaint is None:
            return self.business.brand.team_name, False
        owns = complaint.owner_id is not None and complaint.owner_id == agent_id
        return self.business.team(complaint.team).name, owns


def conversations_open_cases(session: Session, conversation_id: str) -> list[Complaint]:
    """The conversation's open cases (complaints with a team)."""
    return list(
        session.scalars(
            select(Complaint)
            .where(
                Complaint.conversation_id == conversation_id,
                Complaint.status == case_desk.OPEN,
                Complaint.team.is_not(None),
            )
            .order_by(Complaint.id)
        )
    )


def _newest(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.max(Handoff.id))) or 0,
        session.scalar(select(func.max(Complaint.id))) or 0,
    )


def agent_id_of(actor: audit.Actor) -> str:
    """The id a handoff or case keeps for the agent: the actor's id (``console:<username>``
    for a console account), else their name; the same one ``redress.cases.desk`` keeps."""
    return (actor.id or actor.name)[:40]


def _handoff(session: Session, handoff_id: int) -> Handoff:
    """The handoff, locked for this transaction on PostgreSQL and read afresh, so two agents
    acting at once are decided one after the other on what the first did."""
    handoff = session.scalar(
        select(Handoff)
        .where(Handoff.id == handoff_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if handoff is None:
        raise ConsoleRefused(f"There is no handoff {handoff_id}.")
    return handoff


def _case_id(session: Session, complaint_id: int) -> int:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or complaint.team is None:
        raise ConsoleRefused(f"There is no case {complaint_id}.")
    return complaint_id


def _closed(handoff: Handoff) -> str:
    if handoff.status == handoff_records.RESOLVED:
        return "This conversation was already resolved. Nothing changed."
    return "This conversation was already handed back to the assistant. Nothing changed."


def _checked_text(text: str, what: str) -> str:
    plain = text.strip() if isinstance(text, str) else ""
    if not plain:
        raise ConsoleRefused(f"The {what} is empty: write something first.")
    if len(plain) > MAX_TEXT_CHARS:
        raise ConsoleRefused(
            f"The {what} is {len(plain):,} characters long; the most is {MAX_TEXT_CHARS:,}. "
            "Nothing was sent."
        )
    if "\x00" in plain:
        raise ConsoleRefused(f"The {what} holds a character that can't be sent (NUL).")
    return plain


def _follow_up_choices(session: Session, conversation_ids: set[str]) -> dict[int, bool]:
    """Each handoff's latest answer to the offer of a follow-up, for these conversations."""
    chosen: dict[int, bool] = {}
    rows = session.execute(
        select(ConversationEvent.kind, ConversationEvent.detail)
        .where(
            ConversationEvent.conversation_id.in_(conversation_ids),
            ConversationEvent.kind.in_(
                (handoff_waits.FOLLOW_UP_WANTED, handoff_waits.FOLLOW_UP_DECLINED)
            ),
        )
        .order_by(ConversationEvent.id.desc())
    )
    for kind, detail in rows:
        handoff_id = (detail or {}).get("handoff")
        if isinstance(handoff_id, int) and handoff_id not in chosen:
            chosen[handoff_id] = kind == handoff_waits.FOLLOW_UP_WANTED
    return chosen


def _follow_up_choice(session: Session, conversation_id: str, handoff_id: int) -> bool | None:
    """The customer's latest answer to the offer of a follow-up while waiting for this
    handoff, if they gave one."""
    chosen = session.execute(
        select(ConversationEvent.kind, ConversationEvent.detail)
        .where(
            ConversationEvent.conversation_id == conversation_id,
            ConversationEvent.kind.in_(
                (handoff_waits.FOLLOW_UP_WANTED, handoff_waits.FOLLOW_UP_DECLINED)
            ),
        )
        .order_by(ConversationEvent.id.desc())
    )
    for kind, detail in chosen:
        if (detail or {}).get("handoff") == handoff_id:
            return kind == handoff_waits.FOLLOW_UP_WANTED
    return None


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _owed_by_case(session: Session, complaint_ids: list[int]) -> dict[int, list[PromiseDue]]:
    """The promises still owed on each of these cases (every one of them has a list)."""
    owed: dict[int, list[PromiseDue]] = {complaint_id: [] for complaint_id in complaint_ids}
    rows = session.scalars(
        select(Promise)
        .where(Promise.complaint_id.in_(complaint_ids), Promise.status.in_(case_promises.OWED))
        .order_by(Promise.due_at, Promise.id)
    )
    for p in rows:
        owed[p.complaint_id].append(PromiseDue(p.id, p.kind, p.what, p.due_at, p.status, p.made_by))
    return owed


def _owed_of(
    session: Session, complaint_id: int, owed: dict[int, list[PromiseDue]] | None
) -> list[PromiseDue]:
    found = (owed or {}).get(complaint_id)
    return found if found is not None else _promises_due(session, complaint_id)


def _promises_due(session: Session, complaint_id: int) -> list[PromiseDue]:
    return [
        PromiseDue(p.id, p.kind, p.what, p.due_at, p.status, p.made_by)
        for p in case_promises.owed_promises(session, complaint_id)
    ]


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
