"""How an incident is told to customers, in plain words (docs/principles.md: 3, 4): what is
wrong, what we are doing, when it should be fixed and when they will hear next; times said
the way people say them; and "what has happened so far" for "any update?"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from redress.incidents.model import DEFAULT_ZONE, Incident, IncidentUpdate


def describe_time(moment: datetime, now: datetime, zone: str = DEFAULT_ZONE) -> str:
    """'2pm today', '9:30am tomorrow', '6pm on Friday 27 November', in the business's zone."""
    local = moment.astimezone(ZoneInfo(zone))
    today = now.astimezone(ZoneInfo(zone)).date()
    clock = local.strftime("%I:%M%p").lstrip("0").replace(":00", "").lower()
    if local.date() == today:
        return f"{clock} today"
    if local.date() == today + timedelta(days=1):
        return f"{clock} tomorrow"
    return f"{clock} on {local.strftime('%A')} {local.day} {local.strftime('%B')}"


@dataclass(frozen=True)
class Explanation:
    """The parts of the plain-language explanation, in the order a customer reads them."""

    what_is_wrong: str
    why: str
    what_we_are_doing: str
    when_fixed: str
    next_update: str

    def parts(self) -> list[str]:
        return [
            self.what_is_wrong,
            self.why,
            self.what_we_are_doing,
            self.when_fixed,
            self.next_update,
        ]

    def text(self) -> str:
        return " ".join(part for part in self.parts() if part)


def explain(incident: Incident, now: datetime, zone: str = DEFAULT_ZONE) -> Explanation:
    if not incident.active:
        return Explanation(
            what_is_wrong=incident.what_is_wrong,
            why=incident.why,
            what_we_are_doing="We've fixed it now.",
            when_fixed="",
            next_update="If it's still not right for you, tell me and we'll look again.",
        )
    when_fixed = incident.expected_fix_text
    if incident.expected_fix_at is not None:
        when_fixed += f" We're aiming for {describe_time(incident.expected_fix_at, now, zone)}."
    next_update = ""
    if incident.next_update_by is not None:
        due = describe_time(incident.next_update_by, now, zone)
        next_update = f"Our next update is due by {due}."
    return Explanation(
        what_is_wrong=incident.what_is_wrong,
        why=incident.why,
        what_we_are_doing=incident.what_we_are_doing,
        when_fixed=when_fixed,
        next_update=next_update,
    )


_STATUS_WORDS = {
    "investigating": "We started looking into it.",
    "identified": "We found the cause.",
    "monitoring": "We put a fix in place and are checking it holds.",
    "resolved": "We fixed it.",
}


def history_summary(
    updates: Iterable[IncidentUpdate], now: datetime, zone: str = DEFAULT_ZONE
) -> str:
    """One short line per status change, oldest first, for the assistant to retell."""
    lines = []
    last_status = None
    for update in updates:
        if update.status == last_status:
            continue
        last_status = update.status
        when = describe_time(update.at, now, zone)
        lines.append(f"At {when}: {_STATUS_WORDS[update.status]}")
    return "\n".join(lines)
