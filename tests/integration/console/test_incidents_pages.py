"""The console's incidents: an admin creates, updates and resolves one (audited, and the
customers of its complaints hear about it through the outbox as with the API); an agent
reads but cannot write; a text that fails the plain-language or blame check is refused with
the check's message and the typed text kept; the check endpoint answers as the operator
types; a possible-incident alert becomes an incident that explains its complaints."""

from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import select

from redress.business import Business
from redress.clock import utcnow
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import (
    AuditEntry,
    Complaint,
    DataRequest,
    Incident,
    IncidentSubscription,
    OperatorAlert,
    OutboxMessage,
)
from redress.db.session import unit_of_work
from redress.incidents import notices as incident_notices
from redress.incidents import possible
from tests.integration.console.signing_in import (
    BASE,
    add_operator,
    console_client,
    csrf_of,
    post_form,
    sign_in,
)

FORM = {
    "id": "INC-CONSOLE-1",
    "title": "Broadband down in Headingley",
    "services": "Broadband, Home phone",
    "categories": "outage, slow_service",
    "areas": "LS6",
    "accounts": "",
    "start": "",
    "status": "investigating",
    "what_is_wrong": "Broadband and home phone are down in parts of Leeds.",
    "why": "A cable was cut by building work on the road.",
    "what_we_are_doing": "Our engineers are on site and mending the cable now.",
    "expected_fix": "We hope to have it back by this evening.",
    "expected_fix_at": "",
    "next_update_by": "+2h",
}
BLAME = "It is not our fault: our supplier cut the cable."


def _customer(database_url: str, incident_id: str, answer: str, summary: str) -> tuple[int, str]:
    """A web chat whose outage complaint the incident explains, answering the offer of
    updates with ``answer``. Returns the complaint's id and the conversation's."""
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="outage",
            severity="high",
            severity_reasons=[],
            summary=summary,
            facts={"postcode": "LS6 2AB"},
        )
        subscription = incident_notices.link_complaint(session, complaint, incident_id, utcnow())
        if answer != incident_notices.OFFERED:
            incident_notices.answer_offer(
                session, subscription, answer == incident_notices.SUBSCRIBED, utcnow()
            )
        return complaint.id, conversation.id


