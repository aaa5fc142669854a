"""Several problems in one message: each clause read for the kind of problem its words tell,
counted only when the NLU gave that kind some weight for the whole message."""

from __future__ import annotations

from redress.complaints.categories import Category
from redress.complaints.mentions import clauses, problems_in, tells_another_problem

EVERYTHING = {c: 0.1 for c in Category}


def kinds(text: str, main: Category, ranked: dict[Category, float] | None = None) -> list[str]:
    return [
        p.category.value for p in problems_in(text, main, EVERYTHING if ranked is None else ranked)
    ]


def test_a_dropping_line_and_a_wrong_charge_are_two_complaints_and_the_service_leads() -> None:
    text = (
        "wifi keeps cutting out every evening this week, and you've charged me £15 for "
        "the router I posted back to you"
    )
    assert kinds(text, Category.BILLING) == ["slow_service", "billing"]


def test_offline_and_kept_on_hold_are_both_heard() -> None:
    text = "been offline since saturday and then i sat on hold for 50 minutes and got cut off"
    assert kinds(text, Category.STAFF_CONDUCT) == ["outage", "staff_conduct"]


def test_one_problem_told_at_length_stays_one() -> None:
    text = (
        "my broadband has been down since monday morning. I work from home and I've lost "
        "two days of work because of it. I need it fixed today please"
    )
    assert kinds(text, Category.OUTAGE) == ["outage"]


def test_a_word_alone_does_not_make_a_complaint_without_the_nlus_weight() -> None:
    text = "the box you sent won't turn on at all, and it came three days later than you said"
    assert kinds(text, Category.FAULTY_EQUIPMENT, {Category.FAULTY_EQUIPMENT: 0.9}) == [
        "faulty_equipment"
    ]
    assert kinds(text, Category.FAULTY_EQUIPMENT, {Category.DELAY: 0.02}) == [
        "faulty_equipment",
        "delay",
    ]


def test_mentioning_the_bill_or_ringing_twice_is_not_a_billing_complaint() -> None:
    text = "I rang about my bill on monday and the man on the phone was really rude to me"
    assert kinds(text, Category.STAFF_CONDUCT) == ["staff_conduct"]
    text = "you promised me £40 back in august and nothing has come, I've phoned twice about it"
    assert kinds(text, Category.REFUND) == ["refund"]


def test_short_fragments_are_not_clauses() -> None:
    assert clauses("no internet. again. fix it") == []
    assert clauses("no internet since 9am. you charged me twice as well") == [
        "no internet since 9am",
        "you charged me twice as well",
    ]


def test_a_new_kind_of_problem_is_told_from_a_question_about_an_open_one() -> None:
    assert tells_another_problem("and why have you overcharged me??", {Category.OUTAGE})
    assert not tells_another_problem("so when will it be fixed?", {Category.OUTAGE})


def test_wanting_a_wrong_charge_back_is_one_problem_but_an_old_refund_is_another() -> None:
    text = "you took my direct debit twice this month, i want that money back today please"
    assert kinds(text, Category.BILLING) == ["billing"]
    text = "you charged me twice for november, and the refund you promised in august never came"
    assert kinds(text, Category.BILLING) == ["billing", "refund"]
