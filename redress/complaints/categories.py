"""Complaint categories and severities: the business's words for what went wrong."""

from __future__ import annotations

from enum import Enum


class Category(str, Enum):
    """The complaint taxonomy (business/categories.yml holds each category's texts)."""

    OUTAGE = "outage"
    SLOW_SERVICE = "slow_service"
    BILLING = "billing"
    DELAY = "delay"
    FAULTY_EQUIPMENT = "faulty_equipment"
    STAFF_CONDUCT = "staff_conduct"
    REFUND = "refund"
    CANCELLATION = "cancellation"
    ACCOUNT_ACCESS = "account_access"
    OTHER = "other"

    @classmethod
    def from_intent(cls, intent: str | None) -> Category | None:
        """Maps an NLU intent such as ``complain_billing`` to its category."""
        if not intent or not intent.startswith(COMPLAINT_INTENT_PREFIX):
            return None
        try:
            return cls(intent.removeprefix(COMPLAINT_INTENT_PREFIX))
        except ValueError:
            return None

    @property
    def intent(self) -> str:
        return f"{COMPLAINT_INTENT_PREFIX}{self.value}"


COMPLAINT_INTENT_PREFIX = "complain_"


class Severity(str, Enum):
    """How badly the customer has been let down, in increasing order."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    @classmethod
    def from_rank(cls, rank: int) -> Severity:
        members = list(cls)
        return members[max(0, min(rank, len(members) - 1))]
