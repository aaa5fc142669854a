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


# "I don't know it", "no have number", "it's in my husband's name", "not giving you that":
# the customer can't or won't give what was asked, and the conversation goes on without it.
_CANNOT_GIVE = re.compile(
    r"\b(don'?t|do not|dont|can'?t|cannot|no) (know|have|remember|find|recall)|\bno idea\b|"
    r"\bnot sure\b|\bdunno\b|\bnot a customer\b|^\s*(no|nope|nah)\s*[.!]*\s*$|"
    r"^\s*no[.,!]?\s+(just|i don'?t|sorry|thanks|log|not)\b|"
    r"\b(not|won'?t|will not|rather not|not going to) (giv|shar|tell|send)\w*|"
    r"\b(in|under) (my|his|her) (husband|wife|partner|dad|father|mum|mother|son|daughter|"
    r"landlord)'?s? name\b|\byou (already )?(know|have) (who i am|my details|it)\b",
    re.IGNORECASE,
)
_ACCOUNT_WORD = re.compile(r"\b(account|acc|acct)\b", re.IGNORECASE)


def cannot_give(text: str) -> bool:
    """Whether ``text`` says the customer can't or won't give what was asked."""
    return bool(_CANNOT_GIVE.search(text))


def has_no_account_details(text: str) -> bool:
    """Whether a message says the customer has no account number to give ("don't know my
    account number, but my postcode is ..."), so it is not asked for."""
    return cannot_give(text) and bool(_ACCOUNT_WORD.search(text))
