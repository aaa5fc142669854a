"""The compensation policy (redress/compensation/policy.py): exact pence for every kind of amount,
which rule decides, every cap at its boundary, the approval threshold, the explanation, and
every way a policy file can be wrong."""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from redress.business import BusinessConfigError, load_business
from redress.compensation.policy import (
    REMEDIES,
    Decision,
    EarlierGrant,
    Policy,
    PolicyError,
    Situation,
    Spent,
    again_words,
    already_words,
    decide,
    granted_on,
    policy_from_mapping,
    pounds,
    same_problem,
    show_money,
)
from redress.complaints.categories import Severity
from redress.settings import REPO_ROOT

BUSINESS_DIR = REPO_ROOT / "business"
FEE = 3200  # £32.00 a month
INCIDENT = "INC-LS6-FIBRE"


def mapping(rules: list[dict[str, Any]] | None = None, **top: Any) -> dict[str, Any]:
    """A small policy: £60 an offer, £120 and 3 remedies a customer a year, £2,000 an
    incident (£5,000 for INC-BIG, written in lower case), £25 without a person."""
    data: dict[str, Any] = {
        "auto_approve_up_to": "25.00",
        "limits": {
            "per_offer": "60.00",
            "per_customer": {"amount": "120.00", "count": 3, "window_days": 365},
            "per_incident": {"budget": "2000.00", "budgets": {"inc-big": "5000.00"}},
        },
        "rules": rules
        if rules is not None
        else [
            {
                "name": "outage-free-month",
                "categories": ["outage"],
                "min_severity": "critical",
                "remedy": "free_month",
                "amount": "monthly_fee",
            },
            {
                "name": "outage-credit",
                "categories": ["outage"],
                "min_severity": "medium",
                "remedy": "account_credit",
                "amount": {"per_day_of_monthly_fee": "100%", "max_days": 30},
            },
            {
                "name": "billing-credit",
                "categories": ["billing"],
                "remedy": "account_credit",
                "amount": {"fixed": "10.00"},
            },
            {
                "name": "faulty-priority",
                "categories": ["faulty_equipment"],
                "remedy": "priority_repair",
            },
        ],
    }
    data.update(top)
    return data


def policy(rules: list[dict[str, Any]] | None = None, **top: Any) -> Policy:
    return policy_from_mapping(mapping(rules, **top))


def wide_open(amount: Any, remedy: str = "account_credit", **rule: Any) -> Policy:
    """One rule for billing complaints and limits far above any amount tested."""
    return policy_from_mapping(
        {
            "auto_approve_up_to": "1000.00",
            "limits": {
                "per_offer": "1000.00",
                "per_customer": {"amount": "5000.00", "count": 100},
                "per_incident": {"budget": "9000.00"},
            },
            "rules": [
                {"name": "only", "categories": ["billing"], "remedy": remedy, "amount": amount}
                | rule
            ],
        }
    )


def situation(
    category: str = "billing",
    severity: Severity = Severity.MEDIUM,
    *,
    verified: bool = True,
    fee: int = FEE,
    incident: str | None = None,
    days: float | None = None,
) -> Situation:
    return Situation(
        category=category,
        severity=severity,
        verified=verified,
        monthly_fee_pence=fee,
        incident_id=incident,
        days=days,
    )


def offered(decision: Decision) -> int:
    assert decision.offer, decision.explain()
    return decision.amount_pence


# Amounts, to the penny ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "pence"),
    [("12.50", 1250), (12.5, 1250), ("£7", 700), (30, 3000), ("0.01", 1), ("10000", 1_000_000)],
)
def test_fixed_amounts_are_exact_pence(written: Any, pence: int) -> None:
    assert pounds(written, "x") == pence
    if pence <= 100_000:
        assert offered(decide(wide_open({"fixed": written}), situation(), Spent())) == pence


@pytest.mark.parametrize(
    ("share", "fee", "pence"),
    [
        ("50%", 3200, 1600),
        (0.5, 3200, 1600),
        ("0.5", 3199, 1600),  # 1599.5p rounds half up
        ("50%", 3197, 1599),  # 1598.5p
        ("25%", 3001, 750),  # 750.25p rounds down
        ("25%", 3003, 751),  # 750.75p rounds up
        ("12.5%", 2999, 375),  # 374.875p
        ("33%", 3000, 990),
        ("150%", 2000, 3000),
        ("0.5", 1, 1),  # half a penny is a penny
    ],
)
def test_a_share_of_the_monthly_fee_rounds_half_up_to_a_penny(
    share: Any, fee: int, pence: int
) -> None:
    decision = decide(wide_open({"share_of_monthly_fee": share}), situation(fee=fee), Spent())
    assert offered(decision) == pence


