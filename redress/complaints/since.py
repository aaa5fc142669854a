"""When did it start? Reads "since Monday", "for 3 days", "48hrs" from what the customer wrote.

Kept deliberately small and deterministic: it feeds the severity rules and lets the apology
repeat the customer's own words ("since Monday"), so it must never guess wildly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

WEEKDAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tues": 1, "tue": 1,
    "wednesday": 2, "weds": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "a couple of": 2,
    "a few": 3, "few": 3, "several": 4,
}  # fmt: skip
UNIT_DAYS = {"min": 1 / 1440, "hour": 1 / 24, "hr": 1 / 24, "day": 1, "week": 7, "wk": 7,
             "fortnight": 14, "month": 30}  # fmt: skip

_NUMBER = r"(?P<number>\d{1,3}|a couple of|couple of|a few|few|several|an|a|one|two|three|four|five|six|seven|eight|nine|ten)"  # noqa: E501
_UNIT = r"(?P<unit>min|hour|hr|day|week|wk|fortnight|month)s?"
_DURATION_RE = re.compile(
    rf"\b(?P<lead>(?:for|over|past|last|nearly|almost|about)\s+(?:(?:over|nearly|almost|about|the)\s+)?)?"
    rf"{_NUMBER}\s*{_UNIT}\b"
    # "a 24 month contract" and "my 3 week old baby" are not how long the problem lasted
    r"(?![- ]?(old|contract|deal|plan|term|minimum|min term|agreement|free|trial|notice))"
)
_WEEKDAY_RE = re.compile(r"\bsince\s+(last\s+)?(" + "|".join(WEEKDAYS) + r")\b")
_RELATIVE_RE = re.compile(
    r"\bsince\s+(yesterday|last night|this morning|last week|the weekend|last weekend|last month)\b"
)
_DAY_OF_MONTH_RE = re.compile(r"\bsince\s+(?:the\s+)?(\d{1,2})(st|nd|rd|th)\b")
_SLASH_DATE_RE = re.compile(r"\bsince\s+(\d{1,2})/(\d{1,2})\b")
_RELATIVE_DAYS = {"yesterday": 1, "last night": 1, "this morning": 0.25, "last week": 7,
                  "the weekend": 3, "last weekend": 7, "last month": 30}  # fmt: skip


@dataclass(frozen=True)
class Since:
    """How long a problem has lasted, and how the customer put it."""

    phrase: str  # "since Monday", "for 3 days": ready to follow "has been down"
    days: float


def find_since(text: str, now: datetime) -> Since | None:
    """Finds the first statement of how long the problem has lasted, or None."""
    lowered = text.lower()
    candidates: list[tuple[int, Since]] = []
    if match := _WEEKDAY_RE.search(lowered):
        days_back = (now.weekday() - WEEKDAYS[match[2]]) % 7
        if days_back == 0:
            days_back = 7 if match[1] else 0.5  # "since Monday", said on a Monday: today
        name = _weekday_name(match[2])
        phrase = f"since last {name}" if match[1] else f"since {name}"
        candidates.append((match.start(), Since(phrase, float(days_back))))
    if match := _RELATIVE_RE.search(lowered):
        candidates.append((match.start(), Since(f"since {match[1]}", _RELATIVE_DAYS[match[1]])))
    if match := _DAY_OF_MONTH_RE.search(lowered):
        day = int(match[1])
        if 1 <= day <= 31:
            days = now.day - day if day <= now.day else now.day + 30 - day
            candidates.append((match.start(), Since(f"since the {day}{match[2]}", float(days))))
    if match := _SLASH_DATE_RE.search(lowered):
        since = _since_slash_date(int(match[1]), int(match[2]), now)
        if since:
            candidates.append((match.start(), since))
    for match in _DURATION_RE.finditer(lowered):
        if match["number"] in {"a", "an", "one"} and not match["lead"]:
            continue  # "£30 a month" is a price, not how long it has lasted
        candidates.append((match.start(), _duration(match["number"], match["unit"])))
        break
    if not candidates:
        return None
    return min(candidates, key=lambda item: item[0])[1]


def _weekday_name(word: str) -> str:
    return DAY_NAMES[WEEKDAYS[word]]


def _since_slash_date(day: int, month: int, now: datetime) -> Since | None:
    """UK order: 14/11 is the 14th of November, this year or last."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    try:
        start = now.replace(month=month, day=day)
    except ValueError:
        return None
    if start > now:
        start = start.replace(year=now.year - 1)
    return Since(f"since {day}/{month}", (now - start) / timedelta(days=1))


