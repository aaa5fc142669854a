"""Operator alerts at the Slack agent desk: each alert (possible incident, promise missed,
delivery failed, the desk or billing failing, a case's promise falling due...) posted once,
with an Acknowledge button: to the escalation channel, or a case's team channel and thread.

- **Posting.** A scheduler job calls ``AlertPoster.post_due``: every alert that is neither
  posted nor acknowledged, and due a try, is claimed (``redress.alerts.claim_for_posting``,
  compare-and-set with a lease, so two gateways never post the same alert and one that dies
  while posting leaves it to the next try) and posted as one Block Kit message. Then
  ``posted_at`` is set.
- **Failures.** Rate limited: that alert, and every other, waits for Slack's ``Retry-After``.
  Any other error (``channel_not_found``, ``invalid_auth``, a network error...) is logged and
  the alert is tried again with the usual backoff (30 s, doubling, at most 30 min). Either
  way the round stops there: the rest wait for the next round, so a broken desk costs one
  call per round, never a hot loop. No alert is lost: until it is posted it stays in
  ``GET /api/alerts`` and ``python -m redress alerts``. No new alert is raised about failing
  to post alerts (it could not be posted either); the desk raises its own.
- **Where.** An alert about one case (its detail names the case: ``complaint``, see
  ``redress/cases/notices.py``) goes to the case's team channel (``teams.yml``, else the
  escalation channel): into the case's thread when its card is there, shown in the channel
  too (``reply_broadcast``), else top-level; it mentions the case's owner when one has
  claimed it. Every other alert goes to the escalation channel.
- **Acknowledge.** The button (``ACKNOWLEDGE``, value: the alert id) acknowledges the alert
  (``redress.alerts.acknowledge_once``; the first time stands) and edits the message to say
  who and when, without the button; who is kept with the alert (``acknowledged_by``). An
  alert acknowledged from the API or the command line shows "Acknowledged at <time>" when
  its button is pressed. Pressing twice is harmless.

Everything in a message that does not come from this module goes through
``escape_for_slack``, so an alert quoting a customer cannot ping the channel. Times are in
the business's time zone. Time comes from an injectable clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.slack.blocks import clip, local_clock, parse_time, quote
from bot.slack.text import escape_for_slack, one_line
from bot.slack.worker import SlackFailure, SlackWorker, Sleep
from redress import alerts, audit
from redress.business import Business
from redress.clock import utcnow
from redress.db.models import Complaint, OperatorAlert

logger = logging.getLogger("redress.gateway.slack.alerts")

Clock = Callable[[], datetime]
Block = dict[str, Any]

# The action id of the Acknowledge button; its value is the alert id.
ACKNOWLEDGE = "alert_acknowledge"

# A headline per kind, for operators, in plain words.
HEADLINES = {
    "possible_incident": "🚨 Possible incident: similar complaints from one area",
    "promise_missed": "⏰ A promised incident update is late",
    "delivery_failed": "📭 A message could not be delivered to a customer",
    "agent_desk": "⚠️ The agent desk in Slack is not working",
    "fulfilment_failed": "💳 Compensation could not be sent to billing",
    "promise_due_soon": "⏳ A promise to a customer falls due soon",
    "case_promise_missed": "⏰ A promise to a customer was missed",
    "case_reopened": "🔁 A case is open again",
    "low_rating": "👎 A customer gave a low rating",
}
# What the details are called in the message; others are shown by their key, in words.
DETAIL_NAMES = {
    "category": "Category",
    "district": "Postcode district",
    "complaints": "Complaints",
    "window_minutes": "Within (minutes)",
    "promised": "Update promised by",
    "subscribers": "Subscribed customers",
    "outbox": "Outbox message",
    "conversation_id": "Conversation",
    "conversation": "Conversation",
    "kind": "Message kind",
    "error": "Error",
    "while": "While",
    "handoff": "Handoff",
    "attempts": "Tries",
    "fulfilment": "Fulfilment",
    "grant": "Grant",
    "account_number": "Account",
    "last_error": "Last error",
    "complaint": "Case",
    "team": "Team",
    "owner": "Owner",
    "promise": "Promise",
    "what": "What we said we'd do",
    "due_at": "Due",
    "customer_told": "Customer told",
}
# Details that are not shown as lines (the owner's id is shown as a mention instead).
HIDDEN_DETAILS = {"owner_id"}
# A Slack user id, which may be mentioned (a console operator's name is not one).
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,30}$")
MAX_DETAILS = 15
DETAIL_CHARS = 300
MAX_HEADER_TEXT = 150
MAX_SECTION_TEXT = 3000
MAX_FALLBACK_TEXT = 400
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class AlertView:
    """What a message needs of an alert, outside the session."""

    id: int
    kind: str
    summary: str
    detail: dict[str, Any]
    incident_id: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None = None

    @classmethod
    def of(cls, alert: OperatorAlert) -> AlertView:
        return cls(
            id=alert.id,
            kind=alert.kind,
            summary=alert.summary,
            detail=dict(alert.detail or {}),
            incident_id=alert.incident_id,
            created_at=alert.created_at,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
        )


@dataclass(frozen=True)
class Where:
    """Where an alert is posted: a channel, the thread in it (None: top-level), and who to
    mention."""

    channel: str
    thread: str | None = None
    mention: str | None = None


def where_to_post(session: Session, alert: AlertView, business: Business, escalation: str) -> Where:
    """The case's team channel, in the case's thread when its card is there, mentioning its
    owner, for an alert that names a case; the escalation channel for any other."""
    reference = alert.detail.get("complaint")
    if not isinstance(reference, str) or not reference:
        return Where(escalation)
    complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
    if complaint is None:
        return Where(escalation)
    channel = business.team(complaint.team).slack_channel or escalation
    owner = alert.detail.get("owner_id")
    mention = owner if isinstance(owner, str) and _SLACK_USER.match(owner) else None
    if complaint.desk_thread and complaint.desk_channel == channel:
        return Where(channel, complaint.desk_thread, mention)
    return Where(channel, None, mention)


# The message -------------------------------------------------------------------------------


def headline(kind: str) -> str:
    if kind in HEADLINES:
        return HEADLINES[kind]
    words = " ".join(re.sub(r"[^A-Za-z0-9 -]+", " ", kind.replace("_", " ")).split())[:60]
    return f"🔔 Operator alert ({words})" if words else "🔔 Operator alert"


def build_alert_message(
    alert: AlertView,
    business: Business,
    now: datetime,
    *,
    acknowledged_by: str | None = None,
    mention: str | None = None,
) -> tuple[str, list[Block]]:
    """(fallback text for notifications, Block Kit blocks) for one alert. Not yet
    acknowledged: ends with the Acknowledge button. Acknowledged: ends with who (when known)
    and when, and no button. ``mention``: a Slack user id to mention (the case's owner)."""
    zone = ZoneInfo(business.hours.timezone)
    title = headline(alert.kind)
    summary = escape_for_slack(alert.summary or "(no summary)")
    if mention is not None and _SLACK_USER.match(mention):
        summary = f"<@{mention}> {summary}"
    else:
        mention = None
    about = [f"Raised {local_clock(alert.created_at, now, zone)}", f"alert {alert.id}"]
    if alert.incident_id:
        about.append(f"incident {quote(alert.incident_id, 40)}")
    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": "alert_header",
            "text": {"type": "plain_text", "text": clip(title, MAX_HEADER_TEXT), "emoji": True},
        },
        _section(summary, "alert_summary"),
    ]
    details = _detail_lines(alert.detail, now, zone)
    if details:
        blocks.append(_section("\n".join(details), "alert_details"))
    blocks.append(_context(" · ".join(about), "alert_about"))
    if alert.acknowledged_at is None:
        blocks.append(
            {
                "type": "actions",
                "block_id": "alert_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ACKNOWLEDGE,
                        "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                        "value": str(alert.id),
                        "style": "primary",
                    }
                ],
            }
        )
        fallback = f"{escape_for_slack(title)}: {escape_for_slack(one_line(alert.summary or ''))}"
        if mention is not None:
            fallback = f"<@{mention}> {fallback}"
    else:
        line = acknowledged_line(alert.acknowledged_at, acknowledged_by, now, zone)
        blocks.append(_context(line, "alert_acknowledged"))
        fallback = f"{escape_for_slack(title)} · {line}"
    return clip(fallback, MAX_FALLBACK_TEXT), blocks