def test_a_share_is_explained_as_a_percentage_of_the_fee() -> None:
    decision = decide(wide_open({"share_of_monthly_fee": 0.5}), situation(), Spent())
    assert "50% of the £32 monthly fee" in decision.explain()


@pytest.mark.parametrize(
    ("days", "fee", "share", "max_days", "pence", "counted"),
    [
        (3, 3000, "100%", None, 300, "3 days"),  # £1 a day
        (2.1, 3000, "100%", None, 300, "3 days"),  # part of a day counts as a day
        (2.0, 3000, "100%", None, 200, "2 days"),
        (None, 3000, "100%", None, 100, "1 day"),  # unknown: one day
        (0, 3000, "100%", None, 100, "1 day"),  # at least one day
        (0.01, 3000, "100%", None, 100, "1 day"),
        (45, 3000, "100%", 30, 3000, "30 days"),  # never more than max_days
        (30.5, 3000, "100%", 30, 3000, "30 days"),
        (29.5, 3000, "100%", 30, 3000, "30 days"),
        (10, 3200, "50%", None, 533, "10 days"),  # 533.33p
        (10, 3200, 0.5, None, 533, "10 days"),
        (3, 3025, "100%", None, 303, "3 days"),  # 302.5p exactly: half up, not lost to 1/30
        (15, 4999, "100%", None, 2500, "15 days"),  # 2499.5p
        (3, 55, "100%", None, 6, "3 days"),  # 5.5p
        (7, 7999, "100%", 30, 1866, "7 days"),  # 1866.43p
    ],
)
def test_per_day_amounts_are_pro_rata_with_days_rounded_up(
    days: float | None,
    fee: int,
    share: Any,
    max_days: int | None,
    pence: int,
    counted: str,
) -> None:
    amount: dict[str, Any] = {"per_day_of_monthly_fee": share}
    if max_days is not None:
        amount["max_days"] = max_days
    decision = decide(wide_open(amount), situation(fee=fee, days=days), Spent())
    assert offered(decision) == pence
    assert f"{counted} at " in decision.explain()


def test_a_free_month_is_worth_the_monthly_fee() -> None:
    decision = decide(policy(), situation("outage", Severity.CRITICAL, fee=4999), Spent())
    assert (decision.rule, decision.remedy, offered(decision)) == (
        "outage-free-month",
        "free_month",
        4999,
    )
    assert "one monthly fee (£49.99)" in decision.explain()


@pytest.mark.parametrize(
    ("pence", "shown"), [(1250, "£12.50"), (3000, "£30"), (5, "£0.05"), (200000, "£2,000")]
)
def test_money_is_shown_in_pounds(pence: int, shown: str) -> None:
    assert show_money(pence) == shown


# Which rule decides ---------------------------------------------------------------------


def test_the_first_rule_that_fits_wins() -> None:
    critical = situation("outage", Severity.CRITICAL, days=2)
    assert decide(policy(), critical, Spent()).rule == "outage-free-month"
    high = situation("outage", Severity.HIGH, days=2)
    assert decide(policy(), high, Spent()).rule == "outage-credit"

    credit_first = mapping()
    credit_first["rules"] = [credit_first["rules"][1], credit_first["rules"][0]]
    decision = decide(policy_from_mapping(credit_first), critical, Spent())
    assert decision.rule == "outage-credit"
    assert offered(decision) == 213  # 2 days of £32/30: 213.33p


@pytest.mark.parametrize(
    ("severity", "rule"),
    [
        (Severity.LOW, None),
        (Severity.MEDIUM, "outage-credit"),
        (Severity.HIGH, "outage-credit"),
        (Severity.CRITICAL, "outage-free-month"),
    ],
)
def test_min_severity_is_inclusive(severity: Severity, rule: str | None) -> None:
    decision = decide(policy(), situation("outage", severity, days=1), Spent())
    assert decision.rule == rule
    assert decision.offer is (rule is not None)


def incident_rules_data() -> list[dict[str, Any]]:
    return [
        {
            "name": "linked",
            "categories": ["outage"],
            "incident": "linked",
            "remedy": "account_credit",
            "amount": {"fixed": "20.00"},
        },
        {
            "name": "not-linked",
            "categories": ["outage"],
            "incident": "not_linked",
            "remedy": "voucher",
            "amount": {"fixed": "10.00"},
        },
        {
            "name": "any",
            "categories": ["slow_service"],
            "incident": "any",
            "remedy": "refund",
            "amount": {"fixed": "5.00"},
        },
    ]


def incident_rules() -> Policy:
    return policy(incident_rules_data())


