"""Customers waiting for a person: where they stand, the follow-up they chose, and
re-alerting threads nobody has taken over."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import describe_wait
from bot.slack.desk.base import logger
from bot.slack.desk.cards import Cards
from bot.slack.desk.shared import HandoffView, handoff_view
from bot.slack.desk.texts import (
    CHANNEL_NAMES,
    FOLLOW_UP_DECLINED,
    FOLLOW_UP_REALERT,
    FOLLOW_UP_WANTED,
    WAIT_REALERT,
)
from redress.conversations import records as conversations
from redress.handoff import records as handoff_records
from redress.handoff import waits as handoff_waits


class Waiting(Cards):
    """Customers waiting for a person."""

    def follow_up_chosen(self, conversation_id: str, wants: bool) -> None:
        self.spawn(self._follow_up_chosen(conversation_id, wants), "showing a follow-up choice")

    async def _follow_up_chosen(self, conversation_id: str, wants: bool) -> None:
        def find(session: Any) -> tuple[HandoffView | None, str]:
            handoff = handoff_records.open_handoff(session, conversation_id)
            conversation = conversations.get_conversation(session, conversation_id)
            return handoff_view(handoff), conversation.channel if conversation else ""

        handoff, customer_channel = await self._db(find)
        if handoff is None or not handoff.thread:
            return  # no thread yet: the card, when posted, shows the choice
        where = CHANNEL_NAMES.get(customer_channel, customer_channel)
        text = FOLLOW_UP_WANTED.format(channel=where) if wants else FOLLOW_UP_DECLINED
        await self._refresh_card(handoff.id, None)
        await self._post_in_thread(
            "telling the thread about a follow-up",
            handoff.channel,
            handoff.thread,
            text=text,
        )

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
            await self._post_in_thread(
                "re-alerting a waiting handoff",
                step.desk_channel,
                step.desk_thread,
                reply_broadcast=True,
                text=template.format(wait=describe_wait(step.waited), channel=where),
            )
        return len(steps)
