"""The thread relay: customer messages shown in the handoff's thread, and agents' replies in
the thread sent to the customer (or kept as internal notes)."""

from __future__ import annotations

from typing import Any

from bot.slack.desk.base import logger
from bot.slack.desk.cards import Cards
from bot.slack.desk.shared import MENTION, HandoffView, handoff_view, sections
from bot.slack.desk.texts import (
    CHANNEL_NAMES,
    CLOSED,
    EDITS_NOT_SENT,
    FILES_NOT_SENT,
    NOT_REACHABLE,
    NOT_TAKEN_OVER,
    SOMEONE_ELSE,
)
from bot.slack.text import escape_for_slack, is_internal_note, one_line, slack_to_plain
from redress.conversations import records as conversations
from redress.handoff import records as handoff_records
from redress.privacy.config import visible_kinds
from redress.privacy.shown import for_agents


class ThreadRelay(Cards):
    """The thread relay."""

    def customer_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        self.spawn(self._mirror(conversation_id, message), "showing a customer message")

    def turn_finished(self, conversation_id: str) -> None:
        self.spawn(self.post_all_due(), "posting case and handoff cards")

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
            text = for_agents(str(message.get("text") or ""), visible_kinds(self.business))
            where = CHANNEL_NAMES.get(customer_channel, customer_channel)
            blocks: list[dict[str, Any]] = [
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"*Customer* · {where}"}],
                }
            ]
            blocks += [
                {"type": "section", "text": {"type": "mrkdwn", "text": part, "verbatim": True}}
                for part in sections(escape_for_slack(text))
            ][:45]
            await self._post_in_thread(
                "showing a customer message",
                channel,
                thread_ts,
                text=f"Customer: {escape_for_slack(one_line(text))[:3000]}",
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )

    def on_message(self, event: dict[str, Any]) -> None:
        """A ``message`` event (called before the event is acknowledged; works in the
        background)."""
        thread_ts = event.get("thread_ts") or (event.get("message") or {}).get("thread_ts")
        if not thread_ts or event.get("channel") not in self.desk_channels():
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
            if await self._case_thread_reply(event, channel, thread_ts):
                return  # a case's thread (shared with its handoff, if any)
            handoff = await self._db(
                lambda session: handoff_view(
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

    async def post_all_due(self) -> int:
        """Every card that is due (``Cases`` posts cases first)."""
        return await self.post_due()

    async def _case_thread_reply(self, event: dict[str, Any], channel: str, thread: str) -> bool:
        """Handles a reply in a case's thread (``Cases``); False when it is not one."""
        return False

    async def _reply_to_customer(
        self,
        handoff: HandoffView,
        channel: str,
        user: str,
        name: str,
        text: str,
        ts: str,
    ) -> None:
        for mentioned in set(MENTION.findall(text)):
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

    async def _note(self, handoff: HandoffView, name: str, user: str, text: str, ts: str) -> None:
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
