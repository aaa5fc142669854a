"""Every message customers get about an incident without asking (an update, a holding
message, the closing question) reads plainly, built from the demo incidents."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from redress.business import load_business
from redress.incidents.model import RESOLVED, STATUSES, Incident
from redress.incidents.notices import SERVICE_BACK_BUTTONS, holding_text, resolved_text, update_text
from redress.incidents.records import read_incidents_file
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")
ZONE = BUSINESS.hours.timezone
NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
DEMO = read_incidents_file(REPO_ROOT / "business" / "incidents.yml", NOW, BUSINESS.regions)
ACTIVE = [status for status in STATUSES if status != RESOLVED]
# From each active status to each (the same one too: new words, no new status).
TRANSITIONS = list(itertools.product(ACTIVE, ACTIVE))
# When the message goes out: as the change is made, later that day, and days later.
MOMENTS = [NOW, NOW + timedelta(hours=9), NOW + timedelta(days=3)]


def _ids(incident: Incident) -> str:
    return incident.id


def _plain(text: str) -> None:
    assert text.strip()
    assert check_text(text) == [], text


def test_there_are_demo_incidents_to_build_from() -> None:
    assert len(DEMO) >= 3
    assert {i.status for i in DEMO} >= {"investigating", "identified", "monitoring"}


@pytest.mark.parametrize("incident", DEMO, ids=_ids)
@pytest.mark.parametrize(("before", "after"), TRANSITIONS)
def test_every_update_reads_plainly(incident: Incident, before: str, after: str) -> None:
    other = next(i for i in DEMO if i.id != incident.id)
    changed = replace(incident, status=after)
    # Nothing but the status changed; and the status with new words about what is wrong.
    earlier = [
        replace(incident, status=before),
        replace(incident, status=before, what_is_wrong=other.what_is_wrong, why=other.why),
    ]
    for previous, now, fix_at in itertools.product(
        earlier, MOMENTS, [incident.expected_fix_at, None]
    ):
        _plain(update_text(previous, replace(changed, expected_fix_at=fix_at), now, ZONE))


@pytest.mark.parametrize("incident", DEMO, ids=_ids)
def test_every_holding_message_reads_plainly(incident: Incident) -> None:
    promised = incident.next_update_by
    assert promised is not None
    for late_by in (timedelta(minutes=1), timedelta(hours=5), timedelta(days=2)):
        _plain(holding_text(incident.what_we_are_doing, promised, promised + late_by, ZONE))


@pytest.mark.parametrize("incident", DEMO, ids=_ids)
def test_every_closing_message_reads_plainly(incident: Incident) -> None:
    _plain(resolved_text(incident))
    for services in (("Broadband",), ("Broadband", "TV"), ("Broadband", "TV", "Home phone")):
        text = resolved_text(replace(incident, services=services))
        _plain(text)
        assert text.endswith("Is everything working for you now?")


def test_the_closing_question_buttons_read_plainly() -> None:
    for button in SERVICE_BACK_BUTTONS:
        _plain(button["title"])


def test_the_checks_would_catch_a_bad_update() -> None:
    """The plain-language checks see what an operator's words do to an update."""
    incident = DEMO[0]
    jargon = replace(incident, what_we_are_doing="Our NOC escalated the ticket to tier 3.")
    assert check_text(update_text(incident, jargon, NOW, ZONE))