def acknowledged_line(at: datetime, who: str | None, now: datetime, zone: tzinfo) -> str:
    """ "✅ Acknowledged by *Jo* at 14:05" (the name escaped); without a name when not known."""
    when = local_clock(at, now, zone)
    if who:
        return f"✅ Acknowledged by *{quote(who, 80)}* at {when}"
    return f"✅ Acknowledged at {when}"


def _detail_lines(detail: Mapping[str, Any], now: datetime, zone: tzinfo) -> list[str]:
    lines = []
    detail = {key: value for key, value in detail.items() if key not in HIDDEN_DETAILS}
    for key, value in list(detail.items())[:MAX_DETAILS]:
        name = DETAIL_NAMES.get(key) or str(key).replace("_", " ").capitalize()
        lines.append(f"*{quote(name, 60)}:* {_detail_value(value, now, zone)}")
    if len(detail) > MAX_DETAILS:
        lines.append(f"_…and {len(detail) - MAX_DETAILS} more (see the alerts API)_")
    return lines


def _detail_value(value: Any, now: datetime, zone: tzinfo) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
        if _ISO_TIME.match(text) and (moment := parse_time(text)) is not None:
            return local_clock(moment, now, zone)
    return quote(text, DETAIL_CHARS)


def _section(text: str, block_id: str) -> Block:
    return {
        "type": "section",
        "block_id": block_id,
        # verbatim: Slack links and mentions nothing by itself; all markup is ours.
        "text": {"type": "mrkdwn", "text": clip(text or " ", MAX_SECTION_TEXT), "verbatim": True},
    }


