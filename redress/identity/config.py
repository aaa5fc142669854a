"""The identity settings, read from the environment (documented in .env.example)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from redress.settings import SettingsError, _optional_secret, _whole

ENVIRONMENTS = ("development", "production")
TLS_MODES = ("starttls", "ssl", "none")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: str  # starttls | ssl | none
    username: str | None
    password: str | None
    sender: str
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class IdentitySettings:
    # The business's secret for signed identities; None: the widget cannot pass one.
    signing_secret: str | None
    # None: codes are written to the log by the development mailer (refused in production).
    smtp: SmtpSettings | None
    environment: str = "development"
    # Account lookups allowed an hour (docs/identity.md, "Lookups are limited").
    lookups_per_conversation: int = 6
    lookups_per_address: int = 12

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IdentitySettings:
        env = os.environ if env is None else env
        environment = env.get("REDRESS_ENV", "development").strip().lower() or "development"
        if environment not in ENVIRONMENTS:
            raise SettingsError(
                f"REDRESS_ENV must be development or production, not {environment!r}."
            )
        smtp = _smtp(env)
        if smtp is None and environment == "production":
            raise SettingsError(
                "REDRESS_ENV=production needs SMTP_HOST (and REDRESS_MAIL_FROM): without an "
                "SMTP server, verification codes would only be written to the log."
            )
        return cls(
            _optional_secret(env, "REDRESS_IDENTITY_SECRET"),
            smtp,
            environment,
            lookups_per_conversation=_whole(
                env, "REDRESS_LOOKUPS_PER_HOUR_PER_CONVERSATION", 6, low=1, high=1000
            ),
            lookups_per_address=_whole(
                env, "REDRESS_LOOKUPS_PER_HOUR_PER_ADDRESS", 12, low=1, high=1_000_000
            ),
        )


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = env.get("SMTP_HOST", "").strip()
    if not host:
        return None
    tls = env.get("SMTP_TLS", "starttls").strip().lower() or "starttls"
    if tls not in TLS_MODES:
        raise SettingsError(f"SMTP_TLS must be starttls, ssl or none, not {tls!r}.")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[tls]
    sender = env.get("REDRESS_MAIL_FROM", "").strip()
    if not _ADDRESS.match(sender):
        raise SettingsError(
            "SMTP_HOST is set, so REDRESS_MAIL_FROM must be the address codes are sent from "
            "(e.g. help@example.com)."
        )
    username = env.get("SMTP_USERNAME", "").strip() or None
    password = env.get("SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        raise SettingsError("Set both SMTP_USERNAME and SMTP_PASSWORD, or neither.")
    return SmtpSettings(
        host=host,
        port=_whole(env, "SMTP_PORT", default_port, low=1, high=65535),
        tls=tls,
        username=username,
        password=password,
        sender=sender,
    )
