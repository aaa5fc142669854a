"""The path every customer message takes, whatever the channel: record it, pass it to the
assistant, record and return the replies. Channels only translate to and from it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.hidden import hide, telling
from bot.identity import SEND_CODE, VERIFIED_COMMAND, InvalidIdentity, Verifier
from bot.live import LiveHub
from bot.notices import SlowTurnNotice
from bot.presses import expired_choice, read_press
from bot.rasa_client import AssistantReply, AssistantUnavailable, RasaClient
from bot.shared_state import LocalTurns, Turns
from bot.shown import message_json, neutralise_slash
from bot.transactions import in_transaction
from redress.business import Brand, Business
from redress.cases import follow_up, resolutions
from redress.cases import promises as case_promises
from redress.clock import utcnow
from redress.conversations import pending
from redress.conversations import records as conversations
from redress.db.models import Conversation, Customer, Message
from redress.db.session import unit_of_work
from redress.handoff import feedback
from redress.handoff import records as handoff_records
from redress.handoff import waits as handoff_waits
from redress.identity import records as identity_records

# Marks the reply that said the assistant could not answer: that turn can be tried again.
UNAVAILABLE = "unavailable"
# Marks the notice that a turn was taking longer than usual.
TAKING_LONGER = "taking_longer"
# What the customer is told when card details or a password were hidden (the brand's own
# sentence replaces it).
SECRETS_HIDDEN = str(Brand.model_fields["secrets_hidden"].default)
logger = logging.getLogger("redress.gateway.relay")

# Delivers messages that arrive later (agent replies, updates) to one channel's customer.
Sender = Callable[[str, list[dict[str, Any]]], Awaitable[None]]


class UnknownConversation(LookupError):
    pass


class AgentDesk(Protocol):
    """What the relay needs from an agent desk (``bot.slack.desk.Desk``,
    ``bot.console.desk.ConsoleDesk``)."""

    def customer_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        """Shows a customer's message to the agent who took the conversation over (in the
        background, in order)."""

    def turn_finished(self, conversation_id: str) -> None:
        """The assistant answered; a handoff it asked for can go to the desk now."""

    def follow_up_chosen(self, conversation_id: str, wants: bool) -> None:
        """The waiting customer answered the offer of a follow-up: tell the thread."""


class Desks:
    """Several agent desks as one: each callback goes to every desk, in the order attached."""

    def __init__(self, *desks: AgentDesk) -> None:
        self._desks = list(desks)

    def add(self, desk: AgentDesk) -> None:
        self._desks.append(desk)

    def customer_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        for desk in self._desks:
            desk.customer_message(conversation_id, message)

    def turn_finished(self, conversation_id: str) -> None:
        for desk in self._desks:
            desk.turn_finished(conversation_id)

    def follow_up_chosen(self, conversation_id: str, wants: bool) -> None:
        for desk in self._desks:
            desk.follow_up_chosen(conversation_id, wants)


@dataclass(frozen=True)
class _Received:
    """A recorded customer message and where it goes next: ``assistant`` (Rasa), ``agent``
    (the conversation is with a person), ``answered`` (the gateway answered it itself) or
    ``send_code`` (the customer asked for a new verification code)."""

    conversation_id: str
    sent: str
    customer_message: dict[str, Any]
    route: str = "assistant"
    replies: list[dict[str, Any]] = field(default_factory=list)
    # The answer to the offer of a follow-up while waiting for a person, when this was one.
    follow_up: bool | None = None


@dataclass(frozen=True)
class _Arrival:
    """A customer message as a channel handed it over."""

    text: str
    channel: str
    external_id: str | None = None
    command: str | None = None
    identity: tuple[object, object] | None = None
    address: str | None = None
    # The client's own id for the message (web chat): a repeat of it is not a new message.
    client_message_id: str | None = None
    # What was masked in the text before anything else saw it (card details, passwords).
    hidden: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Kept:
    """A customer message to keep for later, if the assistant cannot answer it now."""

    message_id: int
    sent: str
    channel: str


@dataclass(frozen=True)
class _Route:
    route: str
    sent: str


@dataclass(frozen=True)
class Outcome:
    conversation_id: str
    # The recorded bot messages: id, role, text, buttons (payloads are issued tokens), time.
    replies: list[dict[str, Any]]
    assistant_available: bool = True
    customer_message: dict[str, Any] | None = None
    # Recorded and shown to the customer while the turn ran, before ``replies`` (the notice
    # that it was taking longer): channels that answer in the reply (web chat) add them.
    shown_meanwhile: list[dict[str, Any]] = field(default_factory=list)


__all__ = [
    "AgentDesk",
    "Desks",
    "Outcome",
    "Relay",
    "Sender",
    "UnknownConversation",
    "message_json",
]


class Relay:
    def __init__(
        self,
        database_url: str,
        rasa: RasaClient,
        hub: LiveHub,
        unavailable_text: str,
        *,
        turns: Turns | None = None,
        working_for: timedelta = timedelta(seconds=60),
        taking_longer: tuple[float, str] | None = None,
        secrets_hidden: str = SECRETS_HIDDEN,
        business: Business | None = None,
    ) -> None:
        """``working_for``: longer than any turn can last (the wait for Rasa and recording);
        a message still unanswered after that was left by a gateway that stopped mid-turn,
        and the queue answers it. ``taking_longer``: (seconds, text): a turn still running
        after that long tells the customer so, once, at once."""
        self._database_url = database_url
        self._working_for = working_for
        self._taking_longer = taking_longer
        self._secrets_hidden = secrets_hidden
        # For a case the customer says is not fixed: its team and a new reply time.
        self._business = business
        self._rasa = rasa
        self._hub = hub
        self._unavailable_text = unavailable_text
        # One turn at a time per conversation (across gateways when shared through Redis).
        self._turns: Turns = turns or LocalTurns()
        self._senders: dict[str, Sender] = {}
        self._desk: AgentDesk | None = None
        self._verifier: Verifier | None = None

    def address_key(self, address: str) -> str | None:
        """A keyed hash of a sender's network address (for the account lookup limits)."""
        return self._verifier.address_key(address) if self._verifier is not None else None

    def attach_verifier(self, verifier: Verifier) -> None:
        """Turns identity checks on: signed logins, and codes sent and checked here."""
        self._verifier = verifier

    def attach_desk(self, desk: AgentDesk) -> None:
        """Turns an agent desk on: conversations a person took over go to it, not to Rasa.
        Several desks (Slack and the web console) each hear every callback."""
        if self._desk is None:
            self._desk = desk
        elif isinstance(self._desk, Desks):
            self._desk.add(desk)
        else:
            self._desk = Desks(self._desk, desk)

    def register_sender(self, channel: str, sender: Sender) -> None:
        """How later messages reach customers on ``channel`` (web chats use the live hub)."""
        self._senders[channel] = sender

    async def conversation_for(self, channel: str, external_id: str) -> str:
        """The conversation id for a chat on an outside channel, started on first contact."""

        def find(session: Session) -> str:
            return conversations.conversation_on_channel(session, channel, external_id).id

        return await in_transaction(self._database_url, find)

    async def handle(
        self,
        conversation_id: str | None,
        text: str,
        channel: str,
        *,
        external_id: str | None = None,
        command: str | None = None,
        identity: tuple[object, object] | None = None,
        address: str | None = None,
        client_message_id: str | None = None,
    ) -> Outcome:
        """Records the customer's message, gets the assistant's answer, records that too.

        ``command`` is an intent the gateway itself chose for a channel command (Telegram's
        /status asks for an update); it is never taken from what the customer typed.
        ``identity`` is a signed login (account number, signature) the page passed on: checked
        before anything is recorded (``InvalidIdentity``). ``address`` is a pseudonymous key
        for the sender's network address, so account lookups can be limited per address.
        ``client_message_id``: the client's own id for the message; sent again, it gets the
        first answer and nothing new is recorded (or, when the assistant could not answer it
        the first time, the same recorded message is tried again).

        One turn at a time per conversation (recording, the assistant, recording), so two
        messages sent at once are answered one after the other, in the order recorded.
        Card details and passwords in ``text`` are masked before anything else sees it
        (bot/hidden.py), and the customer is told what was hidden.
        """
        kept = hide(text)
        arrived = _Arrival(
            kept.text,
            channel,
            external_id,
            command,
            identity,
            address,
            client_message_id,
            kept.kinds,
        )
        if conversation_id is None:  # a new conversation: nothing else can be in it yet
            return await self._turn(None, arrived)
        async with self._turns.hold(conversation_id):
            return await self._turn(conversation_id, arrived)

    async def _turn(self, conversation_id: str | None, arrived: _Arrival) -> Outcome:
        received = await run_in_threadpool(self._record_customer, conversation_id, arrived)
        if not arrived.hidden or received.route in ("repeat", "replay"):
            return await self._answer(received, arrived)
        self._hub.publish(received.conversation_id, received.customer_message)
        told = await self._say_now(
            received.conversation_id, telling(arrived.hidden, self._secrets_hidden)
        )
        outcome = await self._answer(received, arrived, published=True)
        return replace(outcome, shown_meanwhile=[told, *outcome.shown_meanwhile])

    async def _answer(
        self, received: _Received, arrived: _Arrival, *, published: bool = False
    ) -> Outcome:
        """Gets the recorded message answered, by whoever it goes to (``received.route``)."""
        channel, command = arrived.channel, arrived.command
        conversation_id, sent, customer_message = (
            received.conversation_id,
            received.sent,
            received.customer_message,
        )
        if command is not None:
            sent = command
        if received.route == "repeat":
            return Outcome(conversation_id, received.replies, customer_message=customer_message)
        if received.route == "replay":
            return await self._replay_for(conversation_id, received)
        if not published:
            self._hub.publish(conversation_id, customer_message)
        if received.route == "send_code" and self._verifier is not None:
            said = await self._verifier.send_code(conversation_id)
            recorded = await run_in_threadpool(
                self._record_replies, conversation_id, [AssistantReply(said)], None
            )
            for message in recorded:
                self._hub.publish(conversation_id, message)
            return Outcome(conversation_id, recorded, customer_message=customer_message)
        if received.route != "assistant":
            if received.route == "agent" and self._desk is not None:
                # A person has the conversation: the assistant stays silent.
                self._desk.customer_message(conversation_id, customer_message)
            if received.follow_up is not None and self._desk is not None:
                self._desk.follow_up_chosen(conversation_id, received.follow_up)
            for message in received.replies:
                self._hub.publish(conversation_id, message)
            return Outcome(conversation_id, received.replies, customer_message=customer_message)
        metadata = {"channel": channel}
        if arrived.address is not None:
            metadata["address"] = arrived.address
        keep = _Kept(customer_message["id"], sent, channel)
        metadata["message_id"] = keep.message_id
        slow = None
        if self._taking_longer is not None:
            after, text = self._taking_longer
            slow = SlowTurnNotice(
                after, lambda: self._say_now(conversation_id, text, {TAKING_LONGER: True})
            )
        try:
            if not await self._replay_conversation(conversation_id, before=keep.message_id):
                raise AssistantUnavailable("earlier messages are still waiting")
            replies = await self._rasa.send(conversation_id, sent, metadata)
            replies = await self._carry_out(conversation_id, replies)
            available = True
        except AssistantUnavailable as error:
            replies = [AssistantReply(self._unavailable_text)]
            available = False
            reason = str(error)
        noticed = await slow.settle() if slow is not None else []
        recorded = await run_in_threadpool(
            self._record_replies, conversation_id, replies, None if available else reason, keep
        )
        for message in recorded:
            self._hub.publish(conversation_id, message)
        if self._desk is not None:
            self._desk.turn_finished(conversation_id)
        return Outcome(
            conversation_id=conversation_id,
            replies=recorded,
            assistant_available=available,
            customer_message=customer_message,
            shown_meanwhile=noticed,
        )

    async def _say_now(
        self, conversation_id: str, text: str, details: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Records something the gateway itself says during a turn and shows it to the
        customer at once (web chat and Telegram)."""

        def record(session: Session) -> tuple[str, bool, dict[str, Any]]:
            conversation = conversations.get_conversation(session, conversation_id)
            assert conversation is not None
            message = conversations.record_message(
                session, conversation, "bot", text, details=details
            )
            return conversation.channel, conversation.reachable, message_json(message)

        channel, reachable, message = await in_transaction(self._database_url, record)
        if reachable:
            await self.deliver(conversation_id, channel, message)
        else:
            self._hub.publish(conversation_id, message)
        return message

    async def _replay_for(self, conversation_id: str, received: _Received) -> Outcome:
        """A kept message sent again: answered now if the assistant is back (with what it
        said to it), or the first answer again; nothing is recorded twice."""
        message = received.customer_message
        if not await self._replay_conversation(conversation_id):
            return Outcome(conversation_id, received.replies, False, message)

        def answers(session: Session) -> list[dict[str, Any]]:
            after = conversations.answers_after(session, conversation_id, message["id"])
            return [message_json(m) for m in after if not (m.details or {}).get(UNAVAILABLE)]

        replies = await in_transaction(self._database_url, answers)
        return Outcome(conversation_id, replies, customer_message=message)

    async def replay_due(self) -> None:
        """Answers kept messages whose next try is due, conversation by conversation, each
        in order; stops at the first the assistant still cannot answer."""
        due = await in_transaction(self._database_url, pending.due_conversations, utcnow())
        for conversation_id in due:
            async with self._turns.hold(conversation_id):
                if not await self._replay_conversation(conversation_id):
                    return

    async def _replay_conversation(self, conversation_id: str, before: int | None = None) -> bool:
        """Answers this conversation's waiting messages (those before message ``before``),
        oldest first, and pushes each answer to the customer's channel (the caller holds the
        conversation's turn). False when the assistant still cannot answer: they stay kept."""
        waiting = await in_transaction(
            self._database_url, self._still_waiting, conversation_id, before
        )
        for turn in waiting:
            metadata = {"channel": turn.channel, "kept": True, "message_id": turn.message_id}
            try:
                replies = await self._rasa.send(conversation_id, turn.sent, metadata)
                replies = await self._carry_out(conversation_id, replies)
            except AssistantUnavailable as error:
                await in_transaction(
                    self._database_url, pending.failed_again, turn.id, str(error), utcnow()
                )
                return False
            recorded, channel, reachable = await run_in_threadpool(
                self._record_kept_answer, conversation_id, turn.id, replies
            )
            for message in recorded:
                if reachable:
                    await self.deliver(conversation_id, channel, message)
                else:
                    self._hub.publish(conversation_id, message)
            if self._desk is not None:
                self._desk.turn_finished(conversation_id)
        return True

    def _still_waiting(
        self, session: Session, conversation_id: str, before: int | None
    ) -> list[pending.Waiting]:
        """The waiting messages to answer; none once a person has the conversation (they read
        them there instead)."""
        conversation = conversations.get_conversation(session, conversation_id)
        if conversation is not None and self._with_agent(conversation):
            pending.dropped(session, conversation_id)
            return []
        return pending.waiting(session, conversation_id, before)

    def _record_kept_answer(
        self, conversation_id: str, turn_id: int, replies: list[AssistantReply]
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """Records the answer to a kept message and lets the message go, together."""
        with unit_of_work(self._database_url) as session:
            conversation = conversations.get_conversation(session, conversation_id)
            assert conversation is not None
            recorded = _record_bot(session, conversation, replies, {"answers_kept": True})
            pending.answered(session, turn_id)
            session.flush()
            shown = [message_json(message) for message in recorded]
            return shown, conversation.channel, conversation.reachable

    async def _carry_out(
        self, conversation_id: str, replies: list[AssistantReply]
    ) -> list[AssistantReply]:
        """Does what the assistant's custom payloads ask of the gateway (send a code) and puts
        the sentence saying what happened in their place; other payloads are dropped."""
        done: list[AssistantReply] = []
        for reply in replies:
            if reply.custom.get("redress") == SEND_CODE and self._verifier is not None:
                done.append(AssistantReply(await self._verifier.send_code(conversation_id)))
            elif reply.text or reply.buttons:
                done.append(reply)
        return done

    async def attachment(
        self, conversation_id: str, kind: str, reply: str, *, external_id: str | None = None
    ) -> Outcome:
        """A photo, voice note, sticker or file: recorded as such, answered politely."""

        def record(session: Session) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
            conversation = conversations.get_conversation(session, conversation_id)
            if conversation is None:
                raise UnknownConversation(conversation_id)
            with_agent = self._with_agent(conversation)
            received = conversations.record_message(
                session, conversation, "customer", f"({kind})",
                details={"attachment": kind}, external_id=external_id,
            )  # fmt: skip
            if with_agent:  # the agent sees it in the thread; the assistant stays silent
                return message_json(received), [], True
            handoff_records.reopen(session, conversation)
            answer = conversations.record_message(session, conversation, "bot", reply)
            return message_json(received), [message_json(answer)], False

        received, answers, with_agent = await in_transaction(self._database_url, record)
        for message in (received, *answers):
            self._hub.publish(conversation_id, message)
        if with_agent and self._desk is not None:
            self._desk.customer_message(conversation_id, received)
        return Outcome(conversation_id, answers, customer_message=received)

    async def push(
        self,
        conversation_id: str,
        role: str,
        text: str,
        *,
        author: str | None = None,
        buttons: list[dict[str, str]] | None = None,
        details: dict[str, Any] | None = None,
        signed: bool = False,
    ) -> dict[str, Any]:
        """Records a message that arrives later (an agent's reply, an update) and delivers it
        on the customer's channel: the live hub for web chats, the channel's sender otherwise.
        ``buttons`` (title and payload) get issued tokens like the assistant's; ``signed``
        puts the author's name before the text on channels that show every message as the
        bot's (Telegram), as the agent desk does for agents' replies."""

        def record(session: Session) -> tuple[str, bool, dict[str, Any]]:
            conversation = conversations.get_conversation(session, conversation_id)
            if conversation is None:
                raise UnknownConversation(conversation_id)
            kept = {**(details or {}), **({"author": author} if author else {})}
            message = conversations.record_message(
                session,
                conversation,
                role,
                text,
                buttons=conversations.with_button_tokens(buttons or []),
                details=kept,
            )
            if role == "agent":
                # An agent's reply is the reply its open cases promised.
                case_promises.keep_on_reply(session, conversation.id, author or role, utcnow())
            return conversation.channel, conversation.reachable, message_json(message)

        channel, reachable, message = await in_transaction(self._database_url, record)
        if reachable:
            await self.deliver(conversation_id, channel, message, signed=signed)
        else:
            self._hub.publish(conversation_id, message)
        return message

    async def deliver(
        self,
        conversation_id: str,
        channel: str,
        message: dict[str, Any],
        *,
        signed: bool = False,
    ) -> None:
        """Delivers a recorded message: to open web chats at once, and to the channel's
        customer through its sender (Telegram)."""
        self._hub.publish(conversation_id, message)
        sender = self._senders.get(channel)
        if sender is not None:
            if signed and message.get("author"):
                # The channel shows every message as the bot's: the agent's name goes first
                # (web chats show the author beside the message instead).
                message = {**message, "text": f"{message['author']}: {message['text']}"}
            await sender(conversation_id, [message])

    def confirms_delivery(self, channel: str) -> bool:
        """Whether the channel's sender confirms each message by noting the channel's id for
        it (Telegram does); web chats are delivered once recorded and published."""
        return channel in self._senders

    async def note_delivered(self, message_id: int, external_id: str) -> None:
        """Keeps the channel's id for a message we sent (a Telegram message id)."""

        def note(session: Session) -> None:
            message = session.get(Message, message_id)
            if message is not None:
                message.external_id = external_id

        await in_transaction(self._database_url, note)

    async def mark_unreachable(self, conversation_id: str, reason: str) -> None:
        await in_transaction(
            self._database_url, conversations.mark_unreachable, conversation_id, reason
        )

    def _record_customer(self, conversation_id: str | None, arrived: _Arrival) -> _Received:
        """Records the customer's message and says where it goes; one for the assistant is
        put in the inbound queue in the same transaction, so it cannot be lost."""
        with unit_of_work(self._database_url) as session:
            received = self._receive(session, conversation_id, arrived)
            if received.route == "assistant":
                pending.take_in(
                    session,
                    received.conversation_id,
                    received.customer_message["id"],
                    arrived.command or received.sent,
                    arrived.channel,
                    utcnow() + self._working_for,
                )
            return received

    def _receive(
        self, session: Session, conversation_id: str | None, arrived: _Arrival
    ) -> _Received:
        text, command, external_id = arrived.text, arrived.command, arrived.external_id
        signed_in = self._signed_customer(session, arrived.identity)
        if conversation_id is None:
            conversation = conversations.start_conversation(session, arrived.channel)
        else:
            conversation = conversations.get_conversation(session, conversation_id)
            if conversation is None:
                raise UnknownConversation(conversation_id)
        if signed_in is not None and self._verifier is not None:
            self._verifier.accept_signed(session, conversation, signed_in)
        repeated = _repeat(session, conversation, arrived, self._with_agent(conversation))
        if repeated is not None:
            return repeated
        shown, sent, details = read_press(session, conversation.id, text)
        asking = conversations.last_bot_details(session, conversation.id).get("asks")
        message = conversations.record_message(
            session,
            conversation,
            "customer",
            shown,
            details=details,
            external_id=external_id,
            client_message_id=arrived.client_message_id,
        )
        received = message_json(message)
        if self._with_agent(conversation):
            return _Received(conversation.id, sent, received, route="agent")
        if details.get("expired_button"):
            replies = expired_choice(session, conversation)
            return _Received(conversation.id, sent, received, "answered", replies)
        if command is None and (about_code := self._about_code(session, conversation, text)):
            if about_code.route == "answered":
                reply = conversations.record_message(session, conversation, "bot", about_code.sent)
                return _Received(conversation.id, sent, received, "answered", [message_json(reply)])
            return _Received(conversation.id, about_code.sent, received, about_code.route)
        answer = (
            feedback.recognise(
                sent,
                text,
                asking=asking,
                resolved=conversation.status == "resolved"
                or follow_up.question_open(session, conversation.id, asking),
            )
            if command is None
            else None
        )
        if answer is not None:
            replies = self._record_answer(session, conversation, answer, utcnow())
            return _Received(conversation.id, sent, received, "answered", replies)
        wants = handoff_waits.recognise(sent, text, asking=asking) if command is None else None
        if wants is not None:
            if handoff_waits.record_answer(session, conversation, wants) is not None:
                text = handoff_waits.answer_text(wants, conversation.channel)
                reply = conversations.record_message(session, conversation, "bot", text)
                return _Received(
                    conversation.id, sent, received, "answered", [message_json(reply)], wants
                )
            # Picked up or closed meanwhile: the assistant answers the words, not the
            # button's payload.
            sent = neutralise_slash(shown)
        handoff_records.reopen(session, conversation)
        return _Received(conversation.id, sent, received)

    def check_identity(self, session: Session, identity: tuple[object, object]) -> None:
        """Raises InvalidIdentity for a signed login that is not valid (before anything,
        even a new conversation, is recorded for it)."""
        self._signed_customer(session, identity)

    def _signed_customer(
        self, session: Session, identity: tuple[object, object] | None
    ) -> Customer | None:
        """The customer a signed login names; raises InvalidIdentity for a bad one."""
        if identity is None:
            return None
        if self._verifier is None:
            raise InvalidIdentity("Signed identities are not set up here.")
        return self._verifier.signed_customer(session, *identity)

    def _about_code(self, session: Session, conversation: Conversation, text: str) -> _Route | None:
        """A verification code typed (checked here, never passed on), or a new one asked
        for. ``sent``: the text to answer with, or what the assistant gets."""
        if self._verifier is None:
            return None
        answer = self._verifier.answer(session, conversation, text)
        if answer is not None and answer.verified:
            return _Route("assistant", VERIFIED_COMMAND)
        if answer is not None and answer.text is not None:
            return _Route("answered", answer.text)
        if self._verifier.asks_for_new_code(text) and (
            identity_records.claimed_customer(session, conversation.id) is not None
        ):
            return _Route("send_code", text)
        return None

    def _with_agent(self, conversation: Conversation) -> bool:
        """Whether a person has the conversation (and this gateway has the desk to reach
        them; without it the assistant answers rather than nobody)."""
        return conversation.status == handoff_records.WITH_AGENT and self._desk is not None

    def _record_answer(
        self,
        session: Any,
        conversation: Conversation,
        answer: feedback.Answer,
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Keeps the customer's answer after a resolution (on the resolutions it is about)
        and records what to say next: the rating, what happens now to a case put back with
        its team, or thanks."""
        value = answer.value
        if answer.kind == feedback.ASKS_FIXED:
            reopened = handoff_records.record_fixed(
                session, conversation, bool(value), now, self._business
            )
            question = (
                follow_up.reopened_question(reopened, self._business, now)
                if reopened
                else feedback.next_question(answer, conversation.fixed)
            )
        elif answer.kind == feedback.ASKS_STILL_WORKING:
            heard = follow_up.answer(session, conversation.id, bool(value), now, self._business)
            question = (
                follow_up.reopened_question(heard.reopened, self._business, now)
                if heard.reopened
                else feedback.next_question(answer, True)
            )
        else:
            rated = resolutions.awaiting_rating(session, conversation.id)
            handoff_records.record_rating(session, conversation, int(value), now)
            reopened_case = any(r.reopened_at is not None for r in rated)
            question = feedback.next_question(answer, conversation.fixed, reopened=reopened_case)
        message = conversations.record_message(
            session,
            conversation,
            "bot",
            question.text,
            buttons=conversations.with_button_tokens(question.buttons),
            details={"asks": question.asks} if question.asks else None,
        )
        return [message_json(message)]

    def _rating_owed(self, session: Session, conversation: Conversation) -> list[Message]:
        """The rating question, once, after the assistant heard whether a resolved case is
        fixed (the customer answered "is it working now?" after an incident fix)."""
        owed = resolutions.rating_owed(session, conversation.id)
        if not owed:
            return []
        resolutions.mark_rating_asked(owed, utcnow())
        question = feedback.ask_rating_after_assistant()
        return [
            conversations.record_message(
                session,
                conversation,
                "bot",
                question.text,
                buttons=conversations.with_button_tokens(question.buttons),
                details={"asks": question.asks},
                flush=False,
            )
        ]

    def _record_replies(
        self,
        conversation_id: str,
        replies: list[AssistantReply],
        failure: str | None,
        keep: _Kept | None = None,
    ) -> list[dict[str, Any]]:
        """Records the replies to message ``keep``; it leaves the inbound queue in the same
        transaction, or, after a ``failure``, stays kept to be answered when the assistant is
        back (in the same transaction as saying so)."""
        with unit_of_work(self._database_url) as session:
            conversation = conversations.get_conversation(session, conversation_id)
            assert conversation is not None  # recorded a moment ago; conversations are not deleted
            if failure is not None:
                conversations.record_event(
                    session, conversation_id, "assistant_unavailable", {"error": failure[:500]}
                )
            if keep is not None and failure is not None:
                pending.keep(
                    session, conversation_id, keep.message_id, keep.sent, keep.channel, utcnow()
                )
            elif keep is not None:
                pending.answered_message(session, keep.message_id)
            details = {UNAVAILABLE: True} if failure is not None else None
            recorded = _record_bot(session, conversation, replies, details)
            if failure is None:
                recorded += self._rating_owed(session, conversation)
            session.flush()  # all the replies in one round trip, in their order
            return [message_json(message) for message in recorded]


def _record_bot(
    session: Session,
    conversation: Conversation,
    replies: list[AssistantReply],
    details: dict[str, Any] | None,
) -> list[Message]:
    """The assistant's replies, recorded in their order (inserted at the next flush)."""
    return [
        conversations.record_message(
            session,
            conversation,
            "bot",
            reply.text,
            buttons=conversations.with_button_tokens(reply.buttons),
            details=details,
            flush=False,
        )
        for reply in replies
    ]


def _repeat(
    session: Session, conversation: Conversation, arrived: _Arrival, with_agent: bool
) -> _Received | None:
    """A message the client sent before (same client_message_id): its first answer, or,
    when the assistant could not answer it then (or never got it), the same message tried
    again. With a person on the conversation, nothing is sent anywhere again."""
    if arrived.client_message_id is None:
        return None
    found = conversations.repeat_of(session, conversation.id, arrived.client_message_id)
    if found is None:
        return None
    first, answers = found
    received = message_json(first)
    if pending.is_waiting(session, first.id):
        # Kept because the assistant could not answer: it is answered from the queue, in
        # order, not sent a second time.
        answered = [message_json(m) for m in answers]
        return _Received(conversation.id, "", received, "replay", answered)
    real = [m for m in answers if not (m.details or {}).get(UNAVAILABLE)]
    answered = any(not (m.details or {}).get(TAKING_LONGER) for m in real)
    if not answered and not with_agent and not (first.details or {}).get("expired_button"):
        # Never answered (the assistant failed, or the gateway stopped mid-turn): asked now.
        sent = (first.details or {}).get("sent_to_assistant") or neutralise_slash(first.text)
        return _Received(conversation.id, sent, received)
    return _Received(conversation.id, "", received, "repeat", [message_json(m) for m in real])
