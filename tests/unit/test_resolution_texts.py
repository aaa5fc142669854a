"""After a case is resolved: what the customer reads is plain and true (docs/principles.md:
2, 3, 14), the answers to the follow-up are understood without the assistant, and the
follow-up's setting is checked."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from pydantic import ValidationError

from redress.business import HandoffRules, load_business
from redress.cases import follow_up
from redress.cases.resolutions import Reopened
from redress.handoff import feedback
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")
NOW = datetime(2026, 12, 7, 10, tzinfo=timezone.utc)
LATER = datetime(2026, 12, 8, 15, tzinfo=timezone.utc)


def reopened(*references: str, person: str | None = None, due: datetime | None = LATER) -> list:
    return [Reopened(r, "Network team", person, due, False) for r in references]


def resolution_texts() -> list[str]:
    asks = [
        feedback.ASK_RATING,
        feedback.THANKS_REOPENED,
        feedback.THANKS_STILL_WORKING,
        feedback.STILL_YES_BUTTON,
        feedback.STILL_NO_BUTTON,
        feedback.ask_still_working("Last week", "service not working", "RD-7K2Q").text,
        feedback.ask_still_working("On Monday", "billing problem", "RD-1, RD-2").text,
    ]
    told = [
        follow_up.reopened_question(reopened("RD-7K2Q"), BUSINESS, NOW),
        follow_up.reopened_question(reopened("RD-7K2Q", person="Sam Jones"), BUSINESS, NOW),
        follow_up.reopened_question(reopened("RD-7K2Q", person="alex"), BUSINESS, NOW),
        follow_up.reopened_question(reopened("RD-1", "RD-2"), BUSINESS, NOW),
        follow_up.reopened_question(reopened("RD-1", due=None), BUSINESS, NOW),
        follow_up.reopened_question(reopened("RD-1", person="Sam", due=None), BUSINESS, NOW),
    ]
    return asks + [question.text for question in told]


@pytest.mark.parametrize("text", resolution_texts())
def test_what_customers_read_after_a_resolution_is_plain(text: str) -> None:
    assert check_text(text) == [], text


def test_the_customer_is_told_which_case_who_has_it_and_only_a_promised_time() -> None:
    one = follow_up.reopened_question(reopened("RD-7K2Q", person="Sam Jones"), BUSINESS, NOW)
    # One person, named throughout: the owner who has it is the one who replies.
    assert one.text == (
        "I'm sorry it still isn't right. I've reopened RD-7K2Q and passed it back to "
        "Sam Jones in our Network team. Sam Jones will reply here by 3pm tomorrow."
    )
    # No rating right after "it's still broken": it is asked once it is resolved again.
    assert one.asks is None and one.buttons == []
    assert "rate" not in one.text
    nobody = follow_up.reopened_question(reopened("RD-7K2Q"), BUSINESS, NOW)
    assert nobody.text.endswith(
        "passed it back to our Network team. "
        "Someone from our Network team will reply here by 3pm tomorrow."
    )
    assert "A person from the team" not in nobody.text
    # No time recorded as a promise: none is given.
    unknown = follow_up.reopened_question(reopened("RD-1", due=None), BUSINESS, NOW)
    assert "by" not in unknown.text and "as soon as they can" in unknown.text
    assert unknown.asks is None and unknown.buttons == []
    two = follow_up.reopened_question(reopened("RD-1", "RD-2"), BUSINESS, NOW)
    assert "I've reopened RD-1 and RD-2 and passed them back to our Network team." in two.text


@pytest.mark.parametrize(
    ("sent", "typed", "asking", "still_open", "expected"),
    [
        (feedback.STILL_WORKING_YES, "Yes, all good", None, False, ("still_working", True)),
        (feedback.STILL_WORKING_NO, "No, it's not", None, False, ("still_working", False)),
        ("yes", "yes", "still_working", True, ("still_working", True)),
        ("nope, down again", "nope, down again", "still_working", True, ("still_working", False)),
        # The question was answered already, or it is something new: the assistant's.
        ("yes", "yes", "still_working", False, None),
        ("my bill is wrong", "my bill is wrong", "still_working", True, None),
        ("4", "4", "still_working", True, None),
    ],
)
def test_answers_to_the_follow_up_are_recognised(
    sent: str, typed: str, asking: str | None, still_open: bool, expected: tuple | None
) -> None:
    answer = feedback.recognise(sent, typed, asking=asking, resolved=still_open)
    assert (None if answer is None else (answer.kind, answer.value)) == expected


def test_after_the_follow_up_answer_comes_thanks() -> None:
    yes = feedback.next_question(feedback.Answer("still_working", True), True)
    assert yes.text == feedback.THANKS_STILL_WORKING and yes.asks is None
    rated = feedback.next_question(feedback.Answer("rating", 2), False, reopened=True)
    assert rated.text == feedback.THANKS_REOPENED


def test_the_follow_up_says_when_the_case_was_sorted_as_people_do() -> None:
    zone = "Europe/London"
    now = datetime(2026, 12, 9, 10, tzinfo=timezone.utc)  # a Wednesday
    assert follow_up._when(datetime(2026, 12, 7, 9, tzinfo=timezone.utc), now, zone) == "On Monday"
    assert follow_up._when(datetime(2026, 12, 8, 9, tzinfo=timezone.utc), now, zone) == "Yesterday"
    assert follow_up._when(datetime(2026, 12, 1, 9, tzinfo=timezone.utc), now, zone) == "Last week"
    assert follow_up._when(datetime(2026, 11, 2, 9, tzinfo=timezone.utc), now, zone) == (
        "On 2 November"
    )


def test_the_follow_up_setting_is_checked() -> None:
    shipped = yaml.safe_load((REPO_ROOT / "business" / "handoff.yml").read_text())
    assert HandoffRules.model_validate(shipped).after_resolution.follow_up_after_days == 2
    assert HandoffRules().after_resolution.follow_up_after_days == 2
    off = HandoffRules.model_validate({"after_resolution": {"follow_up_after_days": 0}})
    assert off.after_resolution.follow_up_after_days == 0
    for wrong in ({"follow_up_after_days": -1}, {"follow_up_after_days": 61}, {"days": 2}):
        with pytest.raises(ValidationError):
            HandoffRules.model_validate({"after_resolution": wrong})
