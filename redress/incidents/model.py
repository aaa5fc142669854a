"""Known incidents: what is wrong, for whom, and how we explain it (docs/principles.md: 3, 4).

Plain domain code: validation, status changes, matching a complaint to the incidents that
explain it. The customer-facing wording is in ``wording.py``, the records in ``records.py``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from redress.complaints.categories import Category
from redress.plain_language import check_text

STATUSES = ("investigating", "identified", "monitoring", "resolved")
RESOLVED = "resolved"
# The texts a customer reads; each must pass the plain-language checks.
CUSTOMER_FIELDS = ("what_is_wrong", "why", "what_we_are_doing", "expected_fix_text")
MAX_TEXT_CHARS = 600
MAX_TITLE_CHARS = 120
MAX_NOTE_CHARS = 300
DEFAULT_ZONE = "Europe/London"

_ACCOUNT_RE = re.compile(r"^[A-Z]{2}-\d{6}$")
_ID_RE = re.compile(r"^INC-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_DISTRICT_RE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
_RELATIVE_RE = re.compile(r"^([+-])\s*(\d{1,4})\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class IncidentError(ValueError):
    """An incident or a change to one is invalid; ``field`` says where."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class IncidentClosed(IncidentError):
    """A resolved incident cannot change any more."""


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    services: tuple[str, ...]
    categories: tuple[str, ...]
    # Postcode districts ("LS6") or configured region names ("Leeds"); empty means everywhere.
    areas: tuple[str, ...]
    start: datetime
    status: str
    what_is_wrong: str
    why: str
    what_we_are_doing: str
    expected_fix_text: str
    next_update_by: datetime | None
    expected_fix_at: datetime | None = None
    end: datetime | None = None
    # Account numbers affected, when the incident hit particular accounts (a billing run);
    # empty means any account in the areas.
    accounts: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.status != RESOLVED

    def customer_texts(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CUSTOMER_FIELDS}


@dataclass(frozen=True)
class IncidentUpdate:
    """One change to an incident, with what the customer was told at that time."""

    at: datetime
    status: str
    what_is_wrong: str
    why: str
    what_we_are_doing: str
    expected_fix_text: str
    expected_fix_at: datetime | None
    next_update_by: datetime | None
    note: str


def new_incident_id() -> str:
    return "INC-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


def is_postcode_district(value: str) -> bool:
    """'LS6', 'M14', 'SW1A': the outward code of a UK postcode."""
    return bool(_DISTRICT_RE.match(value.strip().upper()))


def outward_code(postcode: str) -> str:
    """'LS6 2AB' and 'ls62ab' give 'LS6'. The inward code is always the last three
    characters, so a postcode typed without its space still splits correctly."""
    compact = re.sub(r"\s+", "", postcode).upper()
    return compact[:-3] if len(compact) >= 5 else compact


