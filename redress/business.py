"""The business configuration folder: brand, business hours, categories, demo customers,
regions.

Non-programmers edit these YAML files, so every mistake is reported with the file, the field
and what would be valid, and start-up stops until it is fixed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from redress.compensation.policy import Policy, PolicyError, policy_from_mapping
from redress.complaints.categories import Category, Severity
from redress.identity.config import IdentitySettings
from redress.incidents.model import is_postcode_district
from redress.privacy.config import PrivacyConfig
from redress.settings import Settings, SettingsError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
ACCOUNT_NUMBER_RE = re.compile(r"^BL-\d{6}$")
_M = TypeVar("_M", bound=BaseModel)
# The one team there is when business/teams.yml is absent.
DEFAULT_TEAM = "customer_care"


class BusinessConfigError(ValueError):
    """The business configuration is invalid; the message lists every problem found."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Brand(_Strict):
    business_name: str = Field(min_length=1, max_length=80)
    assistant_name: str = Field(min_length=1, max_length=40)
    team_name: str = Field(min_length=1, max_length=60)
    assistant_unavailable: str = Field(min_length=1, max_length=400)
    welcome: str = Field(min_length=1, max_length=600)
    help: str = Field(min_length=1, max_length=600)
    attachments_not_understood: str = Field(min_length=1, max_length=400)
    slow_down: str = Field(min_length=1, max_length=300)
    # Said once during a turn that is taking longer than REDRESS_SLOW_TURN_NOTICE_SECONDS.
    taking_longer: str = Field(
        default="This is taking a little longer than usual. I'm still working on your message.",
        min_length=1,
        max_length=300,
    )
    # Said when a customer's message held card details or a password: they were masked
    # before anything was stored. ``{what}`` names what was hidden.
    secrets_hidden: str = Field(
        default=(
            "For your safety I've hidden {what} you sent, so the full details aren't stored. "
            "Please don't send card details or passwords in this chat."
        ),
        min_length=1,
        max_length=300,
    )
    # When the records cannot be written, so the message was not taken (nothing is kept).
    message_not_taken: str = Field(
        default=(
            "I'm sorry, I couldn't take your message just now. Please send it again in a minute."
        ),
        min_length=1,
        max_length=300,
    )


class OpeningHours(_Strict):
    timezone: str
    open: dict[str, str]

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use a name like Europe/London)"
            ) from None
        return value

    @field_validator("open")
    @classmethod
    def _valid_days(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r} (use one of {', '.join(DAYS)})")
            match = _HOURS_RE.match(str(span))
            if not match:
                raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM, for example 08:00-20:00")
            start = int(match[1]) * 60 + int(match[2])
            end = int(match[3]) * 60 + int(match[4])
            if end <= start:
                raise ValueError(f"{day}: closing time {span!r} is not after opening time")
        return value

    def _span(self, day_index: int) -> tuple[time, time] | None:
        span = self.open.get(DAYS[day_index])
        if span is None:
            return None
        start, end = span.split("-")
        end_time = time(23, 59, 59) if end == "24:00" else time.fromisoformat(end)
        return time.fromisoformat(start), end_time

    def is_open(self, moment: datetime) -> bool:
        """Whether people are at work at ``moment`` (an aware datetime)."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        span = self._span(local.weekday())
        return span is not None and span[0] <= local.time() < span[1]

    def next_opening(self, moment: datetime) -> datetime:
        """The next time people are at work, in the business's time zone."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            span = self._span(day.weekday())
            if span is None:
                continue
            opening = datetime.combine(day, span[0], tzinfo=local.tzinfo)
            if opening > local:
                return opening
        raise BusinessConfigError("hours.yml: no opening hours on any day of the week")

    def after_open_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of opening hours has passed since ``start``: a promise of
        "8 hours" made on Friday at 6pm falls due on Saturday, not at 2am."""
        zone = ZoneInfo(self.timezone)
        local = start.astimezone(zone)
        left = duration
        day = local.date()
        for _ in range(8 * 60):  # at most 60 weeks of days: a promise is days, not years
            span = self._span(day.weekday())
            if span is not None:
                opening = datetime.combine(day, span[0], tzinfo=zone)
                closing = datetime.combine(day, span[1], tzinfo=zone)
                begin = max(opening, local)
                if closing > begin:
                    if closing - begin >= left:
                        return (begin + left).astimezone(start.tzinfo)
                    left -= closing - begin
            day += timedelta(days=1)
        raise BusinessConfigError("hours.yml: no opening hours on any day of the week")

    def open_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much of ``start``..``end`` fell within opening hours: the time a customer
        waiting for a person has waited while someone could have answered."""
        zone = ZoneInfo(self.timezone)
        start, end = start.astimezone(zone), end.astimezone(zone)
        total = timedelta()
        day = start.date()
        while day <= end.date() and total < timedelta(days=60):
            span = self._span(day.weekday())
            if span is not None:
                opening = datetime.combine(day, span[0], tzinfo=zone)
                closing = datetime.combine(day, span[1], tzinfo=zone)
                overlap = min(closing, end) - max(opening, start)
                total += max(overlap, timedelta())
            day += timedelta(days=1)
        return total


