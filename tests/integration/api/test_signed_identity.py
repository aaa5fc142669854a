"""A signed login in POST /api/messages: a valid one verifies the conversation before the
message is recorded; a forged one, or one sent where no secret is set, is refused with
nothing recorded at all (not even a new conversation)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.db.models import Conversation, Message
from redress.db.session import unit_of_work
from redress.identity import records as identity_records
from redress.identity.config import IdentitySettings
from redress.identity.signed import signature
from tests.fakes.rasa import FakeRasa
from tests.integration.conftest import gateway_settings

SECRET = "the-business-identity-secret-0123"


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.close()


def _client(
    database_url: str, business: Business, rasa: FakeRasa, secret: str | None
) -> TestClient:
    identity = IdentitySettings(signing_secret=secret, smtp=None)
    settings = gateway_settings(database_url, rasa.url)
    return TestClient(create_app(settings, business, identity=identity))


def _rows(database_url: str) -> tuple[int, int]:
    with unit_of_work(database_url) as session:
        return (
            session.scalar(select(func.count()).select_from(Conversation)) or 0,
            session.scalar(select(func.count()).select_from(Message)) or 0,
        )


def test_a_valid_signed_login_verifies_the_conversation(
    database_url: str, business: Business, rasa: FakeRasa
) -> None:
    with _client(database_url, business, rasa, SECRET) as client:
        identity = {"account_number": "BL-100004", "signature": signature("BL-100004", SECRET)}
        answer = client.post(
            "/api/messages", json={"conversation_id": None, "text": "hi", "identity": identity}
        )
    assert answer.status_code == 200
    with unit_of_work(database_url) as session:
        customer = identity_records.verified_customer(session, answer.json()["conversation_id"])
        assert customer is not None and customer.account_number == "BL-100004"


@pytest.mark.parametrize(
    ("secret", "identity"),
    [
        (SECRET, {"account_number": "BL-100004", "signature": signature("BL-100005", SECRET)}),
        (SECRET, {"account_number": "BL-999999", "signature": signature("BL-999999", SECRET)}),
        (None, {"account_number": "BL-100004", "signature": signature("BL-100004", SECRET)}),
    ],
    ids=["forged", "no-such-account", "no-secret-set"],
)
def test_a_bad_signed_login_is_refused_and_nothing_is_recorded(
    database_url: str,
    business: Business,
    rasa: FakeRasa,
    secret: str | None,
    identity: dict[str, str],
) -> None:
    before = _rows(database_url)
    with _client(database_url, business, rasa, secret) as client:
        answer = client.post(
            "/api/messages", json={"conversation_id": None, "text": "hi", "identity": identity}
        )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "invalid_identity"
    assert _rows(database_url) == before
    assert rasa.received == []
