"""Settings read from the environment, failing closed on anything unsafe.

Every variable is documented in ``.env.example`` and docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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
    telegram: TelegramSettings | None = None
    slack: SlackSettings | None = None
    messages_per_minute_per_conversation: int = 12
    messages_per_minute_per_address: int = 30
    # Console sign-in attempts a minute from one address (besides each account's lockout).
    sign_ins_per_minute: int = 10
    widget_origins: tuple[str, ...] = ()
    # How often the gateway delivers queued updates and checks incident promises, in seconds.
    outbox_poll_seconds: float = 5.0
    promise_check_seconds: float = 30.0
    # How long (of the team's opening time) before a case's promise falls due its team is
    # warned, at most (a short promise is warned a quarter of its length before).
    promise_warn_minutes: float = 60.0
    # Where granted compensation is sent (the business's billing system), signed with the
    # secret. None: the ledger is the record and nothing is sent.
    fulfilment_webhook_url: str | None = None
    fulfilment_webhook_secret: str | None = None
    fulfilment_timeout_seconds: float = 10.0
    # Redis, shared by several gateway instances (live pushes, rate limits, turn order).
    # None: one gateway, all in memory.
    redis_url: str | None = None
    # Load balancers whose X-Forwarded-For the gateway believes (for per-address limits).
    trusted_proxies: tuple[str, ...] = ()
    # REDRESS_ENV=production: every secret comes from the environment, none is made up.
    production: bool = False
    # Shared by the gateway, the Rasa server and the action server. None: outside
    # production, redress/internal_secret.py makes one in var/ that all three read.
    internal_secret: str | None = None
    # A turn still unanswered after this long: the customer is told it is taking longer
    # (0: never). Less than RASA_TIMEOUT_SECONDS.
    slow_turn_notice_seconds: float = 5.0
    # What /ready checks besides Rasa and the records (docs/operations.md): the action
    # server and Rasa's tracker store, found as scripts/run-rasa finds them.
    action_server_url: str = "http://127.0.0.1:5055"
    tracker_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'rasa_tracker.db'}"
    # How often the gateway checks its dependencies, and how long one may be down before
    # operators are alerted.
    ready_check_seconds: float = 15.0
    outage_alert_after_seconds: float = 60.0
    # How often the gateway applies business/privacy.yml's retention periods (0: never; run
    # ``python -m redress retention`` from cron instead).
    retention_check_seconds: float = 3600.0
    # How often the gateway sends the follow-ups due after resolutions (business/handoff.yml,
    # after_resolution), in seconds.
    follow_up_check_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Builds settings from ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        fulfilment_url, fulfilment_secret = _fulfilment(env)
        return cls(
            database_url=env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            admin_token=_optional_secret(env, "REDRESS_ADMIN_TOKEN"),
            rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_timeout_seconds=_number(env, "RASA_TIMEOUT_SECONDS", 30.0, low=1, high=300),
            business_dir=Path(env.get("REDRESS_BUSINESS_DIR", str(REPO_ROOT / "business"))),
            gateway_host=env.get("GATEWAY_HOST", "127.0.0.1"),
            gateway_port=_whole(env, "GATEWAY_PORT", 8080, low=1, high=65535),
            max_message_chars=_whole(env, "REDRESS_MAX_MESSAGE_CHARS", 4000, low=100, high=4000),
            telegram=TelegramSettings.from_env(env),
            slack=SlackSettings.from_env(env),
            messages_per_minute_per_conversation=_whole(
                env, "WEBCHAT_MESSAGES_PER_MINUTE_PER_CONVERSATION", 12, low=1, high=600
            ),
            messages_per_minute_per_address=_whole(
                env, "WEBCHAT_MESSAGES_PER_MINUTE_PER_ADDRESS", 30, low=1, high=6000
            ),
            sign_ins_per_minute=_whole(
                env, "CONSOLE_SIGN_INS_PER_MINUTE_PER_ADDRESS", 10, low=1, high=6000
            ),
            widget_origins=_origins(env.get("REDRESS_WIDGET_ORIGINS", "")),
            outbox_poll_seconds=_number(env, "REDRESS_OUTBOX_POLL_SECONDS", 5.0, low=0.2, high=60),
            promise_check_seconds=_number(
                env, "REDRESS_PROMISE_CHECK_SECONDS", 30.0, low=0.2, high=300
            ),
            promise_warn_minutes=_number(
                env, "REDRESS_PROMISE_WARN_MINUTES", 60.0, low=0, high=24 * 60
            ),
            fulfilment_webhook_url=fulfilment_url,
            fulfilment_webhook_secret=fulfilment_secret,
            fulfilment_timeout_seconds=_number(
                env, "FULFILMENT_WEBHOOK_TIMEOUT_SECONDS", 10.0, low=1, high=60
            ),
            redis_url=_redis_url(env),
            trusted_proxies=_proxies(env.get("GATEWAY_TRUSTED_PROXIES", "")),
            production=is_production(env),
            internal_secret=internal_secret_from_env(env),
            slow_turn_notice_seconds=_slow_notice(env),
            action_server_url=_action_server(env),
            tracker_url=_tracker_url(env),
            ready_check_seconds=_number(env, "REDRESS_READY_CHECK_SECONDS", 15.0, low=1, high=600),
            outage_alert_after_seconds=_number(
                env, "REDRESS_OUTAGE_ALERT_AFTER_SECONDS", 60.0, low=1, high=86400
            ),
            retention_check_seconds=_retention_seconds(env),
            follow_up_check_seconds=_number(
                env, "REDRESS_FOLLOW_UP_CHECK_SECONDS", 300.0, low=5, high=86400
            ),
        )


def _action_server(env: Mapping[str, str]) -> str:
    """The action server's base URL: ACTION_SERVER_URL without its /webhook, or loopback."""
    url = env.get("ACTION_SERVER_URL", "").strip()
    if url:
        return url.removesuffix("/").removesuffix("/webhook")
    return f"http://127.0.0.1:{env.get('ACTION_SERVER_PORT', '5055').strip() or '5055'}"


