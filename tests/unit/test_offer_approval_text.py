"""An offer above what the assistant may give waits for someone who can approve it. The
person at the desk may not be allowed to (approvers are named per team in teams.yml, and the
shipped file names none, so an administrator decides), so the customer is never told that
"the person I've asked to help" will approve it."""

from __future__ import annotations

import yaml

from redress.plain_language import check_text
from redress.settings import REPO_ROOT


def approval_text() -> str:
    domain = yaml.safe_load((REPO_ROOT / "domain" / "compensation.yml").read_text())
    [response] = domain["responses"]["utter_compensation_needs_approval_by_the_person"]
    return str(response["text"]).replace("{offer_words}", "give you a month free")


def test_an_offer_waiting_for_approval_says_who_can_approve_it_truthfully() -> None:
    text = approval_text()
    assert "The person I've asked to help will need to approve" not in text
    assert text.endswith("Someone on our team who can approve it will need to do that first.")
    assert check_text(text) == [], text
