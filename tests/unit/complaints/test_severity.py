"""assess_severity: deterministic ratings, each with reasons a person can read."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from redress.business import HandoffRules
from redress.complaints.categories import Category, Severity
from redress.complaints.severity import assess_severity
from redress.handoff.reply_times import REPEAT, automatic_reasons

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)  # a Monday


def test_plain_billing_complaint_is_low_with_no_reasons():
    result = assess_severity(Category.BILLING, "I think my bill is wrong this month", NOW)
    assert result.severity is Severity.LOW
    assert result.reasons == ()
    assert result.safety_risk is False


def test_outage_is_at_least_medium_because_there_is_no_service():
    result = assess_severity(Category.OUTAGE, "my broadband isn't working", NOW)
    assert result.severity is Severity.MEDIUM
    assert result.reasons == ("no service at all",)


@pytest.mark.parametrize(
    ("category", "text"),
    [
        (Category.FAULTY_EQUIPMENT, "the hub is sparking"),
        (Category.FAULTY_EQUIPMENT, "there's a burning smell coming from the router"),
        (Category.FAULTY_EQUIPMENT, "the router smells of burning plastic"),
        (Category.OUTAGE, "the wall socket has exposed wires"),
        (Category.BILLING, "the box melted and my bill is wrong"),
    ],
)
def test_safety_risk_is_always_critical(category, text):
    result = assess_severity(category, text, NOW)
    assert result.severity is Severity.CRITICAL
    assert result.safety_risk is True
    assert "safety risk mentioned" in result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "my mum is 87 and relies on the landline",
        "my bill is wrong and I'm a pensioner",
        "I'm registered blind and my bill is wrong",
        "my dad has dementia and lives alone",
    ],
)
def test_vulnerable_customer_is_never_below_high(text):
    result = assess_severity(Category.BILLING, text, NOW)
    assert result.severity.rank >= Severity.HIGH.rank
    assert "customer or someone in their home may be vulnerable" in result.reasons
    assert result.safety_risk is False


def test_vulnerable_customer_can_still_be_critical():
    text = "my mum is 87 and relies on the landline. it's been dead for two weeks!!"
    result = assess_severity(Category.OUTAGE, text, NOW)
    assert result.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("text", "severity", "reason"),
    [
        ("broadband down since yesterday", Severity.MEDIUM, None),
        ("broadband down for 3 days", Severity.MEDIUM, "going on for 3 days"),
        ("broadband down for two weeks", Severity.HIGH, "going on for two weeks"),
        ("broadband down since last Monday", Severity.HIGH, "going on since last Monday"),
    ],
)
def test_longer_problems_rate_higher(text, severity, reason):
    result = assess_severity(Category.OUTAGE, text, NOW)
    assert result.severity is severity
    if reason is None:
        assert not any(r.startswith("going on") for r in result.reasons)
    else:
        assert reason in result.reasons


def test_money_involved_raises_severity():
    result = assess_severity(Category.BILLING, "you charged me £30 extra", NOW)
    assert result.severity is Severity.MEDIUM
    assert result.reasons == ("£30.00 involved",)


def test_money_in_words_counts_too():
    result = assess_severity(Category.BILLING, "you took 45 quid too much", NOW)
    assert "£45.00 involved" in result.reasons


def test_a_hundred_pounds_or_more_counts_more():
    small = assess_severity(Category.OUTAGE, "no broadband and I paid £30 for nothing", NOW)
    large = assess_severity(Category.OUTAGE, "no broadband and I paid £150 for nothing", NOW)
    assert small.severity is Severity.MEDIUM
    assert large.severity is Severity.HIGH
    assert "£150.00 involved" in large.reasons


def test_the_largest_amount_is_the_one_reported():
    result = assess_severity(Category.BILLING, "billed £20, then £120, then £35", NOW)
    assert "£120.00 involved" in result.reasons
    assert not any("£20.00" in r or "£35.00" in r for r in result.reasons)


def test_amount_with_thousands_separator():
    result = assess_severity(Category.BILLING, "you charged me £1,250 by mistake", NOW)
    assert "£1,250.00 involved" in result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "this is the third time I've called about my bill",
        "I've already called about this bill",
        "I've rung 4 times about this bill",
        "I keep chasing you about my bill",
    ],
)
def test_repeated_contact_raises_severity(text):
    result = assess_severity(Category.BILLING, text, NOW)
    assert result.severity is Severity.MEDIUM
    assert result.reasons == ("has contacted us about this before",)


def test_earlier_complaints_on_record_raise_severity():
    result = assess_severity(Category.BILLING, "my bill is wrong", NOW, earlier_complaints=2)
    assert result.severity is Severity.MEDIUM
    assert result.reasons == ("2 earlier complaint(s) on record in the last 30 days",)


@pytest.mark.parametrize(
    "text",
    [
        "WHY IS MY BILL WRONG AGAIN",
        "my bloody bill is wrong",
        "my bill is wrong!!",
        "this bill is an absolute joke, I'm fuming",
        "what the f*** is this bill",
        "my bill is wrong 😡",
    ],
)
def test_anger_raises_severity(text):
    result = assess_severity(Category.BILLING, text, NOW)
    assert result.severity is Severity.MEDIUM
    assert result.reasons == ("customer is angry",)


def test_one_capitalised_word_is_not_shouting():
    result = assess_severity(Category.BILLING, "my bill is WRONG", NOW)
    assert result.severity is Severity.LOW


@pytest.mark.parametrize(
    "text",
    [
        "I work from home and the broadband is down",
        "broadband is down and I can't work",
        "no internet and I've lost business because of it",
    ],
)
def test_work_impact_raises_severity(text):
    result = assess_severity(Category.OUTAGE, text, NOW)
    assert "affects their work or livelihood" in result.reasons
    assert result.severity is Severity.MEDIUM


def test_account_used_by_someone_else_is_flagged():
    result = assess_severity(Category.ACCOUNT_ACCESS, "someone hacked my account", NOW)
    assert result.reasons == ("account may have been used by someone else",)
    assert result.severity is Severity.MEDIUM


def test_reasons_add_up_to_critical():
    text = (
        "THIRD TIME I'VE CALLED. I work from home, the broadband has been down for two weeks "
        "and you still charged me £60"
    )
    result = assess_severity(Category.OUTAGE, text, NOW, earlier_complaints=1)
    assert result.severity is Severity.CRITICAL
    assert result.safety_risk is False
    assert set(result.reasons) == {
        "no service at all",
        "going on for two weeks",
        "£60.00 involved",
        "has contacted us about this before",
        "1 earlier complaint(s) on record in the last 30 days",
        "customer is angry",
        "affects their work or livelihood",
    }


def test_same_input_gives_same_output():
    text = "my mum is 87, the landline's been dead since last fri and I've rung 3 times!!"
    first = assess_severity(Category.OUTAGE, text, NOW, earlier_complaints=1)
    second = assess_severity(Category.OUTAGE, text, NOW, earlier_complaints=1)
    assert first == second
    assert first.severity is Severity.CRITICAL


def test_a_speed_is_not_an_age():
    result = assess_severity(Category.SLOW_SERVICE, "my speed is 80 mbps but I pay for 500", NOW)
    assert "customer or someone in their home may be vulnerable" not in result.reasons
    assert result.severity is Severity.LOW


def test_automatic_handoff_reasons_follow_the_configured_rules():
    rules = HandoffRules()
    assert automatic_reasons(rules, Severity.CRITICAL, 0) == ["critical_severity"]
    assert automatic_reasons(rules, Severity.HIGH, 0) == []
    assert automatic_reasons(rules, Severity.LOW, 1) == [REPEAT]
    assert automatic_reasons(rules, Severity.CRITICAL, 2) == ["critical_severity", REPEAT]
    stricter = HandoffRules(severity_at_least=Severity.HIGH, repeat_within_days=0)
    assert automatic_reasons(stricter, Severity.HIGH, 3) == ["high_severity"]
    assert automatic_reasons(HandoffRules(severity_at_least=None), Severity.CRITICAL, 0) == []


# Someone whose health or safety depends on the service ------------------------------------

DEPENDS = [
    "my mum's 87 and lives on her own, the phone line's been dead since yesterday",
    "the landline is the only way she can call her doctor and it's been off for two days",
    "his careline alarm goes through the phone line and it's not working",
    "dad has a pendant alarm in case he falls and the line is dead",
    "I can't call an ambulance, my landline has no dial tone and there's no mobile signal",
    "the internet is down and my home dialysis machine reports over it",
]


@pytest.mark.parametrize("text", DEPENDS)
def test_someone_who_depends_on_the_service_is_critical(text: str) -> None:
    found = assess_severity(Category.OUTAGE, text, NOW)
    assert found.severity is Severity.CRITICAL, found
    assert found.depends_on_it


def test_age_alone_without_living_alone_is_high_not_critical() -> None:
    found = assess_severity(Category.OUTAGE, "my dad is 84 and his internet is down", NOW)
    assert found.severity is Severity.HIGH
    assert not found.depends_on_it


def test_a_child_near_a_hazard_is_named() -> None:
    found = assess_severity(
        Category.FAULTY_EQUIPMENT,
        "your engineer left bare wires hanging out of the wall and I've got a toddler",
        NOW,
    )
    assert found.severity is Severity.CRITICAL
    assert "a child is at risk" in found.reasons


@pytest.mark.parametrize(
    "text",
    [
        "my internet is slow in the evenings, I'm 85 megabits short",
        "I've been alone on hold for an hour",
        "the alarm clock app won't sync",
    ],
)
def test_ordinary_words_are_not_read_as_dependence(text: str) -> None:
    assert not assess_severity(Category.SLOW_SERVICE, text, NOW).depends_on_it


def test_grief_calls_for_a_person_and_is_recorded() -> None:
    from redress.complaints.severity import BEREAVEMENT

    text = "my husband passed away last month and you're still billing his account"
    assessed = assess_severity(Category.BILLING, text, datetime(2026, 3, 10, tzinfo=timezone.utc))
    assert BEREAVEMENT in assessed.circumstances
    assert assessed.severity.rank >= Severity.HIGH.rank
    assert "customer is bereaved" in assessed.reasons


def test_hardship_calls_for_a_person_and_is_recorded() -> None:
    from redress.complaints.severity import FINANCIAL_HARDSHIP

    text = "you took the direct debit twice and I've got £4 left till payday with kids to feed"
    assessed = assess_severity(Category.BILLING, text, datetime(2026, 3, 10, tzinfo=timezone.utc))
    assert FINANCIAL_HARDSHIP in assessed.circumstances
    assert assessed.severity.rank >= Severity.HIGH.rank


def test_an_ordinary_bill_complaint_has_no_circumstances() -> None:
    text = "my bill went up by £5 this month and nobody told me"
    assessed = assess_severity(Category.BILLING, text, datetime(2026, 3, 10, tzinfo=timezone.utc))
    assert assessed.circumstances == ()


def test_details_seen_by_someone_else_are_serious_and_recorded() -> None:
    from redress.complaints.severity import DISCLOSED

    text = "you sent my bills to my old address and my ex opened them, she knows everything now"
    assessed = assess_severity(Category.BILLING, text, datetime(2026, 3, 10, tzinfo=timezone.utc))
    assert assessed.disclosed and DISCLOSED in assessed.reasons
    assert assessed.severity.rank >= Severity.HIGH.rank
    ordinary = "my bill went to the right address but the amount is wrong"
    plain = assess_severity(Category.BILLING, ordinary, datetime(2026, 3, 10, tzinfo=timezone.utc))
    assert not plain.disclosed


def test_a_vulnerable_customer_is_flagged_for_a_person() -> None:
    text = "I'm disabled and can't get to the shop, and the router you sent doesn't work"
    assessed = assess_severity(
        Category.FAULTY_EQUIPMENT, text, datetime(2026, 3, 10, tzinfo=timezone.utc)
    )
    assert assessed.vulnerable


def test_a_router_that_died_is_not_a_bereavement() -> None:
    text = "my router died last night and the spare's battery died too"
    assessed = assess_severity(
        Category.FAULTY_EQUIPMENT, text, datetime(2026, 3, 10, tzinfo=timezone.utc)
    )
    assert assessed.circumstances == ()
