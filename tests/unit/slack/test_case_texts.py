"""What customers read about their case at the desk is plain and warm (docs/principles.md:
2, 3), and a promise's kind is read from the agent's words."""

from __future__ import annotations

import pytest

from bot.slack.desk.case_texts import CLAIMED, PROMISED, PROMISED_CALL, REASSIGNED
from bot.slack.desk.cases import promise_kind
from redress.business import load_business
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")


def case_texts() -> list[str]:
    texts = []
    for team in BUSINESS.team_file.teams.values():
        texts.append(CLAIMED.format(agent="Priya Shah", team=team.name, reference="RD-ABC123"))
        texts.append(REASSIGNED.format(team=team.name, reference="RD-ABC123"))
        texts.append(PROMISED_CALL.format(agent="Sam", team=team.name, when="10am tomorrow"))
        texts.append(
            PROMISED.format(
                agent="Sam", team=team.name, when="9am on Monday", what="send a new router"
            )
        )
    return texts


@pytest.mark.parametrize("text", case_texts())
def test_case_texts_read_plainly(text: str) -> None:
    assert check_text(text) == [], text


@pytest.mark.parametrize(
    ("what", "kind"),
    [
        ("Call you back", "callback"),
        ("ring you about the bill", "callback"),
        ("phone the customer", "callback"),
        ("engineer to look at the line", "visit"),
        ("book an appointment", "visit"),
        ("visit your home", "visit"),
        ("send a new router", "other"),
    ],
)
def test_a_promise_kind_from_the_agents_words(what: str, kind: str) -> None:
    assert promise_kind(what) == kind