class CategoryText(_Strict):
    label: str = Field(min_length=1, max_length=60)
    ask_since: bool
    next_step: str = Field(min_length=1, max_length=300)
    # Whether a problem of this kind can be part of a wider one (an area outage, a billing
    # run). When no known incident explains it, the customer is told so.
    wider_problem: bool = False
    # The team (teams.yml) that owns complaints of this kind; left out, the default team.
    team: str | None = Field(None, min_length=1, max_length=40)


class CategoriesFile(_Strict):
    categories: dict[str, CategoryText]
    reply_within_hours: dict[str, int]

    @model_validator(mode="after")
    def _complete(self) -> CategoriesFile:
        names = {c.value for c in Category}
        unknown = set(self.categories) - names
        missing = names - set(self.categories)
        if unknown:
            raise ValueError(f"unknown categories: {', '.join(sorted(unknown))}")
        if missing:
            raise ValueError(f"missing categories: {', '.join(sorted(missing))}")
        severities = {s.value for s in Severity}
        if set(self.reply_within_hours) != severities:
            raise ValueError(f"reply_within_hours needs exactly: {', '.join(sorted(severities))}")
        for severity, hours in self.reply_within_hours.items():
            if not 1 <= hours <= 24 * 14:
                raise ValueError(f"reply_within_hours.{severity} must be 1 to 336 hours")
        return self


class DemoCustomer(_Strict):
    account_number: str
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=254)
    postcode: str = Field(min_length=5, max_length=8)
    plan: str = Field(min_length=1, max_length=80)
    monthly_fee: str

    @field_validator("account_number")
    @classmethod
    def _account_format(cls, value: str) -> str:
        if not ACCOUNT_NUMBER_RE.match(value):
            raise ValueError(f"{value!r} is not an account number like BL-123456")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()

    @field_validator("monthly_fee")
    @classmethod
    def _fee(cls, value: str) -> str:
        pounds_to_pence(value)  # raises with a clear message
        return value

    @property
    def monthly_fee_pence(self) -> int:
        return pounds_to_pence(self.monthly_fee)


class DemoCustomersFile(_Strict):
    customers: list[DemoCustomer]


def _plain_words(words: list[str]) -> list[str]:
    """Customers' words in lower case with single spaces; none of them may be empty."""
    cleaned = [" ".join(word.lower().split()) for word in words]
    if any(not word for word in cleaned):
        raise ValueError("a word is empty")
    return cleaned


class Product(_Strict):
    words: list[str] = Field(min_length=1)

    @field_validator("words")
    @classmethod
    def _plain(cls, value: list[str]) -> list[str]:
        return _plain_words(value)


