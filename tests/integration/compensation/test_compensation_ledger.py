"""The compensation ledger on SQLite and PostgreSQL: one offer per complaint, one grant per
offer, and caps that hold across conversations, channels, customers of one incident, the
rolling window, and (on the PostgreSQL server) many requests at the same moment."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from redress.compensation.ledger import (
    ALREADY_COMPENSATED,
    BY_POLICY,
    DECLINED,
    GRANTED,
    OFFERED,
    PENDING_APPROVAL,
    REJECTED,
    WITHDRAWN,
    AlreadyCompensated,
    NotGrantable,
    days_of_problem,
    decline,
    grant,
    make_offer,
    reject,
)
from redress.compensation.policy import Policy, policy_from_mapping
from redress.complaints import records as complaint_records
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    FulfilmentDelivery,
)
from redress.db.session import unit_of_work
from redress.incidents import records as incidents_records
from redress.incidents.model import incident_from_mapping
from tests.unit.incidents.test_incidents import REGIONS, data

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
INCIDENT = "INC-LS6-FIBRE"  # started 2026-11-20 07:30 UTC: 3.1875 days before NOW
OTHER_INCIDENT = "INC-M14-POWER"
SAM = "BL-100001"  # £32.00 a month
PRIYA = "BL-100002"
T = TypeVar("T")

RULES: list[dict[str, Any]] = [
    {
        "name": "outage-credit",
        "categories": ["outage"],
        "remedy": "account_credit",
        "amount": {"per_day_of_monthly_fee": "100%", "max_days": 30},
    },
    {
        "name": "slow-during-incident",
        "categories": ["slow_service"],
        "incident": "linked",
        "remedy": "account_credit",
        "amount": {"fixed": "30.00"},
    },
    {
        "name": "missed-appointment",
        "categories": ["delay"],
        "remedy": "account_credit",
        "amount": {"fixed": "30.00"},
    },
    {
        "name": "rude-staff",
        "categories": ["staff_conduct"],
        "remedy": "voucher",
        "amount": {"fixed": "50.00"},
    },
    {"name": "faulty-priority", "categories": ["faulty_equipment"], "remedy": "priority_repair"},
]


def policy(
    *,
    auto: str = "60.00",
    amount: str = "120.00",
    count: int = 3,
    window_days: int = 365,
    budget: str = "2000.00",
    budgets: dict[str, str] | None = None,
    same_problem_within_days: int = 0,
) -> Policy:
    """£60 an offer; by default £120 and 3 remedies a customer a year, and no approvals.
    The tests of the caps grant one customer the same kind of remedy again, so by default
    only the same incident is the same problem (one remedy per problem has its own tests)."""
    return policy_from_mapping(
        {
            "auto_approve_up_to": auto,
            "limits": {
                "per_offer": "60.00",
                "per_customer": {"amount": amount, "count": count, "window_days": window_days},
                "per_incident": {"budget": budget, "budgets": budgets or {}},
                "same_problem_within_days": same_problem_within_days,
            },
            "rules": RULES,
        }
    )


# Records ------------------------------------------------------------------------------------

_chats = itertools.count(7_000_001)


def open_incident(database_url: str, incident_id: str = INCIDENT, **changes: Any) -> None:
    with unit_of_work(database_url) as session:
        incident = incident_from_mapping(data(id=incident_id, **changes), NOW, REGIONS)
        incidents_records.create_incident(session, incident, NOW)


def complain(
    database_url: str,
    account: str | None = SAM,
    category: str = "delay",
    *,
    channel: str = "web",
    incident: str | None = None,
    facts: dict[str, Any] | None = None,
    created_at: datetime = NOW,
) -> int:
    """A new conversation (on the web or a new Telegram chat) with one complaint, from the
    customer with this account (or from nobody verified). Returns the complaint's id."""
    with unit_of_work(database_url) as session:
        if channel == "telegram":
            conversation = conversations.conversation_on_channel(
                session, "telegram", str(next(_chats))
            )
        else:
            conversation = conversations.start_conversation(session, channel)
        if account is not None:
            customer = customers.find_customer(session, account)
            assert customer is not None
            customers.attach_customer(session, conversation, customer)
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category=category,
            severity="high",
            severity_reasons=[],
            summary="It went wrong.",
            facts=facts or {},
        )
        complaint.incident_id = incident
        complaint.created_at = created_at
        session.flush()
        return complaint.id