def _audit(database_url: str, action: str) -> list[AuditEntry]:
    with unit_of_work(database_url) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def _outbox(database_url: str) -> list[OutboxMessage]:
    with unit_of_work(database_url) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _create(client, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    page = client.get("/console/incidents/new")
    assert page.status_code == 200
    return post_form(client, "/console/incidents/new", fields, page.text)


def test_an_admin_creates_updates_and_resolves_and_customers_hear_each_step(
    database_url: str, business: Business
) -> None:
    add_operator(database_url, "ada", "admin", name="Ada Admin")
    with console_client(database_url, business) as client:
        sign_in(client, "ada")
        created = _create(client, FORM)
        assert created.status_code == 303, created.text
        assert created.headers["location"] == "/console/incidents/INC-CONSOLE-1"

        listed = client.get("/console/incidents")
        assert "INC-CONSOLE-1" in listed.text and "Broadband down in Headingley" in listed.text
        (entry,) = _audit(database_url, "incident_create")
        assert (entry.actor, entry.subject) == ("Ada Admin (console)", "INC-CONSOLE-1")

        told, told_conversation = _customer(
            database_url, "INC-CONSOLE-1", incident_notices.SUBSCRIBED, "No internet since 9am."
        )
        _customer(database_url, "INC-CONSOLE-1", incident_notices.DECLINED, "Phone is dead.")

        page = client.get("/console/incidents/INC-CONSOLE-1")
        assert f'href="/console/cases/{told}"' in page.text
        assert "No internet since 9am." in page.text and "Phone is dead." in page.text
        updated = post_form(
            client,
            "/console/incidents/INC-CONSOLE-1/update",
            {
                "status": "identified",
                "what_is_wrong": FORM["what_is_wrong"],
                "why": FORM["why"],
                "what_we_are_doing": "We are laying a new cable along the road.",
                "expected_fix": FORM["expected_fix"],
                "expected_fix_at": "",
                "next_update_by": "+3h",
                "note": "Cause found",
            },
            page.text,
        )
        assert updated.status_code == 303, updated.text
        (update_entry,) = _audit(database_url, "incident_update")
        assert "status" in update_entry.detail["changed"]
        assert update_entry.detail["note"] == "Cause found"
        (message,) = _outbox(database_url)
        assert message.conversation_id == told_conversation  # the one who said yes, only
        assert message.kind == incident_notices.UPDATE
        assert "laying a new cable" in message.text

        page = client.get("/console/incidents/INC-CONSOLE-1")
        assert "laying a new cable" in page.text  # what customers were told
        resolved = post_form(
            client,
            "/console/incidents/INC-CONSOLE-1/resolve",
            {"note": "Cable mended"},
            page.text,
        )
        assert resolved.status_code == 303, resolved.text
        assert _audit(database_url, "incident_resolve")[0].detail["note"] == "Cable mended"
        closing = _outbox(database_url)[-1]
        assert (closing.kind, closing.conversation_id) == (
            incident_notices.RESOLVED,
            told_conversation,
        )
        with unit_of_work(database_url) as session:
            complaint = session.get(Complaint, told)
            assert complaint is not None and complaint.status == "resolved"

        done = client.get("/console/incidents/INC-CONSOLE-1")
        assert "resolved" in done.text
        assert 'action="/console/incidents/INC-CONSOLE-1/update"' not in done.text


def test_an_agent_reads_incidents_but_cannot_write(database_url: str, business: Business) -> None:
    add_operator(database_url, "ada", "admin")
    add_operator(database_url, "sam", "agent")
    with console_client(database_url, business) as client:
        sign_in(client, "ada")
        assert _create(client, FORM).status_code == 303
    with console_client(database_url, business) as client:
        sign_in(client, "sam")
        listed = client.get("/console/incidents")
        assert listed.status_code == 200 and "INC-CONSOLE-1" in listed.text
        assert 'href="/console/incidents/new"' not in listed.text
        page = client.get("/console/incidents/INC-CONSOLE-1")
        assert page.status_code == 200 and FORM["why"] in page.text
        assert "/update" not in page.text and "/resolve" not in page.text

        unknown = client.get("/console/incidents/INC-NOPE")
        assert unknown.status_code == 404 and "There is no incident with that id." in unknown.text
        refused = client.get("/console/incidents/new")
        assert refused.status_code == 403 and "needs the admin role" in refused.text
        posted = post_form(client, "/console/incidents/new", {**FORM, "id": "INC-NO"}, page.text)
        assert posted.status_code == 403
        resolve = post_form(
            client, "/console/incidents/INC-CONSOLE-1/resolve", {"note": "no"}, page.text
        )
        assert resolve.status_code == 403
    with unit_of_work(database_url) as session:
        assert session.get(Incident, "INC-NO") is None
        row = session.get(Incident, "INC-CONSOLE-1")
        assert row is not None and row.status == "investigating"


def test_a_failing_check_refuses_with_its_message_and_keeps_what_was_typed(
    database_url: str, business: Business
) -> None:
    add_operator(database_url, "ada", "admin")
    with console_client(database_url, business) as client:
        sign_in(client, "ada")
        refused = _create(client, {**FORM, "why": BLAME})
        assert refused.status_code == 400
        text = html.unescape(refused.text)
        assert "Why it happened: blame-shifting phrase 'not our fault'" in text
        assert "blame-shifting phrase 'our supplier'" in text
        assert BLAME in text  # still in the form
        assert f'value="{FORM["title"]}"' in text
        with unit_of_work(database_url) as session:
            assert session.get(Incident, "INC-CONSOLE-1") is None

        assert _create(client, FORM).status_code == 303
        page = client.get("/console/incidents/INC-CONSOLE-1")
        jargon = "We will escalate the ticket to the remediation team as a P1 priority."
        refused_update = post_form(
            client,
            "/console/incidents/INC-CONSOLE-1/update",
            {"what_we_are_doing": jargon, "note": "typed"},
            page.text,
        )
        assert refused_update.status_code == 400
        text = html.unescape(refused_update.text)
        assert "What we are doing: jargon 'ticket'" in text
        assert jargon in text
        with unit_of_work(database_url) as session:
            row = session.get(Incident, "INC-CONSOLE-1")
            assert row is not None and row.what_we_are_doing == FORM["what_we_are_doing"]
        assert _audit(database_url, "incident_update") == []


def test_the_check_endpoint_answers_for_each_customer_text(
    database_url: str, business: Business
) -> None:
    add_operator(database_url, "sam", "agent")
    with console_client(database_url, business) as client:
        sign_in(client, "sam")
        answer = client.get(
            "/console/incidents/check",
            params={"what_is_wrong": FORM["what_is_wrong"], "why": BLAME},
        )
        assert answer.status_code == 200
        checks = answer.json()["checks"]
        assert set(checks) == {"what_is_wrong", "why"}
        assert checks["what_is_wrong"]["ok"] is True
        assert checks["why"]["ok"] is False
        assert "blame-shifting phrase 'not our fault'" in checks["why"]["problems"]

        page = client.get("/console/incidents")
        long_words = (
            "Unfortunately, considerable infrastructural complications necessitated "
            "extraordinary organisational interventions."
        )
        posted = client.post(
            "/console/incidents/check",
            data={"csrf": csrf_of(page.text), "what_we_are_doing": long_words},
            headers={"origin": BASE},
        )
        (problem,) = posted.json()["checks"]["what_we_are_doing"]["problems"]
        assert problem.startswith("reading ease") and "is below 60" in problem

        without_token = client.post(
            "/console/incidents/check", data={"why": "x"}, headers={"origin": BASE}
        )
        assert without_token.status_code == 403


def _cluster(database_url: str) -> tuple[int, list[str], list[str]]:
    """Three outage complaints from LS6 in an hour, checked as filing checks them, which
    raise a possible-incident alert. Returns the alert id, the complaints' references and
    their conversations."""
    now = utcnow()
    references, conversation_ids = [], []
    rule = possible.Thresholds(complaints=3, within=timedelta(minutes=60))
    for minutes, summary in ((30, "My broadband is down."), (20, "No internet at all."), (5, "")):
        with unit_of_work(database_url) as session:
            conversation = conversations.start_conversation(session, "web")
            complaint = complaint_records.open_complaint(
                session,
                conversation,
                category="outage",
                severity="high",
                severity_reasons=[],
                summary=summary or "The wifi keeps dropping and now nothing works.",
                facts={"postcode": "LS6 1AA"},
            )
            at = now - timedelta(minutes=minutes)
            complaint.created_at = at
            possible.check_possible_incident(session, complaint, "LS6", at, rule)
            references.append(complaint.reference)
            conversation_ids.append(conversation.id)
    with unit_of_work(database_url) as session:
        (alert,) = session.scalars(select(OperatorAlert)).all()
        return alert.id, references, conversation_ids


def test_a_possible_incident_alert_becomes_an_incident_for_its_customers(
    database_url: str, business: Business
) -> None:
    alert_id, references, conversation_ids = _cluster(database_url)
    # The third customer has since asked us to stop messaging them.
    with unit_of_work(database_url) as session:
        session.add(
            DataRequest(
                reference="DR-STOP1",
                kind="stop_messages",
                conversation_id=conversation_ids[2],
                status="done",
                due_at=utcnow(),
            )
        )
    told = conversation_ids[:2]
    add_operator(database_url, "ada", "admin", name="Ada Admin")
    with console_client(database_url, business) as client:
        sign_in(client, "ada")
        alerts_page = client.get("/console/alerts")
        link = f'href="/console/incidents/new?from_alert={alert_id}"'
        assert link in alerts_page.text and "Make this an incident" in alerts_page.text

        form_page = client.get(f"/console/incidents/new?from_alert={alert_id}")
        assert form_page.status_code == 200
        assert 'name="areas" value="LS6"' in form_page.text
        assert 'name="categories" value="outage"' in form_page.text
        assert 'name="services" value="Broadband"' in form_page.text
        assert "No internet at all." in form_page.text  # the customers' own words
        assert f'name="from_alert" value="{alert_id}"' in form_page.text

        fields = {
            **FORM,
            "id": "",
            "services": "Broadband",
            "categories": "outage",
            "from_alert": str(alert_id),
        }
        created = post_form(client, "/console/incidents/new", fields, form_page.text)
        assert created.status_code == 303, created.text
        incident_id = created.headers["location"].rsplit("/", 1)[1]

        landed = client.get(created.headers["location"])
        assert "3 complaints linked; 2 customers sent the explanation" in landed.text
        for reference in references:
            assert reference in landed.text

    with unit_of_work(database_url) as session:
        complaints = session.scalars(
            select(Complaint).where(Complaint.reference.in_(references))
        ).all()
        assert {c.incident_id for c in complaints} == {incident_id}
        subscriptions = session.scalars(
            select(IncidentSubscription).where(IncidentSubscription.incident_id == incident_id)
        ).all()
        assert {s.conversation_id for s in subscriptions} == set(conversation_ids)
        statuses = {s.conversation_id: s.status for s in subscriptions}
        assert [statuses[c] for c in conversation_ids] == [
            incident_notices.SUBSCRIBED,
            incident_notices.SUBSCRIBED,
            incident_notices.OFFERED,
        ]
        alert = session.get(OperatorAlert, alert_id)
        assert alert is not None and alert.acknowledged_at is not None
        assert alert.acknowledged_by == "Ada Admin (console)"
    explained = _outbox(database_url)
    assert sorted(m.conversation_id for m in explained) == sorted(told)
    for message, reference in zip(
        sorted(explained, key=lambda m: conversation_ids.index(m.conversation_id)),
        references[:2],
        strict=True,
    ):
        assert reference in message.text and FORM["why"] in message.text
    (linked,) = _audit(database_url, "incident_link")
    assert linked.detail["complaints"] == references
    assert [e.subject for e in _audit(database_url, "alert_acknowledge")] == [str(alert_id)]

    # From now on they hear each update as any subscriber does.
    with console_client(database_url, business) as client:
        sign_in(client, "ada")
        page = client.get(f"/console/incidents/{incident_id}")
        post_form(
            client,
            f"/console/incidents/{incident_id}/update",
            {"status": "monitoring", "note": "Fix in place"},
            page.text,
        )
    updates = [m for m in _outbox(database_url) if "Good news" in m.text]
    assert sorted(m.conversation_id for m in updates) == sorted(told)