class ProductsFile(_Strict):
    """What the business sells, in its customers' words: read by the NLU's complaint-first
    decision (rasa_addons/complaint_first.py) so "no signal" is a complaint where signal is
    sold. Validated here so a mistake is reported with the rest of the configuration."""

    products: dict[str, Product] = Field(min_length=1)
    # Things customers complain about here that the business does not provide ("pizza",
    # "flight"): a complaint about one of them, with none of the products' words, gets a
    # kind answer that says so instead of an apology for something that never happened.
    not_ours: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("not_ours")
    @classmethod
    def _plain_not_ours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        cleaned: dict[str, list[str]] = {}
        for name, words in value.items():
            if not words:
                raise ValueError(f"{name}: list at least one word")
            try:
                cleaned[name] = _plain_words(words)
            except ValueError as problem:
                raise ValueError(f"{name}: {problem}") from None
        return cleaned


class AreasFile(_Strict):
    """Region names operators may use for an incident's area, each a list of postcode
    districts (the part of a postcode before the space)."""

    regions: dict[str, list[str]]

    @field_validator("regions")
    @classmethod
    def _districts(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        cleaned: dict[str, list[str]] = {}
        for name, districts in value.items():
            if not name.strip() or is_postcode_district(name):
                raise ValueError(f"{name!r} is not a region name (use a name like Leeds)")
            if not districts:
                raise ValueError(f"{name}: list at least one postcode district, like LS6")
            upper = [str(d).strip().upper() for d in districts]
            for district in upper:
                if not is_postcode_district(district):
                    raise ValueError(f"{name}: {district!r} is not a postcode district like LS6")
            cleaned[name.strip()] = upper
        return cleaned


class PossibleIncidentRule(_Strict):
    complaints: int = Field(3, ge=2, le=1000)
    within_minutes: int = Field(60, ge=5, le=7 * 24 * 60)


class AlertsFile(_Strict):
    """When complaints look like an incident nobody has opened yet."""

    possible_incident: PossibleIncidentRule = PossibleIncidentRule()


class WaitingRule(_Strict):
    """How long a customer waits for a person (counted in opening hours) before we act."""

    update_after_minutes: int = Field(10, ge=1, le=24 * 60)
    follow_up_after_minutes: int = Field(30, ge=2, le=7 * 24 * 60)
    # How often the waiting handoffs are checked, in seconds.
    check_every_seconds: int = Field(30, ge=5, le=3600)

    @model_validator(mode="after")
    def _follow_up_after_update(self) -> WaitingRule:
        if self.follow_up_after_minutes <= self.update_after_minutes:
            raise ValueError(
                "waiting: follow_up_after_minutes must be more than update_after_minutes"
            )
        return self


class AfterResolution(_Strict):
    """What happens after a case is resolved, besides "is it fixed?" and the rating."""

    # Days after a resolution the customer is asked "is everything still working?", in the
    # team's opening hours (0: never).
    follow_up_after_days: int = Field(2, ge=0, le=60)


class HandoffRules(_Strict):
    """When the assistant brings a person in without being asked, and the waiting rules."""

    misunderstandings_in_a_row: int = Field(2, ge=1, le=10)
    # Complaints of this severity or worse go to a person as well (null: never by severity).
    severity_at_least: Severity | None = Severity.CRITICAL
    # A complaint in the same category as one the customer made within this many days goes
    # to a person (0: never).
    repeat_within_days: int = Field(30, ge=0, le=365)
    # An offer above the compensation policy's auto-approve line goes to a person.
    compensation_needs_approval: bool = True
    waiting: WaitingRule = WaitingRule()
    # What the customer is told about a person's reply while no agent desk (Slack) is
    # connected: a promise the team keeps another way. None: the assistant says plainly that
    # it cannot promise when.
    without_desk: str | None = Field(None, min_length=1, max_length=300)
    after_resolution: AfterResolution = AfterResolution()


class Team(_Strict):
    """A team that owns cases (teams.yml): its name, where its cases are posted, its own
    opening hours if they differ, and who may approve how much compensation."""

    name: str = Field(min_length=1, max_length=60)
    # The Slack channel id its cases go to; left out, SLACK_ESCALATION_CHANNEL.
    slack_channel: str | None = Field(None, pattern=r"^[CG][A-Z0-9]{2,30}$")
    # Its own opening hours, in hours.yml's form; left out, hours.yml.
    hours: OpeningHours | None = None
    # Slack user id -> the most one offer may be for them to approve it, in pounds.
    approvers: dict[str, str] = Field(default_factory=dict)

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, value: dict[str, str]) -> dict[str, str]:
        for user, limit in value.items():
            if not re.match(r"^[UW][A-Z0-9]{2,30}$", user):
                raise ValueError(f"{user!r} is not a Slack user id (like U012ABCDEF)")
            pounds_to_pence(str(limit))
        return value

    def approval_limit_pence(self, user_id: str) -> int | None:
        """The most this Slack user may approve for this team's cases; None: they may not."""
        limit = self.approvers.get(user_id)
        return None if limit is None else pounds_to_pence(str(limit))


