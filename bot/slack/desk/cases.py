"""Cases at the desk: every new case posted to its team's channel, its card kept up to date,
its buttons, and its thread (replies by the owner reach the customer; notes, replies by
anyone else and the short commands stay at the desk).

A handoff and a case of the same conversation that go to the same channel share one card and
one thread: whichever is posted first starts the thread, and the other joins it. The card
is then the case card, marked "needs a person in the conversation now" with the handoff's
Take over and Hand back buttons; both records point at the same thread."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.relay import UnknownConversation
from bot.slack.card import reason_words
from bot.slack.case_card import (
    CLAIM,
    PROMISE_DONE,
    RESOLVE_CASE,
    WAITING_ON_CUSTOMER,
    WAITING_ON_US,
    build_case_card,
    case_id_from,
    case_status_line,
    team_from,
)
from bot.slack.desk.base import logger
from bot.slack.desk.case_texts import (
    ALREADY_OWNER,
    BAD_STATUS,
    CASE_CLOSED,
    CASE_GONE,
    CLAIMED,
    CLAIMED_HOWTO,
    MOVED,
    NEEDS_PERSON_NOW,
    NO_PROMISE_OPEN,
    NOT_CLAIMED,
    PROMISE_NOT_OWNER,
    PROMISE_REFUSED,
    PROMISED,
    PROMISED_CALL,
    REASSIGNED,
    STATUS_ALREADY,
    TOLD_PROMISE,
    UNKNOWN_TEAM,
    WORKED_ELSEWHERE,
)
from bot.slack.desk.shared import HandoffView, pending_offer_for_card, sections
from bot.slack.desk.texts import CHANNEL_NAMES, FILES_NOT_SENT
from bot.slack.desk.threads import ThreadRelay
from bot.slack.text import escape_for_slack, is_internal_note, one_line
from bot.slack.worker import SlackFailure
from redress import audit
from redress.cases import desk as case_desk
from redress.cases.records import CALLBACK, OTHER, VISIT
from redress.cases.when import WhenRefused, say_when, split_promise
from redress.conversations import records as conversations
from redress.conversations import views as record_views
from redress.db.models import Complaint
from redress.handoff import feedback
from redress.handoff import posting as handoff_posting
from redress.handoff import records as handoff_records
from redress.privacy.config import visible_kinds
from redress.privacy.shown import for_agents

TURN_ROLES = {"bot": "Assistant", "agent": "Agent"}
# How far back a reopened case's card is looked for, to be drawn again with its buttons.
REDRAW_REOPENED_WITHIN = timedelta(days=1)
CUSTOMER_ANSWERED_LINE = "The customer answered: waiting on us"
REOPENED_LINE = "Reopened by the customer (not fixed, or no longer working): waiting on us"
COMMAND = re.compile(r"^\s*(claim|resolve|done)\s*[.!]?\s*$", re.IGNORECASE)
PREFIXED = re.compile(r"^\s*(status|reassign|promise)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)
STATUS_WORDS = {
    "waiting on customer": case_desk.WAITING_ON_CUSTOMER,
    "waiting on the customer": case_desk.WAITING_ON_CUSTOMER,
    "waiting on us": case_desk.WAITING_ON_US,
}
CALL_WORDS = re.compile(r"\b(call|ring|phone)", re.IGNORECASE)
VISIT_WORDS = re.compile(r"\b(visit|engineer|appointment)", re.IGNORECASE)
BUTTON_STEPS = {
    CLAIM: "claim",
    WAITING_ON_CUSTOMER: case_desk.WAITING_ON_CUSTOMER,
    WAITING_ON_US: case_desk.WAITING_ON_US,
    RESOLVE_CASE: "resolve",
    PROMISE_DONE: "done",
}


def promise_kind(what: str) -> str:
    """callback if it says call, ring or phone; visit if visit, engineer or appointment."""
    if CALL_WORDS.search(what):
        return CALLBACK
    if VISIT_WORDS.search(what):
        return VISIT
    return OTHER


def slack_actor(name: str, user: str) -> audit.Actor:
    return audit.Actor(name, audit.SLACK, role=audit.AGENT, id=user)


class Cases(ThreadRelay):
    """Cases at the desk."""

    # Posting ------------------------------------------------------------------------------

    async def post_due_cases(self) -> int:
        """Posts the card of every case that is due; returns how many were posted."""
        posted = 0
        async with self._posting:
            now = self.clock()
            for complaint_id in await self._db(case_desk.due_for_posting, now):
                if not await self._db(case_desk.claim_for_posting, complaint_id, now):
                    continue  # another gateway has it
                try:
                    posted += await self._post_case(complaint_id, now)
                except Exception:  # tried again once the claim lapses; the others go on
                    logger.exception("posting case %s to the agent desk failed", complaint_id)
            await self._redraw_reopened(now)
        return posted

    async def _redraw_reopened(self, now: datetime) -> None:
        """Gives a reopened case's card its buttons back (drawn once per reopening by this
        gateway; another gateway drawing it too changes nothing)."""
        drawn: set[int] = self.__dict__.setdefault("_reopened_drawn", set())
        found = await self._db(case_desk.reopened_with_cards, now - REDRAW_REOPENED_WITHIN)
        for complaint_id, resolution_id in found:
            if resolution_id in drawn:
                continue
            drawn.add(resolution_id)
            # On the card only: the team's alert about it is already in the thread.
            await self._refresh_case_card(complaint_id, REOPENED_LINE, in_thread=False)

    async def _post_case(self, complaint_id: int, now: datetime) -> int:
        def find(session: Any) -> tuple[str, str | None, str, str]:
            complaint = case_desk.case_by_id(session, complaint_id)
            channel = self.channel_for(complaint.team)
            handoff = case_desk.open_handoff_in_thread(session, complaint)
            if (
                handoff is not None
                and handoff.desk_channel
                and handoff.desk_thread
                and case_desk.case_for_thread(session, handoff.desk_channel, handoff.desk_thread)
                is None
            ):
                # One card and one thread per conversation: the live conversation stays
                # where its handoff's card is, even in another channel.
                return handoff.desk_channel, handoff.desk_thread, channel, complaint.severity
            return channel, None, channel, complaint.severity

        channel, shared, team_channel, severity = await self._db(find)
        if shared is not None:
            # The handoff's card is at the desk already: it becomes this case's card.
            await self._db(
                lambda session: case_desk.note_posted(
                    session, complaint_id, channel, shared, self.clock()
                )
            )
            await self._refresh_case_card(complaint_id, None)
            logger.info("case %s joined its handoff's thread %s", complaint_id, shared)
            if channel != team_channel:
                await self._point_to(complaint_id, team_channel, channel, severity)
            return 1
        text, blocks = await self._db(lambda session: self._case_card(session, complaint_id))
        answer = await self.post_new(channel=channel, text=text, blocks=blocks)
        if isinstance(answer, SlackFailure):
            failure = answer
            later = await self._db(
                lambda session: case_desk.note_post_failed(
                    session,
                    complaint_id,
                    failure.error,
                    self.clock(),
                    retry_after=failure.wait,
                    alert=failure.needs_operator,
                )
            )
            log = logger.error if failure.needs_operator else logger.warning
            log(
                "could not post case %s to the agent desk (%s); next try at %s",
                complaint_id,
                failure.error,
                later.isoformat(),
            )
            return 0
        thread = str(answer["ts"])
        posted_in = str(answer["channel"])
        await self._db(
            lambda session: case_desk.note_posted(
                session, complaint_id, posted_in, thread, self.clock()
            )
        )
        logger.info("case %s posted to the agent desk (thread %s)", complaint_id, thread)
        return 1

    async def _point_to(
        self, complaint_id: int, team_channel: str, channel: str, severity: str
    ) -> None:
        """A short line in the team's own channel for a case worked in its handoff's thread
        elsewhere, so the team that owns it sees it."""

        def names(session: Any) -> tuple[str, str]:
            complaint = case_desk.case_by_id(session, complaint_id)
            return complaint.reference, self.business.team(complaint.team).name

        reference, team = await self._db(names)
        await self._call(
            "pointing a team to its case's thread",
            self.client.chat_postMessage,
            channel=team_channel,
            text=WORKED_ELSEWHERE.format(
                severity=escape_for_slack(severity),
                reference=escape_for_slack(reference),
                team=escape_for_slack(team),
                channel=channel,
            ),
            unfurl_links=False,
            unfurl_media=False,
        )

    def customer_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        super().customer_message(conversation_id, message)
        self.spawn(self._customer_answered(conversation_id), "noting the customer answered")

    def turn_finished(self, conversation_id: str) -> None:
        self.spawn(self._after_turn(conversation_id), "posting case and handoff cards")
        self.spawn(self._show_turn(conversation_id), "showing a turn in a case's thread")

    async def _customer_answered(self, conversation_id: str) -> None:
        """A case waiting on the customer is waiting on us once they write."""
        changed = await self._db(
            lambda session: case_desk.customer_answered(session, conversation_id)
        )
        for complaint_id in changed:
            await self._refresh_case_card(complaint_id, CUSTOMER_ANSWERED_LINE, in_thread=False)

    async def _after_turn(self, conversation_id: str) -> None:
        """Posts what is due, then redraws the card of each case logged during the turn just
        finished: a card posted mid-turn (by the scheduler, as the complaint was logged)
        would otherwise lack the logged message and the offer."""
        await self.post_all_due()
        await self._customer_answered(conversation_id)
        fresh = await self._db(lambda session: case_desk.logged_this_turn(session, conversation_id))
        for complaint_id in fresh:
            await self._refresh_case_card(complaint_id, None, in_thread=False)

    async def _show_turn(self, conversation_id: str) -> None:
        """What the customer and the assistant just said, shown in the thread of each case
        of the conversation that someone owns, so the owner can follow it (masked as on the
        card)."""
        shown: dict[str, int] = self.__dict__.setdefault("_turn_shown", {})

        def find(session: Any) -> tuple[list[tuple[str, str]], list[tuple[int, str, str]], str]:
            threads = case_desk.owned_threads(session, conversation_id)
            if not threads:
                return [], [], ""
            conversation = conversations.get_conversation(session, conversation_id)
            turn = case_desk.latest_turn(session, conversation_id)
            return threads, turn, conversation.channel if conversation else ""

        threads, turn, customer_channel = await self._db(find)
        # The turn starts at the customer's message; each is shown once.
        if not threads or not turn or turn[0][0] <= shown.get(conversation_id, 0):
            return
        shown[conversation_id] = turn[0][0]
        where = CHANNEL_NAMES.get(customer_channel, customer_channel)
        lines = []
        for _, role, text in turn:
            if role not in ("customer", "bot"):
                continue
            who = f"Customer ({where})" if role == "customer" else TURN_ROLES.get(role, role)
            masked = for_agents(text, visible_kinds(self.business))
            lines.append(f"*{escape_for_slack(who)}:* {escape_for_slack(one_line(masked))}")
        body = "\n".join(lines)
        for channel, thread in threads:
            async with self._thread_locks[thread]:
                await self._post_in_thread(
                    "showing a turn in a case's thread",
                    channel,
                    thread,
                    text=body[:3000],
                    blocks=[
                        {
                            "type": "section",
                            "text": {"type": "mrkdwn", "text": part, "verbatim": True},
                        }
                        for part in sections(body)
                    ][:45],
                    unfurl_links=False,
                    unfurl_media=False,
                )

    async def post_all_due(self) -> int:
        """Cases first, then handoffs: a handoff then joins its case's thread."""
        return await self.post_due_cases() + await self.post_due()

    async def handoff_joins_case(
        self, handoff_id: int, conversation_id: str, now: datetime
    ) -> tuple[str, str | None]:
        """Where a handoff's card goes: the conversation's case's thread when it has one (in
        its team's channel, or where it joined an earlier handoff), which the handoff then
        shares (noted as posted; the channel is told it needs a person now)."""

        def find(session: Any) -> tuple[str, str | None, int | None]:
            complaint = case_desk.conversation_case(session, conversation_id)
            if complaint is None:
                return self.settings.escalation_channel, None, None
            channel = self.channel_for(complaint.team)
            if complaint.desk_channel and complaint.desk_thread:
                # Where the case is worked, even outside its team's channel (it joined an
                # earlier handoff's thread there): one thread per conversation.
                channel = complaint.desk_channel
                handoff_posting.note_posted(
                    session, handoff_id, channel, complaint.desk_thread, now
                )
                return channel, complaint.desk_thread, complaint.id
            return channel, None, None

        channel, thread, complaint_id = await self._db(find)
        if thread is None or complaint_id is None:
            return channel, None
        reason = await self._db(
            lambda session: handoff_records.handoff_by_id(session, handoff_id).reason
        )
        await self._refresh_case_card(complaint_id, None)
        await self._post_in_thread(
            "marking a case that needs a person",
            channel,
            thread,
            reply_broadcast=True,
            text=NEEDS_PERSON_NOW.format(reason=escape_for_slack(reason_words(reason))),
        )
        return channel, thread

    # The card -----------------------------------------------------------------------------

    def _case_card(
        self, session: Any, complaint_id: int, status_line: str | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        complaint = case_desk.case_by_id(session, complaint_id)
        case = case_desk.case_json(session, complaint, self.business)
        record = record_views.conversation_record(session, complaint.conversation_id)
        assert record is not None
        handoff = None
        if complaint.desk_thread:
            shared = handoff_records.handoff_for_thread(
                session, complaint.desk_channel or "", complaint.desk_thread
            )
            if shared is not None and shared.status in handoff_records.OPEN_STATUSES:
                handoff = {
                    "id": shared.id,
                    "reason": shared.reason,
                    "status": shared.status,
                    "requested_at": shared.created_at.isoformat(),
                    "agent_name": shared.agent_name,
                }
        else:
            open_one = case_desk.open_handoff_in_thread(session, complaint)
            first = case_desk.conversation_case(session, complaint.conversation_id)
            if (
                open_one is not None
                and open_one.desk_thread is None
                and first is not None
                and first.id == complaint.id
            ):
                handoff = {
                    "id": open_one.id,
                    "reason": open_one.reason,
                    "status": open_one.status,
                    "requested_at": open_one.created_at.isoformat(),
                    "agent_name": open_one.agent_name,
                }
        return build_case_card(
            record,
            case,
            self.business,
            self.clock(),
            handoff=handoff,
            # Approve and Reject act through the handoff sharing the card (buttons.py).
            pending_offer=pending_offer_for_card(record) if handoff is not None else None,
            status_line=status_line,
        )

    async def _refresh_case_card(
        self, complaint_id: int, line: str | None, *, in_thread: bool = True
    ) -> None:
        """Redraws the case's card (with ``line``, what just happened, also posted in the
        thread)."""

        def card(session: Any) -> tuple[str, str, str, list[dict[str, Any]]]:
            complaint = case_desk.case_by_id(session, complaint_id)
            text, blocks = self._case_card(session, complaint_id, line)
            return complaint.desk_channel or "", complaint.desk_thread or "", text, blocks

        channel, thread, text, blocks = await self._db(card)
        if not thread:
            return  # not posted yet: the card, when posted, shows all this
        await self._call(
            "updating the case card",
            self.client.chat_update,
            channel=channel,
            ts=thread,
            text=f"{text} · {line}" if line else text,
            blocks=blocks,
        )
        if line and in_thread:
            await self._post_in_thread("posting a case status line", channel, thread, text=line)

    async def _refresh_shared_card(self, channel: str, thread: str, line: str | None) -> bool:
        """A handoff's card that is a case's card: redrawn as the case card."""
        complaint_id = await self._db(
            lambda session: getattr(case_desk.case_for_thread(session, channel, thread), "id", None)
        )
        if complaint_id is None:
            return False
        await self._refresh_case_card(complaint_id, line)
        return True

    # Buttons ------------------------------------------------------------------------------

    def on_case_button(self, body: dict[str, Any]) -> None:
        """A press on a case card's button or its Reassign menu (before it is acknowledged)."""
        container = body.get("container") or {}
        thread_ts = str(container.get("message_ts") or "")
        self.spawn(self._on_case_button(body, thread_ts), "handling a case button at the desk")

    async def _on_case_button(self, body: dict[str, Any], thread_ts: str) -> None:
        async with self._thread_locks[thread_ts]:
            action = (body.get("actions") or [{}])[0]
            action_id = str(action.get("action_id") or "")
            value = str(
                action.get("value") or (action.get("selected_option") or {}).get("value") or ""
            )
            user = str((body.get("user") or {}).get("id") or "")
            channel = str(
                (body.get("container") or {}).get("channel_id")
                or (body.get("channel") or {}).get("id")
                or ""
            )
            named = case_id_from(value)

            def find(session: Any) -> int | None:
                complaint = case_desk.case_for_thread(session, channel, thread_ts)
                if complaint is None and named is not None:
                    found = session.get(Complaint, named)
                    complaint = found if found is not None and found.team else None
                return complaint.id if complaint is not None else None

            complaint_id = await self._db(find)
            if complaint_id is None or not user:
                logger.warning("a case button for no known case (%s)", thread_ts)
                if user:
                    await self._tell_agent(channel, user, thread_ts, CASE_GONE)
                return
            name = await self.display_name(user)
            step = BUTTON_STEPS.get(action_id, "")
            if action_id == "case_reassign":
                step, argument = "reassign", team_from(value) or ""
            else:
                argument = step
            await self._do(complaint_id, step, argument, channel, thread_ts, user, name)

    # The thread ---------------------------------------------------------------------------

    async def _case_thread_reply(self, event: dict[str, Any], channel: str, thread: str) -> bool:
        """A reply in a case's thread: a command, a note, or a reply to the customer."""
        found = await self._db(
            lambda session: _case_and_handoff(session, channel, thread),
        )
        if found is None:
            return False
        complaint_id, status, owner_id, handoff, conversation_id = found
        user = str(event["user"])
        text = str(event.get("text") or "")
        ts = str(event.get("ts") or "")
        name = await self.display_name(user)
        actor = slack_actor(name, user)
        if is_internal_note(text):
            await self._case_note(complaint_id, actor, text, ts)
            return True
        if command := COMMAND.match(text):
            step = command.group(1).lower()
            await self._do(complaint_id, step, step, channel, thread, user, name)
            return True
        if prefixed := PREFIXED.match(text):
            word, rest = prefixed.group(1).lower(), prefixed.group(2).strip()
            if word == "status":
                status_key = STATUS_WORDS.get(" ".join(rest.lower().split()).rstrip("."))
                if status_key is None:
                    await self._tell_agent(channel, user, thread, BAD_STATUS)
                else:
                    await self._do(
                        complaint_id, status_key, status_key, channel, thread, user, name
                    )
            elif word == "reassign":
                await self._do(complaint_id, "reassign", rest, channel, thread, user, name)
            elif owner_id != user:
                await self._tell_agent(channel, user, thread, PROMISE_NOT_OWNER)
            else:
                await self._promise(complaint_id, rest, channel, thread, user, name)
            return True
        may_reply = owner_id == user or (
            handoff is not None
            and handoff.status == handoff_records.TAKEN_OVER
            and handoff.agent_id == user
        )
        if status != "open" and not (may_reply and handoff is not None):
            await self._case_note(complaint_id, actor, text, ts)
            await self._tell_agent(channel, user, thread, CASE_CLOSED)
            return True
        if not may_reply:
            await self._case_note(complaint_id, actor, text, ts)
            await self._tell_agent(channel, user, thread, NOT_CLAIMED)
            return True
        if event.get("files"):
            await self._tell_agent(channel, user, thread, FILES_NOT_SENT)
        view = handoff or HandoffView(0, conversation_id, "", None, None, channel, thread)
        await self._reply_to_customer(view, channel, user, name, text, ts)
        if status == "open":
            await self._db(
                lambda session: case_desk.record_reply(session, complaint_id, actor, self.clock())
            )
        return True

    async def _case_note(self, complaint_id: int, actor: audit.Actor, text: str, ts: str) -> None:
        await self._db(
            lambda session: case_desk.record_note(
                session, complaint_id, actor, text, self.clock(), desk_ts=ts
            )
        )

    # Doing it -----------------------------------------------------------------------------

    async def _do(
        self,
        complaint_id: int,
        step: str,
        argument: str,
        channel: str,
        thread: str,
        user: str,
        name: str,
    ) -> None:
        """One action on a case, from a button or a command, then what follows from it."""
        actor = slack_actor(name, user)
        now = self.clock()

        def act(session: Any) -> case_desk.CaseChange | Any:
            if step == "claim":
                return case_desk.claim(session, complaint_id, actor, now)
            if step in case_desk.DESK_STATUSES:
                return case_desk.set_status(session, complaint_id, step, actor, now)
            if step == "resolve":
                change = case_desk.resolve_case(session, complaint_id, actor, now)
                complaint = case_desk.case_by_id(session, complaint_id)
                shared = (
                    handoff_records.handoff_for_thread(
                        session, complaint.desk_channel or "", complaint.desk_thread
                    )
                    if complaint.desk_thread
                    else None
                )
                if shared is not None and shared.status in handoff_records.OPEN_STATUSES:
                    handoff_records.resolve(session, shared.id, user, name, now)
                return change
            if step == "done":
                return case_desk.promise_done(session, complaint_id, actor, now)
            if step == "reassign":
                key = _team_key(argument, self.business)
                if key is None:
                    teams = ", ".join(
                        f"`{k}` ({t.name})" for k, t in self.business.team_file.teams.items()
                    )
                    raise case_desk.CaseRefused(
                        UNKNOWN_TEAM.format(team=escape_for_slack(argument or "that"), teams=teams)
                    )
                return case_desk.reassign(
                    session, complaint_id, key, actor, now, business=self.business
                )
            raise case_desk.CaseRefused("I don't know that action.")

        try:
            result = await self._db(act)
        except case_desk.CaseRefused as refused:
            await self._tell_agent(channel, user, thread, _sentence(str(refused)))
            return
        except LookupError:
            await self._tell_agent(channel, user, thread, CASE_GONE)
            return
        if step == "done":
            if result is None:
                await self._tell_agent(channel, user, thread, NO_PROMISE_OPEN)
                return
            line = case_status_line(
                "promise_kept", name, now, self.business, other=str(result.what)
            )
            await self._refresh_case_card(complaint_id, line)
            return
        change: case_desk.CaseChange = result
        if not change.changed:
            note = ALREADY_OWNER if change.outcome == "already_yours" else STATUS_ALREADY
            await self._tell_agent(channel, user, thread, note)
            return
        await self._after_case_change(change, name, user, channel, thread, now)

    async def _after_case_change(
        self,
        change: case_desk.CaseChange,
        name: str,
        user: str,
        channel: str,
        thread: str,
        now: datetime,
    ) -> None:
        """Tells the customer what they need to know, then shows the change at the desk."""

        def team_and_joined(session: Any) -> tuple[str, bool]:
            complaint = case_desk.case_by_id(session, change.complaint_id)
            handoff = handoff_records.taken_over_thread(session, change.conversation_id)
            # An agent who took the conversation over was announced then: not again.
            joined = handoff is not None and handoff.agent_id == user
            return self.business.team(complaint.team).name, joined

        team_name, joined = await self._db(team_and_joined)
        try:
            if change.outcome in ("claimed", "taken_from") and not joined:
                await self._relay.push(
                    change.conversation_id,
                    "bot",
                    CLAIMED.format(agent=name, team=team_name, reference=change.reference),
                )
            elif change.outcome == "reassigned":
                await self._relay.push(
                    change.conversation_id,
                    "bot",
                    REASSIGNED.format(team=team_name, reference=change.reference),
                )
            elif change.outcome == "resolved":
                question = feedback.ask_fixed(name)
                await self._relay.push(
                    change.conversation_id,
                    "bot",
                    question.text,
                    buttons=question.buttons,
                    details={"asks": question.asks, "complaint": change.reference},
                )
        except UnknownConversation:
            logger.error("case %s has no conversation", change.reference)
        if change.outcome == "reassigned":
            await self._moved(change, team_name, name, now)
            return
        event = change.outcome
        if event == "status_set":
            event = str(change.detail.get("status"))
        line = case_status_line(event, name, now, self.business, other=change.previous_owner or "")
        await self._refresh_case_card(change.complaint_id, line)
        if change.outcome in ("claimed", "taken_from"):
            await self._tell_agent(
                channel, user, thread, CLAIMED_HOWTO.format(agent=escape_for_slack(name))
            )

    async def _moved(
        self, change: case_desk.CaseChange, team_name: str, name: str, now: datetime
    ) -> None:
        """After a reassignment: the old card shows where the case went (and loses its
        buttons, unless a handoff still needs them), and the new team's card is posted."""
        new_channel = self.channel_for(change.detail.get("to_team"))
        line = case_status_line("reassigned", name, now, self.business, other=team_name)
        if change.old_channel and change.old_thread:
            old_channel, old_thread = change.old_channel, change.old_thread

            def old_card(session: Any) -> tuple[int | None, str, list[dict[str, Any]]]:
                shared = handoff_records.handoff_for_thread(session, old_channel, old_thread)
                if shared is not None and shared.status in handoff_records.OPEN_STATUSES:
                    return shared.id, "", []
                text, blocks = self._case_card(session, change.complaint_id, line)
                return None, text, [b for b in blocks if b.get("type") != "actions"]

            handoff_id, text, blocks = await self._db(old_card)
            if handoff_id is not None:
                await self._refresh_card(handoff_id, None)
            else:
                await self._call(
                    "updating a reassigned case's card",
                    self.client.chat_update,
                    channel=old_channel,
                    ts=old_thread,
                    text=f"{text} · {line}",
                    blocks=blocks,
                )
            await self._post_in_thread(
                "saying where a case went",
                old_channel,
                old_thread,
                text=MOVED.format(
                    team=escape_for_slack(team_name),
                    who=escape_for_slack(name),
                    channel=new_channel,
                ),
            )
        await self.post_due_cases()

    async def _promise(
        self, complaint_id: int, said: str, channel: str, thread: str, user: str, name: str
    ) -> None:
        """``promise: <what> <when>``: recorded, told to the customer, shown on the card."""
        now = self.clock()

        def team_of(session: Any) -> tuple[str | None, str]:
            complaint = case_desk.case_by_id(session, complaint_id)
            return complaint.team, complaint.conversation_id

        team, conversation_id = await self._db(team_of)
        zone = ZoneInfo(self.business.team_hours(team).timezone)
        try:
            promised = split_promise(said, now, zone)
        except WhenRefused as refused:
            await self._tell_agent(channel, user, thread, PROMISE_REFUSED.format(why=refused))
            return
        kind = promise_kind(promised.what)
        actor = slack_actor(name, user)
        try:
            await self._db(
                lambda session: case_desk.promise(
                    session, complaint_id, kind, promised.what, promised.due_at, actor, now
                )
            )
        except case_desk.CaseRefused as refused:
            await self._tell_agent(channel, user, thread, _sentence(str(refused)))
            return
        team_name = self.business.team(team).name
        when = say_when(promised.due_at, now, zone)
        template = PROMISED_CALL if kind == CALLBACK else PROMISED
        text = template.format(agent=name, team=team_name, when=when, what=promised.what)
        try:
            await self._relay.push(conversation_id, "bot", text)
        except UnknownConversation:
            logger.error("case %s has no conversation", complaint_id)
        line = case_status_line(
            "promised", name, now, self.business, other=f"{promised.what} by {when}"
        )
        await self._refresh_case_card(complaint_id, line)
        await self._tell_agent(
            channel, user, thread, TOLD_PROMISE.format(text=escape_for_slack(text))
        )


def _case_and_handoff(
    session: Any, channel: str, thread: str
) -> tuple[int, str, str | None, HandoffView | None, str] | None:
    complaint = case_desk.case_for_thread(session, channel, thread)
    if complaint is None:
        return None
    shared = handoff_records.handoff_for_thread(session, channel, thread)
    view = None
    if shared is not None:
        view = HandoffView(
            shared.id,
            shared.conversation_id,
            shared.status,
            shared.agent_id,
            shared.agent_name,
            channel,
            thread,
        )
    return complaint.id, complaint.status, complaint.owner_id, view, complaint.conversation_id


def _team_key(said: str, business: Any) -> str | None:
    """A team named by its key or its name ("billing", "Billing team", "billing team")."""
    wanted = " ".join(said.lower().replace("_", " ").split()).strip("`.")
    for key, team in business.team_file.teams.items():
        name = team.name.lower()
        if wanted in (key, key.replace("_", " "), name, name.removesuffix(" team")):
            return str(key)
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
