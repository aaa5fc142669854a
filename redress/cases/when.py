"""Reading when an agent says a promise is due ("tomorrow 10:00", "today 4pm", "monday 9am",
"in 2 hours", "2026-12-08 10:00"), in the business's time zone, and saying a due time back
to a customer in plain words ("by 10am tomorrow"). Anything ambiguous (a bare "10", a time
with no day, a clock time that happens twice or never when the clocks change) or in the past
is refused with a message naming the forms understood."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

FORMS = (
    "`tomorrow 10:00`, `today 4pm`, `monday 9am`, `in 2 hours`, `in 30 minutes` "
    "or `2026-12-08 10:00`"
)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?"
_DAY_AND_TIME = re.compile(
    rf"(?:\bon\s+|\bby\s+)?\b(?P<day>today|tomorrow|{'|'.join(DAYS)})\s+(?:at\s+)?{_TIME}$"
)
_IN = re.compile(
    r"(?:\bby\s+|\bwithin\s+)?\bin\s+(?P<n>\d{1,3})\s*(?P<unit>hours?|hrs?|h|minutes?|mins?)$"
)
_DATE = re.compile(
    rf"(?:\bon\s+|\bby\s+)?\b(?P<y>\d{{4}})-(?P<mo>\d{{2}})-(?P<d>\d{{2}})\s+(?:at\s+)?{_TIME}$"
)
MAX_AHEAD = timedelta(days=366)


class WhenRefused(ValueError):
    """A due time that cannot be taken; the message says why and which forms work."""


@dataclass(frozen=True)
class Said:
    """A promise as typed: what, and when it is due (UTC)."""

    what: str
    due_at: datetime


def split_promise(text: str, now: datetime, zone: tzinfo) -> Said:
    """``"call you back tomorrow 10:00"`` → what ("call you back") and when (UTC)."""
    words = " ".join(text.split())
    lowered = words.lower()
    for pattern in (_DAY_AND_TIME, _IN, _DATE):
        found = pattern.search(lowered)
        if found is None:
            continue
        what = words[: found.start()].strip(" ,;:-")
        what = re.sub(r"\s+(?:by|at|on|within)$", "", what, flags=re.IGNORECASE).strip()
        if not what:
            raise WhenRefused(f"Say what you promise before when, like `promise: call back {_E}`.")
        return Said(what, _due(found, now, zone))
    raise WhenRefused(
        f"I couldn't tell when that is due. End the promise with when, as one of {FORMS} "
        f"({_zone_name(zone)} time)."
    )


_E = "tomorrow 10:00"


def _due(found: re.Match[str], now: datetime, zone: tzinfo) -> datetime:
    parts = found.groupdict()
    if parts.get("n") is not None:
        amount = int(parts["n"])
        unit = parts["unit"]
        delta = timedelta(minutes=amount) if unit.startswith("m") else timedelta(hours=amount)
        if amount <= 0:
            raise WhenRefused(f"That time is not in the future. Use one of {FORMS}.")
        return _checked(now + delta, now)
    clock = _clock(parts)
    local_now = now.astimezone(zone)
    if parts.get("y") is not None:
        try:
            day = date(int(parts["y"]), int(parts["mo"]), int(parts["d"]))
        except ValueError:
            raise WhenRefused(f"There is no such date. Use one of {FORMS}.") from None
    elif parts["day"] == "today":
        day = local_now.date()
    elif parts["day"] == "tomorrow":
        day = local_now.date() + timedelta(days=1)
    else:
        # A weekday is the next one after today (for today, say "today").
        ahead = (DAYS.index(parts["day"]) - local_now.weekday()) % 7 or 7
        day = local_now.date() + timedelta(days=ahead)
    return _checked(_local_to_utc(datetime.combine(day, clock), zone), now)


def _clock(parts: dict[str, str | None]) -> time:
    hour, minute, ampm = int(parts["h"] or 0), parts.get("m"), parts.get("ampm")
    if ampm:
        if not 1 <= hour <= 12:
            raise WhenRefused(f"{hour}{ampm} is not a time. Use one of {FORMS}.")
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    elif minute is None:
        raise WhenRefused(
            f"Is {hour} in the morning or the evening? Say `{hour}am`, `{hour}pm` or "
            f"`{hour}:00` (24-hour); accepted forms: {FORMS}."
        )
    if not 0 <= hour <= 23 or not 0 <= int(minute or 0) <= 59:
        raise WhenRefused(f"That is not a time of day. Use one of {FORMS}.")
    return time(hour, int(minute or 0))


def _local_to_utc(local: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time in ``zone`` as UTC; refused when the clocks change make it happen
    twice or not at all."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise WhenRefused(
            "That time happens twice or not at all when the clocks change. Pick another time."
        )
    back = first.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    if back != local:
        raise WhenRefused("That time does not exist when the clocks change. Pick another time.")
    return first.astimezone(timezone.utc)


def _checked(due: datetime, now: datetime) -> datetime:
    if due <= now:
        raise WhenRefused(f"That time has already passed. Use one of {FORMS}.")
    if due - now > MAX_AHEAD:
        raise WhenRefused("That is more than a year away. Pick a nearer time.")
    return due


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


def say_when(due: datetime, now: datetime, zone: tzinfo) -> str:
    """A due time for the customer: "10am today", "4:30pm tomorrow", "9am on Monday",
    "10am on Tuesday 8 December"."""
    local, today = due.astimezone(zone), now.astimezone(zone).date()
    hour = local.hour % 12 or 12
    clock = f"{hour}{local:%p}".lower() if local.minute == 0 else f"{hour}:{local:%M%p}".lower()
    if local.date() == today:
        return f"{clock} today"
    if local.date() == today + timedelta(days=1):
        return f"{clock} tomorrow"
    if local.date() - today < timedelta(days=7):
        return f"{clock} on {local:%A}"
    return f"{clock} on {local:%A} {local.day} {local:%B}"