@pytest.mark.parametrize(
    ("category", "incident", "rule", "pence"),
    [
        ("outage", INCIDENT, "linked", 2000),
        ("outage", None, "not-linked", 1000),
        ("slow_service", INCIDENT, "any", 500),
        ("slow_service", None, "any", 500),
    ],
)
def test_the_incident_condition(category: str, incident: str | None, rule: str, pence: int) -> None:
    decision = decide(incident_rules(), situation(category, incident=incident), Spent())
    assert (decision.rule, offered(decision)) == (rule, pence)


def test_a_linked_rule_does_not_apply_without_an_incident_and_the_reverse() -> None:
    only_linked = policy([incident_rules_data()[0]])
    assert decide(only_linked, situation("outage"), Spent()).rule is None
    only_unlinked = policy([incident_rules_data()[1]])
    assert decide(only_unlinked, situation("outage", incident=INCIDENT), Spent()).rule is None


def test_no_verified_account_means_no_offer() -> None:
    decision = decide(policy(), situation(verified=False), Spent())
    assert decision == Decision(False, reasons=("no verified account: no automatic offer",))


def test_no_rule_means_no_offer_and_says_so() -> None:
    decision = decide(policy(), situation("staff_conduct", Severity.HIGH), Spent())
    assert not decision.offer and decision.rule is None and decision.amount_pence == 0
    assert decision.explain() == "no rule for staff_conduct at high severity"


# Caps -----------------------------------------------------------------------------------


def fixed(pounds_text: str, **top: Any) -> Policy:
    """A billing rule of a fixed amount within the small policy's limits."""
    return policy(
        [
            {
                "name": "billing-fixed",
                "categories": ["billing"],
                "remedy": "account_credit",
                "amount": {"fixed": pounds_text},
            }
        ],
        **top,
    )


def test_exactly_the_per_offer_limit_is_allowed_and_a_penny_more_is_cut() -> None:
    at_limit = decide(fixed("60.00", auto_approve_up_to="60.00"), situation(), Spent())
    assert offered(at_limit) == 6000
    assert "cut" not in at_limit.explain()

    over = decide(fixed("60.01", auto_approve_up_to="60.00"), situation(), Spent())
    assert offered(over) == 6000
    assert over.reasons == (
        "rule billing-fixed",
        "fixed £60.01",
        "cut to £60 by the per-offer limit",
    )


def test_the_customer_limit_at_its_boundary() -> None:
    ten = fixed("10.00")
    exactly = decide(ten, situation(), Spent(customer_pence=11000, customer_count=2))
    assert offered(exactly) == 1000
    assert "cut" not in exactly.explain()

    penny_short = decide(ten, situation(), Spent(customer_pence=11001, customer_count=2))
    assert offered(penny_short) == 999
    assert "cut to £9.99 by the customer limit £120 in 365 days, £110.01 used" in (
        penny_short.explain()
    )


@pytest.mark.parametrize("used", [12000, 12500])
def test_nothing_is_offered_once_the_customer_limit_is_used(used: int) -> None:
    decision = decide(fixed("10.00"), situation(), Spent(customer_pence=used, customer_count=1))
    assert not decision.offer and decision.amount_pence == 0
    assert decision.rule == "billing-fixed"
    assert decision.reasons[-2:] == (
        f"cut to £0 by the customer limit £120 in 365 days, {show_money(used)} used",
        "nothing left within the limits",
    )


def test_the_count_limit_at_its_boundary() -> None:
    assert offered(decide(fixed("10.00"), situation(), Spent(customer_count=2))) == 1000
    reached = decide(fixed("10.00"), situation(), Spent(customer_count=3))
    assert not reached.offer and reached.rule == "billing-fixed"
    assert reached.explain() == (
        "rule billing-fixed; customer already had 3 remedies in 365 days (limit 3)"
    )


def test_the_incident_budget_at_its_boundary() -> None:
    ten = fixed("10.00")
    linked = situation(incident=INCIDENT)
    exactly = decide(ten, linked, Spent(incident_pence=199_000))
    assert offered(exactly) == 1000
    assert "cut" not in exactly.explain()

    penny_short = decide(ten, linked, Spent(incident_pence=199_001))
    assert offered(penny_short) == 999
    assert f"cut to £9.99 by the {INCIDENT} budget £2,000, £1,990.01 used" in (
        penny_short.explain()
    )

    spent_out = decide(ten, linked, Spent(incident_pence=200_000))
    assert not spent_out.offer
    assert spent_out.reasons[-1] == "nothing left within the limits"

    # The incident budget says nothing about complaints no incident explains.
    assert offered(decide(ten, situation(), Spent(incident_pence=200_000))) == 1000


