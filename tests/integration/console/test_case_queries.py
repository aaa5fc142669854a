"""The console's case list, search and exports on SQLite and PostgreSQL, on a small set of
cases made by hand so every expected answer can be read off the fixture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from redress.business import Business
from redress.console.queries import (
    CASE_COLUMNS,
    GRANT_COLUMNS,
    MESSAGE_COLUMNS,
    BadFilter,
    CaseFilter,
    count_cases,
    distinct_values,
    iter_cases,
    iter_grants,
    iter_messages,
    list_cases,
)
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Customer,
    Incident,
    Message,
    Promise,
)
from redress.db.session import session_factory, unit_of_work
from tests.conftest import _migrated, postgres_database

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)


def at(day: int, hour: int = 10, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=timezone.utc)


def complaint(
    reference: str, conversation: str, customer: int | None, **values: object
) -> Complaint:
    defaults: dict[str, object] = {
        "category": "other",
        "severity": "medium",
        "summary": "A complaint",
        "status": "open",
        "team": "customer_care",
    }
    return Complaint(
        reference=reference,
        conversation_id=conversation,
        customer_id=customer,
        **{**defaults, **values},
    )


def promise(complaint_id: int, conversation: str, due: datetime, status: str) -> Promise:
    return Promise(
        complaint_id=complaint_id,
        conversation_id=conversation,
        kind="reply_by",
        what="reply to you",
        due_at=due,
        status=status,
        made_by="assistant",
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, business: Business
) -> Iterator[str]:
    """One database of each kind for the whole module: these tests only read."""
    if request.param == "sqlite":
        yield _migrated(f"sqlite:///{tmp_path_factory.mktemp('cases') / 'redress.db'}", business)
        return
    with postgres_database("redress_console_cases") as url:
        yield _migrated(url, business)


@pytest.fixture(scope="module")
def cases(database_url: str) -> dict[str, int]:
    """Four cases and one complaint that is not a case yet; returns their ids by name."""
    with unit_of_work(database_url) as session:
        nadia = Customer(
            account_number="BL-700001",
            name="Nadia Okonkwo",
            email="nadia.o@example.com",
            postcode="LS6 2AB",
            plan="Fibre 150",
            monthly_fee_pence=3200,
        )
        peter = Customer(
            account_number="BL-700002",
            name="Peter Lindqvist",
            email="peter.l@example.org",
            postcode="M14 5RT",
            plan="Fibre 500",
            monthly_fee_pence=4500,
        )
        session.add_all([nadia, peter])
        session.add(
            Incident(
                id="INC-TEST-1",
                title="Outage in Leeds",
                status="identified",
                started_at=at(1, 8),
                what_is_wrong="Broadband is down.",
                why="A cable was cut.",
                what_we_are_doing="Mending it.",
                expected_fix_text="Tonight.",
            )
        )
        session.flush()
        session.add_all(
            [
                Conversation(id="c-web-nadia", channel="web", customer_id=nadia.id),
                Conversation(
                    id="c-tg-peter", channel="telegram", external_id="42", customer_id=peter.id
                ),
                Conversation(id="c-web-anon", channel="web"),
                Conversation(id="c-web-later", channel="web", customer_id=nadia.id),
            ]
        )
        session.flush()
        texts = {
            "c-web-nadia": [
                ("customer", "My router has been FLASHING red since Monday."),
                ("bot", "I'm sorry your broadband is down."),
                ("agent", "Hi Nadia, an engineer is booked."),
            ],
            "c-tg-peter": [
                ("customer", "You charged me twice, that is 100% wrong."),
                ("bot", "I'm sorry about the double charge."),
            ],
            "c-web-anon": [("customer", "The engineer never came on Tuesday.")],
            "c-web-later": [("customer", "Is anyone there?")],
        }
        for conversation, lines in texts.items():
            channel = "telegram" if conversation == "c-tg-peter" else "web"
            for role, text in lines:
                session.add(
                    Message(conversation_id=conversation, role=role, channel=channel, text=text)
                )
        outage = complaint(
            "RD-AAAAA2",
            "c-web-nadia",
            nadia.id,
            category="outage",
            severity="high",
            team="network",
            desk_status="waiting_on_us",
            owner_id="U0HANNAH",
            owner_name="Hannah Webb",
            incident_id="INC-TEST-1",
            created_at=at(1, 10),
        )
        router = complaint(
            "RD-EEEEE6",
            "c-web-nadia",
            nadia.id,
            category="faulty_equipment",
            team="customer_care",
            desk_status="waiting_on_us",
            owner_id="U0MARCUS",
            owner_name="Marcus Reid",
            created_at=at(1, 11),
        )
        bill = complaint(
            "RD-BBBBB3",
            "c-tg-peter",
            peter.id,
            category="billing",
            severity="low",
            team="billing",
            status="resolved",
            owner_id="U0HANNAH",
            owner_name="Hannah Webb",
            created_at=at(20, 10, month=11),
            resolved_at=at(21, 10, month=11),
        )
        visit = complaint(
            "RD-CCCCC4",
            "c-web-anon",
            None,
            category="delay",
            severity="critical",
            desk_status="waiting_on_customer",
            created_at=at(4, 9),
        )
        not_a_case = complaint("RD-DDDDD5", "c-web-later", nadia.id, team=None, created_at=at(3))
        session.add_all([outage, router, bill, visit, not_a_case])
        session.flush()
        session.add_all(
            [
                promise(outage.id, "c-web-nadia", at(2, 10), "open"),
                promise(router.id, "c-web-nadia", at(1, 12), "missed"),
                promise(router.id, "c-web-nadia", at(1, 11), "cancelled"),
                promise(bill.id, "c-tg-peter", at(20, 18, month=11), "kept"),
                promise(visit.id, "c-web-anon", at(6, 9), "open"),
            ]
        )
        offer = CompensationOffer(
            reference="OF-TEST01",
            complaint_id=bill.id,
            conversation_id="c-tg-peter",
            customer_id=peter.id,
            rule="billing_error",
            remedy="refund",
            amount_pence=1500,
            status="granted",
            explanation="the double charge back",
        )
        session.add(offer)
        session.flush()
        session.add(
            CompensationGrant(
                reference="CR-TEST01",
                offer_id=offer.id,
                customer_id=peter.id,
                remedy="refund",
                amount_pence=1500,
                approved_by="assistant (within policy)",
            )
        )
        return {
            "outage": outage.id,
            "router": router.id,
            "bill": bill.id,
            "visit": visit.id,
            "not_a_case": not_a_case.id,
        }


@pytest.fixture
def session(database_url: str, cases: dict[str, int]) -> Iterator[Session]:
    with session_factory(database_url)() as opened:
        yield opened


def found(session: Session, cases: dict[str, int], **query: str) -> list[str]:
    """The names of the cases the console lists for a query string, in the order shown."""
    names = {value: key for key, value in cases.items()}
    page = list_cases(session, CaseFilter.from_query(query), NOW)
    return [names[row.complaint_id] for row in page.rows]


def test_the_list_shows_every_case_newest_first_and_not_complaints_without_a_team(
    session: Session, cases: dict[str, int]
) -> None:
    assert found(session, cases) == ["visit", "router", "outage", "bill"]
    assert count_cases(session, CaseFilter(), NOW) == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "open"}, {"visit", "router", "outage"}),
        ({"status": "resolved"}, {"bill"}),
        ({"status": "waiting_on_customer"}, {"visit"}),
        ({"status": "waiting_on_us"}, {"router", "outage"}),
        ({"team": "network"}, {"outage"}),
        ({"category": "billing"}, {"bill"}),
        ({"severity": "critical"}, {"visit"}),
        ({"channel": "telegram"}, {"bill"}),
        ({"incident_id": "INC-TEST-1"}, {"outage"}),
        ({"owner": "none"}, {"visit"}),
        ({"owner": "hannah webb"}, {"outage", "bill"}),
        ({"owner": "U0MARCUS"}, {"router"}),
        ({"overdue": "true"}, {"outage", "router"}),
        ({"overdue": "false"}, {"visit", "bill"}),
        ({"date_from": "2026-12-01", "date_to": "2026-12-01"}, {"outage", "router"}),
        ({"date_from": "2026-12-02"}, {"visit"}),
        ({"date_to": "2026-11-30"}, {"bill"}),
        ({"team": "customer_care", "status": "open", "overdue": "true"}, {"router"}),
    ],
)
def test_each_filter_narrows_the_list(
    session: Session, cases: dict[str, int], query: dict[str, str], expected: set[str]
) -> None:
    assert set(found(session, cases, **query)) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("bl 700001", {"outage", "router"}),  # the account, typed loosely
        ("BL-700002", {"bill"}),
        ("rd-bbbbb3", {"bill"}),  # the reference, in lower case
        ("lindq", {"bill"}),  # part of a name
        ("NADIA.O@", {"outage", "router"}),  # part of an e-mail
        ("flashing red", {"outage", "router"}),  # words of a message, any case
        ("engineer", {"outage", "router", "visit"}),  # an agent's message and a customer's
        ("100%", {"bill"}),  # % is a character, not a wildcard
        ("50%", set()),
        ("_", set()),
        ("nothing like this", set()),
    ],
)
def test_search_finds_a_case_by_reference_account_name_email_or_message(
    session: Session, cases: dict[str, int], q: str, expected: set[str]
) -> None:
    assert set(found(session, cases, q=q)) == expected


def test_search_combines_with_filters(session: Session, cases: dict[str, int]) -> None:
    assert found(session, cases, q="engineer", status="waiting_on_customer") == ["visit"]


def test_a_row_says_what_the_case_is_and_its_next_promise(
    session: Session, cases: dict[str, int]
) -> None:
    rows = {row.reference: row for row in list_cases(session, CaseFilter(), NOW).rows}
    outage = rows["RD-AAAAA2"]
    assert outage.channel == "web"
    assert outage.customer_name == "Nadia Okonkwo"
    assert outage.account_number == "BL-700001"
    assert outage.team == "network"
    assert outage.owner_name == "Hannah Webb"
    assert outage.incident_id == "INC-TEST-1"
    assert outage.next_due_at == at(2, 10)
    assert outage.overdue is True
    # A missed promise is still owed: it is the next one, and overdue; the cancelled is not.
    assert rows["RD-EEEEE6"].next_due_at == at(1, 12)
    assert rows["RD-CCCCC4"].next_due_at == at(6, 9)
    assert rows["RD-CCCCC4"].overdue is False
    assert rows["RD-CCCCC4"].customer_name is None
    assert rows["RD-BBBBB3"].next_due_at is None
    assert rows["RD-BBBBB3"].channel == "telegram"


def test_pages(session: Session, cases: dict[str, int]) -> None:
    first = list_cases(session, CaseFilter(per_page=3), NOW)
    second = list_cases(session, CaseFilter(per_page=3, page=2), NOW)
    beyond = list_cases(session, CaseFilter(per_page=3, page=3), NOW)
    assert (first.total, first.pages, first.page) == (4, 2, 1)
    assert [row.reference for row in first.rows] == ["RD-CCCCC4", "RD-EEEEE6", "RD-AAAAA2"]
    assert [row.reference for row in second.rows] == ["RD-BBBBB3"]
    assert beyond.rows == []
    assert beyond.total == 4


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["visit", "router", "outage", "bill"]),
        ("oldest", ["bill", "outage", "router", "visit"]),
        ("severity", ["visit", "outage", "router", "bill"]),
        # The promise due soonest (or most overdue) first; cases owing nothing last.
        ("due", ["router", "outage", "visit", "bill"]),
    ],
)
def test_sorts(session: Session, cases: dict[str, int], sort: str, expected: list[str]) -> None:
    assert found(session, cases, sort=sort) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sort": "cheapest"}, "sort must be one of newest, oldest, severity, due"),
        ({"status": "closed"}, "status must be one of"),
        ({"severity": "urgent"}, "severity must be one of"),
        ({"channel": "email"}, "channel must be one of"),
        ({"date_from": "01/12/2026"}, "date_from must be a date like 2026-12-31"),
        ({"date_to": "2026-02-30"}, "date_to must be a date"),
        ({"date_from": "2026-12-05", "date_to": "2026-12-01"}, "date_from (2026-12-05) is after"),
        ({"page": "two"}, "page must be a whole number, not 'two'"),
        ({"page": "-1"}, "page must be a whole number"),
        ({"page": "0"}, "page must be from 1"),
        ({"per_page": "101"}, "per_page must be from 1 to 100"),
        ({"overdue": "maybe"}, "overdue must be true or false"),
        ({"q": "x" * 201}, "longer than 200 characters"),
    ],
)
def test_a_bad_filter_says_which_value_and_why(query: dict[str, str], message: str) -> None:
    with pytest.raises(BadFilter, match=message.replace("(", r"\(").replace(")", r"\)")):
        CaseFilter.from_query(query)


def test_a_filter_survives_a_link() -> None:
    original = CaseFilter(
        status="open",
        team="network",
        overdue=False,
        date_from=date(2026, 12, 1),
        q="flashing",
        sort="due",
        page=3,
    )
    query = original.to_query()
    assert query == {
        "status": "open",
        "team": "network",
        "overdue": "false",
        "date_from": "2026-12-01",
        "q": "flashing",
        "sort": "due",
        "page": "3",
    }
    assert CaseFilter.from_query(query) == original
    assert CaseFilter().to_query() == {}
    # Empty values and other fields (a form's CSRF token) are ignored.
    assert CaseFilter.from_query({"team": " ", "csrf": "abc", "page": ""}) == CaseFilter()


def test_exports_give_every_matching_record_in_batches(
    session: Session, cases: dict[str, int]
) -> None:
    exported = list(iter_cases(session, CaseFilter(per_page=1), NOW, batch_size=1))
    assert [row["reference"] for row in exported] == [
        "RD-AAAAA2",
        "RD-EEEEE6",
        "RD-BBBBB3",
        "RD-CCCCC4",
    ]
    assert all(tuple(row) == CASE_COLUMNS for row in exported)
    assert exported[0]["overdue"] is True
    assert exported[2]["resolved_at"] == at(21, 10, month=11)

    # Two matching cases in one conversation: its messages once each, in order.
    messages = list(iter_messages(session, CaseFilter(status="waiting_on_us"), NOW, batch_size=2))
    assert [m["text"] for m in messages] == [
        "My router has been FLASHING red since Monday.",
        "I'm sorry your broadband is down.",
        "Hi Nadia, an engineer is booked.",
    ]
    assert all(tuple(m) == MESSAGE_COLUMNS for m in messages)
    assert {m["conversation_id"] for m in messages} == {"c-web-nadia"}
    # All cases: conversation by conversation, one at a time, never the one with no case.
    every = list(iter_messages(session, CaseFilter(), NOW, batch_size=1))
    assert [(m["conversation_id"], m["role"]) for m in every] == [
        ("c-tg-peter", "customer"),
        ("c-tg-peter", "bot"),
        ("c-web-anon", "customer"),
        ("c-web-nadia", "customer"),
        ("c-web-nadia", "bot"),
        ("c-web-nadia", "agent"),
    ]

    grants = list(iter_grants(session, CaseFilter(), NOW, batch_size=1))
    assert grants == [
        {
            "grant_reference": "CR-TEST01",
            "created_at": grants[0]["created_at"],
            "case_reference": "RD-BBBBB3",
            "offer_reference": "OF-TEST01",
            "account_number": "BL-700002",
            "incident_id": None,
            "remedy": "refund",
            "amount_pence": 1500,
            "approved_by": "assistant (within policy)",
        }
    ]
    assert tuple(grants[0]) == GRANT_COLUMNS
    assert list(iter_grants(session, CaseFilter(team="network"), NOW)) == []


def test_the_filter_menus_offer_what_is_in_the_records(
    session: Session, cases: dict[str, int]
) -> None:
    choices = distinct_values(session)
    assert choices.teams == ["billing", "customer_care", "network"]
    assert choices.categories == ["billing", "delay", "faulty_equipment", "outage"]
    assert choices.severities == ["critical", "high", "medium", "low"]
    assert choices.channels == ["telegram", "web"]
    assert ("INC-TEST-1", "Outage in Leeds") in choices.incidents
    assert choices.owners == [("U0HANNAH", "Hannah Webb"), ("U0MARCUS", "Marcus Reid")]


def test_overdue_is_judged_at_the_time_given(session: Session, cases: dict[str, int]) -> None:
    later = NOW + timedelta(days=2)
    page = list_cases(session, CaseFilter(overdue=True), later)
    assert {row.reference for row in page.rows} == {"RD-AAAAA2", "RD-EEEEE6", "RD-CCCCC4"}
