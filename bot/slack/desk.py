"""The agent desk in Slack: what the gateway does there and what agents do there.

- **Cards.** Each handoff the assistant (or an operator) requests opens one thread in the
  escalation channel, starting with the context card (``bot/slack/card.py``). A scheduler
  job posts the cards that are due (``post_due``); a failed post is tried again, after
  Slack's ``Retry-After`` when it is rate limited, otherwise with the usual backoff. Errors an
  operator must fix (``channel_not_found``, ``invalid_auth``, ...) also raise an alert. The
  customer is told only what the assistant already said (someone will reply); nobody tells
  them an agent joined until one presses Take over.
- **Buttons.** Take over assigns the agent and silences the assistant; Hand back returns the
  conversation to the assistant, which says so; Resolve closes it and asks the customer
  whether it is fixed, then for a rating (``redress.handoff.feedback``). The card shows who did what.
- **While taken over**, each customer message is posted in the thread, and each reply in the
  thread by the agent who took over reaches the customer on their channel under the agent's
  display name, as plain text. Replies starting with ``note:`` stay internal, as do replies
  by anyone else (they are told so).

Slack calls go through ``AsyncWebClient`` (``base_url`` from the settings, so tests use a fake
Web API). Work triggered by Slack runs in background tasks after the acknowledgement; one
lock per thread keeps each thread's work in order. Time comes from an injectable clock.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.relay import Relay, UnknownConversation
from bot.slack.card import (
    APPROVE,
    HAND_BACK,
    RESOLVE,
    TAKE_OVER,
    build_card,
    build_status_line,
    describe_wait,
    status_block,
)
from bot.slack.text import escape_for_slack, is_internal_note, one_line, slack_to_plain
from bot.slack.worker import AUTH_ERRORS, SlackFailure, SlackWorker, Sleep
from redress.business import Business
from redress.clock import utcnow
from redress.compensation import ledger, operators
from redress.conversations import records as conversations
from redress.conversations import views as record_views
from redress.handoff import feedback
from redress.handoff import posting as handoff_posting
from redress.handoff import records as handoff_records
from redress.handoff import waits as handoff_waits
from redress.settings import SlackSettings

logger = logging.getLogger("redress.gateway.slack")

Clock = Callable[[], datetime]

# What the customer reads. Checked by tests/unit/test_desk_texts.py with check_text.
JOINED = "{agent} from our {team} has joined the chat and will help you from here."
HANDED_BACK = "Thanks for waiting — is there anything else I can help with?"

# What agents read (Slack mrkdwn; names are escaped before they go in).
TAKEN_OVER_HOWTO = (
    "Replies in this thread go to the customer as *{agent}*. "
    "Start a reply with `note:` to keep it for colleagues."
)
NOT_TAKEN_OVER = (
    "Not sent to the customer: press *Take over* on the card first. "
    "I kept your reply as an internal note."
)
SOMEONE_ELSE = (
    "Not sent to the customer: *{agent}* has this conversation. Press *Take over* to take it "
    "from them. I kept your reply as an internal note."
)
CLOSED = "This conversation is no longer with the desk. I kept your reply as an internal note."
ALREADY_YOURS = "You already have this conversation."
ALREADY_CLOSED = "This conversation was already handed back or resolved."
NOT_REACHABLE = (
    "The customer can't be reached on their channel right now. Your reply is in the record."
)
FILES_NOT_SENT = "Files don't reach the customer yet; only the words of your reply do."
EDITS_NOT_SENT = "Edits and deletions don't reach the customer. Send a new reply instead."
OFFER_NOT_CHANGED = "That offer can't be changed now: {reason}."
OFFER_UNKNOWN = "I can't find that offer any more."
REJECTED_HOWTO = (
    "The customer has been told a person will be in touch about it. Take the conversation "
    "over to tell them why, or they will hear from whoever picks it up."
)
WAIT_REALERT = (
    "<!here> The customer has been {wait} (in opening hours) and nobody has taken this "
    "conversation over. They've been told they're still in the queue."
)
FOLLOW_UP_REALERT = (
    "<!here> The customer has been {wait} (in opening hours) and nobody has taken this "
    "conversation over. They've been offered a follow-up on {channel}; it stays in the "
    "queue until someone takes it over."
)
FOLLOW_UP_WANTED = (
    "The customer would like a follow-up on {channel} and may have left the chat. "
    "Take it over and reply in this thread when you can: it reaches them there."
)
FOLLOW_UP_DECLINED = "The customer is waiting in the chat for a reply."
CHANNEL_NAMES = {"web": "web chat", "telegram": "Telegram"}

SECTION_CHARS = 2900
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class Desk(SlackWorker):
    """The agent desk's work: Slack Web API calls, the records, and the relay to customers."""

    what = "agent desk"

    def __init__(
        self,
        settings: SlackSettings,
        database_url: str,
        relay: Relay,
        business: Business,
        *,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        client: AsyncWebClient | None = None,
        fulfil: bool = False,
    ) -> None:
        self.settings = settings
        # Whether an approved grant goes to the billing webhook (one is configured).
        self._fulfil = fulfil
        # Called when the desk put messages for customers in the outbox (the scheduler's
        # wake-up, so they go now rather than at the next poll).
        self.on_queued: Callable[[], None] | None = None
        super().__init__(
            client or AsyncWebClient(token=settings.bot_token, base_url=settings.api_url),
            database_url,
            sleep=sleep,
            logger=logger,
        )
        self._relay = relay
        self.business = business
        self.clock = clock
        self._thread_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._posting = asyncio.Lock()
        relay.attach_desk(self)

    # What the relay tells the desk -------------------------------------------------------------

    def customer_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        self.spawn(self._mirror(conversation_id, message), "showing a customer message")

    def turn_finished(self, conversation_id: str) -> None:
        self.spawn(self.post_due(), "posting handoff cards")

    def follow_up_chosen(self, conversation_id: str, wants: bool) -> None:
        self.spawn(self._follow_up_chosen(conversation_id, wants), "showing a follow-up choice")

    async def _follow_up_chosen(self, conversation_id: str, wants: bool) -> None:
        def find(session: Any) -> tuple[_HandoffView | None, str]:
            handoff = handoff_records.open_handoff(session, conversation_id)
            conversation = conversations.get_conversation(session, conversation_id)
            return _handoff_view(handoff), conversation.channel if conversation else ""

        handoff, customer_channel = await self._db(find)
        if handoff is None or not handoff.thread:
            return  # no thread yet: the card, when posted, shows the choice
        where = CHANNEL_NAMES.get(customer_channel, customer_channel)
        text = FOLLOW_UP_WANTED.format(channel=where) if wants else FOLLOW_UP_DECLINED
        await self._refresh_card(handoff.id, None)
        await self._call(
            "telling the thread about a follow-up",
            self.client.chat_postMessage,
            channel=handoff.channel,
            thread_ts=handoff.thread,
            text=text,
        )

    # Waiting customers -------------------------------------------------------------------------

    async def check_waits(self) -> int:
        """Tells customers still waiting for a person where they stand, and re-alerts their
        threads (``redress.handoff.waits``). Returns how many steps were taken."""
        steps = await self._db(handoff_waits.due_steps, self.clock(), self.business)
        if steps and self.on_queued is not None:
            self.on_queued()
        for step in steps:
            logger.warning(
                "handoff %s: nobody has taken it over after %s; %s",
                step.handoff_id,
                describe_wait(step.waited),
                "follow-up offered" if step.step == handoff_waits.FOLLOW_UP else "customer updated",
            )
            if not step.desk_channel or not step.desk_thread:
                continue  # the card is not posted yet (Slack failing): the customer still hears
            where = CHANNEL_NAMES.get(step.channel, step.channel)
            template = FOLLOW_UP_REALERT if step.step == handoff_waits.FOLLOW_UP else WAIT_REALERT
            await self._call(
                "re-alerting a waiting handoff",
                self.client.chat_postMessage,
                channel=step.desk_channel,
                thread_ts=step.desk_thread,
                reply_broadcast=True,
                text=template.format(wait=describe_wait(step.waited), channel=where),
            )
        return len(steps)

    # Cards ---------------------------------------------------------------------------------------

    async def post_due(self) -> int:
        """Posts the card of every handoff that is due; returns how many were posted."""
        posted = 0
        async with self._posting:
            now = self.clock()
            for handoff_id in await self._db(handoff_posting.due_for_posting, now):
                if not await self._db(handoff_posting.claim_for_posting, handoff_id, now):
                    continue  # another gateway has it
                try:
                    posted += await self._post_card(handoff_id, now)
                except Exception:  # tried again once the claim lapses; the others go on
                    logger.exception("posting handoff %s to the agent desk failed", handoff_id)
        return posted

    async def _post_card(self, handoff_id: int, now: datetime) -> int:
        def card(session: Any) -> tuple[str, list[dict[str, Any]]]:
            handoff = handoff_records.get_handoff(session, handoff_id)
            assert handoff is not None
            record = record_views.conversation_record(session, handoff.conversation_id)
            assert record is not None
            return build_card(
                record,
                self.business,
                now,
                reason=handoff.reason,
                pending_offer=pending_offer_for_card(record),
            )

        text, blocks = await self._db(card)
        answer = await self.post_new(
            channel=self.settings.escalation_channel, text=text, blocks=blocks
        )
        if isinstance(answer, SlackFailure):
            failure, retry = answer, answer.wait
            later = await self._db(
                lambda session: handoff_posting.note_post_failed(
                    session,
                    handoff_id,
                    failure.error,
                    self.clock(),
                    retry_after=retry,
                    alert=failure.needs_operator,
                )
            )
            log = logger.error if failure.needs_operator else logger.warning
            log(
                "could not post handoff %s to the agent desk (%s); next try at %s",
                handoff_id,
                failure.error,
                later.isoformat(),
            )
            return 0
        channel, thread = str(answer["channel"]), str(answer["ts"])
        await self._db(
            lambda session: handoff_posting.note_posted(
                session, handoff_id, channel, thread, self.clock()
            )
        )
        logger.info("handoff %s posted to the agent desk (thread %s)", handoff_id, thread)
        return 1

    async def _refresh_card(self, handoff_id: int, event: str | None, who: str = "") -> None:
        """Shows on the card, and in its thread, what an agent just did (``event``; None
        only brings the card up to date)."""
        now = self.clock()

        def card(session: Any) -> tuple[str, str, str, list[dict[str, Any]], bool]:
            handoff = handoff_records.get_handoff(session, handoff_id)
            assert handoff is not None and handoff.desk_channel and handoff.desk_thread
            record = record_views.conversation_record(session, handoff.conversation_id)
            assert record is not None
            text, blocks = build_card(
                record,
                self.business,
                now,
                reason=handoff.reason,
                pending_offer=pending_offer_for_card(record),
            )
            still_open = handoff.status in handoff_records.OPEN_STATUSES
            return handoff.desk_channel, handoff.desk_thread, text, blocks, still_open

        channel, thread, text, blocks, still_open = await self._db(card)
        line = build_status_line(event, who, now, self.business) if event else None
        actions = [b for b in blocks if b.get("type") == "actions"]
        blocks = [b for b in blocks if b.get("type") != "actions"]
        if line is not None:
            blocks.append(status_block(line))
        if still_open:
            blocks += actions
        await self._call(
            "updating the card",
            self.client.chat_update,
            channel=channel,
            ts=thread,
            text=f"{text} · {line}" if line else text,
            blocks=blocks,
        )
        if line is None:
            return
        await self._call(
            "posting a status line",
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=thread,
            text=line,
        )

    # Customer messages into the thread -------------------------------------------------------

    async def _mirror(self, conversation_id: str, message: dict[str, Any]) -> None:
        def thread(session: Any) -> tuple[str, str, str] | None:
            handoff = handoff_records.taken_over_thread(session, conversation_id)
            conversation = conversations.get_conversation(session, conversation_id)
            if handoff is None or conversation is None:
                return None
            return handoff.desk_channel or "", handoff.desk_thread or "", conversation.channel

        found = await self._db(thread)
        if found is None:
            logger.warning("no desk thread for conversation %s; message not shown", conversation_id)
            return
        channel, thread_ts, customer_channel = found
        async with self._thread_locks[thread_ts]:
            text = str(message.get("text") or "")
            where = CHANNEL_NAMES.get(customer_channel, customer_channel)
            blocks: list[dict[str, Any]] = [
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"*Customer* · {where}"}],
                }
            ]
            blocks += [
                {"type": "section", "text": {"type": "mrkdwn", "text": part, "verbatim": True}}
                for part in _sections(escape_for_slack(text))
            ][:45]
            await self._call(
                "showing a customer message",
                self.client.chat_postMessage,
                channel=channel,
                thread_ts=thread_ts,
                text=f"Customer: {escape_for_slack(one_line(text))[:3000]}",
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )

    # Agents' replies in the thread -------------------------------------------------------------

    def on_message(self, event: dict[str, Any]) -> None:
        """A ``message`` event (called before the event is acknowledged; works in the
        background)."""
        thread_ts = event.get("thread_ts") or (event.get("message") or {}).get("thread_ts")
        if not thread_ts or event.get("channel") != self.settings.escalation_channel:
            return
        self.spawn(self._on_message(event, str(thread_ts)), "handling a reply at the desk")

    async def _on_message(self, event: dict[str, Any], thread_ts: str) -> None:
        async with self._thread_locks[thread_ts]:
            subtype = event.get("subtype")
            if subtype in ("message_changed", "message_deleted"):
                await self._edit_noted(event, thread_ts)
                return
            if (
                event.get("bot_id")
                or subtype not in (None, "thread_broadcast", "file_share")
                or event.get("ts") == thread_ts
                or not event.get("user")
            ):
                return
            channel, user = str(event["channel"]), str(event["user"])
            handoff = await self._db(
                lambda session: _handoff_view(
                    handoff_records.handoff_for_thread(session, channel, thread_ts)
                )
            )
            if handoff is None:
                return
            text = str(event.get("text") or "")
            name = await self.display_name(user)
            ts = str(event.get("ts") or "")
            if is_internal_note(text):
                await self._note(handoff, name, user, text, ts)
                return
            if handoff.status != handoff_records.TAKEN_OVER or handoff.agent_id != user:
                await self._note(handoff, name, user, text, ts)
                if handoff.status == handoff_records.TAKEN_OVER:
                    warning = SOMEONE_ELSE.format(agent=escape_for_slack(handoff.agent_name or ""))
                elif handoff.status == handoff_records.REQUESTED:
                    warning = NOT_TAKEN_OVER
                else:
                    warning = CLOSED
                await self._tell_agent(channel, user, thread_ts, warning)
                return
            if event.get("files"):
                await self._tell_agent(channel, user, thread_ts, FILES_NOT_SENT)
            await self._reply_to_customer(handoff, channel, user, name, text, ts)

    async def _reply_to_customer(
        self,
        handoff: _HandoffView,
        channel: str,
        user: str,
        name: str,
        text: str,
        ts: str,
    ) -> None:
        for mentioned in set(_MENTION.findall(text)):
            await self.display_name(mentioned)
        plain = slack_to_plain(text, self._names.get)
        if not plain:
            return
        if len(plain) > 4000:
            plain = plain[:3999] + "…"
        await self._relay.push(
            handoff.conversation_id,
            "agent",
            plain,
            author=name,
            details={"agent_id": user, "desk_ts": ts},
            signed=True,
        )
        reachable = await self._db(
            lambda session: getattr(
                conversations.get_conversation(session, handoff.conversation_id), "reachable", True
            )
        )
        if not reachable:
            await self._tell_agent(channel, user, handoff.thread, NOT_REACHABLE)

    async def _note(self, handoff: _HandoffView, name: str, user: str, text: str, ts: str) -> None:
        await self._db(
            lambda session: handoff_records.record_agent_note(
                session,
                handoff.conversation_id,
                author=name,
                agent_id=user,
                text=text,
                desk_ts=ts,
                handoff_id=handoff.id,
            )
        )

    async def _edit_noted(self, event: dict[str, Any], thread_ts: str) -> None:
        edited = event.get("message") or event.get("previous_message") or {}
        user = edited.get("user")
        if not user or edited.get("bot_id"):
            return
        await self._tell_agent(str(event.get("channel")), str(user), thread_ts, EDITS_NOT_SENT)

    # Buttons -------------------------------------------------------------------------------------

    def on_button(self, body: dict[str, Any]) -> None:
        """A press on a card's button (called before it is acknowledged)."""
        container = body.get("container") or {}
        thread_ts = str(container.get("message_ts") or "")
        self.spawn(self._on_button(body, thread_ts), "handling a button at the desk")

    async def _on_button(self, body: dict[str, Any], thread_ts: str) -> None:
        async with self._thread_locks[thread_ts]:
            action = (body.get("actions") or [{}])[0]
            action_id = action.get("action_id")
            user = str((body.get("user") or {}).get("id") or "")
            channel = str(
                (body.get("container") or {}).get("channel_id")
                or (body.get("channel") or {}).get("id")
                or ""
            )
            conversation_id = str(action.get("value") or "")

            def find(session: Any) -> _HandoffView | None:
                handoff = handoff_records.handoff_for_thread(session, channel, thread_ts)
                if handoff is None and conversation_id:
                    handoff = handoff_records.open_handoff(session, conversation_id)
                return _handoff_view(handoff)

            handoff = await self._db(find)
            if handoff is None or not user:
                logger.warning("a desk button for no known handoff (%s)", thread_ts)
                return
            name = await self.display_name(user)
            steps = {
                TAKE_OVER: handoff_records.take_over,
                HAND_BACK: handoff_records.hand_back,
                RESOLVE: handoff_records.resolve,
            }
            step = steps.get(str(action_id))
            if step is None:
                return
            change: handoff_records.DeskChange = await self._db(
                lambda session: step(session, handoff.id, user, name, self.clock())
            )
            if not change.changed:
                note = ALREADY_YOURS if change.outcome == "already_yours" else ALREADY_CLOSED
                await self._tell_agent(channel, user, thread_ts, note)
                return
            await self._after_change(change, name)

    async def _after_change(self, change: handoff_records.DeskChange, name: str) -> None:
        """Tells the customer, then shows the change at the desk."""
        team = self.business.brand.team_name
        try:
            if change.outcome in ("taken_over", "reassigned"):
                await self._relay.push(
                    change.conversation_id, "bot", JOINED.format(agent=name, team=team)
                )
            elif change.outcome == handoff_records.HANDED_BACK:
                await self._relay.push(change.conversation_id, "bot", HANDED_BACK)
            elif change.outcome == handoff_records.RESOLVED:
                question = feedback.ask_fixed(name)
                await self._relay.push(
                    change.conversation_id,
                    "bot",
                    question.text,
                    buttons=question.buttons,
                    details={"asks": question.asks},
                )
        except UnknownConversation:
            logger.error("handoff %s has no conversation", change.handoff_id)
        event = "taken_over" if change.outcome == "reassigned" else change.outcome
        await self._refresh_card(change.handoff_id, event, name)
        if change.outcome in ("taken_over", "reassigned"):
            handoff = await self._db(
                lambda session: _handoff_view(
                    handoff_records.get_handoff(session, change.handoff_id)
                )
            )
            await self._call(
                "explaining the thread",
                self.client.chat_postMessage,
                channel=handoff.channel,
                thread_ts=handoff.thread,
                text=TAKEN_OVER_HOWTO.format(agent=escape_for_slack(name)),
            )

    def on_offer_button(self, body: dict[str, Any]) -> None:
        """Approve or Reject on a compensation offer waiting for a person (called before the
        press is acknowledged)."""
        container = body.get("container") or {}
        thread_ts = str(container.get("message_ts") or "")
        self.spawn(self._on_offer_button(body, thread_ts), "deciding an offer at the desk")

    async def _on_offer_button(self, body: dict[str, Any], thread_ts: str) -> None:
        async with self._thread_locks[thread_ts]:
            action = (body.get("actions") or [{}])[0]
            approving = action.get("action_id") == APPROVE
            reference = str(action.get("value") or "")
            user = str((body.get("user") or {}).get("id") or "")
            channel = str((body.get("container") or {}).get("channel_id") or "")
            handoff = await self._db(
                lambda session: _handoff_view(
                    handoff_records.handoff_for_thread(session, channel, thread_ts)
                )
            )
            if handoff is None or not user or not reference:
                logger.warning("an offer button for no known handoff (%s)", thread_ts)
                return
            name = await self.display_name(user)
            by = f"{name} (Slack {user})"
            policy = self.business.compensation
            now = self.clock()

            def decide(session: Any) -> operators.Decided:
                offer = operators.find_offer(session, reference)
                if offer.conversation_id != handoff.conversation_id:
                    raise operators.UnknownOffer(reference)
                if approving:
                    return operators.approve(
                        session, reference, by, policy, now, fulfil=self._fulfil, via_outbox=True
                    )
                return operators.reject(
                    session,
                    reference,
                    by,
                    "rejected at the agent desk in Slack",
                    now,
                    via_outbox=True,
                )

            try:
                decided = await self._db(decide)
            except operators.UnknownOffer:
                await self._tell_agent(channel, user, thread_ts, OFFER_UNKNOWN)
                return
            except ledger.NotGrantable as refused:
                reason = escape_for_slack(refused.reason)
                await self._tell_agent(
                    channel, user, thread_ts, OFFER_NOT_CHANGED.format(reason=reason)
                )
                await self._refresh_card(handoff.id, None)
                return
            if decided.text is not None and self.on_queued is not None:
                self.on_queued()
            await self._refresh_card(
                handoff.id, "offer_approved" if approving else "offer_rejected", name
            )
            if not approving:
                await self._tell_agent(channel, user, thread_ts, REJECTED_HOWTO)

    # Slack helpers -----------------------------------------------------------------------------

    async def _tell_agent(self, channel: str, user: str, thread_ts: str, text: str) -> None:
        await self._call(
            "telling an agent",
            self.client.chat_postEphemeral,
            channel=channel,
            user=user,
            thread_ts=thread_ts or None,
            text=text,
        )

    async def call_failed(self, failure: SlackFailure, what: str) -> None:
        if failure.needs_operator or failure.error == "ratelimited":
            await self.alert(failure, what)

    async def alert(
        self, failure: SlackFailure, what: str, *, setting: str = "SLACK_BOT_TOKEN"
    ) -> None:
        """Raises an operator alert for a Slack failure someone must fix (one a day per
        cause). ``setting`` names the token an authentication error points at."""
        now = self.clock()
        scope = setting if failure.error in AUTH_ERRORS else what
        key = f"desk:{failure.error}:{scope}:{now.date().isoformat()}"
        summary = f"The agent desk in Slack failed while {what} ({failure.error})."
        if failure.error in AUTH_ERRORS:
            summary += f" Check {setting}: Slack no longer accepts it."
        await self._db(
            lambda session: handoff_posting.raise_desk_alert(
                session, failure.error, now, key=key, summary=summary, detail={"while": what}
            )
        )


