"""With the records database unreachable the customer is told the message was not taken
(true: nothing could be kept), never a 500 or a reset connection; the widget keeps the words
to send again. The records are a PostgreSQL database of the test's own, blocked for a moment
(the shared server stays up)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from tests.conftest import POSTGRES_ADMIN_URL, _migrated, postgres_database
from tests.fakes.rasa import FakeRasa
from tests.integration.api.chat import WebChat
from tests.integration.conftest import gateway_settings


def _allow(database: str, allowed: bool) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )


def _gateway(business: Business) -> Iterator[tuple[WebChat, str, FakeRasa]]:
    rasa = FakeRasa(prefix="answer to: ")
    with postgres_database() as url:
        _migrated(url, business)
        with TestClient(create_app(gateway_settings(url, rasa.url), business)) as client:
            yield WebChat(client), url.rsplit("/", 1)[1], rasa
    rasa.close()


def test_a_message_the_records_cannot_take_is_said_to_be_not_taken(business: Business) -> None:
    for chat, database, rasa in _gateway(business):
        chat.say("hello")
        _allow(database, False)
        try:
            refused = chat.say("my internet is down", client_message_id="r-1")
        finally:
            _allow(database, True)
        assert refused.status_code == 503
        body = refused.json()
        assert body["error"]["code"] == "records_unavailable"
        assert body["replies"][0]["text"] == business.brand.message_not_taken
        assert "my internet is down" not in rasa.answered(str(chat.conversation_id))

        # Sent again once the records are back: taken and answered, once.
        again = chat.say("my internet is down", client_message_id="r-1")
        assert again.status_code == 200
        assert again.json()["replies"][-1]["text"] == "answer to: my internet is down"