def parse_time(value: Any, field_name: str, now: datetime) -> datetime:
    """An aware UTC time from an ISO 8601 string or datetime, or from a relative value such
    as '+4h', '-30m' or '+2d' counted from ``now``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if match := _RELATIVE_RE.match(text):
            amount = int(match[2]) * (1 if match[1] == "+" else -1)
            return now + timedelta(**{_UNITS[match[3]]: amount})
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise IncidentError(
                field_name,
                f"{value!r} is not a time like 2026-11-20T07:30:00Z, or a relative time like +4h",
            ) from None
    else:
        raise IncidentError(field_name, "give a time like 2026-11-20T07:30:00Z, or like +4h")
    if moment.tzinfo is None:
        raise IncidentError(field_name, f"{value!r} has no time zone; add Z for UTC")
    return moment.astimezone(timezone.utc)


def _optional_time(value: Any, field_name: str, now: datetime) -> datetime | None:
    return None if value is None or value == "" else parse_time(value, field_name, now)


def _text(value: Any, field_name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise IncidentError(field_name, "is missing; write it for the customer in plain words")
    text = " ".join(value.split())
    if len(text) > limit:
        raise IncidentError(field_name, f"is {len(text)} characters; keep it under {limit}")
    return text


def _names(value: Any, field_name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise IncidentError(field_name, "must be a list of names")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise IncidentError(
            "status", f"unknown status {value!r} (use one of {', '.join(STATUSES)})"
        )
    return str(value)


def _categories(value: Any) -> tuple[str, ...]:
    names = _names(value, "categories")
    if not names:
        raise IncidentError("categories", "list at least one complaint category, like outage")
    known = {c.value for c in Category}
    for name in names:
        if name not in known:
            raise IncidentError(
                "categories", f"unknown category {name!r} (use: {', '.join(sorted(known))})"
            )
    return names


def _areas(value: Any, regions: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    names = _names(value or [], "areas")
    region_names = {name.lower(): name for name in regions}
    cleaned = []
    for name in names:
        if name.lower() in region_names:
            cleaned.append(region_names[name.lower()])
        elif is_postcode_district(name):
            cleaned.append(name.upper())
        else:
            known = ", ".join(sorted(regions)) or "none configured"
            raise IncidentError(
                "areas",
                f"unknown area {name!r}: not a postcode district like LS6 or M14, "
                f"nor a region in areas.yml ({known})",
            )
    return tuple(dict.fromkeys(cleaned))


def _accounts(value: Any) -> tuple[str, ...]:
    names = tuple(name.upper() for name in _names(value or [], "accounts"))
    for name in names:
        if not _ACCOUNT_RE.match(name):
            raise IncidentError("accounts", f"{name!r} is not an account number like BL-100001")
    return names


def check_incident(incident: Incident, now: datetime) -> Incident:
    """Raises IncidentError for the first thing wrong with ``incident``; returns it if fine."""
    if not _ID_RE.match(incident.id) or len(incident.id) > 40:
        raise IncidentError(
            "id", f"{incident.id!r} is not an id like INC-LS6-FIBRE (capitals, digits, dashes)"
        )
    _status(incident.status)
    if incident.end is not None and incident.end < incident.start:
        raise IncidentError("end", "is before the start")
    if incident.active:
        if incident.next_update_by is None:
            raise IncidentError("next_update_by", "is missing; say when customers hear from us")
        if incident.next_update_by <= now:
            raise IncidentError(
                "next_update_by", f"{incident.next_update_by.isoformat()} is in the past"
            )
    for name, text in incident.customer_texts().items():
        if problems := check_text(text):
            raise IncidentError(name, "; ".join(p.problem for p in problems))
    return incident


def incident_from_mapping(
    data: Mapping[str, Any],
    now: datetime,
    regions: Mapping[str, Iterable[str]],
) -> Incident:
    """Builds and checks an incident from YAML or JSON as an operator writes it."""
    known = {
        "id", "title", "services", "categories", "areas", "accounts", "start", "end", "status",
        "what_is_wrong", "why", "what_we_are_doing", "expected_fix", "next_update_by",
    }  # fmt: skip
    if unknown := sorted(set(data) - known):
        raise IncidentError(unknown[0], f"unknown field (use: {', '.join(sorted(known))})")
    fix = data.get("expected_fix")
    if isinstance(fix, str):
        fix = {"at": None, "text": fix}
    if not isinstance(fix, Mapping) or set(fix) - {"at", "text"}:
        raise IncidentError("expected_fix", "give {at: <time or null>, text: <plain words>}")
    services = _names(data.get("services"), "services")
    if not services:
        raise IncidentError("services", "list at least one affected service, like Broadband")
    raw_id = data.get("id")
    if raw_id is not None and not isinstance(raw_id, str):
        raise IncidentError("id", "must be text like INC-LS6-FIBRE")
    start = data.get("start")
    incident = Incident(
        id=(raw_id or new_incident_id()).strip().upper(),
        title=_text(data.get("title"), "title", MAX_TITLE_CHARS),
        services=services,
        categories=_categories(data.get("categories")),
        areas=_areas(data.get("areas"), regions),
        accounts=_accounts(data.get("accounts")),
        start=now if start is None else parse_time(start, "start", now),
        end=_optional_time(data.get("end"), "end", now),
        status=_status(data.get("status", "investigating")),
        what_is_wrong=_text(data.get("what_is_wrong"), "what_is_wrong", MAX_TEXT_CHARS),
        why=_text(data.get("why"), "why", MAX_TEXT_CHARS),
        what_we_are_doing=_text(data.get("what_we_are_doing"), "what_we_are_doing", MAX_TEXT_CHARS),
        expected_fix_text=_text(fix.get("text"), "expected_fix.text", MAX_TEXT_CHARS),
        expected_fix_at=_optional_time(fix.get("at"), "expected_fix.at", now),
        next_update_by=_optional_time(data.get("next_update_by"), "next_update_by", now),
    )
    if incident.status == RESOLVED and incident.end is None:
        incident = replace(incident, end=now)
    return check_incident(incident, now)


@dataclass(frozen=True)
class Change:
    """What an operator changes in an update; None leaves a field as it is."""

    status: str | None = None
    what_is_wrong: str | None = None
    why: str | None = None
    what_we_are_doing: str | None = None
    expected_fix_text: str | None = None
    expected_fix_at: datetime | None = None
    next_update_by: datetime | None = None
    note: str | None = None


def apply_change(incident: Incident, change: Change, now: datetime) -> tuple[Incident, str]:
    """The incident after ``change``, checked, and a short note of what changed. Status may go
    back (monitoring to investigating when a fix did not hold) but never out of resolved."""
    if not incident.active:
        raise IncidentClosed("status", f"{incident.id} is resolved; open a new incident instead")
    values: dict[str, Any] = {}
    if change.status is not None:
        values["status"] = _status(change.status)
    for name in CUSTOMER_FIELDS:
        if (value := getattr(change, name)) is not None:
            values[name] = _text(value, name, MAX_TEXT_CHARS)
    if change.expected_fix_at is not None:
        values["expected_fix_at"] = change.expected_fix_at
    if change.next_update_by is not None:
        values["next_update_by"] = change.next_update_by
    values = {k: v for k, v in values.items() if getattr(incident, k) != v}
    if not values and not change.note:
        raise IncidentError("update", "nothing changes; give a new status, text, time or a note")
    updated = replace(incident, **values)
    if updated.status == RESOLVED:
        updated = replace(updated, end=now)
    check_incident(updated, now)
    summary = describe_changes(incident, values)
    note = _text(change.note, "note", MAX_NOTE_CHARS) if change.note else summary
    return updated, note


def describe_changes(before: Incident, values: Mapping[str, Any]) -> str:
    parts = []
    if "status" in values:
        parts.append(f"status {before.status} → {values['status']}")
    parts += [f"{name} changed" for name in values if name != "status"]
    return "; ".join(parts) or "no change"


def resolve(incident: Incident, note: str, now: datetime) -> tuple[Incident, str]:
    if not note or not note.strip():
        raise IncidentError("note", "is missing; say how it was fixed")
    return apply_change(incident, Change(status=RESOLVED, note=note), now)


def covers_area(
    incident: Incident, postcode: str | None, regions: Mapping[str, Iterable[str]]
) -> bool:
    """Whether the incident reaches this postcode. An incident with no areas is everywhere;
    one with areas cannot be matched without a postcode."""
    if not incident.areas:
        return True
    if not postcode or not postcode.strip():
        return False
    district = outward_code(postcode)
    for area in incident.areas:
        districts = regions.get(area)
        if districts is None:
            districts = next((d for name, d in regions.items() if name.lower() == area.lower()), ())
        if district == area.upper() or district in {d.upper() for d in districts}:
            return True
    return False


def covers_account(incident: Incident, account: str | None) -> bool:
    """An incident listing accounts reaches only those; one listing none reaches any."""
    if not incident.accounts:
        return True
    return bool(account) and str(account).strip().upper() in incident.accounts


# A customer may notice a problem, and write to us, a little before operators record when
# it began; a complaint this long before the recorded start still matches.
START_GRACE = timedelta(minutes=30)


def matching_incidents(
    incidents: Iterable[Incident],
    category: str | Category,
    postcode: str | None,
    at: datetime,
    regions: Mapping[str, Iterable[str]],
    account: str | None = None,
) -> list[Incident]:
    """The active incidents, started by ``at``, that cover this category, postcode and
    account. An incident limited to areas or accounts needs the postcode or account to
    match: without them, nothing limited is matched (we never guess)."""
    name = category.value if isinstance(category, Category) else category
    return [
        incident
        for incident in incidents
        if incident.active
        and incident.start - START_GRACE <= at
        and name in incident.categories
        and covers_area(incident, postcode, regions)
        and covers_account(incident, account)
    ]
