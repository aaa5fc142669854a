"""Incidents: validation, status changes, matching and wording (redress/incidents/model.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from redress.complaints.categories import Category
from redress.incidents.model import (
    Change,
    IncidentClosed,
    IncidentError,
    IncidentUpdate,
    apply_change,
    incident_from_mapping,
    matching_incidents,
    outward_code,
    parse_time,
    resolve,
)
from redress.incidents.wording import explain, history_summary
from redress.plain_language import check_text

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
REGIONS = {"Leeds": ("LS1", "LS6", "LS29"), "Manchester": ("M14", "M20")}


def data(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "INC-LS6-FIBRE",
        "title": "Fibre cut in LS6",
        "services": ["Broadband"],
        "categories": ["outage", "slow_service"],
        "areas": ["LS6"],
        "start": "2026-11-20T07:30:00Z",
        "status": "identified",
        "what_is_wrong": "Broadband is down for some homes in LS6.",
        "why": "A cable that carries our service was cut.",
        "what_we_are_doing": "Our engineers are on site and joining the cable back together.",
        "expected_fix": {"at": "+8h", "text": "We expect most homes back online today."},
        "next_update_by": "+3h",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def make(**changes: Any):
    return incident_from_mapping(data(**changes), NOW, REGIONS)


def test_a_valid_incident_is_built_with_relative_times_resolved_against_now() -> None:
    incident = make()
    assert incident.id == "INC-LS6-FIBRE"
    assert incident.start == datetime(2026, 11, 20, 7, 30, tzinfo=timezone.utc)
    assert incident.next_update_by == NOW + timedelta(hours=3)
    assert incident.expected_fix_at == NOW + timedelta(hours=8)
    assert incident.active


def test_an_id_is_made_up_when_left_out() -> None:
    assert make(id=...).id.startswith("INC-")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"status": "broken"}, "status", "unknown status 'broken'"),
        ({"why": ""}, "why", "missing"),
        ({"what_is_wrong": ...}, "what_is_wrong", "missing"),
        ({"expected_fix": {"at": None, "text": " "}}, "expected_fix.text", "missing"),
        ({"end": "2026-11-19T00:00:00Z"}, "end", "before the start"),
        ({"next_update_by": "-1h"}, "next_update_by", "in the past"),
        ({"next_update_by": ...}, "next_update_by", "missing"),
        ({"categories": ["outage", "weather"]}, "categories", "unknown category 'weather'"),
        ({"categories": []}, "categories", "at least one"),
        ({"areas": ["Narnia"]}, "areas", "unknown area 'Narnia'"),
        ({"areas": ["LS"]}, "areas", "unknown area 'LS'"),
        ({"services": []}, "services", "at least one"),
        ({"start": "yesterday"}, "start", "not a time"),
        ({"start": "2026-11-20T07:30:00"}, "start", "no time zone"),
        ({"id": "ls6 fibre"}, "id", "not an id"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"why": "It is not our fault; the weather did it."}, "why", "blame-shifting"),
        ({"what_we_are_doing": "We are doing DNS remediation."}, "what_we_are_doing", "jargon"),
    ],
)
def test_invalid_incidents_are_refused_naming_the_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(IncidentError) as refused:
        make(**changes)
    assert refused.value.field == field
    assert words in str(refused.value)


def test_hard_text_is_refused_with_its_reading_ease() -> None:
    hard = (
        "Notwithstanding considerable organisational complications, comprehensive "
        "investigation necessitates extraordinary coordination."
    )
    with pytest.raises(IncidentError) as refused:
        make(why=hard)
    assert str(refused.value).startswith("why: ")
    assert "reading ease" in str(refused.value) and "is below 60" in str(refused.value)


def test_regions_are_accepted_by_name_and_districts_are_upper_cased() -> None:
    assert make(areas=["leeds", "m14"]).areas == ("Leeds", "M14")


def test_a_resolved_incident_needs_no_next_update_and_gets_an_end() -> None:
    incident = make(status="resolved", next_update_by=...)
    assert incident.end == NOW


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("investigating", "identified"),
        ("identified", "monitoring"),
        ("monitoring", "investigating"),  # a fix that did not hold
        ("identified", "investigating"),
        ("monitoring", "resolved"),
    ],
)
def test_status_may_move_on_or_back(first: str, then: str) -> None:
    updated, note = apply_change(make(status=first), Change(status=then), NOW)
    assert updated.status == then
    assert note == f"status {first} → {then}"


def test_resolved_is_final() -> None:
    resolved, note = resolve(make(), "All lines are back.", NOW)
    assert resolved.status == "resolved" and resolved.end == NOW
    assert note == "All lines are back."
    with pytest.raises(IncidentClosed):
        apply_change(resolved, Change(status="monitoring"), NOW)


def test_an_update_must_change_something_and_still_be_valid() -> None:
    with pytest.raises(IncidentError, match="nothing changes"):
        apply_change(make(), Change(), NOW)
    with pytest.raises(IncidentError, match="unknown status"):
        apply_change(make(), Change(status="fixed-ish"), NOW)
    later = NOW + timedelta(hours=5)  # the promised update time has passed
    with pytest.raises(IncidentError) as refused:
        apply_change(make(), Change(status="monitoring"), later)
    assert refused.value.field == "next_update_by"
    with pytest.raises(IncidentError, match="note"):
        resolve(make(), " ", NOW)


def test_an_update_notes_what_changed() -> None:
    later = NOW + timedelta(hours=6)
    updated, note = apply_change(
        make(), Change(why="A digger cut our cable on Otley Road.", next_update_by=later), NOW
    )
    assert updated.why == "A digger cut our cable on Otley Road."
    assert note == "why changed; next_update_by changed"
    _, own_note = apply_change(make(), Change(status="monitoring", note="Lines are back."), NOW)
    assert own_note == "Lines are back."


def test_relative_times() -> None:
    assert parse_time("+30m", "x", NOW) == NOW + timedelta(minutes=30)
    assert parse_time("-2d", "x", NOW) == NOW - timedelta(days=2)
    assert parse_time("2026-11-20T07:30:00+01:00", "x", NOW).hour == 6


@pytest.mark.parametrize(
    ("postcode", "district"),
    [("LS6 2AB", "LS6"), ("ls62ab", "LS6"), ("M14 5RT", "M14"), ("LS62 1AA", "LS62")],
)
def test_the_outward_code(postcode: str, district: str) -> None:
    assert outward_code(postcode) == district


def _ids(found: list) -> list[str]:
    return [incident.id for incident in found]


def test_matching_by_district_category_and_time() -> None:
    fibre = make()
    billing = make(id="INC-BILL", categories=["billing"], areas=[])
    incidents = [fibre, billing]
    assert _ids(matching_incidents(incidents, Category.OUTAGE, "LS6 2AB", NOW, REGIONS)) == [
        "INC-LS6-FIBRE"
    ]
    assert matching_incidents(incidents, "outage", "LS62 1AA", NOW, REGIONS) == []
    assert matching_incidents(incidents, "outage", "LS16 1AA", NOW, REGIONS) == []
    assert matching_incidents(incidents, "delay", "LS6 2AB", NOW, REGIONS) == []
    # Started at 7:30. A customer writing twenty minutes earlier is probably seeing the
    # same fault before it was recorded; one writing an hour earlier is not.
    just_before = datetime(2026, 11, 20, 7, 10, tzinfo=timezone.utc)
    assert _ids(matching_incidents(incidents, "outage", "LS6 2AB", just_before, REGIONS)) == [
        "INC-LS6-FIBRE"
    ]
    before = datetime(2026, 11, 20, 6, 30, tzinfo=timezone.utc)
    assert matching_incidents(incidents, "outage", "LS6 2AB", before, REGIONS) == []
    # An incident with no areas reaches everyone, even when we have no postcode.
    assert _ids(matching_incidents(incidents, "billing", None, NOW, REGIONS)) == ["INC-BILL"]
    assert _ids(matching_incidents(incidents, "billing", "M14 5RT", NOW, REGIONS)) == ["INC-BILL"]
    # Without a postcode, an incident in one area cannot be said to be theirs.
    assert matching_incidents(incidents, "outage", None, NOW, REGIONS) == []


def test_an_incident_limited_to_accounts_matches_only_those_accounts() -> None:
    billing = make(id="INC-BILL", categories=["billing"], areas=[], accounts=["bl-100003"])
    assert billing.accounts == ("BL-100003",)
    found = matching_incidents([billing], "billing", None, NOW, REGIONS, account="BL-100003")
    assert _ids(found) == ["INC-BILL"]
    assert matching_incidents([billing], "billing", None, NOW, REGIONS, account="BL-100004") == []
    # An unverified customer is never told a problem limited to some accounts is theirs.
    assert matching_incidents([billing], "billing", "LS6 2AB", NOW, REGIONS) == []


def test_account_numbers_are_checked() -> None:
    with pytest.raises(IncidentError, match="accounts: 'ACME' is not an account number"):
        make(accounts=["ACME"])


def test_regions_expand_to_their_districts() -> None:
    leeds = make(areas=["Leeds"])
    assert _ids(matching_incidents([leeds], "outage", "LS29 8AA", NOW, REGIONS)) == [leeds.id]
    assert matching_incidents([leeds], "outage", "LS2 8AA", NOW, REGIONS) == []
    assert matching_incidents([leeds], "outage", "M14 5RT", NOW, REGIONS) == []


def test_resolved_incidents_are_ignored() -> None:
    resolved = replace(make(), status="resolved", end=NOW)
    assert matching_incidents([resolved], "outage", "LS6 2AB", NOW, REGIONS) == []


def test_the_explanation_reads_plainly_and_owns_it() -> None:
    explanation = explain(make(), NOW)
    assert explanation.what_is_wrong == "Broadband is down for some homes in LS6."
    assert explanation.next_update == "Our next update is due by 3pm today."
    assert "8pm today" in explanation.when_fixed
    for part in explanation.parts():
        assert check_text(part) == [], part
    done = explain(resolve(make(), "Fixed.", NOW)[0], NOW)
    assert "We've fixed it" in done.text()
    assert check_text(done.text()) == []


def test_the_history_summary_tells_each_status_once() -> None:
    def update(hours: int, status: str) -> IncidentUpdate:
        return IncidentUpdate(
            at=NOW - timedelta(hours=hours),
            status=status,
            what_is_wrong="x",
            why="x",
            what_we_are_doing="x",
            expected_fix_text="x",
            expected_fix_at=None,
            next_update_by=None,
            note="x",
        )

    summary = history_summary(
        [update(30, "investigating"), update(5, "identified"), update(4, "identified")], NOW
    )
    assert summary.splitlines() == [
        "At 6am on Sunday 22 November: We started looking into it.",
        "At 7am today: We found the cause.",
    ]
    assert check_text(summary) == []
