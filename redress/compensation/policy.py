"""The compensation policy: which remedy, how much, and within which limits (PRINCIPLES 5, 6).

Plain domain code. ``decide`` takes what the records say about the complaint and the
customer (never what the customer typed) and returns a decision that explains itself: which
rule applied, how the amount was worked out, and which cap cut it down or ruled it out. The
ledger (``ledger.py``) enforces the same caps again inside the transaction that
grants, so two requests at once can never add up to more than the limits.

One remedy per problem: a complaint about a problem that was already compensated (the same
customer, the same category within ``same_problem_within_days``, or the same incident) gets
no second offer; ``same_problem`` finds the grant that already put it right.

Money is integer pence throughout; shares and per-day amounts round half up to a penny.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from redress.complaints.categories import Category, Severity

REMEDIES = ("account_credit", "refund", "voucher", "free_month", "priority_repair")
# Remedies that are not money: nothing is counted against the money caps.
NON_MONEY = {"priority_repair"}
INCIDENT_CONDITIONS = ("any", "linked", "not_linked")
AMOUNT_KINDS = ("fixed", "share_of_monthly_fee", "per_day_of_monthly_fee", "monthly_fee", "none")
DAYS_IN_MONTH = 30
MAX_POUNDS = Decimal("10000")
# A complaint of the same category within this many days of a grant is the same problem.
SAME_PROBLEM_WITHIN_DAYS = 30


class PolicyError(ValueError):
    """The policy file is wrong; the message names where and why."""


def pounds(value: Any, where: str) -> int:
    """'12.50' or 12.5 as 1250 pence, exactly; refuses negative, absurd or sub-penny values."""
    try:
        amount = Decimal(str(value).strip().lstrip("£"))
    except (InvalidOperation, ValueError):
        raise PolicyError(f"{where}: {value!r} is not an amount like 12.50") from None
    if not amount.is_finite() or amount < 0:
        raise PolicyError(f"{where}: {value!r} must be zero or more")
    if amount > MAX_POUNDS:
        raise PolicyError(f"{where}: £{amount} is more than £{MAX_POUNDS}; check the amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise PolicyError(f"{where}: {value!r} has more than two decimal places")
    return int(amount * 100)


def show_money(pence: int) -> str:
    """1250 as '£12.50', 3000 as '£30'."""
    pounds_part, pence_part = divmod(pence, 100)
    return f"£{pounds_part:,}" if pence_part == 0 else f"£{pounds_part:,}.{pence_part:02d}"


def _round_pence(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Amount:
    """How much a rule gives: a fixed sum, a share of the monthly fee, a share of the fee
    for each day of the problem (pro rata, 30 days a month), the whole monthly fee, or
    nothing (a remedy that is not money)."""

    kind: str
    pence: int = 0
    share: Decimal = Decimal(0)
    max_days: int | None = None

    def work_out(self, monthly_fee_pence: int, days: float | None) -> tuple[int, str]:
        """The amount in pence and how it was worked out, in words for agents."""
        if self.kind == "fixed":
            return self.pence, f"fixed {show_money(self.pence)}"
        if self.kind == "monthly_fee":
            return monthly_fee_pence, f"one monthly fee ({show_money(monthly_fee_pence)})"
        if self.kind == "share_of_monthly_fee":
            pence = _round_pence(Decimal(monthly_fee_pence) * self.share)
            return pence, f"{self.share:%} of the {show_money(monthly_fee_pence)} monthly fee"
        if self.kind == "per_day_of_monthly_fee":
            # A day counts once it has begun; seconds spent logging the complaint don't.
            counted = max(1, math.ceil(round(days or 0, 2)))
            if self.max_days is not None:
                counted = min(counted, self.max_days)
            # Multiply first and divide once, so an exact half penny is not lost to a
            # recurring fee/30 (£30.25 for 3 days is 302.5p: 303p, not 302p).
            pence = _round_pence(Decimal(monthly_fee_pence) * self.share * counted / DAYS_IN_MONTH)
            return pence, (
                f"{counted} day{'s' if counted != 1 else ''} at {self.share:%} of "
                f"{show_money(monthly_fee_pence)}/{DAYS_IN_MONTH} a day"
            )
        return 0, "no money"


@dataclass(frozen=True)
class Rule:
    name: str
    categories: frozenset[str]
    min_severity: Severity
    incident: str  # any | linked | not_linked
    remedy: str
    amount: Amount

    def applies(self, category: str, severity: Severity, incident_id: str | None) -> bool:
        if category not in self.categories or severity.rank < self.min_severity.rank:
            return False
        if self.incident == "linked":
            return incident_id is not None
        if self.incident == "not_linked":
            return incident_id is None
        return True


@dataclass(frozen=True)
class Limits:
    per_offer_pence: int
    per_customer_pence: int
    per_customer_count: int
    window_days: int
    incident_budget_pence: int
    incident_budgets: Mapping[str, int] = field(default_factory=dict)
    # 0: only a complaint tied to the same incident is the same problem.
    same_problem_within_days: int = SAME_PROBLEM_WITHIN_DAYS

    def budget_for(self, incident_id: str) -> int:
        return self.incident_budgets.get(incident_id, self.incident_budget_pence)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    limits: Limits
    auto_approve_up_to_pence: int


@dataclass(frozen=True)
class Situation:
    """What the records say: never anything the customer typed."""

    category: str
    severity: Severity
    verified: bool
    monthly_fee_pence: int
    incident_id: str | None = None
    # How long the problem has lasted, from the incident's start or the complaint's facts.
    days: float | None = None


@dataclass(frozen=True)
class Spent:
    """What was already granted: to this customer in the window, and on the incident."""

    customer_pence: int = 0
    customer_count: int = 0
    incident_pence: int = 0


@dataclass(frozen=True)
class EarlierGrant:
    """A remedy this customer was already given, and the complaint it was given for."""

    reference: str
    category: str
    incident_id: str | None
    remedy: str
    amount_pence: int
    granted_at: datetime
    complaint: str | None = None  # the complaint's reference

    def describe(self) -> str:
        """'CR-ABC123 (£10 account credit on 2026-03-03, for RD-7KQ2MZ)', for agents."""
        what = self.remedy.replace("_", " ")
        if self.remedy not in NON_MONEY:
            what = f"{show_money(self.amount_pence)} {what}"
        where = f", for {self.complaint}" if self.complaint else ""
        return f"{self.reference} ({what} on {self.granted_at.date().isoformat()}{where})"


def same_problem(
    limits: Limits,
    category: str,
    incident_id: str | None,
    at: datetime,
    earlier: Iterable[EarlierGrant],
) -> EarlierGrant | None:
    """The latest grant that already put this customer's problem right: one for the same
    incident, or for the same category within ``same_problem_within_days`` before ``at``.
    Only grants count: an offer declined, withdrawn or still open compensated nothing."""
    since = at - timedelta(days=limits.same_problem_within_days)
    matches = [
        grant
        for grant in earlier
        if grant.granted_at <= at
        and (
            (incident_id is not None and grant.incident_id == incident_id)
            or (
                limits.same_problem_within_days > 0
                and grant.category == category
                and grant.granted_at >= since
            )
        )
    ]
    return max(matches, key=lambda grant: grant.granted_at, default=None)


def _why_same(situation: Situation, limits: Limits, grant: EarlierGrant) -> str:
    if situation.incident_id is not None and grant.incident_id == situation.incident_id:
        return f"the same incident, {situation.incident_id}"
    return f"{situation.category} again within {limits.same_problem_within_days} days"


@dataclass(frozen=True)
class Decision:
    offer: bool
    rule: str | None = None
    remedy: str | None = None
    amount_pence: int = 0
    needs_approval: bool = False
    # Why: the rule, how the amount was worked out, each cap that applied.
    reasons: tuple[str, ...] = ()
    # The grant that already put this problem right: why there is no offer.
    already: EarlierGrant | None = None

    def explain(self) -> str:
        return "; ".join(self.reasons)


def decide(
    policy: Policy, situation: Situation, spent: Spent, already: EarlierGrant | None = None
) -> Decision:
    """The remedy the policy gives for this situation, within every limit. ``already``: the
    grant that put the same problem right before (``same_problem``); then nothing more."""
    if not situation.verified:
        return Decision(False, reasons=("no verified account: no automatic offer",))
    rule = next(
        (
            r
            for r in policy.rules
            if r.applies(situation.category, situation.severity, situation.incident_id)
        ),
        None,
    )
    if rule is None:
        return Decision(
            False,
            reasons=(f"no rule for {situation.category} at {situation.severity.value} severity",),
        )
    limits = policy.limits
    reasons = [f"rule {rule.name}"]
    if already is not None:
        reasons.append(
            f"the same problem ({_why_same(situation, limits, already)}) was already "
            f"compensated: {already.describe()}; no second offer"
        )
        return Decision(False, rule=rule.name, reasons=tuple(reasons), already=already)
    if spent.customer_count >= limits.per_customer_count:
        reasons.append(
            f"customer already had {spent.customer_count} remedies in {limits.window_days} days "
            f"(limit {limits.per_customer_count})"
        )
        return Decision(False, rule=rule.name, reasons=tuple(reasons))
    if rule.remedy in NON_MONEY:
        reasons.append(f"{rule.remedy.replace('_', ' ')}: no money")
        return Decision(True, rule.name, rule.remedy, 0, False, tuple(reasons))
    amount, how = rule.amount.work_out(situation.monthly_fee_pence, situation.days)
    reasons.append(how)
    caps = [("per-offer limit", limits.per_offer_pence)]
    caps.append(
        (
            f"customer limit {show_money(limits.per_customer_pence)} in "
            f"{limits.window_days} days, {show_money(spent.customer_pence)} used",
            limits.per_customer_pence - spent.customer_pence,
        )
    )
    if situation.incident_id is not None:
        budget = limits.budget_for(situation.incident_id)
        caps.append(
            (
                f"{situation.incident_id} budget {show_money(budget)}, "
                f"{show_money(spent.incident_pence)} used",
                budget - spent.incident_pence,
            )
        )
    for name, room in caps:
        if amount > room:
            amount = max(room, 0)
            reasons.append(f"cut to {show_money(amount)} by the {name}")
    if amount <= 0:
        reasons.append("nothing left within the limits")
        return Decision(False, rule=rule.name, reasons=tuple(reasons))
    needs_approval = amount > policy.auto_approve_up_to_pence
    if needs_approval:
        reasons.append(
            f"above the {show_money(policy.auto_approve_up_to_pence)} a person must approve"
        )
    return Decision(True, rule.name, rule.remedy, amount, needs_approval, tuple(reasons))


# What customers read about a remedy ---------------------------------------------------------


def offer_words(remedy: str, pence: int) -> str:
    """What we would do, to follow "I'd like to"."""
    money = show_money(pence)
    return {
        "account_credit": f"add {money} credit to your account, which comes off your next bill",
        "refund": f"refund {money} to you",
        "voucher": f"send you a {money} voucher",
        "free_month": f"give you a month free, which is {money} off your next bill",
        "priority_repair": "put your repair at the front of the queue, so an engineer gets "
        "to you first",
    }[remedy]


def already_words(remedy: str, pence: int) -> str:
    """What we did before, to follow "We already" and precede "for this"."""
    money = show_money(pence)
    return {
        "account_credit": f"added {money} credit to your account",
        "refund": f"refunded {money} to you",
        "voucher": f"sent you a {money} voucher",
        "free_month": "gave you a free month",
        "priority_repair": "moved your repair to the front of the queue",
    }[remedy]


def again_words(remedy: str) -> str:
    """What we can't do twice, to follow "so I can't" and precede "here"."""
    return {
        "account_credit": "add it again",
        "refund": "refund it again",
        "voucher": "send another",
        "free_month": "give another",
        "priority_repair": "do that again",
    }[remedy]


