"""The card's buttons: Take over, Hand back, Resolve, and Approve or Reject on an offer
waiting for a person's decision."""

from __future__ import annotations

from typing import Any

from bot.relay import UnknownConversation
from bot.slack.approvers import refusal_text, slack_actor
from bot.slack.card import (
    APPROVE,
    HAND_BACK,
    RESOLVE,
    TAKE_OVER,
    handoff_id_from,
)
from bot.slack.desk.base import logger
from bot.slack.desk.cards import Cards
from bot.slack.desk.shared import HandoffView, handoff_view
from bot.slack.desk.texts import (
    ALREADY_CLOSED,
    ALREADY_YOURS,
    HANDED_BACK,
    JOINED,
    OFFER_NOT_CHANGED,
    OFFER_UNKNOWN,
    REJECTED_HOWTO,
    TAKEN_OVER_HOWTO,
)
from bot.slack.text import escape_for_slack
from redress.cases import desk as case_desk
from redress.compensation import ledger, operators
from redress.handoff import feedback
from redress.handoff import records as handoff_records


class Buttons(Cards):
    """The card's buttons."""

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
            named = handoff_id_from(str(action.get("value") or ""))

            def find(session: Any) -> HandoffView | None:
                handoff = handoff_records.handoff_for_thread(session, channel, thread_ts)
                if handoff is None and named is not None:
                    handoff = handoff_records.get_handoff(session, named)
                return handoff_view(handoff)

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
        """Tells the customer, then shows the change at the desk. The customer hears the
        team of the conversation's case, and is not told twice about an agent who already
        claimed that case."""

        def case_team(session: Any) -> tuple[str, bool]:
            complaint = case_desk.conversation_case(session, change.conversation_id)
            if complaint is None:
                return self.business.brand.team_name, False
            owns = complaint.owner_id is not None and complaint.owner_id == change.agent_id
            return self.business.team(complaint.team).name, owns

        team, announced = await self._db(case_team)
        try:
            if change.outcome in ("taken_over", "reassigned") and not announced:
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
                lambda session: handoff_view(
                    handoff_records.get_handoff(session, change.handoff_id)
                )
            )
            await self._post_in_thread(
                "explaining the thread",
                handoff.channel,
                handoff.thread,
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
                lambda session: handoff_view(
                    handoff_records.handoff_for_thread(session, channel, thread_ts)
                )
            )
            if handoff is None or not user or not reference:
                logger.warning("an offer button for no known handoff (%s)", thread_ts)
                return
            name = await self.display_name(user)
            policy = self.business.compensation
            now = self.clock()
            act = "approve" if approving else "reject"

            def decide(session: Any) -> operators.Decided | str:
                offer = operators.find_offer(session, reference, lock=True)
                if offer.conversation_id != handoff.conversation_id:
                    raise operators.UnknownOffer(reference)
                # Only the approvers teams.yml names for the case's team, up to their limits.
                team = self.business.team(operators.offer_team(session, offer))
                actor = slack_actor(name, user, team.approval_limit_pence(user))
                try:
                    if approving:
                        return operators.approve(
                            session,
                            reference,
                            actor.label,
                            policy,
                            now,
                            fulfil=self._fulfil,
                            via_outbox=True,
                            actor=actor,
                        )
                    return operators.reject(
                        session,
                        reference,
                        actor.label,
                        "rejected at the agent desk in Slack",
                        now,
                        via_outbox=True,
                        actor=actor,
                    )
                except operators.OverApprovalLimit as refused:
                    # Refused before anything changed: only the attempt is kept.
                    operators.record_refusal(session, actor, refused, act, now)
                    return refusal_text(team, user, refused.amount_pence)

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
            if isinstance(decided, str):
                await self._tell_agent(channel, user, thread_ts, decided)
                return
            if decided.text is not None and self.on_queued is not None:
                self.on_queued()
            await self._refresh_card(
                handoff.id, "offer_approved" if approving else "offer_rejected", name
            )
            if not approving:
                await self._tell_agent(channel, user, thread_ts, REJECTED_HOWTO)