def test_an_incident_can_have_its_own_budget() -> None:
    ten = fixed("10.00")
    big = situation(incident="INC-BIG")
    assert offered(decide(ten, big, Spent(incident_pence=499_000))) == 1000
    cut = decide(ten, big, Spent(incident_pence=499_500))
    assert offered(cut) == 500
    assert "INC-BIG budget £5,000, £4,995 used" in cut.explain()
    # Others still have the default budget.
    assert not decide(ten, situation(incident=INCIDENT), Spent(incident_pence=200_000)).offer


def test_each_cap_that_cuts_is_named_in_order() -> None:
    decision = decide(
        fixed("80.00"),
        situation(incident=INCIDENT),
        Spent(customer_pence=7000, customer_count=1, incident_pence=196_000),
    )
    assert offered(decision) == 4000
    assert decision.reasons == (
        "rule billing-fixed",
        "fixed £80",
        "cut to £60 by the per-offer limit",
        "cut to £50 by the customer limit £120 in 365 days, £70 used",
        f"cut to £40 by the {INCIDENT} budget £2,000, £1,960 used",
        "above the £25 a person must approve",
    )
    assert decision.needs_approval


# Approval -------------------------------------------------------------------------------


def test_up_to_the_threshold_is_automatic_and_a_penny_more_needs_a_person() -> None:
    equal = decide(fixed("25.00"), situation(), Spent())
    assert offered(equal) == 2500 and not equal.needs_approval
    assert "approve" not in equal.explain()

    above = decide(fixed("25.01"), situation(), Spent())
    assert offered(above) == 2501 and above.needs_approval
    assert above.reasons[-1] == "above the £25 a person must approve"


def test_approval_is_judged_on_the_amount_after_the_caps() -> None:
    cut = decide(fixed("50.00"), situation(), Spent(customer_pence=10000, customer_count=1))
    assert offered(cut) == 2000 and not cut.needs_approval


# Priority repair: not money, but a remedy ------------------------------------------------


def test_priority_repair_is_offered_without_money() -> None:
    decision = decide(policy(), situation("faulty_equipment"), Spent())
    assert decision == Decision(
        True,
        "faulty-priority",
        "priority_repair",
        0,
        False,
        ("rule faulty-priority", "priority repair: no money"),
    )
    # The money caps do not apply to it ...
    used_up = Spent(customer_pence=12000, customer_count=2, incident_pence=200_000)
    assert decide(policy(), situation("faulty_equipment", incident=INCIDENT), used_up).offer


def test_priority_repair_counts_toward_the_count_limit() -> None:
    # ... but the count limit does.
    decision = decide(policy(), situation("faulty_equipment"), Spent(customer_count=3))
    assert not decision.offer
    assert "customer already had 3 remedies in 365 days (limit 3)" in decision.explain()


# One remedy per problem -----------------------------------------------------------------

AT = datetime(2026, 3, 10, 10, tzinfo=timezone.utc)


def earlier(
    days_ago: float,
    category: str = "billing",
    incident: str | None = None,
    reference: str = "CR-ABC123",
    remedy: str = "account_credit",
    pence: int = 1000,
) -> EarlierGrant:
    return EarlierGrant(
        reference=reference,
        category=category,
        incident_id=incident,
        remedy=remedy,
        amount_pence=pence,
        granted_at=AT - timedelta(days=days_ago),
        complaint="RD-7KQ2MZ",
    )


def same(
    category: str = "billing",
    incident: str | None = None,
    grants: list[EarlierGrant] | None = None,
    **top: Any,
) -> EarlierGrant | None:
    limits = policy(**top).limits
    return same_problem(limits, category, incident, AT, grants or [])


@pytest.mark.parametrize(
    ("days_ago", "is_same"),
    [(0, True), (29.9, True), (30, True), (30.01, False), (400, False)],
)
def test_the_same_category_within_the_window_is_the_same_problem(
    days_ago: float, is_same: bool
) -> None:
    found = same(grants=[earlier(days_ago)])
    assert (found is not None) is is_same


def test_another_category_is_another_problem() -> None:
    assert same("outage", grants=[earlier(1, "billing")]) is None
    assert same("billing", grants=[earlier(1, "outage")]) is None


def test_the_window_is_the_business_setting() -> None:
    grants = [earlier(40)]
    assert same(grants=grants) is None  # 30 days by default
    wider = mapping()
    wider["limits"]["same_problem_within_days"] = 60
    limits = policy_from_mapping(wider).limits
    assert same_problem(limits, "billing", None, AT, grants) == grants[0]


def test_the_same_incident_is_the_same_problem_whatever_the_category_or_time() -> None:
    grant = earlier(90, "outage", incident=INCIDENT)
    assert same("slow_service", INCIDENT, [grant]) == grant
    assert same("outage", "INC-OTHER", [grant]) is None
    assert same("outage", None, [grant]) is None  # not tied to it, and long ago