def pending_offer_for_card(record: dict[str, Any]) -> dict[str, Any] | None:
    """The offer whose Approve and Reject buttons the card shows: the latest one in the
    conversation waiting for a person's decision."""
    waiting = [
        offer
        for offer in record.get("offers") or []
        if offer.get("status") == ledger.PENDING_APPROVAL
    ]
    return waiting[-1] if waiting else None


@dataclass(frozen=True)
class _HandoffView:
    """What the desk needs of a handoff, outside the session."""

    id: int
    conversation_id: str
    status: str
    agent_id: str | None
    agent_name: str | None
    channel: str
    thread: str


def _handoff_view(handoff: Any) -> _HandoffView | None:
    if handoff is None:
        return None
    return _HandoffView(
        id=handoff.id,
        conversation_id=handoff.conversation_id,
        status=handoff.status,
        agent_id=handoff.agent_id,
        agent_name=handoff.agent_name,
        channel=handoff.desk_channel or "",
        thread=handoff.desk_thread or "",
    )


def _sections(text: str) -> list[str]:
    """Text cut into section-sized parts (at line ends when it can be)."""
    parts = []
    while len(text) > SECTION_CHARS:
        cut = text.rfind("\n", 0, SECTION_CHARS)
        cut = cut if cut > SECTION_CHARS // 2 else SECTION_CHARS
        cut = re.sub(r"&[a-z]*$", "", text[:cut])
        parts.append(text[: len(cut)])
        text = text[len(cut) :].lstrip("\n")
    return [*parts, text or " "]