def offer(
    database_url: str, complaint_id: int, rules: Policy, at: datetime = NOW
) -> tuple[CompensationOffer | None, str]:
    with unit_of_work(database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        return make_offer(session, complaint, rules, at)


def offered(database_url: str, rules: Policy, *args: Any, **kwargs: Any) -> CompensationOffer:
    """A new complaint and its offer, which must exist."""
    made, explanation = offer(database_url, complain(database_url, *args, **kwargs), rules)
    assert made is not None, explanation
    return made


def give(
    database_url: str,
    offer_id: int,
    rules: Policy,
    at: datetime = NOW,
    **kwargs: Any,
) -> CompensationGrant | NotGrantable:
    """Grants in a transaction of its own. A refusal is caught inside the transaction, as
    the assistant does, so what the ledger wrote (a withdrawn offer) is kept."""
    with unit_of_work(database_url) as session:
        try:
            return grant(session, offer_id, rules, at, **kwargs)
        except NotGrantable as refused:
            return refused


def given(database_url: str, offer_id: int, rules: Policy, **kwargs: Any) -> CompensationGrant:
    result = give(database_url, offer_id, rules, **kwargs)
    assert isinstance(result, CompensationGrant), result
    return result


def refused(database_url: str, offer_id: int, rules: Policy, **kwargs: Any) -> str:
    result = give(database_url, offer_id, rules, **kwargs)
    assert isinstance(result, NotGrantable), f"granted {result.reference}"
    return result.reason


def offer_row(database_url: str, offer_id: int) -> CompensationOffer:
    with unit_of_work(database_url) as session:
        row = session.get(CompensationOffer, offer_id)
        assert row is not None
        return row


def grant_rows(database_url: str) -> list[CompensationGrant]:
    with unit_of_work(database_url) as session:
        return list(session.scalars(select(CompensationGrant).order_by(CompensationGrant.id)))


def customer_id(database_url: str, account: str) -> int:
    with unit_of_work(database_url) as session:
        customer = customers.find_customer(session, account)
        assert customer is not None
        return customer.id


def granted_to(database_url: str, account: str) -> tuple[int, int]:
    """How much, and how many remedies, the customer was granted in all."""
    with unit_of_work(database_url) as session:
        money, count = session.execute(
            select(func.coalesce(func.sum(CompensationGrant.amount_pence), 0), func.count()).where(
                CompensationGrant.customer_id == customer_id(database_url, account)
            )
        ).one()
        return int(money), int(count)


# One offer per complaint ----------------------------------------------------------------


def test_an_offer_is_made_once_per_complaint(database_url: str) -> None:
    rules = policy()
    complaint_id = complain(database_url)
    first, explanation = offer(database_url, complaint_id, rules)
    assert first is not None
    assert (first.rule, first.remedy, first.amount_pence, first.status) == (
        "missed-appointment",
        "account_credit",
        3000,
        OFFERED,
    )
    assert explanation == first.explanation == "rule missed-appointment; fixed £30"

    again, explanation_again = offer(database_url, complaint_id, rules, NOW + timedelta(hours=1))
    assert again is not None
    assert (again.id, again.reference, explanation_again) == (
        first.id,
        first.reference,
        explanation,
    )
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count()).select_from(CompensationOffer)) == 1

    # The database itself refuses a second offer for the complaint.
    with pytest.raises(IntegrityError), unit_of_work(database_url) as session:
        session.add(
            CompensationOffer(
                reference="OF-SECOND",
                complaint_id=complaint_id,
                conversation_id=first.conversation_id,
                customer_id=first.customer_id,
                rule="missed-appointment",
                remedy="account_credit",
                amount_pence=3000,
                status=OFFERED,
                explanation="a second try",
                created_at=NOW,
            )
        )
        session.flush()


