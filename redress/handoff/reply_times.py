"""What the customer is told about when a person will pick their conversation up."""

from __future__ import annotations

from datetime import datetime, timedelta

from redress.business import HandoffRules, OpeningHours
from redress.complaints.categories import Severity

# Why the assistant brought a person in without being asked (``business/handoff.yml``).
SEVERITY = "{severity}_severity"  # critical_severity, high_severity...
REPEAT = "repeat_complaint"
NEEDS_APPROVAL = "compensation_needs_approval"


# While no agent desk is connected, nobody answers in the chat: no time is promised.
NO_DESK = (
    "No one from our team answers in this chat yet, so I can't promise when a person will "
    "reply. Your request is saved."
)


def describe_reply(
    hours: OpeningHours, now: datetime, *, desk: bool, without_desk: str | None = None
) -> str:
    """What the customer is told about a person's reply: when, by the opening hours, if an
    agent desk is connected; otherwise the business's own promise (``without_desk`` in
    business/handoff.yml), or plainly that no time can be promised."""
    if desk:
        return describe_reply_time(hours, now)
    return without_desk or NO_DESK


def describe_reply_time(hours: OpeningHours, now: datetime) -> str:
    """An honest sentence about when someone will reply, given the opening hours."""
    if hours.is_open(now):
        return "We're open now, so someone should reply here soon."
    opening = hours.next_opening(now)
    when = _when(opening, now)
    return f"We're closed right now, so someone will reply here after we open at {when}."


def _when(moment: datetime, now: datetime) -> str:
    local_now = now.astimezone(moment.tzinfo)
    hour = moment.hour % 12 or 12
    clock = f"{hour}" if moment.minute == 0 else f"{hour}:{moment:%M}"
    suffix = "am" if moment.hour < 12 else "pm"
    if moment.date() == local_now.date():
        day = "today"
    elif moment.date() == local_now.date() + timedelta(days=1):
        day = "tomorrow"
    else:
        day = f"on {moment:%A}"
    return f"{clock}{suffix} {day}"


def automatic_reasons(
    rules: HandoffRules, severity: Severity, earlier_same_category: int
) -> list[str]:
    """Why a logged complaint needs a person as well as the assistant, most serious first:
    its severity, or the customer complaining about the same thing again."""
    reasons = []
    if rules.severity_at_least is not None and severity.rank >= rules.severity_at_least.rank:
        reasons.append(SEVERITY.format(severity=severity.value))
    if rules.repeat_within_days and earlier_same_category > 0:
        reasons.append(REPEAT)
    return reasons
