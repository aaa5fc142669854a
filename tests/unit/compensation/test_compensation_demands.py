"""A demand for compensation that also tells what went wrong is heard as the complaint."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.compensation import complaint_in_message
from redress.complaints.categories import Category


def _tracker(text: str, ranking: list[tuple[str, float]]) -> Tracker:
    message: dict[str, Any] = {
        "text": text,
        "intent": {"name": ranking[0][0], "confidence": ranking[0][1]},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": [],
    }
    return Tracker("c1", {}, message, [], False, None, {}, "action_listen")


@pytest.mark.parametrize(
    ("text", "ranking", "expected"),
    [
        (
            "my internet has been off for a week now and I want compensation for it",
            [("ask_compensation", 0.77), ("complain_outage", 0.15)],
            Category.OUTAGE,
        ),
        # Only the demand: nothing says what went wrong, so no apology for a guess.
        (
            "can I have some money off my bill for this",
            [("ask_compensation", 0.8), ("complain_billing", 0.15)],
            None,
        ),
        # A story, but no complaint intent anywhere near.
        (
            "I want compensation for the rubbish service you have given me this year",
            [("ask_compensation", 0.97), ("complain_other", 0.02)],
            None,
        ),
    ],
)
def test_the_complaint_behind_a_demand(
    text: str, ranking: list[tuple[str, float]], expected: Category | None
) -> None:
    assert complaint_in_message(_tracker(text, ranking)) == expected