def _duration(number: str, unit: str) -> Since:
    count = int(number) if number.isdigit() else NUMBER_WORDS[number]
    word = {"hr": "hour", "wk": "week", "min": "minute"}.get(unit, unit)
    plural = (
        "s"
        if count != 1 or number in {"a few", "few", "several", "couple of", "a couple of"}
        else ""
    )
    return Since(f"for {number} {word}{plural}", count * UNIT_DAYS[unit])


# Looser ways of saying when it started, read only as the answer to "when did this start?"
# (or to save asking it): in a whole complaint they could be about something else.
_CLOCK = r"(?:at |about |around |from |since )*\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|o'?clock)?"
_START_RE = re.compile(
    r"\b(?:since|from|for)\s+(?P<count>one|two|three|four|five|six|a|an|\d{1,2})\s+"
    r"(?P<unit>day|week|month|hour)s?\b"
    rf"|\b(?P<clock>{_CLOCK})\s+(?P<part>this morning|this afternoon|this evening|today|"
    r"last night|yesterday)\b"
    r"|\b(?:since|from|at|about|around)\s+(?P<bare>\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm))\b"
    r"|\b(?P<relative>this morning|this afternoon|this evening|earlier today|today|last night|"
    r"yesterday(?: morning| afternoon| evening)?|last week|last weekend|the weekend|last month)\b"
    r"|\b(?:on|last)\s+(?P<weekday>" + "|".join(w for w in WEEKDAYS if len(w) > 3) + r")\b"
    r"|\b(?P<ago>an?|one|two|three|four|five|six|\d{1,2})\s+(?P<ago_unit>hour|day|week)s?\s+ago\b",
)
# The phrases "since ..." already reads, and the parts of a day it does not.
_PART_DAYS = {**_RELATIVE_DAYS, "this afternoon": 0.15, "this evening": 0.1, "today": 0.25,
              "earlier today": 0.2, "yesterday morning": 1.25, "yesterday afternoon": 1.1,
              "yesterday evening": 0.9}  # fmt: skip


def find_start(text: str, now: datetime) -> Since | None:
    """When the problem started, from an answer like "about 7 this morning", "since one
    week", "on Saturday", "two days ago" (and everything find_since reads)."""
    if found := find_since(text, now):
        return found
    match = _START_RE.search(text.lower())
    if match is None:
        return None
    if match["count"]:
        number = match["count"]
        count = int(number) if number.isdigit() else NUMBER_WORDS[number]
        return _duration(str(count), match["unit"])
    if match["clock"]:
        part = match["part"]
        words = match["clock"].split()
        while words and words[0] in {"since", "from", "at"}:
            words = words[1:]
        return Since(f"since {' '.join(words)} {part}", _PART_DAYS.get(part, 0.25))
    if match["bare"]:
        return Since(f"since {' '.join(match['bare'].split())}", 0.25)
    if match["relative"]:
        return Since(f"since {match['relative']}", _PART_DAYS[match["relative"]])
    if match["weekday"]:
        days_back = (now.weekday() - WEEKDAYS[match["weekday"]]) % 7 or 7
        return Since(f"since {_weekday_name(match['weekday'])}", float(days_back))
    number = match["ago"]
    count = int(number) if number.isdigit() else NUMBER_WORDS[number]
    unit = match["ago_unit"]
    return Since(f"since {number} {unit}{'s' if count != 1 else ''} ago", count * UNIT_DAYS[unit])