def test_no_offer_without_a_verified_customer(database_url: str) -> None:
    made, explanation = offer(database_url, complain(database_url, account=None), policy())
    assert made is None
    assert explanation == "no verified account: no automatic offer"
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count()).select_from(CompensationOffer)) == 0


# One grant per offer --------------------------------------------------------------------


def test_granting_twice_gives_the_same_grant_once(database_url: str) -> None:
    rules = policy()
    made = offered(database_url, rules)
    first = given(database_url, made.id, rules, fulfil=True)
    second = given(database_url, made.id, rules, at=NOW + timedelta(minutes=1), fulfil=True)
    assert second.reference == first.reference
    assert (first.amount_pence, first.remedy, first.approved_by) == (
        3000,
        "account_credit",
        BY_POLICY,
    )
    assert [g.reference for g in grant_rows(database_url)] == [first.reference]
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count()).select_from(FulfilmentDelivery)) == 1
    row = offer_row(database_url, made.id)
    assert (row.status, row.decided_by, row.decided_at) == (GRANTED, BY_POLICY, NOW)


def test_a_grant_goes_by_the_offer_as_it_is_now_not_as_first_read(database_url: str) -> None:
    """The assistant reads the offer, then grants it; a second request that read it at the
    same time must get the first one's grant back, not a second grant or an error."""
    if database_url.startswith("sqlite"):
        pytest.skip(
            "SQLite transactions take the write lock when they begin (BEGIN IMMEDIATE), so two "
            "cannot read at the same time and then write like this: they go one after the other"
        )
    rules = policy()
    made = offered(database_url, rules)
    with unit_of_work(database_url) as session:
        seen = session.get(CompensationOffer, made.id)
        assert seen is not None and seen.status == OFFERED
        meanwhile = given(database_url, made.id, rules)
        assert grant(session, made.id, rules, NOW).reference == meanwhile.reference
    assert len(grant_rows(database_url)) == 1


def test_declined_offers_cannot_be_granted(database_url: str) -> None:
    rules = policy()
    made = offered(database_url, rules)
    with unit_of_work(database_url) as session:
        row = session.get(CompensationOffer, made.id)
        assert row is not None
        decline(session, row, NOW)
    assert refused(database_url, made.id, rules) == "the offer is declined"
    assert refused(database_url, made.id, rules, approved_by="Jo") == "the offer is declined"
    assert offer_row(database_url, made.id).status == DECLINED
    assert grant_rows(database_url) == []


def test_rejected_offers_cannot_be_granted(database_url: str) -> None:
    rules = policy(auto="25.00")
    made = offered(database_url, rules, category="staff_conduct")
    assert made.status == PENDING_APPROVAL
    with unit_of_work(database_url) as session:
        reject(session, made.id, "Jo", NOW)
    row = offer_row(database_url, made.id)
    assert (row.status, row.decided_by) == (REJECTED, "Jo")
    assert refused(database_url, made.id, rules, approved_by="Jo") == "the offer is rejected"
    with (
        pytest.raises(NotGrantable, match="the offer is rejected"),
        unit_of_work(database_url) as session,
    ):
        reject(session, made.id, "Jo", NOW)
    assert grant_rows(database_url) == []


def test_a_granted_offer_stays_granted(database_url: str) -> None:
    rules = policy()
    made = offered(database_url, rules)
    given(database_url, made.id, rules)
    with unit_of_work(database_url) as session:
        row = session.get(CompensationOffer, made.id)
        assert row is not None
        decline(session, row, NOW)
        with pytest.raises(NotGrantable, match="the offer is granted"):
            reject(session, made.id, "Jo", NOW)
    assert offer_row(database_url, made.id).status == GRANTED


def test_no_such_offer(database_url: str) -> None:
    assert refused(database_url, 4242, policy()) == "there is no such offer"


def test_an_offer_above_the_threshold_waits_for_a_person(database_url: str) -> None:
    rules = policy(auto="25.00")
    made = offered(database_url, rules, category="staff_conduct")
    assert (made.amount_pence, made.status) == (5000, PENDING_APPROVAL)
    assert made.explanation.endswith("above the £25 a person must approve")

    assert refused(database_url, made.id, rules) == "a person must approve it first"
    assert offer_row(database_url, made.id).status == PENDING_APPROVAL

    approved = given(database_url, made.id, rules, approved_by="Jo")
    assert (approved.amount_pence, approved.approved_by) == (5000, "Jo")
    row = offer_row(database_url, made.id)
    assert (row.status, row.decided_by) == (GRANTED, "Jo")


