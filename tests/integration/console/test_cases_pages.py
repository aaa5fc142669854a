"""The console's cases: the list finds a case by its filters and by search (account, a word in
a message), pages and refuses a bad filter without losing the form; the case page shows the
transcript and the timeline; each action works, is refused on a resolved case and lands in
the audit log; the CSV exports hold what the records hold, neutralise formulas and stream."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.console.cases import csv_chunks
from redress import audit
from redress.business import Business
from redress.cases import desk as case_desk
from redress.cases import records as cases
from redress.clock import utcnow
from redress.complaints import records as complaint_records
from redress.console import queries
from redress.console.queries import CaseFilter
from redress.conversations import records as conversations
from redress.db.models import (
    AuditEntry,
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Customer,
    Incident,
    Message,
    Promise,
)
from redress.db.session import unit_of_work
from tests.integration.console.signing_in import add_operator, console_client, post_form, sign_in

FORMULA = '=HYPERLINK("http://example.com","click")'


def _seed(database_url: str) -> dict[str, int]:
    """Three cases: an overdue outage on web chat tied to an incident, a billing case on
    Telegram whose summary and a message look like spreadsheet formulas and which has a
    grant, and a resolved billing case."""
    now = utcnow()
    ids: dict[str, int] = {}
    with unit_of_work(database_url) as session:
        sam, priya, margaret = session.scalars(
            select(Customer)
            .where(Customer.account_number.in_(("BL-100001", "BL-100002", "BL-100003")))
            .order_by(Customer.account_number)
        ).all()
        session.add(
            Incident(
                id="INC-CASES-1",
                title="Fibre outage in Leeds LS6",
                status="investigating",
                started_at=now - timedelta(days=2),
                what_is_wrong="Broadband is down in LS6.",
                why="A cable was cut.",
                what_we_are_doing="We are mending it.",
                expected_fix_text="We expect it fixed soon.",
            )
        )
        for cid, channel, customer in (
            ("case-web", "web", sam),
            ("case-tg", "telegram", priya),
            ("case-old", "web", margaret),
        ):
            session.add(
                Conversation(
                    id=cid,
                    channel=channel,
                    customer_id=customer.id,
                    created_at=now - timedelta(days=3),
                )
            )
        session.flush()

        def say(cid: str, role: str, text: str, ago: int) -> None:
            session.add(
                Message(
                    conversation_id=cid,
                    role=role,
                    channel="web",
                    text=text,
                    created_at=now - timedelta(minutes=ago),
                )
            )
            session.flush()

        say("case-web", "customer", "My router shows a blinking amber light since Tuesday", 300)
        say("case-web", "bot", "I'm sorry your broadband is down. I've logged it.", 299)
        outage = Complaint(
            reference="RD-WEB001",
            conversation_id="case-web",
            customer_id=sam.id,
            category="outage",
            severity="high",
            severity_reasons=["No service at all for more than a day"],
            summary="Broadband down since Tuesday",
            facts={"since": "Tuesday"},
            incident_id="INC-CASES-1",
            team="network",
            created_at=now - timedelta(minutes=298),
        )
        say("case-tg", "customer", FORMULA, 200)
        billing = Complaint(
            reference="RD-TGM002",
            conversation_id="case-tg",
            customer_id=priya.id,
            category="billing",
            severity="medium",
            summary="=SUM(1,2) charged twice",
            team="billing",
            created_at=now - timedelta(minutes=199),
        )
        say("case-old", "customer", "I was charged for a router I sent back", 4000)
        old = Complaint(
            reference="RD-OLD003",
            conversation_id="case-old",
            customer_id=margaret.id,
            category="billing",
            severity="low",
            summary="Charged for a returned router",
            team="billing",
            created_at=now - timedelta(minutes=3999),
        )
        session.add_all([outage, billing, old])
        session.flush()
        session.add(
            Promise(
                complaint_id=outage.id,
                conversation_id="case-web",
                kind="callback",
                what="ring you back",
                due_at=now - timedelta(minutes=60),
                status="open",
                made_by="Dan Price",
                created_at=outage.created_at,
            )
        )
        offer = CompensationOffer(
            reference="OF-TGM002",
            complaint_id=billing.id,
            conversation_id="case-tg",
            customer_id=priya.id,
            rule="double_charge",
            remedy="credit",
            amount_pence=1250,
            status="granted",
            explanation="The second charge, back.",
            created_at=now - timedelta(minutes=190),
        )
        session.add(offer)
        session.flush()
        session.add(
            CompensationGrant(
                reference="CR-TGM002",
                offer_id=offer.id,
                customer_id=priya.id,
                remedy="credit",
                amount_pence=1250,
                approved_by="assistant (within policy)",
                created_at=now - timedelta(minutes=189),
            )
        )
        someone = audit.Actor("Alex Former", audit.CONSOLE, audit.AGENT, id="console:alex")
        case_desk.resolve_case(session, old.id, someone, now - timedelta(minutes=3000))
        ids = {"outage": outage.id, "billing": billing.id, "old": old.id}
    return ids


def _references(html: str) -> set[str]:
    return {ref for ref in ("RD-WEB001", "RD-TGM002", "RD-OLD003") if f">{ref}</a>" in html}


def _audited(database_url: str, action: str, subject: str) -> list[AuditEntry]:
    with unit_of_work(database_url) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action, AuditEntry.subject == subject)
            )
        )


def _body_chunks(client: TestClient, path: str, query: str) -> list[bytes]:
    """The body of a GET as the server sends it: each piece it sends on its own."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    sent: list[dict[str, Any]] = []

    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    assert sent[0]["status"] == 200
    return [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_list_filters_searches_pages_and_keeps_a_bad_filter_in_the_form(
    database_url: str, business: Business
) -> None:
    _seed(database_url)
    add_operator(database_url, "ria", "agent", name="Ria Desai")
    with console_client(database_url, business) as client:
        sign_in(client, "ria")
        everything = client.get("/console/cases")
        assert everything.status_code == 200
        assert _references(everything.text) == {"RD-WEB001", "RD-TGM002", "RD-OLD003"}
        assert "3 cases found" in everything.text

        def found(query: str) -> set[str]:
            answer = client.get(f"/console/cases?{query}")
            assert answer.status_code == 200, answer.text
            return _references(answer.text)

        assert found("severity=high") == {"RD-WEB001"}
        assert found("team=billing") == {"RD-TGM002", "RD-OLD003"}
        assert found("status=resolved") == {"RD-OLD003"}
        assert found("channel=telegram") == {"RD-TGM002"}
        assert found("incident_id=INC-CASES-1") == {"RD-WEB001"}
        assert found("overdue=true") == {"RD-WEB001"}
        assert found("owner=none&status=open") == {"RD-WEB001", "RD-TGM002"}
        # By the account number as a customer might type it, and by a word they wrote.
        assert found("q=bl+100002") == {"RD-TGM002"}
        assert found("q=amber") == {"RD-WEB001"}
        assert found("q=rd-old003") == {"RD-OLD003"}
        assert found("q=priya.patel") == {"RD-TGM002"}
        assert found("q=nothing+like+this") == set()

        first = client.get("/console/cases?per_page=2&sort=oldest")
        assert "Page 1 of 2" in first.text
        assert _references(first.text) == {"RD-OLD003", "RD-WEB001"}
        assert 'href="/console/cases?sort=oldest&amp;per_page=2&amp;page=2"' in first.text
        second = client.get("/console/cases?sort=oldest&per_page=2&page=2")
        assert "Page 2 of 2" in second.text
        assert _references(second.text) == {"RD-TGM002"}
        assert "Previous page" in second.text and "Next page" not in second.text

        bad = client.get("/console/cases?q=amber&date_from=2026-13-40&severity=high")
        assert bad.status_code == 400
        assert "Logged from must be a date like 2026-12-31, not &#39;2026-13-40&#39;." in bad.text
        assert 'value="amber"' in bad.text  # the form keeps what was asked
        assert '<option value="high" selected>' in bad.text
        assert _references(bad.text) == set()


def test_the_case_page_shows_the_transcript_notes_and_timeline(
    database_url: str, business: Business
) -> None:
    ids = _seed(database_url)
    add_operator(database_url, "ria", "agent", name="Ria Desai")
    with console_client(database_url, business) as client:
        sign_in(client, "ria")
        page = client.get(f"/console/cases/{ids['outage']}")
        post_form(
            client,
            f"/console/cases/{ids['outage']}/note",
            {"text": "Checked the cabinet"},
            page.text,
        )
        page = client.get(f"/console/cases/{ids['outage']}")
        assert page.status_code == 200
        html = page.text
        assert "Case RD-WEB001" in html
        assert "Sam Jones (BL-100001)" in html
        assert "Web chat" in html
        assert "My router shows a blinking amber light since Tuesday" in html
        assert "sorry your broadband is down" in html
        assert "Note by Ria Desai (not shown to the customer)" in html
        assert "Checked the cabinet" in html
        assert "No service at all for more than a day" in html  # why this severity
        assert 'href="/console/incidents/INC-CASES-1"' in html
        assert "Complaint logged: outage, severity high" in html
        assert "callback: ring you back" in html

        grant_page = client.get(f"/console/cases/{ids['billing']}").text
        assert "Granted CR-TGM002" in grant_page and "£12.50" in grant_page
        resolved = client.get(f"/console/cases/{ids['old']}").text
        assert "Resolved by Alex Former (agent)" in resolved
        assert client.get("/console/cases/999999").status_code == 404


def test_each_action_works_is_audited_and_is_refused_once_resolved(
    database_url: str, business: Business
) -> None:
    ids = _seed(database_url)
    add_operator(database_url, "ria", "agent", name="Ria Desai")
    case = ids["outage"]
    with console_client(database_url, business) as client:
        sign_in(client, "ria")

        def act(action: str, **fields: str):  # type: ignore[no-untyped-def]
            html = client.get(f"/console/cases/{case}").text
            return post_form(client, f"/console/cases/{case}/{action}", fields, html)

        early = act("reply", text="Hello from the team")
        assert early.status_code == 409
        assert "Claim the case to reply" in early.text

        claimed = act("claim")
        assert claimed.status_code == 303
        assert claimed.headers["location"] == f"/console/cases/{case}"
        after = client.get(claimed.headers["location"]).text
        assert "You own this case now" in after
        assert "Ria Desai" in after
        assert _audited(database_url, "claim", "RD-WEB001")

        replied = act("reply", text="We are on it, Sam.")
        assert replied.status_code == 303
        with unit_of_work(database_url) as session:
            sent = session.scalars(
                select(Message).where(
                    Message.conversation_id == "case-web", Message.role == "agent"
                )
            ).all()
            assert [m.text for m in sent] == ["We are on it, Sam."]
        assert _audited(database_url, "reply", "RD-WEB001")

        assert act("note", text="Engineer booked").status_code == 303
        assert _audited(database_url, "note", "RD-WEB001")

        assert act("status", status="waiting_on_customer").status_code == 303
        entry = _audited(database_url, "set_status", "RD-WEB001")
        assert entry and entry[0].detail["status"] == "waiting_on_customer"
        assert "Open, waiting on customer" in client.get(f"/console/cases/{case}").text
        assert act("status", status="sideways").status_code == 400

        assert act("reassign", team="nobody").status_code == 400
        assert act("reassign", team="billing").status_code == 303
        moved = _audited(database_url, "reassign", "RD-WEB001")
        assert moved and moved[0].detail["to_team"] == "billing"

        resolved = act("resolve")
        assert resolved.status_code == 303
        assert _audited(database_url, "resolve", "RD-WEB001")
        with unit_of_work(database_url) as session:
            assert session.get(Complaint, case).status == "resolved"  # type: ignore[union-attr]

        for action, fields in (
            ("claim", {}),
            ("resolve", {}),
            ("reply", {"text": "One more thing"}),
            ("status", {"status": "waiting_on_us"}),
        ):
            refused = act(action, **fields)
            assert refused.status_code == 409, action
            assert "Case RD-WEB001 is already resolved, so nothing was done" in refused.text
        assert len(_audited(database_url, "resolve", "RD-WEB001")) == 1
        # A note can still be added to a resolved case.
        assert act("note", text="Customer rang to say thanks").status_code == 303


def test_the_exports_match_the_records_neutralise_formulas_stream_and_are_audited(
    database_url: str, business: Business
) -> None:
    _seed(database_url)
    add_operator(database_url, "ria", "agent", name="Ria Desai")
    with console_client(database_url, business) as client:
        sign_in(client, "ria")
        listing = client.get("/console/cases?team=billing&sort=oldest").text
        assert 'href="/console/export/cases.csv?team=billing"' in listing

        with client.stream("GET", "/console/export/cases.csv?team=billing") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            disposition = response.headers["content-disposition"]
            today = utcnow().date().isoformat()
            assert disposition == f'attachment; filename="redress-cases-{today}.csv"'
            body = "".join(response.iter_text())
        cases = _rows(body)
        assert [row["reference"] for row in cases] == ["RD-TGM002", "RD-OLD003"]
        by_ref = {row["reference"]: row for row in cases}
        assert by_ref["RD-TGM002"]["summary"] == "'=SUM(1,2) charged twice"
        assert by_ref["RD-TGM002"]["account_number"] == "BL-100002"
        assert by_ref["RD-TGM002"]["channel"] == "telegram"
        assert by_ref["RD-OLD003"]["status"] == "resolved"
        assert by_ref["RD-OLD003"]["summary"] == "Charged for a returned router"
        assert by_ref["RD-OLD003"]["resolved_via"] == "agent"
        assert by_ref["RD-TGM002"]["overdue"] == "no"
        late = _rows(client.get("/console/export/cases.csv?overdue=true").text)
        assert [(row["reference"], row["overdue"]) for row in late] == [("RD-WEB001", "yes")]
        assert late[0]["next_due_at"].endswith("+00:00")

        messages = _rows(client.get("/console/export/messages.csv?channel=telegram").text)
        assert [(m["conversation_id"], m["role"], m["text"]) for m in messages] == [
            ("case-tg", "customer", "'" + FORMULA)
        ]

        grants = _rows(client.get("/console/export/grants.csv?team=billing").text)
        assert [(g["grant_reference"], g["case_reference"], g["amount_pence"]) for g in grants] == [
            ("CR-TGM002", "RD-TGM002", "1250")
        ]
        assert _rows(client.get("/console/export/grants.csv?team=network").text) == []

        entries = _audited(database_url, "export", "cases.csv")
        assert entries and entries[0].detail == {"filter": {"team": "billing"}}
        assert entries[0].actor.startswith("Ria Desai")

        bad = client.get("/console/export/cases.csv?severity=awful")
        assert bad.status_code == 400
        assert "Severity must be one of critical, high, medium, low" in bad.text
        assert client.get("/console/export/people.csv").status_code == 404


def test_a_long_export_comes_in_batches(database_url: str, business: Business) -> None:
    """More messages than one batch: every one is in the file, in order, once."""
    _seed(database_url)
    with unit_of_work(database_url) as session:
        start = utcnow() - timedelta(days=1)
        session.add_all(
            Message(
                conversation_id="case-web",
                role="customer",
                channel="web",
                text=f"line {n}",
                created_at=start + timedelta(seconds=n),
            )
            for n in range(1203)
        )
    add_operator(database_url, "ria", "agent")
    with console_client(database_url, business) as client:
        sign_in(client, "ria")
        chunks = _body_chunks(client, "/console/export/messages.csv", "channel=web")
        assert len(chunks) > 1  # sent as it is read, not all at once
        rows = _rows(b"".join(chunks).decode())
        texts = [row["text"] for row in rows if row["text"].startswith("line ")]
        assert texts == [f"line {n}" for n in range(1203)]


def test_a_download_in_progress_does_not_hold_up_the_assistant(
    database_url: str, business: Business
) -> None:
    """Half-way through an export, the records still take new messages (on SQLite the
    export's reads take no write lock)."""
    _seed(database_url)
    with unit_of_work(database_url) as session:
        session.add_all(
            Message(conversation_id="case-web", role="customer", channel="web", text=f"n{n}")
            for n in range(600)
        )
    chunks = csv_chunks(
        database_url,
        queries.iter_messages,
        queries.MESSAGE_COLUMNS,
        CaseFilter(channel="web"),
        utcnow(),
    )
    first = next(chunks)
    assert first.startswith(b"message_id,")
    with unit_of_work(database_url) as session:
        session.add(
            Message(conversation_id="case-tg", role="customer", channel="web", text="still here")
        )
    rest = b"".join(chunks)
    rows = _rows((first + rest).decode())
    assert len([row for row in rows if row["conversation_id"] == "case-web"]) == 602


def test_what_agents_may_not_see_is_masked_on_the_page_and_in_the_export(
    sqlite_url: str, business: Business
) -> None:
    """privacy.yml lets agents see e-mail and postcode, not phone numbers: the console shows
    and exports what the Slack desk would."""
    add_operator(sqlite_url, "priya", "agent")
    with unit_of_work(sqlite_url) as session:
        conversation = conversations.start_conversation(session, "web")
        conversations.record_message(
            session, conversation, "customer", "Ring me on 07700 900123 about the bill"
        )
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="billing",
            severity="medium",
            severity_reasons=[],
            summary="Charged twice; call 07700 900123",
            facts={},
        )
        cases.open_case(session, complaint, business, utcnow())
        complaint_id = complaint.id
    with console_client(sqlite_url, business) as client:
        sign_in(client, "priya")
        page = client.get(f"/console/cases/{complaint_id}")
        assert page.status_code == 200
        assert "Ring me on" in page.text
        assert "07700 900123" not in page.text
        listing = client.get("/console/cases")
        assert "Charged twice" in listing.text
        assert "07700 900123" not in listing.text
        exported = client.get("/console/export/messages.csv")
        assert "Ring me on" in exported.text
        assert "07700 900123" not in exported.text
