"""Settings read from the environment, failing closed on anything unsafe.

Every variable is documented in ``.env.example`` and the README.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'var' / 'redress.db'}"

# Values people leave in place from an example file. A secret set to one of these is refused.
PLACEHOLDERS = {"", "changeme", "change-me", "replace-me", "secret", "token", "xxx", "todo"}
MIN_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    admin_token: str | None
    rasa_url: str
    rasa_timeout_seconds: float
    business_dir: Path
    gateway_host: str
    gateway_port: int
    max_message_chars: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Builds settings from ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            admin_token=_optional_secret(env, "REDRESS_ADMIN_TOKEN"),
            rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_timeout_seconds=_number(env, "RASA_TIMEOUT_SECONDS", 30.0, low=1, high=300),
            business_dir=Path(env.get("REDRESS_BUSINESS_DIR", str(REPO_ROOT / "business"))),
            gateway_host=env.get("GATEWAY_HOST", "127.0.0.1"),
            gateway_port=_whole(env, "GATEWAY_PORT", 8080, low=1, high=65535),
            max_message_chars=_whole(env, "REDRESS_MAX_MESSAGE_CHARS", 4000, low=100, high=4000),
        )


def _optional_secret(env: Mapping[str, str], name: str) -> str | None:
    """Returns the secret, None when unset, and refuses placeholders and short values."""
    if name not in env:
        return None
    value = env[name].strip()
    if value.lower() in PLACEHOLDERS or value.startswith("<"):
        if value == "":
            return None
        raise SettingsError(
            f"{name} is set to a placeholder ({value!r}). Set a real random value, for example "
            f"with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"{name} is too short ({len(value)} characters); use at least {MIN_SECRET_LENGTH}."
        )
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}.") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {raw}.")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    value = _number(env, name, default, low=low, high=high)
    if value != int(value):
        raise SettingsError(f"{name} must be a whole number, not {env[name].strip()}.")
    return int(value)
