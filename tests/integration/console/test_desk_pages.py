"""The desk in the console, driven as a browser drives it: a web chat customer asks for a
person, the request is on the desk page, an agent opens it, takes over, replies (the customer's
own chat receives it), notes, hands back and resolves. The live socket tells a signed-in page
that something changed, and refuses a stranger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from bot.console.desk import QUEUE_SHOWN
from redress.business import Business
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from tests.fakes.rasa import FakeRasa
from tests.integration.api.chat import WebChat
from tests.integration.conftest import gateway_settings
from tests.integration.console.signing_in import BASE, add_operator, post_form, sign_in


@contextmanager
def _gateway(database_url: str, business: Business) -> Iterator[TestClient]:
    rasa = FakeRasa()
    settings = replace(gateway_settings(database_url, rasa.url), outbox_poll_seconds=60)
    try:
        with TestClient(create_app(settings, business), base_url=BASE) as client:
            yield client
    finally:
        rasa.close()


def _asks_for_a_person(client: TestClient, database_url: str) -> tuple[WebChat, int]:
    chat = WebChat(client)
    assert chat.say("My broadband has been down since Friday").status_code == 200
    assert chat.conversation_id is not None
    with unit_of_work(database_url) as session:
        handoff = handoff_records.request_handoff(session, chat.conversation_id, "customer_asked")
        return chat, handoff.id


def _record_texts(client: TestClient, conversation_id: str, role: str) -> list[str]:
    from tests.integration.conftest import ADMIN_TOKEN

    record = client.get(
        f"/api/conversations/{conversation_id}",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json()
    return [m["text"] for m in record["messages"] if m["role"] == role]


def test_an_agent_works_a_web_chat_from_the_console(database_url: str, business: Business) -> None:
    add_operator(database_url, "priya", "agent", name="Priya Shah")
    with _gateway(database_url, business) as client:
        chat, handoff_id = _asks_for_a_person(client, database_url)
        conversation_id = chat.conversation_id
        assert conversation_id is not None
        sign_in(client, "priya")

        desk = client.get("/console/desk")
        assert desk.status_code == 200
        assert "Customers asking for a person (1)" in desk.text
        assert f"/console/desk/conversations/{conversation_id}" in desk.text
        assert "nobody yet" in desk.text

        path = f"/console/desk/conversations/{conversation_id}"
        page = client.get(path)
        assert "My broadband has been down since Friday" in page.text
        assert "Take over" in page.text
        assert "Send to the customer" not in page.text  # not until it is taken over

        fields = {"handoff_id": str(handoff_id), "conversation_id": conversation_id}
        taken = post_form(client, "/console/desk/take-over", fields, page.text)
        assert taken.status_code == 303
        page = client.get(path)
        assert "You have this conversation" in page.text

        with chat.live() as customer_view:
            sent = post_form(
                client,
                "/console/desk/reply",
                {"conversation_id": conversation_id, "text": "Hello, I'm Priya. Let me look."},
                page.text,
            )
            assert sent.status_code == 303
            # The backlog first (the customer's message, the assistant, "Priya has joined"),
            # then the reply as it is sent.
            seen = [customer_view.receive_json() for _ in range(4)]
        assert seen[-1]["role"] == "agent"
        assert seen[-1]["text"] == "Hello, I'm Priya. Let me look."
        assert "Hello, I'm Priya. Let me look." in _record_texts(client, conversation_id, "agent")

        page = client.get(path)
        noted = post_form(
            client,
            "/console/desk/note",
            {"conversation_id": conversation_id, "text": "Line test booked for 3pm"},
            page.text,
        )
        assert noted.status_code == 303
        page = client.get(path)
        assert "Line test booked for 3pm" in page.text
        assert "(not shown to the customer)" in page.text
        assert not any("Line test" in t for t in _record_texts(client, conversation_id, "agent"))

        resolved = post_form(client, "/console/desk/resolve", fields, page.text)
        assert resolved.status_code == 303
        page = client.get(path)
        assert "No open request for a person" in page.text
        asked = _record_texts(client, conversation_id, "bot")[-1]
        assert "Is it sorted for you now?" in asked


def test_a_second_agent_cannot_reply_or_take_over_without_saying_so(
    sqlite_url: str, business: Business
) -> None:
    add_operator(sqlite_url, "priya", "agent", name="Priya Shah")
    add_operator(sqlite_url, "omar", "agent", name="Omar Reed")
    with _gateway(sqlite_url, business) as client:
        chat, handoff_id = _asks_for_a_person(client, sqlite_url)
        conversation_id = chat.conversation_id
        assert conversation_id is not None
        path = f"/console/desk/conversations/{conversation_id}"
        fields = {"handoff_id": str(handoff_id), "conversation_id": conversation_id}
        sign_in(client, "priya")
        post_form(client, "/console/desk/take-over", fields, client.get(path).text)

        client.cookies.clear()
        sign_in(client, "omar")
        page = client.get(path)
        assert "Priya Shah has this conversation" in page.text
        assert "Send to the customer" not in page.text
        again = post_form(client, "/console/desk/take-over", fields, page.text)
        assert again.status_code == 409
        assert "Priya Shah" in again.text
        replied = post_form(
            client,
            "/console/desk/reply",
            {"conversation_id": conversation_id, "text": "Hi, Omar here"},
            page.text,
        )
        assert replied.status_code == 409
        assert "Hi, Omar here" not in _record_texts(client, conversation_id, "agent")


def test_the_live_socket_tells_a_signed_in_page_and_refuses_strangers(
    sqlite_url: str, business: Business
) -> None:
    add_operator(sqlite_url, "priya", "agent")
    with _gateway(sqlite_url, business) as client:
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/console/live") as no:
            no.receive_json()
        sign_in(client, "priya")
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect(
                "/console/live", headers={"origin": "https://evil.example"}
            ) as elsewhere,
        ):
            elsewhere.receive_json()
        # The test client opens sockets as ws://, where a browser's wss:// would carry the
        # Secure cookie itself.
        cookie = f"redress_console={client.cookies.get('redress_console')}"
        signed = {"origin": BASE, "cookie": cookie}
        with client.websocket_connect("/console/live", headers=signed) as live:
            chat, handoff_id = _asks_for_a_person(client, sqlite_url)
            page = client.get(f"/console/desk/conversations/{chat.conversation_id}")
            post_form(
                client,
                "/console/desk/take-over",
                {"handoff_id": str(handoff_id), "conversation_id": str(chat.conversation_id)},
                page.text,
            )
            event = live.receive_json()
        assert event["conversation_id"] == chat.conversation_id
        assert event["kind"] in {"taken_over", "handoff_requested", "customer_message"}


def test_a_long_queue_shows_the_oldest_and_says_how_many_wait(
    sqlite_url: str, business: Business
) -> None:
    from redress.cases import records as cases
    from redress.clock import utcnow
    from redress.complaints import records as complaint_records
    from redress.conversations import records as conversations

    add_operator(sqlite_url, "priya", "agent")
    with unit_of_work(sqlite_url) as session:
        for n in range(QUEUE_SHOWN + 5):
            conversation = conversations.start_conversation(session, "web")
            complaint = complaint_records.open_complaint(
                session,
                conversation,
                category="billing",
                severity="low",
                severity_reasons=[],
                summary=f"Billing question number {n}",
                facts={},
            )
            cases.open_case(session, complaint, business, utcnow())
    with _gateway(sqlite_url, business) as client:
        sign_in(client, "priya")
        desk = client.get("/console/desk")
        assert f"New cases nobody has claimed ({QUEUE_SHOWN + 5})" in desk.text
        assert f"Showing the oldest {QUEUE_SHOWN} of {QUEUE_SHOWN + 5}" in desk.text
        assert "Billing question number 0<" in desk.text
        assert f"Billing question number {QUEUE_SHOWN + 4}<" not in desk.text
        listed = client.get("/console/cases?status=open&owner=none&sort=oldest")
        assert listed.status_code == 200
        assert "Page 1 of 2" in listed.text