# Caps across conversations and channels -------------------------------------------------


def test_the_count_limit_holds_across_conversations_and_channels(database_url: str) -> None:
    rules = policy(count=3)
    given(database_url, offered(database_url, rules, category="delay").id, rules)
    given(
        database_url,
        offered(database_url, rules, category="staff_conduct", channel="telegram").id,
        rules,
    )
    third = offered(database_url, rules, category="staff_conduct", channel="telegram")
    assert third.amount_pence == 4000
    assert "cut to £40 by the customer limit £120 in 365 days, £80 used" in third.explanation
    given(database_url, third.id, rules)
    assert granted_to(database_url, SAM) == (12000, 3)

    # Even a remedy that is not money is one too many now, on any channel.
    for channel, category in [("web", "faulty_equipment"), ("telegram", "delay")]:
        made, explanation = offer(
            database_url, complain(database_url, category=category, channel=channel), rules
        )
        assert made is None
        assert "customer already had 3 remedies in 365 days (limit 3)" in explanation

    # Another customer is not affected.
    assert offered(database_url, rules, PRIYA, "delay", channel="telegram").amount_pence == 3000


def test_the_money_limit_holds_across_conversations_and_channels(database_url: str) -> None:
    rules = policy(count=10)
    for channel in ("web", "telegram"):
        made = offered(database_url, rules, category="staff_conduct", channel=channel)
        given(database_url, made.id, rules)
    cut = offered(database_url, rules, category="delay", channel="telegram")
    assert cut.amount_pence == 2000
    given(database_url, cut.id, rules)

    made, explanation = offer(database_url, complain(database_url, channel="telegram"), rules)
    assert made is None
    assert explanation.endswith("nothing left within the limits")
    assert granted_to(database_url, SAM) == (12000, 3)


def test_a_priority_repair_counts_as_a_remedy(database_url: str) -> None:
    rules = policy(count=2)
    repair = offered(database_url, rules, category="faulty_equipment")
    assert (repair.remedy, repair.amount_pence) == ("priority_repair", 0)
    given(database_url, repair.id, rules)
    given(database_url, offered(database_url, rules, category="delay").id, rules)
    made, explanation = offer(database_url, complain(database_url, channel="telegram"), rules)
    assert made is None and "already had 2 remedies" in explanation
    assert granted_to(database_url, SAM) == (3000, 2)


@pytest.mark.parametrize(
    ("count", "category", "reason"),
    [
        (10, "staff_conduct", "it would take the customer over their limit"),
        (2, "delay", "the customer already had 2 remedies in 365 days"),
    ],
)
def test_an_old_offer_is_withdrawn_rather_than_go_over_the_caps(
    database_url: str, count: int, category: str, reason: str
) -> None:
    """Offers made before other grants: granting re-checks the caps."""
    rules = policy(count=count)
    offers = [
        offered(database_url, rules, category=category, channel=channel)
        for channel in ("web", "telegram", "web")
    ]
    assert all(o.status == OFFERED for o in offers)
    first, second = (given(database_url, o.id, rules) for o in offers[:2])
    assert refused(database_url, offers[2].id, rules) == reason

    row = offer_row(database_url, offers[2].id)
    assert (row.status, row.decided_by) == (WITHDRAWN, "limits")
    assert row.explanation.endswith(f"; withdrawn at grant: {reason}")
    assert refused(database_url, offers[2].id, rules) == "the offer is withdrawn"
    assert refused(database_url, offers[2].id, rules, approved_by="Jo") == "the offer is withdrawn"
    assert [g.reference for g in grant_rows(database_url)] == [first.reference, second.reference]


