"""The agent desk in Slack: what the gateway does there and what agents do there.

- **Cards.** Each handoff the assistant (or an operator) requests opens one thread in the
  escalation channel, starting with the context card (``redress.handoff_card``). A scheduler
  job posts the cards that are due (``post_due``); a failed post is tried again, after
  Slack's ``Retry-After`` when it is rate limited, otherwise with the usual backoff. Errors an
  operator must fix (``channel_not_found``, ``invalid_auth``, ...) also raise an alert. The
  customer is told only what the assistant already said (someone will reply); nobody tells
  them an agent joined until one presses Take over.
- **Buttons.** Take over assigns the agent and silences the assistant; Hand back returns the
  conversation to the assistant, which says so; Resolve closes it and asks the customer
  whether it is fixed, then for a rating (``bot.feedback``). The card shows who did what.
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
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.concurrency import run_in_threadpool

from bot import feedback
from bot.relay import Relay, UnknownConversation
from redress import desk_records, records
from redress.business import Business
from redress.db.models import utcnow
from redress.db.session import unit_of_work
from redress.handoff_card import (
    HAND_BACK,
    RESOLVE,
    TAKE_OVER,
    build_card,
    build_status_line,
    status_block,
)
from redress.settings import SlackSettings
from redress.slack_text import escape_for_slack, is_internal_note, one_line, slack_to_plain

logger = logging.getLogger("redress.gateway.slack")

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

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
OFFERS_NOT_HERE = (
    "Approving or rejecting compensation from Slack isn't switched on yet. "
    "Use the compensation API (README: Approvals) for now."
)
CHANNEL_NAMES = {"web": "web chat", "telegram": "Telegram"}

# Slack errors an operator has to fix; retrying alone will not help.
NEEDS_OPERATOR = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "no_permission",
    "restricted_action",
    "team_access_not_granted",
    "invalid_blocks",
    "msg_too_long",
}
AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
DEFAULT_RETRY_AFTER = 30
MAX_INLINE_WAIT = 60.0  # seconds an inline call waits for a rate limit before giving up
SECTION_CHARS = 2900
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class SlackFailure:
    """A Slack call that did not work: the error code, and how long Slack asked us to wait."""

    error: str
    retry_after: float | None = None

    @property
    def needs_operator(self) -> bool:
        return self.error in NEEDS_OPERATOR


def failure_of(problem: Exception) -> SlackFailure:
    """The error code of a failed Slack call (``ratelimited`` with its Retry-After)."""
    if isinstance(problem, SlackApiError):
        response = problem.response
        error = str(response.get("error") or f"http_{response.status_code}")
        retry_after = None
        if response.status_code == 429 or error == "ratelimited":
            error = "ratelimited"
            raw = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
                "retry-after"
            )
            try:
                retry_after = float(raw) if raw is not None else float(DEFAULT_RETRY_AFTER)
            except (TypeError, ValueError):
                retry_after = float(DEFAULT_RETRY_AFTER)
        return SlackFailure(error, retry_after)
    return SlackFailure(type(problem).__name__)


class Desk:
    """The agent desk's work: Slack Web API calls, the records, and the relay to customers."""

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
    ) -> None:
        self.settings = settings
        self.client = client or AsyncWebClient(token=settings.bot_token, base_url=settings.api_url)
        self._database_url = database_url
        self._relay = relay
        self._business = business
        self._clock = clock
        self._sleep = sleep
        self._names: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._posting = asyncio.Lock()
        relay.attach_desk(self)

    # Background work ---------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Runs ``work`` after the caller has answered (Slack needs an answer within 3 s)."""

        async def run() -> None:
            try:
                await work
            except Exception:  # one failed piece of work must not stop the others
                logger.exception("agent desk: %s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Waits until the background work in hand (and any it started) is done."""
        while True:
            for _ in range(20):  # let just-acknowledged Slack listeners start their work
                await asyncio.sleep(0)
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.idle()

    async def _db(self, work: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            with unit_of_work(self._database_url) as session:
                return work(session, *args)

        return await run_in_threadpool(run)

    # What the relay tells the desk -------------------------------------------------------------

    def customer_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        self.spawn(self._mirror(conversation_id, message), "showing a customer message")

    def turn_finished(self, conversation_id: str) -> None:
        self.spawn(self.post_due(), "posting handoff cards")

    # Cards ---------------------------------------------------------------------------------------

    async def post_due(self) -> int:
        """Posts the card of every handoff that is due; returns how many were posted."""
        posted = 0
        async with self._posting:
            now = self._clock()
            for handoff_id in await self._db(desk_records.due_for_posting, now):
                if not await self._db(desk_records.claim_for_posting, handoff_id, now):
                    continue  # another gateway has it
                try:
                    posted += await self._post_card(handoff_id, now)
                except Exception:  # tried again once the claim lapses; the others go on
                    logger.exception("posting handoff %s to the agent desk failed", handoff_id)
        return posted

    async def _post_card(self, handoff_id: int, now: datetime) -> int:
        def card(session: Any) -> tuple[str, list[dict[str, Any]]]:
            handoff = desk_records.get_handoff(session, handoff_id)
            assert handoff is not None
            record = records.conversation_record(session, handoff.conversation_id)
            assert record is not None
            return build_card(
                record,
                self._business,
                now,
                reason=handoff.reason,
                pending_offer=pending_offer_for_card(record),
            )

        try:
            text, blocks = await self._db(card)
            answer = await self.client.chat_postMessage(
                channel=self.settings.escalation_channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as problem:
            failure = failure_of(problem)
            retry = (
                timedelta(seconds=failure.retry_after) if failure.retry_after is not None else None
            )
            later = await self._db(
                lambda session: desk_records.note_post_failed(
                    session,
                    handoff_id,
                    failure.error,
                    self._clock(),
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
            lambda session: desk_records.note_posted(
                session, handoff_id, channel, thread, self._clock()
            )
        )
        logger.info("handoff %s posted to the agent desk (thread %s)", handoff_id, thread)
        return 1

    async def _refresh_card(self, handoff_id: int, event: str, who: str) -> None:
        """Shows on the card, and in its thread, what an agent just did."""
        now = self._clock()

        def card(session: Any) -> tuple[str, str, str, list[dict[str, Any]], bool]:
            handoff = desk_records.get_handoff(session, handoff_id)
            assert handoff is not None and handoff.desk_channel and handoff.desk_thread
            record = records.conversation_record(session, handoff.conversation_id)
            assert record is not None
            text, blocks = build_card(
                record,
                self._business,
                now,
                reason=handoff.reason,
                pending_offer=pending_offer_for_card(record),
            )
            still_open = handoff.status in desk_records.OPEN_STATUSES
            return handoff.desk_channel, handoff.desk_thread, text, blocks, still_open

        channel, thread, text, blocks, still_open = await self._db(card)
        line = build_status_line(event, who, now, self._business)
        actions = [b for b in blocks if b.get("type") == "actions"]
        blocks = [b for b in blocks if b.get("type") != "actions"] + [status_block(line)]
        if still_open:
            blocks += actions
        await self._call(
            "updating the card",
            self.client.chat_update,
            channel=channel,
            ts=thread,
            text=f"{text} · {line}",
            blocks=blocks,
        )
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
            handoff = desk_records.taken_over_thread(session, conversation_id)
            conversation = records.get_conversation(session, conversation_id)
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
                    desk_records.handoff_for_thread(session, channel, thread_ts)
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
            if handoff.status != desk_records.TAKEN_OVER or handoff.agent_id != user:
                await self._note(handoff, name, user, text, ts)
                if handoff.status == desk_records.TAKEN_OVER:
                    warning = SOMEONE_ELSE.format(agent=escape_for_slack(handoff.agent_name or ""))
                elif handoff.status == desk_records.REQUESTED:
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
                records.get_conversation(session, handoff.conversation_id), "reachable", True
            )
        )
        if not reachable:
            await self._tell_agent(channel, user, handoff.thread, NOT_REACHABLE)

    async def _note(self, handoff: _HandoffView, name: str, user: str, text: str, ts: str) -> None:
        await self._db(
            lambda session: desk_records.record_agent_note(
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
                handoff = desk_records.handoff_for_thread(session, channel, thread_ts)
                if handoff is None and conversation_id:
                    handoff = desk_records.open_handoff(session, conversation_id)
                return _handoff_view(handoff)

            handoff = await self._db(find)
            if handoff is None or not user:
                logger.warning("a desk button for no known handoff (%s)", thread_ts)
                return
            name = await self.display_name(user)
            steps = {
                TAKE_OVER: desk_records.take_over,
                HAND_BACK: desk_records.hand_back,
                RESOLVE: desk_records.resolve,
            }
            step = steps.get(str(action_id))
            if step is None:
                return
            change: desk_records.DeskChange = await self._db(
                lambda session: step(session, handoff.id, user, name, self._clock())
            )
            if not change.changed:
                note = ALREADY_YOURS if change.outcome == "already_yours" else ALREADY_CLOSED
                await self._tell_agent(channel, user, thread_ts, note)
                return
            await self._after_change(change, name)

    async def _after_change(self, change: desk_records.DeskChange, name: str) -> None:
        """Tells the customer, then shows the change at the desk."""
        team = self._business.brand.team_name
        try:
            if change.outcome in ("taken_over", "reassigned"):
                await self._relay.push(
                    change.conversation_id, "bot", JOINED.format(agent=name, team=team)
                )
            elif change.outcome == desk_records.HANDED_BACK:
                await self._relay.push(change.conversation_id, "bot", HANDED_BACK)
            elif change.outcome == desk_records.RESOLVED:
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
                lambda session: _handoff_view(desk_records.get_handoff(session, change.handoff_id))
            )
            await self._call(
                "explaining the thread",
                self.client.chat_postMessage,
                channel=handoff.channel,
                thread_ts=handoff.thread,
                text=TAKEN_OVER_HOWTO.format(agent=escape_for_slack(name)),
            )

    def on_offer_button(self, body: dict[str, Any]) -> None:
        """Approve / Reject on a pending compensation offer: the hook for approving from
        Slack. Until it is built, the agent is told where to decide instead."""
        container = body.get("container") or {}
        user = str((body.get("user") or {}).get("id") or "")
        channel = str(container.get("channel_id") or "")
        thread = str(container.get("thread_ts") or container.get("message_ts") or "")
        self.spawn(self._tell_agent(channel, user, thread, OFFERS_NOT_HERE), "offer button")

    # Slack helpers -----------------------------------------------------------------------------

    async def display_name(self, user_id: str) -> str:
        """The name Slack shows for a person (display name, else real name), remembered."""
        if user_id in self._names:
            return self._names[user_id]
        name = user_id
        answer = await self._call("looking up a name", self.client.users_info, user=user_id)
        if answer is not None:
            user = answer.get("user") or {}
            profile = user.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or user_id
            )
            self._names[user_id] = name
        return name

    async def _tell_agent(self, channel: str, user: str, thread_ts: str, text: str) -> None:
        await self._call(
            "telling an agent",
            self.client.chat_postEphemeral,
            channel=channel,
            user=user,
            thread_ts=thread_ts or None,
            text=text,
        )

    async def _call(self, what: str, method: Callable[..., Awaitable[Any]], **params: Any) -> Any:
        """One Slack call made inline: waits out rate limits (as long as Slack asks, within
        reason), and on other errors logs them, alerts operators when they must act, and
        returns None."""
        waited = 0.0
        while True:
            try:
                return await method(**{k: v for k, v in params.items() if v is not None})
            except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                failure = failure_of(error)
            if failure.retry_after is not None and waited + failure.retry_after <= MAX_INLINE_WAIT:
                waited += failure.retry_after
                await self._sleep(failure.retry_after)
                continue
            logger.error("agent desk: %s failed: %s", what, failure.error)
            if failure.needs_operator or failure.error == "ratelimited":
                await self._alert(failure, what)
            return None

    async def _alert(self, failure: SlackFailure, what: str) -> None:
        now = self._clock()
        scope = "token" if failure.error in AUTH_ERRORS else what
        key = f"desk:{failure.error}:{scope}:{now.date().isoformat()}"
        summary = f"The agent desk in Slack failed while {what} ({failure.error})."
        if failure.error in AUTH_ERRORS:
            summary += " Check SLACK_BOT_TOKEN: Slack no longer accepts it."
        await self._db(
            lambda session: desk_records.raise_desk_alert(
                session, failure.error, now, key=key, summary=summary, detail={"while": what}
            )
        )


def pending_offer_for_card(record: dict[str, Any]) -> dict[str, Any] | None:
    """The offer whose Approve and Reject buttons the card shows. The hook for deciding on
    compensation from Slack: none yet, so cards carry no such buttons, and ``on_offer_button``
    only tells the agent where to decide. Returning the record's ``pending_approval`` offer
    here (and deciding it in ``on_offer_button`` through ``redress.compensation_admin``)
    switches it on."""
    return None


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
