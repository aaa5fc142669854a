"""Sending a verification code: by SMTP, or to the log when no SMTP server is set.

The development mailer exists so a person trying Redress on their own machine can verify
an account; a production setting refuses to start with it (``IdentitySettings``).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from redress.identity.config import SmtpSettings

logger = logging.getLogger("redress.identity.mailer")


class MailError(RuntimeError):
    """The code could not be handed to the mail server."""


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None:
        """Hands one message to the mail server; raises MailError when it can't."""


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            if s.tls == "ssl":
                context = ssl.create_default_context()
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_seconds, context=context
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            with client:
                if s.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.username and s.password:
                    client.login(s.username, s.password)
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            # The server's words, not the address or the code.
            logger.warning("could not send a verification e-mail: %s", type(error).__name__)
            raise MailError(type(error).__name__) from error


class DevelopmentMailer:
    """Writes the message to the log instead of sending it (no SMTP_HOST set)."""

    def send(self, to: str, subject: str, body: str) -> None:
        logger.warning(
            "DEVELOPMENT MAILER (SMTP_HOST is not set, nothing was e-mailed) to %s: %s | %s",
            to,
            subject,
            " ".join(body.split()),
        )


def mailer_for(settings: SmtpSettings | None) -> Mailer:
    return SmtpMailer(settings) if settings is not None else DevelopmentMailer()


def code_message(business_name: str, code: str, minutes: int) -> tuple[str, str]:
    """The subject and body of the e-mail that carries a code."""
    subject = f"Your {business_name} code: {code}"
    body = (
        f"Your code is {code}.\n\n"
        f"Type it in the chat with {business_name} to confirm this account is yours. "
        f"It works for {minutes} minutes.\n\n"
        "If you didn't ask for it, you can ignore this e-mail: nothing on your account has "
        "changed, and nobody can see it without the code.\n"
    )
    return subject, body