@pytest.mark.parametrize(
    ("count", "days_ago", "amount"),
    [
        (10, 31, 3000),  # outside the 30 days: not counted
        (10, 30, 2000),  # exactly 30 days: still counted
        (10, 29, 2000),
        (2, 31, 3000),
        (2, 29, None),  # two remedies inside the window: no more
    ],
)
def test_the_window_rolls(database_url: str, count: int, days_ago: int, amount: int | None) -> None:
    rules = policy(count=count, window_days=30)
    then = NOW - timedelta(days=days_ago)
    for _ in range(2):  # £100 and two remedies, back then
        made, _why = offer(
            database_url, complain(database_url, "BL-100001", "staff_conduct"), rules, then
        )
        assert made is not None and made.amount_pence == 5000
        assert isinstance(give(database_url, made.id, rules, at=then), CompensationGrant)

    made, explanation = offer(database_url, complain(database_url, channel="telegram"), rules)
    if amount is None:
        assert made is None and "already had 2 remedies in 30 days" in explanation
        return
    assert made is not None and made.amount_pence == amount, explanation
    assert given(database_url, made.id, rules).amount_pence == amount


# The incident budget --------------------------------------------------------------------


def test_an_incident_budget_is_shared_by_its_customers(database_url: str) -> None:
    open_incident(database_url)
    open_incident(database_url, OTHER_INCIDENT, areas=["M14"])
    rules = policy(budget="2000.00", budgets={INCIDENT: "70.00"})
    accounts = ["BL-100001", "BL-100003", "BL-100009", "BL-100006"]
    amounts: list[int | None] = []
    for account in accounts:
        made, explanation = offer(
            database_url,
            complain(database_url, account, "slow_service", incident=INCIDENT),
            rules,
        )
        amounts.append(None if made is None else made.amount_pence)
        if made is not None:
            given(database_url, made.id, rules)
        if account == "BL-100009":
            assert f"cut to £10 by the {INCIDENT} budget £70, £60 used" in explanation
    assert amounts == [3000, 3000, 1000, None]
    assert explanation.endswith("nothing left within the limits")
    assert sum(g.amount_pence for g in grant_rows(database_url)) == 7000

    # Another incident has the default budget.
    elsewhere = offered(database_url, rules, PRIYA, "slow_service", incident=OTHER_INCIDENT)
    assert elsewhere.amount_pence == 3000


def test_granting_re_checks_the_incident_budget(database_url: str) -> None:
    open_incident(database_url)
    rules = policy(budget="70.00")
    offers = [
        offered(database_url, rules, account, "slow_service", incident=INCIDENT)
        for account in ("BL-100001", "BL-100003", "BL-100009")
    ]
    assert [o.amount_pence for o in offers] == [3000, 3000, 3000]
    given(database_url, offers[0].id, rules)
    given(database_url, offers[1].id, rules)
    assert refused(database_url, offers[2].id, rules) == f"it would take {INCIDENT} over its budget"
    assert offer_row(database_url, offers[2].id).status == WITHDRAWN
    assert sum(g.amount_pence for g in grant_rows(database_url)) == 6000


# How long the problem lasted ------------------------------------------------------------