def _tracker_url(env: Mapping[str, str]) -> str:
    """Rasa's tracker store, as scripts/run-rasa chooses it: RASA_TRACKER_URL, the records'
    PostgreSQL database, or var/rasa_tracker.db."""
    if url := env.get("RASA_TRACKER_URL", "").strip():
        return url
    database = env.get("DATABASE_URL", "").strip()
    if database.startswith("postgresql"):
        return "postgresql://" + database.split("://", 1)[1]
    return f"sqlite:///{REPO_ROOT / 'var' / 'rasa_tracker.db'}"


# What an HTTP bearer token may hold (RFC 6750's b64token).
_BEARER_TOKEN = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")


def is_production(env: Mapping[str, str]) -> bool:
    """Whether REDRESS_ENV says this is a real deployment; anything but the two names is
    refused, so a typo never quietly means development."""
    value = env.get("REDRESS_ENV", "").strip().lower()
    if value not in {"", "development", "production"}:
        raise SettingsError(
            f"REDRESS_ENV must be 'production' or 'development' (the default), not {value!r}."
        )
    return value == "production"


def internal_secret_from_env(env: Mapping[str, str]) -> str | None:
    """REDRESS_INTERNAL_SECRET, or None when it is unset, which production refuses: there
    the Rasa server, the action server and the gateway may not share a disk to keep one on."""
    secret = _optional_secret(env, "REDRESS_INTERNAL_SECRET")
    if secret is None and is_production(env):
        raise SettingsError(
            "REDRESS_ENV is production, so REDRESS_INTERNAL_SECRET must be set, the same for "
            "the gateway, the Rasa server and the action server, which refuse each other's "
            "requests without it. Make one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if secret is not None and not _BEARER_TOKEN.match(secret):
        raise SettingsError(  # not echoed: it is a secret
            "REDRESS_INTERNAL_SECRET may hold only letters, digits and - . _ ~ + / = "
            "(it is sent in an HTTP header)."
        )
    return secret


def _proxies(raw: str) -> tuple[str, ...]:
    proxies = tuple(p.strip() for p in raw.split(",") if p.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(
                f"GATEWAY_TRUSTED_PROXIES: {proxy!r} is not an IP address or network; list "
                "the load balancers' addresses, comma separated (e.g. 10.0.0.5,10.0.1.0/24)."
            ) from None
    return proxies


def _redis_url(env: Mapping[str, str]) -> str | None:
    value = env.get("REDIS_URL", "").strip()
    if not value:
        return None
    if not re.match(r"^(redis|rediss|unix)://", value):
        raise SettingsError(  # not echoed: it may hold a password
            "REDIS_URL is not a Redis URL; use redis://host:6379/0 (rediss:// for TLS), "
            "or leave it unset for a single gateway."
        )
    return value


_TELEGRAM_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


@dataclass(frozen=True)
class TelegramSettings:
    """Telegram is on when a bot token is set. Webhook mode needs a public HTTPS URL and a
    secret Telegram sends back with every update; polling mode needs neither."""

    token: str
    mode: str  # "webhook" or "polling"
    webhook_url: str | None
    webhook_secret: str | None
    api_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramSettings | None:
        enabled = env.get("TELEGRAM_ENABLED", "").strip().lower()
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if enabled in {"0", "false", "no", "off"}:
            return None
        if not token:
            if enabled in {"1", "true", "yes", "on"}:
                raise SettingsError(
                    "TELEGRAM_ENABLED is on but TELEGRAM_BOT_TOKEN is not set. Get a token from "
                    "@BotFather in Telegram and set TELEGRAM_BOT_TOKEN, or turn Telegram off."
                )
            return None
        if not _TELEGRAM_TOKEN.match(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token from @BotFather "
                "(digits, a colon, then letters)."
            )
        mode = env.get("TELEGRAM_MODE", "polling").strip().lower() or "polling"
        if mode not in {"polling", "webhook"}:
            raise SettingsError(f"TELEGRAM_MODE must be 'polling' or 'webhook', not {mode!r}.")
        webhook_url = env.get("TELEGRAM_WEBHOOK_URL", "").strip() or None
        secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
        if mode == "webhook":
            if not webhook_url or not webhook_url.startswith("https://"):
                raise SettingsError(
                    "TELEGRAM_MODE is webhook, so TELEGRAM_WEBHOOK_URL must be the public https:// "
                    "address of /telegram/webhook on this gateway."
                )
            if not secret or secret.lower() in PLACEHOLDERS:
                raise SettingsError(
                    "TELEGRAM_MODE is webhook but TELEGRAM_WEBHOOK_SECRET is not set. Telegram "
                    "sends it with every update so forged updates can be refused. Make one with: "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
            if not _WEBHOOK_SECRET.match(secret):
                raise SettingsError(
                    "TELEGRAM_WEBHOOK_SECRET must be 16 to 256 letters, digits, '_' or '-'."
                )
        return cls(
            token=token,
            mode=mode,
            webhook_url=webhook_url,
            webhook_secret=secret,
            api_url=env.get("TELEGRAM_API_URL", "").strip() or "https://api.telegram.org/bot",
        )


_SLACK_BOT_TOKEN = re.compile(r"^xoxb-[A-Za-z0-9-]{10,}$")
_SLACK_APP_TOKEN = re.compile(r"^xapp-[A-Za-z0-9-]{10,}$")
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")


@dataclass(frozen=True)
class SlackSettings:
    """The agent desk is on when a bot token is set. HTTP mode (Slack posts events to the
    gateway's public /slack/events) needs the signing secret, which proves each request
    came from Slack; Socket Mode (no public address) needs an app-level token instead."""

    bot_token: str
    mode: str  # "http" or "socket"
    signing_secret: str | None
    app_token: str | None
    escalation_channel: str
    api_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackSettings | None:
        enabled = env.get("SLACK_ENABLED", "").strip().lower()
        token = env.get("SLACK_BOT_TOKEN", "").strip()
        if enabled in {"0", "false", "no", "off"}:
            return None
        if not token:
            if enabled in {"1", "true", "yes", "on"}:
                raise SettingsError(
                    "SLACK_ENABLED is on but SLACK_BOT_TOKEN is not set. Install the Slack app "
                    "(docs/handoff.md: Setting up the Slack app) and set its Bot User OAuth Token "
                    "(xoxb-…), or turn Slack off."
                )
            return None
        if not _SLACK_BOT_TOKEN.match(token):
            raise SettingsError(
                "SLACK_BOT_TOKEN does not look like a bot token: it starts with xoxb- "
                "(OAuth & Permissions → Bot User OAuth Token)."
            )
        mode = env.get("SLACK_MODE", "http").strip().lower() or "http"
        if mode not in {"http", "socket"}:
            raise SettingsError(f"SLACK_MODE must be 'http' or 'socket', not {mode!r}.")
        secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
        app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
        if mode == "http":
            if secret is None or secret.lower() in PLACEHOLDERS:
                raise SettingsError(
                    "SLACK_MODE is http but SLACK_SIGNING_SECRET is not set. Without it "
                    "forged requests could not be told from Slack's; copy it from the app's "
                    "Basic Information → Signing Secret."
                )
            if len(secret) < MIN_SECRET_LENGTH:
                raise SettingsError(
                    f"SLACK_SIGNING_SECRET is too short ({len(secret)} characters); copy the "
                    "whole Signing Secret from the app's Basic Information page."
                )
        elif app_token is None or not _SLACK_APP_TOKEN.match(app_token):
            raise SettingsError(
                "SLACK_MODE is socket, so SLACK_APP_TOKEN must be the app-level token "
                "(xapp-…, with the connections:write scope) from the app's Basic Information."
            )
        channel = env.get("SLACK_ESCALATION_CHANNEL", "").strip()
        if not _SLACK_CHANNEL.match(channel):
            raise SettingsError(
                "SLACK_ESCALATION_CHANNEL must be the id of the channel handoffs go to, like "
                "C0123ABCDEF (channel details → About → Channel ID), and the app must be in it."
            )
        return cls(
            bot_token=token,
            mode=mode,
            signing_secret=secret,
            app_token=app_token,
            escalation_channel=channel,
            api_url=env.get("SLACK_API_URL", "").strip() or "https://slack.com/api/",
        )


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if not re.match(r"^https?://[^/\s]+$", origin):
            raise SettingsError(
                f"REDRESS_WIDGET_ORIGINS: {origin!r} is not an origin like https://www.example.com"
            )
    return origins


def _fulfilment(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The billing webhook's address and signing secret: both, or neither."""
    url = env.get("FULFILMENT_WEBHOOK_URL", "").strip() or None
    secret = _optional_secret(env, "FULFILMENT_WEBHOOK_SECRET")
    if url is None:
        return None, secret
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or not port_ok
        or any(c.isspace() for c in url)
        or parts.username is not None
    ):
        # The value is not repeated: it may hold a password, and this message is logged.
        raise SettingsError(
            "FULFILMENT_WEBHOOK_URL is not an address like "
            "https://billing.example.com/redress/grants (http:// or https://, a host, no "
            "spaces, no user name or password in it)."
        )
    if secret is None:
        raise SettingsError(
            "FULFILMENT_WEBHOOK_URL is set but FULFILMENT_WEBHOOK_SECRET is not. Every grant is "
            "signed with it so the billing system can refuse forged ones. Make one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return url, secret


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


def _retention_seconds(env: Mapping[str, str]) -> float:
    seconds = _number(env, "REDRESS_RETENTION_CHECK_SECONDS", 3600.0, low=0, high=7 * 86400)
    if 0 < seconds < 60:
        raise SettingsError(
            f"REDRESS_RETENTION_CHECK_SECONDS must be 0 (never) or 60 to 604800, not {seconds:g}."
        )
    return seconds


def _slow_notice(env: Mapping[str, str]) -> float:
    waits = _number(env, "RASA_TIMEOUT_SECONDS", 30.0, low=1, high=300)
    if not env.get("REDRESS_SLOW_TURN_NOTICE_SECONDS", "").strip():
        return min(5.0, waits / 2)
    seconds = _number(env, "REDRESS_SLOW_TURN_NOTICE_SECONDS", 5.0, low=0, high=60)
    if seconds and seconds >= waits:
        raise SettingsError(
            f"REDRESS_SLOW_TURN_NOTICE_SECONDS ({seconds:g}) must be less than "
            f"RASA_TIMEOUT_SECONDS ({waits:g}), or 0 to never send the notice."
        )
    return seconds
