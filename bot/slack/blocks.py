"""Block Kit building blocks the Slack desk's messages share: Slack's limits, sections,
context lines, buttons with confirmations, and text clipped, quoted and escaped so nothing a
customer typed can ping a channel or fake a line. Times are shown in the business's zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from bot.slack.text import escape_for_slack, one_line

Block = dict[str, Any]


# Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50


MAX_SECTION_TEXT = 3000


MAX_HEADER_TEXT = 150


MAX_BUTTON_TEXT = 75


MAX_BUTTON_VALUE = 2000


MAX_CONTEXT_TEXT = 3000


MAX_FALLBACK_TEXT = 400


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut; never half an ``&amp;``."""
    if len(text) <= limit:
        return text
    cut = re.sub(r"&[a-z]*$", "", text[: limit - 1])
    return cut.rstrip() + "…"


def quote(text: Any, limit: int) -> str:
    """Text from outside this module, made safe for a mrkdwn card line: cut to ``limit``
    characters as typed, on one line, escaped."""
    return escape_for_slack(one_line(clip(str(text if text is not None else ""), limit)))


def describe_wait(waited: timedelta) -> str:
    """'waiting less than a minute', 'waiting 12 min', 'waiting 1 h 5 min', 'waiting 2 days 3 h'."""
    minutes = max(0, int(waited.total_seconds() // 60))
    if minutes < 1:
        return "waiting less than a minute"
    if minutes < 60:
        return f"waiting {minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"waiting {hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"waiting {days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")


def parse_time(value: Any) -> datetime | None:
    """A record's ISO time as an aware datetime (a naive one is UTC); None when absent."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def local_clock(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """'14:05' today, 'yesterday 14:05', else 'Mon 3 Mar 14:05', in the business's zone."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if local.date() == today - timedelta(days=1):
        return f"yesterday {local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def section(text: str, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "section",
        # verbatim: Slack links and mentions nothing by itself; all markup is ours.
        "text": {"type": "mrkdwn", "text": clip(text or " ", MAX_SECTION_TEXT), "verbatim": True},
    }
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": clip(text or " ", MAX_CONTEXT_TEXT), "verbatim": True}
        ],
    }
    if block_id:
        block["block_id"] = block_id
    return block


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT), "emoji": True},
    }
    if value:  # Slack refuses an empty value
        button["value"] = value[:MAX_BUTTON_VALUE]
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def confirm(title: str, text: str, yes: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": clip(title, 100)},
        "text": {"type": "plain_text", "text": clip(text, 300)},
        "confirm": {"type": "plain_text", "text": clip(yes, 30)},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