def granted_on(moment: datetime, now: datetime, zone: str) -> str:
    """When a remedy was given, in the business's zone: 'today', 'yesterday', 'on 3 March'
    (with the year when it was not this year)."""
    day = moment.astimezone(ZoneInfo(zone)).date()
    today = now.astimezone(ZoneInfo(zone)).date()
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    year = f" {day.year}" if day.year != today.year else ""
    return f"on {day.day} {day.strftime('%B')}{year}"


# Each remedy as a kind, to follow "I can only give": "credit on your account".
REMEDY_KINDS = {
    "account_credit": "credit on your account",
    "refund": "a refund",
    "voucher": "a voucher",
    "free_month": "a free month",
    "priority_repair": "a faster repair",
}


def granted_words(remedy: str, pence: int) -> str:
    """What we did, to follow "I've"."""
    money = show_money(pence)
    return {
        "account_credit": f"added {money} credit to your account. It will come off your next bill",
        "refund": f"refunded {money} to you. It can take up to five working days to arrive",
        "voucher": f"sent you a {money} voucher by email",
        "free_month": f"taken {money} off your next bill, so next month is free",
        "priority_repair": "put your repair at the front of the queue",
    }[remedy]


# Reading the policy file --------------------------------------------------------------------


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: expected a mapping of settings")
    return value


