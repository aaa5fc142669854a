"""Channel settings refuse to start half-configured, with a message saying what to do."""

from __future__ import annotations

import pytest

from redress.settings import Settings, SettingsError

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cr3t-webhook-token-0123456789"


def test_telegram_is_off_without_a_token() -> None:
    assert Settings.from_env({}).telegram is None


def test_a_token_turns_telegram_on_in_polling_mode() -> None:
    telegram = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN}).telegram
    assert telegram is not None
    assert telegram.mode == "polling"
    assert telegram.api_url == "https://api.telegram.org/bot"


def test_telegram_can_be_turned_off_with_a_token_set() -> None:
    assert (
        Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ENABLED": "false"}).telegram
        is None
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TELEGRAM_ENABLED": "true"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_MODE": "carrier-pigeon"}, "TELEGRAM_MODE"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_MODE": "webhook"}, "TELEGRAM_WEBHOOK_URL"),
        (
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_MODE": "webhook",
                "TELEGRAM_WEBHOOK_URL": "http://insecure.example/telegram/webhook",
            },
            "TELEGRAM_WEBHOOK_URL",
        ),
        (
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_MODE": "webhook",
                "TELEGRAM_WEBHOOK_URL": "https://chat.example/telegram/webhook",
            },
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        (
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_MODE": "webhook",
                "TELEGRAM_WEBHOOK_URL": "https://chat.example/telegram/webhook",
                "TELEGRAM_WEBHOOK_SECRET": "short",
            },
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        ({"REDRESS_WIDGET_ORIGINS": "www.example.com"}, "REDRESS_WIDGET_ORIGINS"),
        (
            {"WEBCHAT_MESSAGES_PER_MINUTE_PER_ADDRESS": "0"},
            "WEBCHAT_MESSAGES_PER_MINUTE_PER_ADDRESS",
        ),
    ],
)
def test_misconfigured_channels_refuse_to_start(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_webhook_mode_with_everything_set() -> None:
    telegram = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_URL": "https://chat.example/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
        }
    ).telegram
    assert telegram is not None
    assert (telegram.mode, telegram.webhook_secret) == ("webhook", SECRET)


def test_widget_origins_are_read_as_a_list() -> None:
    settings = Settings.from_env(
        {"REDRESS_WIDGET_ORIGINS": "https://www.example.com/, https://help.example.com"}
    )
    assert settings.widget_origins == ("https://www.example.com", "https://help.example.com")