@pytest.mark.parametrize(
    ("incident", "facts", "created_days_ago", "days", "pence"),
    [
        (INCIDENT, {}, 0, 3.1875, 427),  # from the incident's start: 4 days of £32/30
        (INCIDENT, {"since": "for 10 days"}, 0, 3.1875, 427),  # the incident wins
        (None, {"since": "for 3 days"}, 0, 3.0, 320),
        (None, {"since": "for 3 days"}, 1, 4.0, 427),  # said a day ago
        (None, {"since": "since yesterday"}, 0.5, 1.5, 213),
        (None, {"since": "not sure"}, 0, None, 107),  # unknown: one day
        (None, {}, 0, None, 107),
    ],
)
def test_days_of_problem(
    database_url: str,
    incident: str | None,
    facts: dict[str, Any],
    created_days_ago: float,
    days: float | None,
    pence: int,
) -> None:
    open_incident(database_url)
    complaint_id = complain(
        database_url,
        category="outage",
        incident=incident,
        facts=facts,
        created_at=NOW - timedelta(days=created_days_ago),
    )
    with unit_of_work(database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        assert days_of_problem(session, complaint, NOW) == days
    made, explanation = offer(database_url, complaint_id, policy())
    assert made is not None and made.amount_pence == pence, explanation


def test_an_incident_that_starts_later_has_lasted_no_time(database_url: str) -> None:
    open_incident(database_url, start="2026-11-24T07:30:00Z")
    complaint_id = complain(database_url, category="outage", incident=INCIDENT)
    with unit_of_work(database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        assert days_of_problem(session, complaint, NOW) == 0.0


# One remedy per problem -----------------------------------------------------------------

ONE_PER_PROBLEM = policy(same_problem_within_days=30)


def offered_nothing(database_url: str, complaint_id: int) -> CompensationOffer:
    """The row that says why the complaint was offered nothing."""
    with unit_of_work(database_url) as session:
        row = session.scalar(
            select(CompensationOffer).where(CompensationOffer.complaint_id == complaint_id)
        )
        assert row is not None
        return row


def test_a_problem_already_compensated_is_offered_nothing_in_a_new_conversation(
    database_url: str,
) -> None:
    rules = ONE_PER_PROBLEM
    first = given(database_url, offered(database_url, rules, category="delay").id, rules)

    complaint_id = complain(database_url, category="delay", channel="telegram")
    made, explanation = offer(database_url, complaint_id, rules, NOW + timedelta(days=3))
    assert made is None
    assert explanation == (
        "rule missed-appointment; the same problem (delay again within 30 days) was already "
        f"compensated: {first.reference} (£30 account credit on 2026-11-23, for "
        f"{complaint_reference(database_url, first)}); no second offer"
    )
    # Recorded, so operators see why; asking again changes nothing.
    row = offered_nothing(database_url, complaint_id)
    assert (row.status, row.remedy, row.amount_pence, row.decided_by) == (
        ALREADY_COMPENSATED,
        "nothing",
        0,
        "one remedy per problem",
    )
    assert row.explanation == explanation
    again, explanation_again = offer(database_url, complaint_id, rules, NOW + timedelta(days=4))
    assert (again, explanation_again) == (None, explanation)

    # No path grants it: not the assistant, not a person.
    assert refused(database_url, row.id, rules) == "the offer is already_compensated"
    assert refused(database_url, row.id, rules, approved_by="Jo") == (
        "the offer is already_compensated"
    )
    assert granted_to(database_url, SAM) == (3000, 1)


def complaint_reference(database_url: str, granted: CompensationGrant) -> str:
    with unit_of_work(database_url) as session:
        made = session.get(CompensationOffer, granted.offer_id)
        assert made is not None
        complaint = session.get(Complaint, made.complaint_id)
        assert complaint is not None
        return complaint.reference


@pytest.mark.parametrize(("days_later", "again"), [(29.9, False), (30, False), (30.01, True)])
def test_the_same_kind_of_problem_is_the_same_problem_within_the_window(
    database_url: str, days_later: float, again: bool
) -> None:
    rules = ONE_PER_PROBLEM
    given(database_url, offered(database_url, rules, category="staff_conduct").id, rules)
    later = NOW + timedelta(days=days_later)
    made, explanation = offer(
        database_url,
        complain(database_url, category="staff_conduct", created_at=later),
        rules,
        later,
    )
    assert (made is not None) is again, explanation


def test_another_kind_of_problem_or_another_customer_is_offered_as_before(
    database_url: str,
) -> None:
    rules = ONE_PER_PROBLEM
    given(database_url, offered(database_url, rules, category="delay").id, rules)
    assert offered(database_url, rules, category="staff_conduct").amount_pence == 5000
    assert offered(database_url, rules, PRIYA, "delay").amount_pence == 3000


def test_the_same_incident_is_the_same_problem_whatever_the_kind_or_the_time(
    database_url: str,
) -> None:
    open_incident(database_url)
    open_incident(database_url, OTHER_INCIDENT, areas=["M14"])
    rules = ONE_PER_PROBLEM
    outage = offered(database_url, rules, category="outage", incident=INCIDENT)
    first = given(database_url, outage.id, rules)

    later = NOW + timedelta(days=90)
    complaint_id = complain(
        database_url, category="slow_service", incident=INCIDENT, created_at=later
    )
    made, explanation = offer(database_url, complaint_id, rules, later)
    assert made is None
    assert f"the same problem (the same incident, {INCIDENT}) was already compensated: " in (
        explanation
    )
    assert first.reference in explanation

    # Another incident is another problem.
    other = complain(database_url, category="slow_service", incident=OTHER_INCIDENT)
    made, explanation = offer(database_url, other, rules)
    assert made is not None, explanation


@pytest.mark.parametrize("outcome", [DECLINED, REJECTED, WITHDRAWN])
def test_an_offer_that_was_not_granted_compensated_nothing(database_url: str, outcome: str) -> None:
    rules = ONE_PER_PROBLEM
    first = offered(database_url, rules, category="delay")
    with unit_of_work(database_url) as session:
        row = session.get(CompensationOffer, first.id)
        assert row is not None
        row.status = outcome
    assert offered(database_url, rules, category="delay", channel="telegram").amount_pence == 3000


def test_of_two_open_offers_for_one_problem_the_first_granted_wins(database_url: str) -> None:
    """Offers made in two conversations before either was taken: both stand (the customer
    may never go back to the first chat), and whichever is granted first is the only one."""
    rules = ONE_PER_PROBLEM
    web = offered(database_url, rules, category="delay")
    telegram = offered(database_url, rules, category="delay", channel="telegram")
    assert (web.status, telegram.status) == (OFFERED, OFFERED)

    first = given(database_url, telegram.id, rules)
    result = give(database_url, web.id, rules)
    assert isinstance(result, AlreadyCompensated)
    assert result.earlier.reference == first.reference
    reason = f"the same problem was already compensated: {result.earlier.describe()}"
    assert result.reason == reason
    row = offer_row(database_url, web.id)
    assert (row.status, row.decided_by) == (WITHDRAWN, "limits")
    assert row.explanation.endswith(f"; withdrawn at grant: {reason}")
    assert [g.reference for g in grant_rows(database_url)] == [first.reference]


def test_a_person_cannot_approve_a_second_remedy_for_one_problem(database_url: str) -> None:
    rules = policy(auto="25.00", same_problem_within_days=30)
    waiting = [
        offered(database_url, rules, category="staff_conduct", channel=channel)
        for channel in ("web", "telegram")
    ]
    assert {o.status for o in waiting} == {PENDING_APPROVAL}
    first = given(database_url, waiting[0].id, rules, approved_by="Jo")
    reason = refused(database_url, waiting[1].id, rules, approved_by="Sam")
    assert reason.startswith(f"the same problem was already compensated: {first.reference} (")
    assert granted_to(database_url, SAM) == (5000, 1)


# Many requests at the same moment (the PostgreSQL server) --------------------------------


def at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Runs ``work(0..count-1)`` in threads released together. An exception in any thread
    is raised here. The timeouts only stop a deadlock from hanging the test run."""
    barrier = threading.Barrier(count, timeout=60)

    def run(number: int) -> T:
        barrier.wait()
        return work(number)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(run, number) for number in range(count)]
        return [future.result(timeout=120) for future in futures]


def read_then_grant(database_url: str, offer_id: int, rules: Policy) -> str | NotGrantable:
    """What the assistant does when a customer says yes: read the offer, then grant it, in
    one transaction; a refusal is kept (the offer withdrawn) and reported."""
    with unit_of_work(database_url) as session:
        seen = session.get(CompensationOffer, offer_id)
        assert seen is not None
        try:
            return grant(session, offer_id, rules, NOW).reference
        except NotGrantable as refusal:
            return refusal


@pytest.mark.postgres
def test_ten_requests_granting_one_offer_give_one_grant(postgres_url: str) -> None:
    rules = policy()
    made = offered(postgres_url, rules)
    results = at_once(10, lambda _n: read_then_grant(postgres_url, made.id, rules))
    rows = grant_rows(postgres_url)
    assert len(rows) == 1
    assert results == [rows[0].reference] * 10
    assert offer_row(postgres_url, made.id).status == GRANTED


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("count", "amount", "expected"),
    [
        (3, "100.00", 3),  # the count limit stops the fourth
        (10, "100.00", 3),  # £120 would be over £100
        (10, "75.00", 2),
        (1, "120.00", 1),
    ],
)
def test_one_customers_offers_granted_at_once_stay_within_the_caps(
    postgres_url: str, count: int, amount: str, expected: int
) -> None:
    rules = policy(count=count, amount=amount)
    offers = [
        offered(postgres_url, rules, SAM, "delay", channel=("web", "telegram")[n % 2])
        for n in range(6)
    ]
    assert [o.amount_pence for o in offers] == [3000] * 6

    results = at_once(6, lambda n: read_then_grant(postgres_url, offers[n].id, rules))

    granted = [r for r in results if isinstance(r, str)]
    refusals = [r for r in results if isinstance(r, NotGrantable)]
    assert len(granted) == expected and len(refusals) == 6 - expected
    money, grants = granted_to(postgres_url, SAM)
    assert grants == expected <= count
    assert money == 3000 * expected <= policy(amount=amount).limits.per_customer_pence
    assert {g.reference for g in grant_rows(postgres_url)} == set(granted)
    statuses = sorted(offer_row(postgres_url, o.id).status for o in offers)
    assert statuses == sorted([GRANTED] * expected + [WITHDRAWN] * (6 - expected))


@pytest.mark.postgres
@pytest.mark.parametrize(("budget", "expected"), [("100.00", 3), ("30.00", 1), ("59.99", 1)])
def test_customers_of_one_incident_granted_at_once_stay_within_its_budget(
    postgres_url: str, budget: str, expected: int
) -> None:
    open_incident(postgres_url)
    rules = policy(budget=budget)
    accounts = [f"BL-1000{n:02d}" for n in range(1, 9)]
    offers = []
    for account in accounts:
        made, explanation = offer(
            postgres_url,
            complain(postgres_url, account, "slow_service", incident=INCIDENT),
            rules,
        )
        assert made is not None, explanation
        offers.append(made)
    assert {o.amount_pence for o in offers} == {min(3000, rules.limits.budget_for(INCIDENT))}

    results = at_once(len(offers), lambda n: read_then_grant(postgres_url, offers[n].id, rules))

    granted = [r for r in results if isinstance(r, str)]
    assert len(granted) == expected
    assert all(
        isinstance(r, NotGrantable) and r.reason == f"it would take {INCIDENT} over its budget"
        for r in results
        if not isinstance(r, str)
    )
    total = sum(g.amount_pence for g in grant_rows(postgres_url))
    assert total <= rules.limits.budget_for(INCIDENT)
    assert len(grant_rows(postgres_url)) == expected


@pytest.mark.postgres
def test_offers_asked_for_at_once_for_one_complaint_are_one_offer(postgres_url: str) -> None:
    rules = policy()
    complaint_id = complain(postgres_url)
    results = at_once(6, lambda _n: offer(postgres_url, complaint_id, rules))
    assert len({made.id for made, _why in results if made is not None}) == 1
    assert all(made is not None and made.amount_pence == 3000 for made, _why in results)
    with unit_of_work(postgres_url) as session:
        assert session.scalar(select(func.count()).select_from(CompensationOffer)) == 1


@pytest.mark.postgres
def test_one_problem_told_in_six_conversations_granted_at_once_is_granted_once(
    postgres_url: str,
) -> None:
    rules = ONE_PER_PROBLEM
    offers = [
        offered(postgres_url, rules, SAM, "delay", channel=("web", "telegram")[n % 2])
        for n in range(6)
    ]
    assert {o.status for o in offers} == {OFFERED}

    results = at_once(6, lambda n: read_then_grant(postgres_url, offers[n].id, rules))

    granted = [r for r in results if isinstance(r, str)]
    assert len(granted) == 1
    assert all(
        isinstance(r, AlreadyCompensated) and r.earlier.reference == granted[0]
        for r in results
        if not isinstance(r, str)
    )
    assert granted_to(postgres_url, SAM) == (3000, 1)
    statuses = sorted(offer_row(postgres_url, o.id).status for o in offers)
    assert statuses == sorted([GRANTED] + [WITHDRAWN] * 5)
