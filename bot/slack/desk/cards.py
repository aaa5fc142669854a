"""The context cards: posting each due handoff's card (tried again after a failure), and
refreshing it as agents act."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.slack.card import (
    build_card,
    build_status_line,
    status_block,
)
from bot.slack.desk.base import DeskBase, logger
from bot.slack.desk.shared import pending_offer_for_card
from bot.slack.worker import SlackFailure
from redress.conversations import views as record_views
from redress.handoff import posting as handoff_posting
from redress.handoff import records as handoff_records


class Cards(DeskBase):
    """The context cards."""

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
                handoff_id=handoff.id,
                pending_offer=pending_offer_for_card(record),
            )

        conversation_id = await self._db(
            lambda session: handoff_records.handoff_by_id(session, handoff_id).conversation_id
        )
        channel, joined = await self.handoff_joins_case(handoff_id, conversation_id, now)
        if joined is not None:
            logger.info("handoff %s joined its case's thread %s", handoff_id, joined)
            return 1
        text, blocks = await self._db(card)
        answer = await self.post_new(channel=channel, text=text, blocks=blocks)
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

    def channel_for(self, team: str | None) -> str:
        """The channel a team's cases (and its handoffs) go to: the team's own
        (business/teams.yml), else the escalation channel."""
        return self.business.team(team).slack_channel or self.settings.escalation_channel

    def desk_channels(self) -> set[str]:
        """Every channel the desk posts cards in: the escalation channel and the teams'."""
        teams = self.business.team_file.teams.values()
        return {self.settings.escalation_channel} | {
            t.slack_channel for t in teams if t.slack_channel
        }

    async def handoff_joins_case(
        self, handoff_id: int, conversation_id: str, now: datetime
    ) -> tuple[str, str | None]:
        """Where a handoff's card goes, and the thread it joins instead (``Cases``)."""
        return self.settings.escalation_channel, None

    async def _refresh_shared_card(self, channel: str, thread: str, line: str | None) -> bool:
        """Redraws the case card a handoff shares, if it shares one (``Cases``)."""
        return False

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
                handoff_id=handoff.id,
                pending_offer=pending_offer_for_card(record),
            )
            still_open = handoff.status in handoff_records.OPEN_STATUSES
            return handoff.desk_channel, handoff.desk_thread, text, blocks, still_open

        line = build_status_line(event, who, now, self.business) if event else None
        where = await self._db(lambda session: _thread_of(session, handoff_id))
        if where is not None and await self._refresh_shared_card(*where, line):
            return  # the handoff shares a case's card: drawn as the case card
        channel, thread, text, blocks, still_open = await self._db(card)
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
        await self._post_in_thread(
            "posting a status line",
            channel,
            thread,
            text=line,
        )


def _thread_of(session: Any, handoff_id: int) -> tuple[str, str] | None:
    handoff = handoff_records.get_handoff(session, handoff_id)
    if handoff is None or not handoff.desk_thread:
        return None
    return handoff.desk_channel or "", handoff.desk_thread
