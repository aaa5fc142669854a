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


SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-1234567890-abcdefghij",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "SLACK_ESCALATION_CHANNEL": "C0123ABCDEF",
}


def test_slack_is_off_without_a_token() -> None:
    assert Settings.from_env({}).slack is None


def test_a_bot_token_with_its_secret_and_channel_turns_the_desk_on_in_http_mode() -> None:
    slack = Settings.from_env(SLACK).slack
    assert slack is not None
    assert (slack.mode, slack.escalation_channel) == ("http", "C0123ABCDEF")
    assert slack.api_url == "https://slack.com/api/"
    assert Settings.from_env({**SLACK, "SLACK_ENABLED": "off"}).slack is None


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SLACK_ENABLED": "true"}, "SLACK_BOT_TOKEN is not set"),
        ({**SLACK, "SLACK_BOT_TOKEN": "xoxp-user-token-123456"}, "starts with xoxb-"),
        ({**SLACK, "SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is not set"),
        ({**SLACK, "SLACK_SIGNING_SECRET": "changeme"}, "SLACK_SIGNING_SECRET is not set"),
        ({**SLACK, "SLACK_SIGNING_SECRET": "abc123"}, "too short"),
        ({**SLACK, "SLACK_MODE": "socket"}, "SLACK_APP_TOKEN must be the app-level token"),
        ({**SLACK, "SLACK_MODE": "webhooks"}, "SLACK_MODE must be 'http' or 'socket'"),
        ({**SLACK, "SLACK_ESCALATION_CHANNEL": "#escalations"}, "must be the id of the channel"),
    ],
)
def test_the_desk_refuses_to_start_half_configured(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        Settings.from_env(env)


def test_socket_mode_needs_the_app_token_not_the_secret() -> None:
    env = {
        **SLACK,
        "SLACK_MODE": "socket",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_APP_TOKEN": "xapp-1-A0B1C2D3E4-567",
    }
    slack = Settings.from_env(env).slack
    assert slack is not None and slack.mode == "socket" and slack.signing_secret is None
