"""The customer behind a conversation: account numbers and e-mail addresses however they
were typed, looking a customer up, and attaching them to the conversation."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redress.db.models import (
    Conversation,
    Customer,
)

_ACCOUNT_RE = re.compile(r"\bbl\s*[-–]?\s*(\d{6})\b", re.IGNORECASE)


_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def normalise_account_number(text: str) -> str | None:
    """'bl 204518', 'BL204518' and 'BL-204518' are the same account: BL-204518."""
    match = _ACCOUNT_RE.search(text)
    return f"BL-{match[1]}" if match else None


def find_email(text: str) -> str | None:
    match = _EMAIL_RE.search(text)
    return match[0].lower() if match else None


def find_customer(session: Session, reference: str) -> Customer | None:
    """Looks a customer up by account number or email, however it was typed."""
    if account := normalise_account_number(reference):
        return session.scalar(select(Customer).where(Customer.account_number == account))
    if email := find_email(reference):
        return session.scalar(select(Customer).where(func.lower(Customer.email) == email))
    return None


def attach_customer(session: Session, conversation: Conversation, customer: Customer) -> None:
    conversation.customer_id = customer.id
    for complaint in conversation.complaints:
        if complaint.customer_id is None:
            complaint.customer_id = customer.id
    session.flush()