class TeamsFile(_Strict):
    """Who works on complaints: every case belongs to one team."""

    # The team for categories that name none, and for conversations with no case yet.
    default: str = Field(min_length=1, max_length=40)
    teams: dict[str, Team]

    @model_validator(mode="after")
    def _default_known(self) -> TeamsFile:
        for key in self.teams:
            if not re.match(r"^[a-z][a-z0-9_]{0,39}$", key):
                raise ValueError(f"team {key!r}: use lower-case letters, digits and _")
        if self.default not in self.teams:
            raise ValueError(f"default: {self.default!r} is not one of the teams below")
        return self


class Answers(_Strict):
    """The business's own answers to questions customers ask about their complaint that
    only the business can answer (answers.yml). Left out, the assistant says plainly that
    it can't see that from here and offers a person."""

    # "Will I have to pay an exit fee?"
    exit_fee: str | None = Field(None, min_length=1, max_length=300)
    # "Can I have it on my card instead of credit?"
    remedy_form: str | None = Field(None, min_length=1, max_length=300)
    # "Is there anything you can do about the speed itself?"
    speed: str | None = Field(None, min_length=1, max_length=300)


def pounds_to_pence(value: str) -> int:
    """Converts '32.50' to 3250 exactly; money is never a float."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount like 32.50") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")) or amount > 100_000:
        raise ValueError(f"{value!r} is not an amount in pounds and pence between 0 and 100000")
    return int(amount * 100)


@dataclass(frozen=True)
class Business:
    """Everything the business configured, validated."""

    brand: Brand
    hours: OpeningHours
    categories: CategoriesFile
    demo_customers: tuple[DemoCustomer, ...]
    # Region name -> postcode districts, from areas.yml (none when the file is absent).
    regions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    alerts: AlertsFile = field(default_factory=AlertsFile)
    handoff: HandoffRules = field(default_factory=HandoffRules)
    # The compensation policy (compensation.yml); none means no automatic offers.
    compensation: Policy | None = None
    # Product name -> the words customers use for it (products.yml; none when absent).
    products: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What it plainly does not provide, in the same form (products.yml, not_ours).
    not_ours: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    answers: Answers = field(default_factory=Answers)
    # Personal data agents may see unmasked, and how long each store keeps it (privacy.yml).
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    # The teams that own cases (teams.yml); without the file, one team named by the brand.
    teams: TeamsFile | None = None

    def category_text(self, category: Category) -> CategoryText:
        return self.categories.categories[category.value]

    def reply_within(self, severity: Severity) -> timedelta:
        return timedelta(hours=self.categories.reply_within_hours[severity.value])

    @property
    def team_file(self) -> TeamsFile:
        """teams.yml, or without it one team for everything, named by the brand."""
        if self.teams is not None:
            return self.teams
        return TeamsFile(
            default=DEFAULT_TEAM, teams={DEFAULT_TEAM: Team(name=self.brand.team_name)}
        )

    def team_key_for(self, category: Category) -> str:
        """The key of the team that owns complaints of this category."""
        return self.category_text(category).team or self.team_file.default

    def team(self, key: str | None) -> Team:
        """The team with this key; an unknown key or none is the default team (a team removed
        from teams.yml leaves its cases with the default one)."""
        teams = self.team_file
        return teams.teams.get(key or "", teams.teams[teams.default])

    def team_hours(self, key: str | None) -> OpeningHours:
        """When a team is at work: its own hours, or hours.yml."""
        return self.team(key).hours or self.hours


def load_business(folder: Path) -> Business:
    """Reads and validates the configuration folder, reporting every problem at once."""
    problems: list[str] = []
    brand = _load(folder / "brand.yml", Brand, problems)
    hours = _load(folder / "hours.yml", OpeningHours, problems)
    categories = _load(folder / "categories.yml", CategoriesFile, problems)
    customers = _load(folder / "demo_customers.yml", DemoCustomersFile, problems, optional=True)
    areas = _load(folder / "areas.yml", AreasFile, problems, optional=True)
    alerts = _load(folder / "alerts.yml", AlertsFile, problems, optional=True)
    handoff = _load(folder / "handoff.yml", HandoffRules, problems, optional=True)
    products = _load(folder / "products.yml", ProductsFile, problems, optional=True)
    compensation = _load_policy(folder / "compensation.yml", problems)
    answers = _load(folder / "answers.yml", Answers, problems, optional=True)
    privacy = _load(folder / "privacy.yml", PrivacyConfig, problems, optional=True)
    teams = _load(folder / "teams.yml", TeamsFile, problems, optional=True)
    if categories is not None:
        known = set(teams.teams) if teams is not None else {DEFAULT_TEAM}
        for name, text in categories.categories.items():
            if text.team is not None and text.team not in known:
                problems.append(
                    f"categories.yml: {name}: team {text.team!r} is not in teams.yml "
                    f"(teams: {', '.join(sorted(known))})"
                )
    if customers is not None:
        seen: set[str] = set()
        for customer in customers.customers:
            if customer.account_number in seen:
                problems.append(f"demo_customers.yml: {customer.account_number} appears twice")
            seen.add(customer.account_number)
    if problems:
        raise BusinessConfigError(
            "The business configuration in "
            + str(folder)
            + " has problems:\n  - "
            + "\n  - ".join(problems)
        )
    assert brand and hours and categories  # for the type checker: problems would be non-empty
    return Business(
        brand=brand,
        hours=hours,
        categories=categories,
        demo_customers=tuple(customers.customers) if customers else (),
        regions={name: tuple(d) for name, d in areas.regions.items()} if areas else {},
        alerts=alerts or AlertsFile(),
        handoff=handoff or HandoffRules(),
        compensation=compensation,
        products={n: tuple(p.words) for n, p in products.products.items()} if products else {},
        not_ours={n: tuple(w) for n, w in products.not_ours.items()} if products else {},
        answers=answers or Answers(),
        privacy=privacy or PrivacyConfig(),
        teams=teams,
    )


def _load_policy(path: Path, problems: list[str]) -> Policy | None:
    if not path.exists():
        return None
    try:
        return policy_from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problems.append(f"{path.name}: not valid YAML ({error})")
    except PolicyError as error:
        problems.append(f"{path.name}: {error}".replace(f"{path.name}: {path.name}", path.name))
    return None


def _load(path: Path, model: type[_M], problems: list[str], *, optional: bool = False) -> _M | None:
    if not path.exists():
        if not optional:
            problems.append(f"{path.name}: file is missing")
        return None
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problems.append(f"{path.name}: not valid YAML ({error})")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{path.name}: expected a mapping of settings at the top level")
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "(top level)"
            problems.append(f"{path.name}: {where}: {item['msg']}")
        return None


def configuration_or_exit(logger: logging.Logger) -> tuple[Settings, Business]:
    """Settings and business configuration for a process starting up; on a mistake, logs
    what to fix and exits with status 2 instead of starting half-configured."""
    try:
        settings = Settings.from_env()
        IdentitySettings.from_env()  # a production setting without a mail server stops here
        return settings, load_business(settings.business_dir)
    except (SettingsError, BusinessConfigError) as problem:
        logger.error("%s", problem)
        raise SystemExit(2) from None