def test_with_a_window_of_zero_only_the_same_incident_counts() -> None:
    off = mapping()
    off["limits"]["same_problem_within_days"] = 0
    limits = policy_from_mapping(off).limits
    assert same_problem(limits, "billing", None, AT, [earlier(0)]) is None
    linked = earlier(0, incident=INCIDENT)
    assert same_problem(limits, "billing", INCIDENT, AT, [linked]) == linked


def test_the_latest_grant_for_the_problem_is_named_and_later_ones_do_not_count() -> None:
    older, newer = earlier(20, reference="CR-OLDER1"), earlier(2, reference="CR-NEWER1")
    assert same(grants=[newer, older]) == newer
    assert same(grants=[earlier(-1)]) is None  # granted after this complaint


def test_a_problem_already_compensated_gets_no_second_offer_and_says_why() -> None:
    grant = earlier(5)
    decision = decide(policy(), situation("billing"), Spent(), grant)
    assert not decision.offer and decision.amount_pence == 0
    assert decision.already == grant
    assert decision.rule == "billing-credit"
    assert decision.explain() == (
        "rule billing-credit; the same problem (billing again within 30 days) was already "
        "compensated: CR-ABC123 (£10 account credit on 2026-03-05, for RD-7KQ2MZ); "
        "no second offer"
    )


def test_the_explanation_names_the_incident_when_that_made_it_the_same_problem() -> None:
    grant = earlier(60, "outage", incident=INCIDENT, remedy="priority_repair", pence=0)
    decision = decide(
        policy(),
        situation("outage", incident=INCIDENT, days=2),
        Spent(),
        same("outage", INCIDENT, [grant]),
    )
    assert not decision.offer
    assert f"the same problem (the same incident, {INCIDENT}) was already compensated: " in (
        decision.explain()
    )
    assert "CR-ABC123 (priority repair on 2026-01-09, for RD-7KQ2MZ)" in decision.explain()


def test_without_a_verified_account_or_a_rule_the_earlier_grant_changes_nothing() -> None:
    grant = earlier(1, "slow_service")
    unverified = decide(policy(), situation("billing", verified=False), Spent(), grant)
    assert unverified.already is None
    no_rule = decide(policy(), situation("slow_service"), Spent(), grant)
    assert no_rule.already is None and no_rule.explain().startswith("no rule for slow_service")


@pytest.mark.parametrize("remedy", REMEDIES)
def test_every_remedy_can_be_named_as_already_given(remedy: str) -> None:
    assert already_words(remedy, 1000)
    assert again_words(remedy)


def test_what_was_given_reads_as_the_customer_would_say_it() -> None:
    when = granted_on(AT - timedelta(days=7), AT, "Europe/London")
    said = (
        f"We already {already_words('account_credit', 1000)} for this {when} "
        f"(reference CR-ABC123). I can't {again_words('account_credit')} here."
    )
    assert said == (
        "We already added £10 credit to your account for this on 3 March "
        "(reference CR-ABC123). I can't add it again here."
    )


@pytest.mark.parametrize(
    ("granted", "said"),
    [
        (datetime(2026, 3, 10, 0, 30, tzinfo=timezone.utc), "today"),
        (datetime(2026, 3, 9, 23, 59, tzinfo=timezone.utc), "yesterday"),
        (datetime(2026, 3, 1, 9, tzinfo=timezone.utc), "on 1 March"),
        (datetime(2025, 12, 31, 12, tzinfo=timezone.utc), "on 31 December 2025"),
        # The business's own day: 11:30pm UTC on 31 May is 12:30am on 1 June in London.
        (datetime(2026, 5, 31, 23, 30, tzinfo=timezone.utc), "on 1 June"),
    ],
)
def test_when_it_was_given_is_the_business_s_own_day(granted: datetime, said: str) -> None:
    now = datetime(2026, 6, 20, 12, tzinfo=timezone.utc) if granted.month >= 5 else AT
    assert granted_on(granted, now, "Europe/London") == said


# Invalid policies -----------------------------------------------------------------------

Change = Callable[[dict[str, Any]], None]


