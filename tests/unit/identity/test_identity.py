"""Identity on its own: signatures, codes (issued, checked, limited) and the settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from redress.business import load_business
from redress.conversations import records as conversations
from redress.db.models import Customer, VerificationCode
from redress.db.session import unit_of_work
from redress.identity import codes, records, signed
from redress.identity.config import IdentitySettings
from redress.migrate import upgrade
from redress.seed import load_demo_customers
from redress.settings import REPO_ROOT, SettingsError

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.utc)
SECRET = "a-business-secret-of-some-length"


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'redress.db'}"
    upgrade(url)
    with unit_of_work(url) as session:
        load_demo_customers(session, load_business(REPO_ROOT / "business").demo_customers)
    return url


def _chat_claiming(url: str, account: str) -> str:
    with unit_of_work(url) as session:
        conversation = conversations.start_conversation(session, "web")
        customer = session.scalar(select(Customer).where(Customer.account_number == account))
        assert customer is not None
        records.claim(session, conversation.id, customer)
        return conversation.id


def test_a_signature_proves_only_the_account_it_was_made_for() -> None:
    good = signed.signature("BL-100004", SECRET)
    assert signed.signed_account("BL-100004", good, SECRET) == "BL-100004"
    assert signed.signed_account("BL-100004", good.upper(), SECRET) == "BL-100004"
    assert signed.signed_account("BL-100005", good, SECRET) is None
    assert signed.signed_account("BL-100004", good, SECRET + "x") is None
    assert signed.signed_account("bl 100004", good, SECRET) is None  # as the business sent it
    assert signed.signed_account(100004, good, SECRET) is None
    assert signed.signed_account("BL-100004", None, SECRET) is None


def test_typed_codes_are_read_from_short_messages_only() -> None:
    assert codes.typed_code("123456") == "123456"
    assert codes.typed_code("code is 123 456.") == "123456"
    assert codes.typed_code("1234567") is None
    assert codes.typed_code("my bill went up by 123456 pounds last year, explain it") is None
    assert codes.wants_new_code("I didn't get the code")
    assert codes.wants_new_code("can you send a new code")
    assert not codes.wants_new_code("my internet is down")


def test_the_right_code_verifies_once_and_a_wrong_one_counts(url: str) -> None:
    conversation_id = _chat_claiming(url, "BL-100004")
    with unit_of_work(url) as session:
        issued = codes.issue(session, conversation_id, NOW)
        assert issued is not None and issued.email
        stored = session.scalars(select(VerificationCode)).one()
        assert issued.code not in (stored.code_hash, stored.salt)  # only a hash is kept
    wrong = "000000" if issued.code != "000000" else "111111"
    with unit_of_work(url) as session:
        chat = conversations.get_conversation(session, conversation_id)
        assert chat is not None
        first = codes.check(session, chat, wrong, NOW)
        assert (first.outcome, first.tries_left) == ("wrong", codes.MAX_TRIES - 1)
        assert codes.check(session, chat, issued.code, NOW).outcome == "verified"
        assert records.verified_customer(session, conversation_id) is not None
        assert chat.customer_id is not None
        assert codes.check(session, chat, issued.code, NOW).outcome == "none"  # used


def test_a_code_expires_and_too_many_wrong_tries_spend_it(url: str) -> None:
    conversation_id = _chat_claiming(url, "BL-100004")
    with unit_of_work(url) as session:
        issued = codes.issue(session, conversation_id, NOW)
        assert issued is not None
        chat = conversations.get_conversation(session, conversation_id)
        assert chat is not None
        late = NOW + codes.LIFETIME + timedelta(seconds=1)
        assert codes.check(session, chat, issued.code, late).outcome == "expired"
    with unit_of_work(url) as session:
        issued = codes.issue(session, conversation_id, NOW)
        assert issued is not None
        chat = conversations.get_conversation(session, conversation_id)
        assert chat is not None
        wrong = "000000" if issued.code != "000000" else "111111"
        outcomes = [codes.check(session, chat, wrong, NOW).outcome for _ in range(codes.MAX_TRIES)]
        assert outcomes[-1] == "spent"
        assert codes.check(session, chat, issued.code, NOW).outcome == "spent"
        assert records.verified_customer(session, conversation_id) is None


def test_codes_are_limited_per_conversation_each_hour(url: str) -> None:
    conversation_id = _chat_claiming(url, "BL-100004")
    with unit_of_work(url) as session:
        sent = [codes.issue(session, conversation_id, NOW) for _ in range(4)]
        assert [s is not None for s in sent] == [True, True, True, False]
        assert codes.issue(session, conversation_id, NOW + timedelta(hours=1, seconds=1))


def test_no_code_without_an_account_named(url: str) -> None:
    with unit_of_work(url) as session:
        conversation = conversations.start_conversation(session, "web")
        assert codes.issue(session, conversation.id, NOW) is None


def test_production_refuses_to_write_codes_to_the_log() -> None:
    with pytest.raises(SettingsError, match="SMTP_HOST"):
        IdentitySettings.from_env({"REDRESS_ENV": "production"})
    settings = IdentitySettings.from_env(
        {"REDRESS_ENV": "production", "SMTP_HOST": "mail", "REDRESS_MAIL_FROM": "help@x.example"}
    )
    assert settings.smtp is not None and settings.smtp.port == 587
    with pytest.raises(SettingsError, match="REDRESS_MAIL_FROM"):
        IdentitySettings.from_env({"SMTP_HOST": "mail"})
    with pytest.raises(SettingsError, match="too short"):
        IdentitySettings.from_env({"REDRESS_IDENTITY_SECRET": "short"})
