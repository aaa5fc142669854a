"""The code e-mail through a real SMTP conversation with a local server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from redress.identity.config import IdentitySettings
from redress.identity.mailer import MailError, SmtpMailer, code_message, mailer_for
from tests.stack import _free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _settings(port: int) -> IdentitySettings:
    return IdentitySettings.from_env(
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_TLS": "none",
            "REDRESS_MAIL_FROM": "help@brightline.example",
        }
    )


def test_the_code_reaches_the_mail_server(smtp: tuple[int, _Inbox]) -> None:
    port, inbox = smtp
    mailer = mailer_for(_settings(port).smtp)
    assert isinstance(mailer, SmtpMailer)
    subject, body = code_message("Brightline Broadband", "482913", 10)
    mailer.send("sam@example.com", subject, body)

    ((sender, to, content),) = inbox.messages
    assert sender == "help@brightline.example" and to == ["sam@example.com"]
    message = message_from_bytes(content)
    assert message["Subject"] == "Your Brightline Broadband code: 482913"
    assert "It works for 10 minutes" in message.get_payload()


def test_a_mail_server_that_is_not_there_is_a_mail_error() -> None:
    mailer = mailer_for(_settings(_free_port()).smtp)
    with pytest.raises(MailError):
        mailer.send("sam@example.com", "subject", "body")
