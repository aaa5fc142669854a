"""Settings.from_env: sensible defaults, and unsafe or malformed values refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from redress.settings import DEFAULT_DATABASE_URL, REPO_ROOT, Settings, SettingsError

GOOD_TOKEN = "k3Vq9-Xr2bLw7_ZpT4yHs8"


def test_defaults():
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.admin_token is None
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.rasa_timeout_seconds == 30.0
    assert settings.business_dir == REPO_ROOT / "business"
    assert settings.gateway_host == "127.0.0.1"
    assert settings.gateway_port == 8080
    assert settings.max_message_chars == 4000


def test_values_are_read_from_the_mapping():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "  postgresql+psycopg://redress@db/redress  ",
            "REDRESS_ADMIN_TOKEN": f"  {GOOD_TOKEN}  ",
            "RASA_URL": "http://rasa:5005/",
            "RASA_TIMEOUT_SECONDS": "12.5",
            "REDRESS_BUSINESS_DIR": "/srv/business",
            "GATEWAY_HOST": "0.0.0.0",
            "GATEWAY_PORT": "9000",
            "REDRESS_MAX_MESSAGE_CHARS": "500",
        }
    )
    assert settings.database_url == "postgresql+psycopg://redress@db/redress"
    assert settings.admin_token == GOOD_TOKEN
    assert settings.rasa_url == "http://rasa:5005"
    assert settings.rasa_timeout_seconds == 12.5
    assert settings.business_dir == Path("/srv/business")
    assert settings.gateway_host == "0.0.0.0"
    assert settings.gateway_port == 9000
    assert settings.max_message_chars == 500


def test_blank_database_url_uses_the_default():
    assert Settings.from_env({"DATABASE_URL": "   "}).database_url == DEFAULT_DATABASE_URL


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_admin_token_means_none(value):
    assert Settings.from_env({"REDRESS_ADMIN_TOKEN": value}).admin_token is None


@pytest.mark.parametrize(
    "value",
    ["changeme", "CHANGEME", "change-me", "<token>", "<your admin token here>", "secret", "todo"],
)
def test_placeholder_admin_token_is_refused(value):
    with pytest.raises(SettingsError, match="REDRESS_ADMIN_TOKEN") as caught:
        Settings.from_env({"REDRESS_ADMIN_TOKEN": value})
    assert "placeholder" in str(caught.value)


@pytest.mark.parametrize("value", ["abc123", "x" * 15])
def test_short_admin_token_is_refused(value):
    with pytest.raises(SettingsError, match="REDRESS_ADMIN_TOKEN") as caught:
        Settings.from_env({"REDRESS_ADMIN_TOKEN": value})
    assert "too short" in str(caught.value)
    assert "16" in str(caught.value)


def test_sixteen_characters_is_long_enough():
    assert Settings.from_env({"REDRESS_ADMIN_TOKEN": "x" * 16}).admin_token == "x" * 16


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_PORT", "eighty"),
        ("GATEWAY_PORT", "80 80"),
        ("GATEWAY_PORT", "0"),
        ("GATEWAY_PORT", "65536"),
        ("GATEWAY_PORT", "-1"),
        ("GATEWAY_PORT", "nan"),
        ("RASA_TIMEOUT_SECONDS", "thirty"),
        ("RASA_TIMEOUT_SECONDS", "0"),
        ("RASA_TIMEOUT_SECONDS", "301"),
        ("RASA_TIMEOUT_SECONDS", "inf"),
        ("REDRESS_MAX_MESSAGE_CHARS", "99"),
        ("REDRESS_MAX_MESSAGE_CHARS", "4001"),
    ],
)
def test_bad_number_is_refused_by_name(name, value):
    with pytest.raises(SettingsError, match=name) as caught:
        Settings.from_env({name: value})
    assert repr(value) in str(caught.value) or value in str(caught.value)


def test_fractional_port_is_refused():
    with pytest.raises(SettingsError, match="GATEWAY_PORT"):
        Settings.from_env({"GATEWAY_PORT": "8080.5"})


def test_processes_refuse_to_start_on_a_configuration_mistake(monkeypatch, caplog):
    import logging

    from redress.business import configuration_or_exit

    monkeypatch.setenv("REDRESS_ADMIN_TOKEN", "changeme")
    with pytest.raises(SystemExit) as stopped:
        configuration_or_exit(logging.getLogger("test"))
    assert stopped.value.code == 2
    assert "REDRESS_ADMIN_TOKEN" in caplog.text


def test_processes_refuse_to_start_on_a_broken_business_folder(monkeypatch, caplog, tmp_path):
    import logging

    from redress.business import configuration_or_exit

    monkeypatch.delenv("REDRESS_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("REDRESS_BUSINESS_DIR", str(tmp_path))
    with pytest.raises(SystemExit):
        configuration_or_exit(logging.getLogger("test"))
    assert "hours.yml: file is missing" in caplog.text


# The billing webhook for granted compensation -----------------------------------------------

WEBHOOK_SECRET = "fulfil-Secret_0123456789abcdef"


def test_no_fulfilment_webhook_by_default():
    settings = Settings.from_env({})
    assert settings.fulfilment_webhook_url is None
    assert settings.fulfilment_webhook_secret is None
    assert settings.fulfilment_timeout_seconds == 10.0


def test_fulfilment_webhook_with_its_secret():
    settings = Settings.from_env(
        {
            "FULFILMENT_WEBHOOK_URL": " https://billing.example.com/redress/grants ",
            "FULFILMENT_WEBHOOK_SECRET": f" {WEBHOOK_SECRET} ",
            "FULFILMENT_WEBHOOK_TIMEOUT_SECONDS": "4",
        }
    )
    assert settings.fulfilment_webhook_url == "https://billing.example.com/redress/grants"
    assert settings.fulfilment_webhook_secret == WEBHOOK_SECRET
    assert settings.fulfilment_timeout_seconds == 4.0


def test_a_plain_http_address_on_the_local_network_is_allowed():
    settings = Settings.from_env(
        {
            "FULFILMENT_WEBHOOK_URL": "http://10.0.0.12:8081/grants",
            "FULFILMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    assert settings.fulfilment_webhook_url == "http://10.0.0.12:8081/grants"


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_a_webhook_without_its_secret_refuses_to_start(secret):
    env = {"FULFILMENT_WEBHOOK_URL": "https://billing.example.com/grants"}
    if secret is not None:
        env["FULFILMENT_WEBHOOK_SECRET"] = secret
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert "FULFILMENT_WEBHOOK_URL is set but FULFILMENT_WEBHOOK_SECRET is not" in message
    assert "secrets.token_urlsafe" in message


@pytest.mark.parametrize("secret", ["changeme", "secret", "<webhook secret>"])
def test_a_placeholder_webhook_secret_is_refused(secret):
    with pytest.raises(SettingsError, match="FULFILMENT_WEBHOOK_SECRET") as caught:
        Settings.from_env(
            {
                "FULFILMENT_WEBHOOK_URL": "https://billing.example.com/grants",
                "FULFILMENT_WEBHOOK_SECRET": secret,
            }
        )
    assert "placeholder" in str(caught.value)


def test_a_short_webhook_secret_is_refused():
    with pytest.raises(SettingsError, match="FULFILMENT_WEBHOOK_SECRET") as caught:
        Settings.from_env(
            {
                "FULFILMENT_WEBHOOK_URL": "https://billing.example.com/grants",
                "FULFILMENT_WEBHOOK_SECRET": "short-secret",
            }
        )
    assert "too short" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "billing.example.com/grants",
        "ftp://billing.example.com/grants",
        "https://",
        "https:///grants",
        "https://billing.example.com:eighty/grants",
        "https://user:password@billing.example.com/grants",
        "https://billing.example.com/my grants",
    ],
)
def test_a_bad_webhook_address_is_refused(url):
    with pytest.raises(SettingsError, match="FULFILMENT_WEBHOOK_URL") as caught:
        Settings.from_env(
            {"FULFILMENT_WEBHOOK_URL": url, "FULFILMENT_WEBHOOK_SECRET": WEBHOOK_SECRET}
        )
    assert "https://billing.example.com/redress/grants" in str(caught.value)
    assert "password@" not in str(caught.value)  # never echoed into the logs


@pytest.mark.parametrize("value", ["0", "61", "soon"])
def test_a_bad_webhook_timeout_is_refused(value):
    with pytest.raises(SettingsError, match="FULFILMENT_WEBHOOK_TIMEOUT_SECONDS"):
        Settings.from_env({"FULFILMENT_WEBHOOK_TIMEOUT_SECONDS": value})


def test_every_fulfilment_setting_is_documented_in_the_example_file():
    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    for name in (
        "FULFILMENT_WEBHOOK_URL",
        "FULFILMENT_WEBHOOK_SECRET",
        "FULFILMENT_WEBHOOK_TIMEOUT_SECONDS",
    ):
        assert f"\n{name}=" in example


def test_a_redis_url_must_be_one_and_is_never_echoed():
    with pytest.raises(SettingsError, match="REDIS_URL") as caught:
        Settings.from_env({"REDIS_URL": "cache.internal:6379 secret-password"})
    assert "secret-password" not in str(caught.value)
    assert Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/2"}).redis_url
    assert Settings.from_env({}).redis_url is None


def test_trusted_proxies_are_addresses_or_networks():
    settings = Settings.from_env({"GATEWAY_TRUSTED_PROXIES": "10.0.0.5, 10.0.1.0/24"})
    assert settings.trusted_proxies == ("10.0.0.5", "10.0.1.0/24")
    with pytest.raises(SettingsError, match="GATEWAY_TRUSTED_PROXIES"):
        Settings.from_env({"GATEWAY_TRUSTED_PROXIES": "lb.internal"})


def test_the_multi_instance_settings_are_documented_in_the_example_file():
    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("REDIS_URL", "GATEWAY_TRUSTED_PROXIES"):
        assert f"\n{name}=" in example
