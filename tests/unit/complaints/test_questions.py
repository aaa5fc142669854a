"""Questions about a complaint already told: read by their words and shape, answered only
from what the records and the business configuration say."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from redress.business import Answers, load_business
from redress.complaints.categories import Category
from redress.complaints.questions import (
    Case,
    Question,
    Topic,
    answer,
    asks_what_will_happen,
    concerns,
    read_question,
)
from redress.complaints.status import keep_promise
from redress.db.models import Complaint
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")
# Tuesday 10 March 2026, 10:00 in London: open.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.utc)


def filed(category: str = "outage", reference: str = "RD-ABC234") -> Complaint:
    complaint = Complaint(
        reference=reference, category=category, severity="medium", summary="", facts={}
    )
    keep_promise(complaint, NOW + timedelta(hours=24))
    return complaint


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("so how long till it's actually fixed??", Topic.FIX_TIME),
        ("is anyone going to phone me about this or not", Topic.CALLBACK),
        ("When will I hear back?", Topic.REPLY_TIME),
        ("when will someone get back to me about my bill", Topic.REPLY_TIME),
        ("what time is your engineer turning up tomorrow", Topic.VISIT),
        ("when do I actually see the money back", Topic.REFUND_TIME),
        ("how long does it take for someone to approve it?", Topic.APPROVAL),
        ("could it go back on my card rather than credit?", Topic.REMEDY_FORM),
        ("if I leave now do I get hit with a cancellation fee", Topic.EXIT_FEE),
        ("can you do anything about the speed though?", Topic.SPEED),
        ("sorry what was my reference again?", Topic.REFERENCE),
        ("what happens now?", Topic.GENERAL),
    ],
)
def test_questions_are_read_by_what_they_ask_about(text: str, topic: Topic) -> None:
    question = read_question(text)
    assert question is not None and question.topic is topic


@pytest.mark.parametrize(
    "text",
    [
        "my broadband has been off since Sunday",
        "yes please",
        "fine, I'll take the credit",
        "the engineer never turned up",  # a complaint, not a question
    ],
)
def test_statements_and_answers_are_not_questions(text: str) -> None:
    assert read_question(text) is None


def test_a_reference_typed_in_the_question_is_kept() -> None:
    question = read_question("any news on rd-7k2m9p please?")
    assert question == Question(Topic.REFERENCE, "RD-7K2M9P")


def test_asking_what_will_happen_is_told_from_asking_for_a_person() -> None:
    assert asks_what_will_happen("will somebody ring me?")
    assert not asks_what_will_happen("can someone call me please")


def test_a_question_tied_to_a_kind_of_problem_needs_that_problem_open() -> None:
    refund = read_question("when will my refund arrive?")
    assert refund is not None
    assert concerns(refund, [filed("refund")])
    assert not concerns(refund, [filed("outage")])
    assert concerns(refund, [filed("outage"), filed("billing")])
    # Read as the same complaint again: it is about that one.
    assert concerns(refund, [filed("refund")], Category.REFUND)
    callback = read_question("will someone call me?")
    assert callback is not None and concerns(callback, [filed("outage")])
    assert not concerns(callback, [])


def test_the_fix_time_is_not_guessed_but_the_promised_reply_is_given() -> None:
    said = answer(Question(Topic.FIX_TIME), Case([filed()]), BUSINESS, NOW)
    assert said is not None
    text = " ".join(said)
    assert "won't guess" in text and "RD-ABC234" in text and " by " in text
    assert check_text(text) == []


def test_an_incident_behind_the_complaint_answers_when_it_will_be_fixed() -> None:
    case = Case([filed()], incident_text="Engineers expect to have it fixed by 6pm today.")
    assert answer(Question(Topic.FIX_TIME), case, BUSINESS, NOW) == [
        "Engineers expect to have it fixed by 6pm today."
    ]


def test_the_fix_time_answer_promises_only_the_reply_not_what_it_will_say() -> None:
    text = " ".join(answer(Question(Topic.FIX_TIME), Case([filed()]), BUSINESS, NOW) or [])
    assert "how long the fix will take" not in text
    assert "will reply to you here about RD-ABC234 by" in text, text


@pytest.mark.parametrize("category", ["billing", "refund", "outage", "cancellation"])
def test_when_will_i_hear_back_is_answered_with_the_reply_time_for_any_problem(
    category: str,
) -> None:
    question = read_question("When will I hear back?")
    assert question is not None and concerns(question, [filed(category)])
    said = answer(question, Case([filed(category)]), BUSINESS, NOW)
    assert said is not None
    text = " ".join(said)
    assert text.startswith("Our team has RD-ABC234, and they'll reply to you here"), text
    assert " by " in text and "fix" not in text
    assert check_text(text) == []


def test_when_no_reply_time_is_left_hearing_back_is_not_given_a_time() -> None:
    complaint = filed("billing")
    keep_promise(complaint, NOW - timedelta(hours=1))
    said = answer(Question(Topic.REPLY_TIME), Case([complaint]), BUSINESS, NOW) or []
    assert said == [
        "Our team has RD-ABC234, and they'll reply to you here in this chat as soon as they can."
    ]
    assert check_text(said[0]) == []


def test_a_call_is_never_promised() -> None:
    text = " ".join(answer(Question(Topic.CALLBACK), Case([filed()]), BUSINESS, NOW) or [])
    assert "not by phone" in text and "RD-ABC234" in text
    # No number is on record, so nobody can "ring you instead": a call is only ever asked about.
    assert "ring you instead" not in text
    assert "so the team can see it" in text
    assert "they'll ask you here for the best number first" in text
    assert check_text(text) == []


def test_money_questions_follow_the_offer_and_the_grant() -> None:
    complaint = filed("billing")
    granted = Case(
        [complaint], granted="added £5 credit to your account", grant_reference="GR-XYZ234"
    )
    assert "GR-XYZ234" in " ".join(
        answer(Question(Topic.REFUND_TIME), granted, BUSINESS, NOW) or []
    )
    waiting = Case(
        [complaint],
        offer_words="add £40 credit",
        offer_status="pending_approval",
        when_reply="A person will reply by 4pm.",
    )
    text = " ".join(answer(Question(Topic.APPROVAL), waiting, BUSINESS, NOW) or [])
    assert "needs to approve" in text and "£40" in text and "4pm" in text
    nothing = " ".join(answer(Question(Topic.APPROVAL), Case([complaint]), BUSINESS, NOW) or [])
    assert "Nothing is waiting for approval" in nothing
    offered = Case([complaint], offer_words="add £5 credit", offer_status="offered")
    assert "Nothing has been paid yet" in " ".join(
        answer(Question(Topic.REFUND_TIME), offered, BUSINESS, NOW) or []
    )


def test_what_only_the_business_knows_comes_from_its_answers_or_is_said_plainly() -> None:
    exit_fee = answer(Question(Topic.EXIT_FEE), Case([filed()]), BUSINESS, NOW) or []
    assert exit_fee[0] == BUSINESS.answers.exit_fee
    assert "speak to a person" in exit_fee[-1]
    without = replace(BUSINESS, answers=Answers())
    plain = " ".join(answer(Question(Topic.EXIT_FEE), Case([filed()]), without, NOW) or [])
    assert "can't see from here" in plain and "speak to a person" in plain
    for text in (BUSINESS.answers.exit_fee, BUSINESS.answers.speed, BUSINESS.answers.remedy_form):
        assert text and check_text(text) == []


def test_a_reference_from_another_conversation_is_not_talked_about() -> None:
    said = answer(Question(Topic.REFERENCE, "RD-ZZZ999"), Case([filed()]), BUSINESS, NOW) or []
    assert "can't find RD-ZZZ999" in said[0]


def test_with_nothing_told_yet_it_asks_what_went_wrong() -> None:
    said = answer(Question(Topic.CALLBACK), Case([]), BUSINESS, NOW) or []
    assert "don't have a complaint" in said[0]