def set_path(*path: Any, value: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def drop(*path: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


BILLING = ("rules", 2)  # billing-credit, rules[3] in the file
FREE_MONTH = ("rules", 0)
OUTAGE = ("rules", 1)
PRIORITY = ("rules", 3)

INVALID: list[tuple[str, Change, str]] = [
    (
        "negative amount",
        set_path("limits", "per_offer", value="-5.00"),
        "limits.per_offer: '-5.00' must be zero or more",
    ),
    (
        "negative fixed amount",
        set_path(*BILLING, "amount", "fixed", value=-10),
        "rules[3] (billing-credit).amount.fixed: -10 must be zero or more",
    ),
    (
        "absurd amount",
        set_path(*BILLING, "amount", "fixed", value="10000.01"),
        "rules[3] (billing-credit).amount.fixed: £10000.01 is more than £10000; check the amount",
    ),
    (
        "sub-penny amount",
        set_path(*BILLING, "amount", "fixed", value="12.345"),
        "rules[3] (billing-credit).amount.fixed: '12.345' has more than two decimal places",
    ),
    (
        "float that is not a whole penny",
        set_path("auto_approve_up_to", value=0.1 + 0.2),
        "auto_approve_up_to: 0.30000000000000004 has more than two decimal places",
    ),
    (
        "not an amount",
        set_path("limits", "per_customer", "amount", value="lots"),
        "limits.per_customer.amount: 'lots' is not an amount like 12.50",
    ),
    (
        "not a number",
        set_path("limits", "per_incident", "budget", value="NaN"),
        "limits.per_incident.budget: 'NaN' must be zero or more",
    ),
    (
        "zero fixed amount",
        set_path(*BILLING, "amount", "fixed", value="0.00"),
        "rules[3] (billing-credit).amount.fixed: must be more than zero",
    ),
    (
        "zero per-offer limit",
        set_path("limits", "per_offer", value="0"),
        "limits.per_offer: must be more than zero",
    ),
    (
        "unknown category",
        set_path(*BILLING, "categories", value=["billing", "broadband"]),
        "rules[3] (billing-credit): unknown category 'broadband' (use: account_access, billing,",
    ),
    (
        "a category that is not a word",
        set_path(*BILLING, "categories", value=[{"billing": True}]),
        "rules[3] (billing-credit): unknown category {'billing': True}",
    ),
    (
        "no categories",
        set_path(*BILLING, "categories", value=[]),
        "rules[3] (billing-credit): categories: list at least one complaint category",
    ),
    (
        "unknown remedy",
        set_path(*BILLING, "remedy", value="cash"),
        "rules[3] (billing-credit): unknown remedy 'cash' (use: account_credit, refund, voucher, "
        "free_month, priority_repair)",
    ),
    (
        "unknown severity",
        set_path(*OUTAGE, "min_severity", value="urgent"),
        "rules[2] (outage-credit): unknown min_severity 'urgent' (low, medium, high, critical)",
    ),
    (
        "a severity that is not a word",
        set_path(*OUTAGE, "min_severity", value=["high"]),
        "rules[2] (outage-credit): unknown min_severity ['high']",
    ),
    (
        "unknown incident condition",
        set_path(*OUTAGE, "incident", value="sometimes"),
        "rules[2] (outage-credit): incident must be one of any, linked, not_linked",
    ),
    (
        "unknown top-level setting",
        set_path("auto_approve", value="25.00"),
        "compensation.yml: unknown setting 'auto_approve' (use: auto_approve_up_to, limits, rules)",
    ),
    (
        "unknown rule setting",
        set_path(*BILLING, "amout", value={"fixed": "1.00"}),
        "rules[3]: unknown setting 'amout' (use: amount, categories, incident, "
        "min_severity, name, remedy)",
    ),
    (
        "unknown limits setting",
        set_path("limits", "per_month", value="10.00"),
        "limits: unknown setting 'per_month' (use: per_customer, per_incident, per_offer, "
        "same_problem_within_days)",
    ),
    (
        "a same-problem window below zero",
        set_path("limits", "same_problem_within_days", value=-1),
        "limits.same_problem_within_days: -1 must be a whole number from 0 to 3660",
    ),
    (
        "a same-problem window that is not whole days",
        set_path("limits", "same_problem_within_days", value=7.5),
        "limits.same_problem_within_days: 7.5 must be a whole number from 0 to 3660",
    ),
    (
        "a same-problem window written as words",
        set_path("limits", "same_problem_within_days", value="a month"),
        "limits.same_problem_within_days: 'a month' must be a whole number from 0 to 3660",
    ),
    (
        "a same-problem window that is a yes",
        set_path("limits", "same_problem_within_days", value=True),
        "limits.same_problem_within_days: True must be a whole number from 0 to 3660",
    ),
    (
        "unknown per-customer setting",
        set_path("limits", "per_customer", "days", value=30),
        "limits.per_customer: unknown setting 'days' (use: amount, count, window_days)",
    ),
    (
        "unknown amount setting",
        set_path(*BILLING, "amount", "percent", value=5),
        "rules[3] (billing-credit).amount: unknown setting 'percent'",
    ),
    (
        "count not a whole number",
        set_path("limits", "per_customer", "count", value="three"),
        "limits.per_customer.count: 'three' must be a whole number from 1 to 100",
    ),
    (
        "count of zero",
        set_path("limits", "per_customer", "count", value=0),
        "limits.per_customer.count: 0 must be a whole number from 1 to 100",
    ),
    (
        "window of zero days",
        set_path("limits", "per_customer", "window_days", value=0),
        "limits.per_customer.window_days: 0 must be a whole number from 1 to 3660",
    ),
    (
        "per offer above per customer",
        set_path("limits", "per_offer", value="150.00"),
        "limits: per_offer (£150) is more than per_customer (£120); one offer could never be "
        "given in full",
    ),
    (
        "auto-approval above per offer",
        set_path("auto_approve_up_to", value="60.01"),
        "auto_approve_up_to (£60.01) is more than limits.per_offer (£60); lower it to at most "
        "the per-offer limit",
    ),
    (
        "free month without monthly_fee",
        set_path(*FREE_MONTH, "amount", value={"fixed": "30.00"}),
        "rules[1] (outage-free-month): a free_month is worth the monthly fee; write amount: "
        "monthly_fee",
    ),
    (
        "free month with no amount",
        drop(*FREE_MONTH, "amount"),
        "rules[1] (outage-free-month): a free_month is worth the monthly fee",
    ),
    (
        "money remedy without amount",
        drop(*BILLING, "amount"),
        "rules[3] (billing-credit): account_credit needs an amount (fixed, share or per day)",
    ),
    (
        "money remedy of a monthly fee",
        set_path(*BILLING, "amount", value="monthly_fee"),
        "rules[3] (billing-credit): account_credit needs an amount (fixed, share or per day)",
    ),
    (
        "priority repair with an amount",
        set_path(*PRIORITY, "amount", value={"fixed": "5.00"}),
        "rules[4] (faulty-priority): priority_repair is not money; leave out amount",
    ),
    (
        "two kinds of amount",
        set_path(*BILLING, "amount", value={"fixed": "5.00", "share_of_monthly_fee": "10%"}),
        "rules[3] (billing-credit).amount: give exactly one of fixed, share_of_monthly_fee, "
        "per_day_of_monthly_fee",
    ),
    (
        "max_days without per day",
        set_path(*BILLING, "amount", value={"fixed": "5.00", "max_days": 3}),
        "rules[3] (billing-credit).amount: max_days only goes with per_day_of_monthly_fee",
    ),
    (
        "max_days of zero",
        set_path(*OUTAGE, "amount", "max_days", value=0),
        "rules[2] (outage-credit).amount.max_days: 0 must be a whole number from 1 to 366",
    ),
    (
        "share of zero",
        set_path(*OUTAGE, "amount", "per_day_of_monthly_fee", value="0%"),
        "rules[2] (outage-credit).amount.per_day_of_monthly_fee: '0%' must be more than 0 and "
        "at most 3 (300%)",
    ),
    (
        "share too large",
        set_path(*OUTAGE, "amount", "per_day_of_monthly_fee", value="400%"),
        "must be more than 0 and at most 3 (300%)",
    ),
    (
        "share not a number",
        set_path(*OUTAGE, "amount", "per_day_of_monthly_fee", value="half"),
        "rules[2] (outage-credit).amount.per_day_of_monthly_fee: 'half' is not a share like 0.5 "
        "or 50%",
    ),
    (
        "share NaN",
        set_path(*OUTAGE, "amount", "per_day_of_monthly_fee", value="NaN"),
        "rules[2] (outage-credit).amount.per_day_of_monthly_fee: 'NaN' must be more than 0",
    ),
    (
        "rule without a name",
        drop(*BILLING, "name"),
        "rules[3]: give the rule a name, like outage-credit",
    ),
    (
        "rule with a blank name",
        set_path(*BILLING, "name", value="  "),
        "rules[3]: give the rule a name",
    ),
    (
        "duplicate rule names",
        set_path(*PRIORITY, "name", value="billing-credit"),
        "rules: the name 'billing-credit' is used twice",
    ),
    (
        "duplicate names once trimmed",
        set_path(*PRIORITY, "name", value=" billing-credit "),
        "rules: the name 'billing-credit' is used twice",
    ),
    ("empty rules", set_path("rules", value=[]), "rules: list at least one rule"),
    ("no rules", drop("rules"), "rules: list at least one rule"),
    ("a rule that is not a mapping", set_path("rules", 0, value="free"), "rules[1]: expected"),
    ("missing limits", drop("limits"), "limits: expected a mapping of settings"),
    (
        "missing per-customer limits",
        drop("limits", "per_customer"),
        "limits.per_customer: expected a mapping of settings",
    ),
    (
        "missing per-incident limits",
        drop("limits", "per_incident"),
        "limits.per_incident: expected a mapping of settings",
    ),
    (
        "missing per-offer limit",
        drop("limits", "per_offer"),
        "limits.per_offer: None is not an amount like 12.50",
    ),
    (
        "missing auto-approval",
        drop("auto_approve_up_to"),
        "auto_approve_up_to: None is not an amount like 12.50",
    ),
    (
        "an incident budget that is not an amount",
        set_path("limits", "per_incident", "budgets", value={"INC-X": "-1"}),
        "limits.per_incident.budgets.INC-X: '-1' must be zero or more",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [pytest.param(change, message, id=name) for name, change, message in INVALID],
)
def test_an_invalid_policy_is_refused_with_a_clear_message(change: Change, message: str) -> None:
    data = copy.deepcopy(mapping())
    policy_from_mapping(copy.deepcopy(data))  # valid before the change
    change(data)
    with pytest.raises(PolicyError, match=re.escape(message)):
        policy_from_mapping(data)


@pytest.mark.parametrize("top", [None, [], "rules: []"])
def test_a_policy_file_must_be_a_mapping(top: Any) -> None:
    with pytest.raises(PolicyError, match=re.escape("compensation.yml: expected a mapping")):
        policy_from_mapping(top)


def test_the_forms_the_file_documents_are_accepted() -> None:
    data = mapping()
    data["rules"][2]["categories"] = "billing"  # a single category
    data["limits"]["per_customer"].pop("window_days")  # a year by default
    data["limits"]["per_incident"].pop("budgets")
    data["rules"].append(
        {
            "name": "slow-share",
            "categories": ["slow_service"],
            "remedy": "voucher",
            "amount": {"share_of_monthly_fee": 0.25},
        }
    )
    read = policy_from_mapping(data)
    assert read.limits.window_days == 365
    assert read.limits.same_problem_within_days == 30  # by default
    assert read.limits.budget_for("INC-ANY") == 200_000
    assert read.rules[2].categories == frozenset({"billing"})
    assert offered(decide(read, situation("slow_service"), Spent())) == 800


# The business folder --------------------------------------------------------------------


def test_the_business_policy_loads_and_is_consistent() -> None:
    compensation = load_business(BUSINESS_DIR).compensation
    assert compensation is not None
    assert compensation.rules
    limits = compensation.limits
    assert compensation.auto_approve_up_to_pence <= limits.per_offer_pence
    assert limits.per_offer_pence <= limits.per_customer_pence
    # Every rule gives something a verified customer with a typical fee can be offered.
    for rule in compensation.rules:
        category = sorted(rule.categories)[0]
        incident = "INC-ANY" if rule.incident == "linked" else None
        decision = decide(
            compensation,
            situation(category, Severity.CRITICAL, days=3, incident=incident),
            Spent(),
        )
        assert decision.offer, (rule.name, decision.explain())


@pytest.fixture
def business_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "business"
    shutil.copytree(BUSINESS_DIR, folder)
    return folder


def edit_policy(folder: Path, change: Change) -> None:
    path = folder / "compensation.yml"
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def problems(folder: Path) -> str:
    with pytest.raises(BusinessConfigError) as caught:
        load_business(folder)
    return str(caught.value)


def test_an_invalid_policy_file_is_reported_with_its_name(business_copy: Path) -> None:
    edit_policy(business_copy, lambda data: data.update(auto_approve_up_to="9999.00"))
    message = problems(business_copy)
    assert str(business_copy) in message
    assert "  - compensation.yml: auto_approve_up_to (£9,999) is more than limits.per_offer" in (
        message
    )


def test_a_rule_mistake_is_reported_with_the_file_and_rule(business_copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["rules"][0]["remedy"] = "cash"

    edit_policy(business_copy, change)
    name = yaml.safe_load((business_copy / "compensation.yml").read_text("utf-8"))["rules"][0][
        "name"
    ]
    assert f"  - compensation.yml: rules[1] ({name}): unknown remedy 'cash'" in (
        problems(business_copy)
    )


def test_a_top_level_mistake_names_the_file_once(business_copy: Path) -> None:
    edit_policy(business_copy, lambda data: data.update(auto_approve="1.00"))
    message = problems(business_copy)
    assert "  - compensation.yml: unknown setting 'auto_approve'" in message
    assert "compensation.yml: compensation.yml" not in message


def test_a_policy_file_that_is_not_yaml_is_reported(business_copy: Path) -> None:
    (business_copy / "compensation.yml").write_text("rules: [unclosed\n", "utf-8")
    assert "  - compensation.yml: not valid YAML" in problems(business_copy)


def test_without_a_policy_file_there_are_no_automatic_offers(business_copy: Path) -> None:
    (business_copy / "compensation.yml").unlink()
    assert load_business(business_copy).compensation is None