def _context(text: str, block_id: str) -> Block:
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": clip(text or " ", 3000), "verbatim": True}],
    }


# The poster --------------------------------------------------------------------------------


class AlertPoster(SlackWorker):
    """Posts operator alerts (to the escalation channel, or a case's team channel and
    thread) and handles their Acknowledge button."""

    what = "operator alerts"

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        database_url: str,
        business: Business,
        *,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        batch: int = 20,
    ) -> None:
        super().__init__(client, database_url, sleep=sleep, logger=logger)
        self.channel = channel
        self._business = business
        self._clock = clock
        self._batch = batch
        self._posting = asyncio.Lock()
        # Slack asked us to wait (Retry-After) until then before posting again.
        self._quiet_until: datetime | None = None
        self._alert_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    # Posting -----------------------------------------------------------------------------------

    async def post_due(self) -> int:
        """Posts every alert that is due (up to ``batch`` a round); returns how many were
        posted. Called by a scheduler job; a round that meets a Slack error stops there."""
        posted = 0
        async with self._posting:
            now = self._clock()
            if self._quiet_until is not None and now < self._quiet_until:
                return 0
            due = await self._db(
                lambda session: alerts.due_for_posting(session, now, limit=self._batch)
            )
            for alert_id in due:
                if not await self._db(alerts.claim_for_posting, alert_id, now):
                    continue  # another gateway has it
                try:
                    outcome = await self._post(alert_id, now)
                except Exception:  # tried again once the claim lapses; the others go on
                    logger.exception("posting operator alert %s to Slack failed", alert_id)
                    continue
                if outcome is None:
                    continue
                if not outcome:
                    break  # Slack refused: the rest wait for the next round
                posted += 1
        return posted

    async def _post(self, alert_id: int, now: datetime) -> bool | None:
        """True: posted. False: Slack refused (noted, with the next try). None: the alert is
        gone."""

        def message(session: Any) -> tuple[str, list[Block], Where] | None:
            alert = alerts.get_alert(session, alert_id)
            if alert is None:
                return None
            view = AlertView.of(alert)
            where = where_to_post(session, view, self._business, self.channel)
            text, blocks = build_alert_message(view, self._business, now, mention=where.mention)
            return text, blocks, where

        built = await self._db(message)
        if built is None:
            return None
        text, blocks, where = built
        # In a case's thread, shown in the channel too, so the whole team sees it.
        threaded = {"thread_ts": where.thread, "reply_broadcast": True} if where.thread else {}
        answer = await self.post_new(channel=where.channel, text=text, blocks=blocks, **threaded)
        if isinstance(answer, SlackFailure):
            failure, retry = answer, answer.wait
            failed_at = self._clock()
            if retry is not None:
                self._quiet_until = failed_at + retry
            later = await self._db(
                lambda session: alerts.note_post_failed(
                    session, alert_id, failure.error, failed_at, retry_after=retry
                )
            )
            log = logger.error if failure.needs_operator else logger.warning
            log(
                "could not post operator alert %s to Slack channel %s (%s); next try at %s",
                alert_id,
                where.channel,
                failure.error,
                later.isoformat(),
            )
            return False
        await self._db(alerts.note_posted, alert_id, self._clock())
        logger.info("operator alert %s posted to Slack (ts %s)", alert_id, answer.get("ts"))
        return True

    # The Acknowledge button -------------------------------------------------------------------

    def on_acknowledge(self, body: dict[str, Any]) -> None:
        """A press on an alert's Acknowledge button (called before it is acknowledged to
        Slack; works in the background)."""
        self.spawn(self.acknowledge(body), "acknowledging an alert")

    async def acknowledge(self, body: dict[str, Any]) -> str | None:
        """The work of a press: ``acknowledged`` (this press did it), ``already_acknowledged``,
        or None when the press names no known alert. The message is edited either way."""
        action = (body.get("actions") or [{}])[0]
        raw = str(action.get("value") or "")
        user = body.get("user") or {}
        user_id = str(user.get("id") or "")
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts") or "")
        if not raw.isdigit() or not user_id:
            logger.warning("an Acknowledge press for no alert (value %r)", raw[:40])
            return None
        alert_id = int(raw)
        name = await self.display_name(user_id, fallback=user.get("username") or user.get("name"))
        async with self._alert_locks[alert_id]:
            now = self._clock()

            def acknowledge(session: Any) -> tuple[AlertView, bool] | None:
                try:
                    alert, first = alerts.acknowledge_once(session, alert_id, now, by=name)
                except alerts.UnknownAlert:
                    return None
                if first:  # in the audit log with the acknowledgement, once
                    who = audit.Actor(name, audit.SLACK, audit.AGENT, id=user_id)
                    audit.record(session, who, "alert_acknowledge", "alert", str(alert_id), now)
                return AlertView.of(alert), first

            done = await self._db(acknowledge)
            if done is None:
                logger.warning("an Acknowledge press for unknown alert %s", alert_id)
                return None
            view, first = done
            if first:
                logger.info("operator alert %s acknowledged in Slack by %s", alert_id, name)
            text, blocks = build_alert_message(
                view, self._business, now, acknowledged_by=view.acknowledged_by
            )
            if channel and ts:
                await self._call(
                    "showing an acknowledged alert",
                    self.client.chat_update,
                    channel=channel,
                    ts=ts,
                    text=text,
                    blocks=blocks,
                )
        return "acknowledged" if first else "already_acknowledged"
