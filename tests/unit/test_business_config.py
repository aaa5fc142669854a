"""The business configuration folder: loads when valid, names the file and field when not."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from redress.business import BusinessConfigError, OpeningHours, load_business
from redress.complaints.categories import Category, Severity
from redress.handoff.reply_times import describe_reply_time
from redress.settings import REPO_ROOT

BUSINESS_DIR = REPO_ROOT / "business"
LONDON = ZoneInfo("Europe/London")


def test_real_business_folder_loads():
    business = load_business(BUSINESS_DIR)
    assert len(business.demo_customers) == 13
    assert set(business.categories.categories) == {c.value for c in Category}
    assert len(business.categories.categories) == 10
    assert business.hours.timezone == "Europe/London"
    assert business.brand.business_name == "Brightline Broadband"


def test_real_business_folder_reply_times_are_stricter_for_worse_complaints():
    business = load_business(BUSINESS_DIR)
    hours = [business.reply_within(s).total_seconds() for s in Severity]
    assert hours == sorted(hours, reverse=True)
    assert business.reply_within(Severity.CRITICAL).total_seconds() == 2 * 3600


def test_demo_customer_fees_are_exact_pence():
    business = load_business(BUSINESS_DIR)
    fees = {c.account_number: c.monthly_fee_pence for c in business.demo_customers}
    assert fees["BL-100010"] == 7999
    assert fees["BL-100003"] == 2750


@pytest.fixture
def folder(tmp_path):
    copy = tmp_path / "business"
    shutil.copytree(BUSINESS_DIR, copy)
    return copy


def _edit(folder, name, change):
    path = folder / name
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def _problems(folder):
    with pytest.raises(BusinessConfigError) as caught:
        load_business(folder)
    return str(caught.value)


def test_copy_of_real_folder_loads(folder):
    assert len(load_business(folder).demo_customers) == 13


def test_unknown_time_zone(folder):
    _edit(folder, "hours.yml", lambda d: d.update(timezone="Mars/Olympus"))
    message = _problems(folder)
    assert "hours.yml: timezone" in message
    assert "Mars/Olympus" in message
    assert "Europe/London" in message  # says what would be valid


def test_closing_before_opening(folder):
    _edit(folder, "hours.yml", lambda d: d["open"].update(monday="20:00-08:00"))
    message = _problems(folder)
    assert "hours.yml: open" in message
    assert "monday" in message
    assert "20:00-08:00" in message


@pytest.mark.parametrize("span", ["8-20", "08:00 to 20:00", "25:00-26:00", "08:60-20:00"])
def test_badly_written_hours(folder, span):
    _edit(folder, "hours.yml", lambda d: d["open"].update(tuesday=span))
    message = _problems(folder)
    assert "hours.yml: open" in message
    assert "tuesday" in message
    assert "HH:MM-HH:MM" in message


def test_unknown_day(folder):
    _edit(folder, "hours.yml", lambda d: d["open"].update(funday="08:00-20:00"))
    message = _problems(folder)
    assert "hours.yml: open" in message
    assert "funday" in message
    assert "monday" in message  # lists the valid days


def test_missing_category(folder):
    _edit(folder, "categories.yml", lambda d: d["categories"].pop("refund"))
    message = _problems(folder)
    assert "categories.yml" in message
    assert "missing categories: refund" in message


def test_unknown_category(folder):
    extra = {"label": "Weather", "ask_since": False, "next_step": "We will look into it."}
    _edit(folder, "categories.yml", lambda d: d["categories"].update(weather=extra))
    message = _problems(folder)
    assert "categories.yml" in message
    assert "unknown categories: weather" in message


def test_category_text_missing_a_field(folder):
    _edit(folder, "categories.yml", lambda d: d["categories"]["billing"].pop("next_step"))
    message = _problems(folder)
    assert "categories.yml: categories.billing.next_step" in message


def test_reply_within_hours_missing_a_severity(folder):
    _edit(folder, "categories.yml", lambda d: d["reply_within_hours"].pop("critical"))
    message = _problems(folder)
    assert "categories.yml" in message
    assert "reply_within_hours" in message
    assert "critical" in message


def test_reply_within_hours_out_of_range(folder):
    _edit(folder, "categories.yml", lambda d: d["reply_within_hours"].update(low=0))
    message = _problems(folder)
    assert "categories.yml" in message
    assert "reply_within_hours.low" in message


def test_invalid_yaml(folder):
    (folder / "brand.yml").write_text("business_name: [unclosed\n", "utf-8")
    message = _problems(folder)
    assert "brand.yml: not valid YAML" in message
    assert "line 1" in message


def test_yaml_that_is_not_a_mapping(folder):
    (folder / "brand.yml").write_text("- just\n- a list\n", "utf-8")
    assert "brand.yml: expected a mapping" in _problems(folder)


@pytest.mark.parametrize("name", ["brand.yml", "hours.yml", "categories.yml"])
def test_missing_file(folder, name):
    (folder / name).unlink()
    assert f"{name}: file is missing" in _problems(folder)


def test_demo_customers_file_is_optional(folder):
    (folder / "demo_customers.yml").unlink()
    assert load_business(folder).demo_customers == ()


def test_unknown_field_is_named(folder):
    _edit(folder, "brand.yml", lambda d: d.update(buisness_name="Typo Ltd"))
    assert "brand.yml: buisness_name" in _problems(folder)


def test_duplicate_demo_account(folder):
    _edit(folder, "demo_customers.yml", lambda d: d["customers"].append(dict(d["customers"][0])))
    message = _problems(folder)
    assert "demo_customers.yml" in message
    assert "BL-100001 appears twice" in message


def test_bad_account_number(folder):
    _edit(folder, "demo_customers.yml", lambda d: d["customers"][2].update(account_number="XX-1"))
    message = _problems(folder)
    assert "demo_customers.yml: customers.2.account_number" in message
    assert "'XX-1'" in message
    assert "BL-123456" in message  # shows what a valid one looks like


def test_negative_monthly_fee(folder):
    _edit(folder, "demo_customers.yml", lambda d: d["customers"][3].update(monthly_fee="-5.00"))
    message = _problems(folder)
    assert "demo_customers.yml: customers.3.monthly_fee" in message
    assert "-5.00" in message


def test_every_problem_is_reported_at_once(folder):
    _edit(folder, "hours.yml", lambda d: d.update(timezone="Nowhere/Atlantis"))
    _edit(folder, "demo_customers.yml", lambda d: d["customers"][0].update(account_number="X"))
    (folder / "brand.yml").unlink()
    message = _problems(folder)
    assert str(folder) in message
    assert "hours.yml: timezone" in message
    assert "demo_customers.yml: customers.0.account_number" in message
    assert "brand.yml: file is missing" in message


# Opening hours: Monday to Friday 08:00-20:00, Saturday 09:00-17:00, Sunday closed.
# 2026-11-23 is a Monday; London is on GMT in November and BST in July.


@pytest.fixture
def hours():
    return load_business(BUSINESS_DIR).hours


def _london(*args):
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (_london(2026, 11, 23, 7, 59), False),
        (_london(2026, 11, 23, 8, 0), True),
        (_london(2026, 11, 23, 19, 59), True),
        (_london(2026, 11, 23, 20, 0), False),
        (_london(2026, 11, 28, 9, 30), True),  # Saturday
        (_london(2026, 11, 28, 17, 0), False),
        (_london(2026, 11, 29, 12, 0), False),  # Sunday
    ],
)
def test_is_open(hours, moment, is_open):
    assert hours.is_open(moment) is is_open


def test_is_open_uses_the_business_time_zone(hours):
    # 07:30 UTC on a July Monday is 08:30 in London.
    assert hours.is_open(datetime(2026, 7, 6, 7, 30, tzinfo=timezone.utc))
    assert not hours.is_open(datetime(2026, 7, 6, 19, 30, tzinfo=timezone.utc))


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        (_london(2026, 11, 23, 7, 0), _london(2026, 11, 23, 8, 0)),
        (_london(2026, 11, 23, 20, 0), _london(2026, 11, 24, 8, 0)),
        (_london(2026, 11, 27, 20, 0), _london(2026, 11, 28, 9, 0)),  # Friday -> Saturday
        (_london(2026, 11, 28, 17, 0), _london(2026, 11, 30, 8, 0)),  # Saturday -> Monday
        (_london(2026, 11, 29, 12, 0), _london(2026, 11, 30, 8, 0)),  # Sunday -> Monday
    ],
)
def test_next_opening(hours, moment, opening):
    assert hours.next_opening(moment) == opening


def test_next_opening_over_the_clocks_going_back(hours):
    # Clocks go back on Sunday 25 October 2026: Saturday evening is BST, Monday is GMT.
    opening = hours.next_opening(_london(2026, 10, 24, 18, 0))
    assert opening == datetime(2026, 10, 26, 8, 0, tzinfo=timezone.utc)


def test_no_opening_hours_at_all_is_an_error():
    closed = OpeningHours(timezone="Europe/London", open={})
    assert not closed.is_open(_london(2026, 11, 23, 12, 0))
    with pytest.raises(BusinessConfigError, match=r"hours\.yml"):
        closed.next_opening(_london(2026, 11, 23, 12, 0))


def test_reply_time_in_hours_says_open_now(hours):
    text = describe_reply_time(hours, _london(2026, 11, 23, 12, 0))
    assert "open now" in text
    assert "closed" not in text


@pytest.mark.parametrize(
    ("moment", "when"),
    [
        (_london(2026, 11, 23, 7, 0), "8am today"),
        (_london(2026, 11, 23, 20, 0), "8am tomorrow"),
        (_london(2026, 11, 27, 21, 0), "9am tomorrow"),  # Friday night
        (_london(2026, 11, 28, 17, 30), "8am on Monday"),  # Saturday evening
        (_london(2026, 11, 29, 12, 0), "8am tomorrow"),  # Sunday
        (datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc), "8am on Monday"),
    ],
)
def test_reply_time_out_of_hours_names_the_next_opening(hours, moment, when):
    text = describe_reply_time(hours, moment)
    assert "open now" not in text
    assert text.endswith(f"after we open at {when}.")


def test_reply_time_names_minutes_when_opening_is_not_on_the_hour():
    hours = OpeningHours(timezone="Europe/London", open={"monday": "08:30-17:00"})
    text = describe_reply_time(hours, _london(2026, 11, 23, 18, 0))
    assert text.endswith("after we open at 8:30am on Monday.")


# Waiting for a person counts opening hours only.


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (_london(2026, 11, 23, 10, 0), _london(2026, 11, 23, 10, 25), 25),
        (_london(2026, 11, 23, 7, 0), _london(2026, 11, 23, 8, 12), 12),  # asked before 8am
        (_london(2026, 11, 23, 19, 50), _london(2026, 11, 24, 8, 5), 15),  # overnight
        (_london(2026, 11, 28, 16, 50), _london(2026, 11, 30, 8, 20), 30),  # over Sunday
        (_london(2026, 11, 29, 10, 0), _london(2026, 11, 29, 18, 0), 0),  # all on Sunday
        (_london(2026, 11, 23, 21, 0), _london(2026, 11, 23, 22, 0), 0),
    ],
)
def test_open_time_between(hours, start, end, minutes):
    assert hours.open_time_between(start, end).total_seconds() == minutes * 60


def test_handoff_rules_load_with_their_thresholds():
    rules = load_business(BUSINESS_DIR).handoff
    assert rules.misunderstandings_in_a_row == 2
    assert rules.severity_at_least is Severity.CRITICAL
    assert rules.repeat_within_days == 30
    assert rules.compensation_needs_approval is True
    assert rules.waiting.update_after_minutes < rules.waiting.follow_up_after_minutes


def test_handoff_file_is_optional_with_the_same_defaults(folder):
    (folder / "handoff.yml").unlink()
    assert load_business(folder).handoff == load_business(BUSINESS_DIR).handoff


def test_follow_up_must_come_after_the_update(folder):
    _edit(folder, "handoff.yml", lambda d: d["waiting"].update(follow_up_after_minutes=5))
    message = _problems(folder)
    assert "handoff.yml" in message and "follow_up_after_minutes" in message


def test_unknown_severity_in_handoff_rules_is_named(folder):
    _edit(folder, "handoff.yml", lambda d: d.update(severity_at_least="urgent"))
    message = _problems(folder)
    assert "handoff.yml" in message and "severity_at_least" in message


def test_severity_line_can_be_switched_off(folder):
    _edit(folder, "handoff.yml", lambda d: d.update(severity_at_least=None, repeat_within_days=0))
    rules = load_business(folder).handoff
    assert rules.severity_at_least is None and rules.repeat_within_days == 0