def _known_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if unknown := sorted(set(data) - allowed):
        raise PolicyError(
            f"{where}: unknown setting {unknown[0]!r} (use: {', '.join(sorted(allowed))})"
        )


def _whole(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyError(f"{where}: {value!r} must be a whole number from {low} to {high}")
    return value


def _share(value: Any, where: str) -> Decimal:
    try:
        share = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        raise PolicyError(f"{where}: {value!r} is not a share like 0.5 or 50%") from None
    if str(value).strip().endswith("%"):
        share /= 100
    if not share.is_finite() or not Decimal(0) < share <= Decimal(3):
        raise PolicyError(f"{where}: {value!r} must be more than 0 and at most 3 (300%)")
    return share


def _amount(data: Any, where: str) -> Amount:
    if data in (None, "none"):
        return Amount("none")
    if data == "monthly_fee":
        return Amount("monthly_fee")
    spec = _mapping(data, where)
    _known_keys(
        spec, {"fixed", "share_of_monthly_fee", "per_day_of_monthly_fee", "max_days"}, where
    )
    kinds = [k for k in ("fixed", "share_of_monthly_fee", "per_day_of_monthly_fee") if k in spec]
    if len(kinds) != 1:
        raise PolicyError(
            f"{where}: give exactly one of fixed, share_of_monthly_fee, per_day_of_monthly_fee"
        )
    kind = kinds[0]
    if "max_days" in spec and kind != "per_day_of_monthly_fee":
        raise PolicyError(f"{where}: max_days only goes with per_day_of_monthly_fee")
    if kind == "fixed":
        pence = pounds(spec["fixed"], f"{where}.fixed")
        if pence == 0:
            raise PolicyError(f"{where}.fixed: must be more than zero")
        return Amount("fixed", pence=pence)
    max_days = spec.get("max_days")
    return Amount(
        kind,
        share=_share(spec[kind], f"{where}.{kind}"),
        max_days=None if max_days is None else _whole(max_days, f"{where}.max_days", 1, 366),
    )


def _rule(data: Any, number: int) -> Rule:
    where = f"rules[{number}]"
    spec = _mapping(data, where)
    _known_keys(spec, {"name", "categories", "min_severity", "incident", "remedy", "amount"}, where)
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError(f"{where}: give the rule a name, like outage-credit")
    where = f"rules[{number}] ({name})"
    categories = spec.get("categories")
    if isinstance(categories, str):
        categories = [categories]
    known = {c.value for c in Category}
    if not isinstance(categories, list) or not categories:
        raise PolicyError(f"{where}: categories: list at least one complaint category")
    for category in categories:
        if not isinstance(category, str) or category not in known:
            raise PolicyError(
                f"{where}: unknown category {category!r} (use: {', '.join(sorted(known))})"
            )
    severity = spec.get("min_severity", "low")
    if not isinstance(severity, str) or severity not in {s.value for s in Severity}:
        raise PolicyError(
            f"{where}: unknown min_severity {severity!r} (low, medium, high, critical)"
        )
    incident = spec.get("incident", "any")
    if incident not in INCIDENT_CONDITIONS:
        raise PolicyError(f"{where}: incident must be one of {', '.join(INCIDENT_CONDITIONS)}")
    remedy = spec.get("remedy")
    if remedy not in REMEDIES:
        raise PolicyError(f"{where}: unknown remedy {remedy!r} (use: {', '.join(REMEDIES)})")
    amount = _amount(spec.get("amount"), f"{where}.amount")
    if remedy in NON_MONEY and amount.kind != "none":
        raise PolicyError(f"{where}: {remedy} is not money; leave out amount")
    if remedy == "free_month" and amount.kind not in {"monthly_fee"}:
        raise PolicyError(
            f"{where}: a free_month is worth the monthly fee; write amount: monthly_fee"
        )
    if (
        remedy not in NON_MONEY
        and remedy != "free_month"
        and amount.kind in {"none", "monthly_fee"}
    ):
        raise PolicyError(f"{where}: {remedy} needs an amount (fixed, share or per day)")
    return Rule(
        name=name.strip(),
        categories=frozenset(categories),
        min_severity=Severity(severity),
        incident=incident,
        remedy=remedy,
        amount=amount,
    )


def policy_from_mapping(data: Any) -> Policy:
    """Builds the policy from compensation.yml, refusing anything unclear or contradictory."""
    top = _mapping(data, "compensation.yml")
    _known_keys(top, {"auto_approve_up_to", "limits", "rules"}, "compensation.yml")
    limits_data = _mapping(top.get("limits"), "limits")
    _known_keys(
        limits_data,
        {"per_offer", "per_customer", "per_incident", "same_problem_within_days"},
        "limits",
    )
    customer = _mapping(limits_data.get("per_customer"), "limits.per_customer")
    _known_keys(customer, {"amount", "count", "window_days"}, "limits.per_customer")
    incident = _mapping(limits_data.get("per_incident"), "limits.per_incident")
    _known_keys(incident, {"budget", "budgets"}, "limits.per_incident")
    budgets = _mapping(incident.get("budgets") or {}, "limits.per_incident.budgets")
    limits = Limits(
        per_offer_pence=pounds(limits_data.get("per_offer"), "limits.per_offer"),
        per_customer_pence=pounds(customer.get("amount"), "limits.per_customer.amount"),
        per_customer_count=_whole(customer.get("count"), "limits.per_customer.count", 1, 100),
        window_days=_whole(
            customer.get("window_days", 365), "limits.per_customer.window_days", 1, 3660
        ),
        incident_budget_pence=pounds(incident.get("budget"), "limits.per_incident.budget"),
        incident_budgets={
            str(k).upper(): pounds(v, f"limits.per_incident.budgets.{k}")
            for k, v in budgets.items()
        },
        same_problem_within_days=_whole(
            limits_data.get("same_problem_within_days", SAME_PROBLEM_WITHIN_DAYS),
            "limits.same_problem_within_days",
            0,
            3660,
        ),
    )
    if limits.per_offer_pence == 0:
        raise PolicyError("limits.per_offer: must be more than zero")
    if limits.per_offer_pence > limits.per_customer_pence:
        raise PolicyError(
            f"limits: per_offer ({show_money(limits.per_offer_pence)}) is more than per_customer "
            f"({show_money(limits.per_customer_pence)}); one offer could never be given in full"
        )
    auto = pounds(top.get("auto_approve_up_to"), "auto_approve_up_to")
    if auto > limits.per_offer_pence:
        raise PolicyError(
            f"auto_approve_up_to ({show_money(auto)}) is more than limits.per_offer "
            f"({show_money(limits.per_offer_pence)}); lower it to at most the per-offer limit"
        )
    raw_rules = top.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise PolicyError("rules: list at least one rule")
    rules = tuple(_rule(data, number) for number, data in enumerate(raw_rules, start=1))
    names = [r.name for r in rules]
    if duplicate := next((n for n in names if names.count(n) > 1), None):
        raise PolicyError(f"rules: the name {duplicate!r} is used twice")
    return Policy(rules=rules, limits=limits, auto_approve_up_to_pence=auto)
