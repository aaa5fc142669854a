"""business/privacy.yml: which personal data agents may see unmasked, and how long each
store keeps what it holds (docs/privacy.md, "Retention").

Validated with the rest of the business folder (redress/business.py), so a mistake is
reported with the file and field and nothing starts until it is fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from redress.business import Business

# The kinds of personal data Redress finds in text and masks where it is not needed.
KINDS = (
    "card",
    "cvv",
    "expiry",
    "iban",
    "bank_account",
    "phone",
    "email",
    "postcode",
    "date_of_birth",
    "password",
)
# Never needed to handle a complaint, and dangerous in anyone's hands: always masked.
NEVER_VISIBLE = frozenset({"card", "cvv", "expiry", "password"})
_WHY_NEVER = {
    "card": "card numbers",
    "cvv": "card security codes",
    "expiry": "card expiry dates",
    "password": "passwords",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retention(_Strict):
    """How many days each store keeps what it holds; the retention job
    (redress/privacy/retention.py) anonymises or deletes what is older."""

    # Messages of a conversation with no activity for this long lose their words; who
    # wrote, when, and the complaints' categories stay. At least 30 days, so a customer
    # waiting over a weekend or a holiday never comes back to an empty transcript.
    transcripts_days: int = Field(365, ge=30, le=3650)
    # A resolved complaint loses its summary and the facts collected for it this long after
    # it was resolved; its reference, category, severity, dates and any compensation stay.
    closed_complaints_days: int = Field(730, ge=30, le=3650)
    # Messages for customers that were sent (or given up on): the message itself is in
    # the transcript.
    delivered_outbox_days: int = Field(30, ge=1, le=3650)
    # Grants the billing system confirmed: the grant itself stays in the ledger.
    fulfilment_deliveries_days: int = Field(90, ge=1, le=3650)
    # Telegram keeps an update for 24 hours at most, so a record older than 2 days can no
    # longer stop an update being answered twice.
    telegram_updates_days: int = Field(7, ge=2, le=3650)
    # Slack retries an event within the hour; the record only stops a retry being acted on
    # twice.
    desk_events_days: int = Field(7, ge=1, le=3650)
    # Codes last 10 minutes and are counted per hour; a day is the least that keeps both.
    verification_codes_days: int = Field(30, ge=1, le=3650)
    # Rasa's own memory of a conversation with no activity for this long. It holds the same
    # words as the transcript, so it may not outlast it.
    tracker_events_days: int = Field(30, ge=1, le=3650)

    @model_validator(mode="after")
    def _tracker_within_transcripts(self) -> Retention:
        if self.tracker_events_days > self.transcripts_days:
            raise ValueError(
                f"tracker_events_days ({self.tracker_events_days}) must not be more than "
                f"transcripts_days ({self.transcripts_days}): Rasa's tracker holds the same "
                "words as the transcript"
            )
        return self


class PrivacyConfig(_Strict):
    """business/privacy.yml. Left out, agents see no personal data unmasked and the
    retention defaults apply."""

    agents_see: frozenset[str] = frozenset()
    retention: Retention = Retention()

    @field_validator("agents_see", mode="before")
    @classmethod
    def _known_kinds(cls, value: object) -> object:
        if value is None:
            return frozenset()
        if not isinstance(value, list | tuple | set | frozenset):
            raise ValueError(f"list the kinds agents may see, like [email, postcode] ({_kinds()})")
        kinds = [str(kind).strip().lower() for kind in value]
        unknown = sorted({kind for kind in kinds if kind not in KINDS})
        if unknown:
            raise ValueError(f"unknown kind {', '.join(unknown)} (use: {_kinds()})")
        refused = sorted(set(kinds) & NEVER_VISIBLE)
        if refused:
            what = ", ".join(_WHY_NEVER[kind] for kind in refused)
            raise ValueError(
                f"{', '.join(refused)} can never be shown to agents: {what} are never needed "
                "to handle a complaint, so they are always masked"
            )
        return frozenset(kinds)


def _kinds() -> str:
    return ", ".join(kind for kind in KINDS if kind not in NEVER_VISIBLE)


def visible_kinds(business: Business) -> frozenset[str]:
    """The kinds of personal data agents see unmasked on the Slack card and thread; every
    other kind is masked. Never includes a kind in ``NEVER_VISIBLE``."""
    return business.privacy.agents_see - NEVER_VISIBLE
