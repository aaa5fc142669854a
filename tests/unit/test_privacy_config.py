"""business/privacy.yml: what agents see unmasked and how long each store keeps its records,
loaded with the business folder; every mistake names the file, the field and why."""

from __future__ import annotations

import shutil

import pytest
import yaml

from redress.business import BusinessConfigError, load_business
from redress.privacy.config import NEVER_VISIBLE, PrivacyConfig, Retention, visible_kinds
from redress.settings import REPO_ROOT, Settings, SettingsError

BUSINESS_DIR = REPO_ROOT / "business"


@pytest.fixture
def folder(tmp_path):
    copy = tmp_path / "business"
    shutil.copytree(BUSINESS_DIR, copy)
    return copy


def _write(folder, data):
    (folder / "privacy.yml").write_text(yaml.safe_dump(data), "utf-8")


def _problems(folder):
    with pytest.raises(BusinessConfigError) as caught:
        load_business(folder)
    return str(caught.value)


def test_the_demo_business_shows_agents_email_and_postcode_only():
    business = load_business(BUSINESS_DIR)
    assert visible_kinds(business) == frozenset({"email", "postcode"})
    assert business.privacy.retention.transcripts_days == 365
    assert business.privacy.retention.tracker_events_days <= 365


def test_every_retention_period_is_written_out_in_the_demo_file():
    written = yaml.safe_load((BUSINESS_DIR / "privacy.yml").read_text("utf-8"))["retention"]
    assert set(written) == set(Retention.model_fields)


def test_without_the_file_agents_see_nothing_unmasked_and_the_defaults_apply(folder):
    (folder / "privacy.yml").unlink()
    business = load_business(folder)
    assert visible_kinds(business) == frozenset()
    assert business.privacy.retention == Retention()


def test_an_empty_list_shows_nothing(folder):
    _write(folder, {"agents_see": []})
    assert visible_kinds(load_business(folder)) == frozenset()


def test_kinds_are_read_in_any_case(folder):
    _write(folder, {"agents_see": ["Phone", "IBAN"]})
    assert visible_kinds(load_business(folder)) == frozenset({"phone", "iban"})


def test_an_unknown_kind_is_named_with_the_valid_ones(folder):
    _write(folder, {"agents_see": ["email", "shoe_size"]})
    message = _problems(folder)
    assert "privacy.yml: agents_see" in message
    assert "shoe_size" in message
    assert "postcode" in message  # says what would be valid


@pytest.mark.parametrize("kind", sorted(NEVER_VISIBLE))
def test_card_details_and_passwords_can_never_be_made_visible(folder, kind):
    _write(folder, {"agents_see": ["email", kind]})
    message = _problems(folder)
    assert "privacy.yml: agents_see" in message
    assert f"{kind} can never be shown to agents" in message


def test_agents_see_must_be_a_list(folder):
    _write(folder, {"agents_see": "email"})
    assert "privacy.yml: agents_see: " in _problems(folder)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("transcripts_days", 0, "greater than or equal to 30"),
        ("transcripts_days", 7, "greater than or equal to 30"),
        ("closed_complaints_days", -1, "greater than or equal to 30"),
        ("telegram_updates_days", 1, "greater than or equal to 2"),
        ("verification_codes_days", 0, "greater than or equal to 1"),
        ("desk_events_days", 99999, "less than or equal to 3650"),
        ("delivered_outbox_days", "a month", "valid integer"),
        ("fulfilment_deliveries_days", 1.5, "valid integer"),
    ],
)
def test_a_bad_retention_period_names_the_field(folder, field, value, says):
    _write(folder, {"retention": {field: value}})
    message = _problems(folder)
    assert f"privacy.yml: retention.{field}" in message
    assert says in message


def test_a_misspelt_retention_period_is_refused_not_ignored(folder):
    _write(folder, {"retention": {"transcript_days": 90}})
    message = _problems(folder)
    assert "privacy.yml: retention.transcript_days" in message
    assert "Extra inputs are not permitted" in message


def test_rasa_may_not_keep_the_words_longer_than_the_transcript(folder):
    _write(folder, {"retention": {"transcripts_days": 60, "tracker_events_days": 90}})
    message = _problems(folder)
    assert "privacy.yml: retention" in message
    assert "tracker_events_days (90) must not be more than transcripts_days (60)" in message


def test_privacy_mistakes_are_listed_with_the_other_files_mistakes(folder):
    _write(folder, {"agents_see": ["cvv"]})
    hours = yaml.safe_load((folder / "hours.yml").read_text("utf-8"))
    hours["timezone"] = "Mars/Olympus"
    (folder / "hours.yml").write_text(yaml.safe_dump(hours), "utf-8")
    message = _problems(folder)
    assert "privacy.yml: agents_see" in message
    assert "hours.yml: timezone" in message


def test_not_a_mapping(folder):
    (folder / "privacy.yml").write_text("- email\n", "utf-8")
    assert "privacy.yml: expected a mapping" in _problems(folder)


def test_partial_retention_keeps_the_other_defaults():
    config = PrivacyConfig.model_validate({"retention": {"desk_events_days": 3}})
    assert config.retention.desk_events_days == 3
    assert config.retention.transcripts_days == Retention().transcripts_days


def test_retention_runs_hourly_unless_set():
    assert Settings.from_env({}).retention_check_seconds == 3600
    assert Settings.from_env({"REDRESS_RETENTION_CHECK_SECONDS": "0"}).retention_check_seconds == 0
    assert (
        Settings.from_env({"REDRESS_RETENTION_CHECK_SECONDS": "600"}).retention_check_seconds == 600
    )


@pytest.mark.parametrize("value", ["30", "-1", "hourly", "9999999"])
def test_a_bad_retention_interval_stops_start_up(value):
    with pytest.raises(SettingsError, match="REDRESS_RETENTION_CHECK_SECONDS"):
        Settings.from_env({"REDRESS_RETENTION_CHECK_SECONDS": value})


def test_the_kinds_are_the_ones_the_detector_finds():
    from redress.privacy.config import KINDS
    from redress.privacy.detect import Kind

    assert set(KINDS) == {kind.value for kind in Kind}
