"""Whose personal data an erasure or an export is about, found from what an operator gives: an
account number, a conversation id, or a customer's data request (docs/privacy.md, "Erasure
and export").

A customer is everything on their account: the account record and every conversation that
is theirs (on the account, verified as them, or where they named the account, and every
conversation holding one of the account's complaints). A conversation on its own is that
conversation, and its customer too when the customer proved who they are in it: a typed
account number proves nothing, so it never reaches the account of whoever it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from redress.conversations.customers import normalise_account_number
from redress.db.models import (
    Complaint,
    Conversation,
    ConversationIdentity,
    Customer,
    DataRequest,
)

# What an erased account record holds instead of the person (kept so the ledger's rows
# still add up per account, without anyone behind it).
ERASED_DOMAIN = "erased.invalid"
REQUEST_REFERENCE = re.compile(r"^DR-[A-Z0-9]{4,9}$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SubjectError(ValueError):
    """What an operator gave names nobody, or names them badly; ``code`` is the API's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UnknownSubject(SubjectError):
    """Well formed, but there is no such account, conversation or request."""


@dataclass
class Subject:
    """The person found: their account row (if any), their conversations, their Telegram
    chats, the request being answered (if any), and the strings that identify them in free
    text (account number, e-mail, name, conversation ids, chat ids)."""

    customer_id: int | None
    conversation_ids: list[str]
    telegram_chats: list[str]
    request: DataRequest | None = None
    identifiers: list[str] = field(default_factory=list)


def is_erased(customer: Customer) -> bool:
    return customer.email.endswith("@" + ERASED_DOMAIN)


def check_request_reference(reference: str | None) -> str | None:
    if reference is None:
        return None
    cleaned = reference.strip().upper()
    if not REQUEST_REFERENCE.match(cleaned):
        raise SubjectError(
            "invalid_request_reference",
            "A data request reference looks like DR-7KQ2MZ.",
        )
    return cleaned


def choose(account_number: str | None, conversation_id: str | None) -> tuple[str, str]:
    """Exactly one of the two selectors, checked: ("account", BL-…) or ("conversation", id)."""
    if account_number is not None and conversation_id is not None:
        raise SubjectError("one_selector", "Give an account number or a conversation id, not both.")
    if account_number is not None:
        account = normalise_account_number(account_number.strip())
        if account is None or len(account_number) > 40:
            raise SubjectError("invalid_account_number", "An account number looks like BL-100001.")
        return "account", account
    if conversation_id is not None:
        if not CONVERSATION_ID.match(conversation_id):
            raise SubjectError("invalid_conversation_id", "That is not a conversation id.")
        return "conversation", conversation_id
    raise SubjectError("no_selector", "Give an account number or a conversation id.")


def find_request(session: Session, reference: str) -> DataRequest:
    found = session.scalar(select(DataRequest).where(DataRequest.reference == reference))
    if found is None:
        raise UnknownSubject("unknown_request", f"There is no data request {reference}.")
    return found


def find_subject(
    session: Session, kind: str, value: str, request_reference: str | None = None
) -> Subject:
    """The person named by ``kind``/``value`` (from :func:`choose`), or UnknownSubject."""
    request = find_request(session, request_reference) if request_reference else None
    customer: Customer | None = None
    conversation_ids: set[str] = set()
    if kind == "account":
        customer = session.scalar(select(Customer).where(Customer.account_number == value))
        if customer is None:
            raise UnknownSubject(
                "unknown_account", "There is no customer with that account number."
            )
    else:
        conversation = session.get(Conversation, value)
        if conversation is None:
            raise UnknownSubject("unknown_conversation", "There is no conversation with that id.")
        conversation_ids.add(conversation.id)
        identity = session.get(ConversationIdentity, conversation.id)
        if identity is not None and identity.verified_customer_id is not None:
            customer = session.get(Customer, identity.verified_customer_id)
    if request is not None:
        _check_request_matches(request, customer, conversation_ids)
    if customer is not None:
        conversation_ids |= _conversations_of(session, customer.id)
    ordered = sorted(conversation_ids)
    rows = (
        session.scalars(select(Conversation).where(Conversation.id.in_(ordered))).all()
        if ordered
        else []
    )
    chats = sorted(
        {row.external_id for row in rows if row.channel == "telegram" and row.external_id}
    )
    identifiers = [*ordered, *chats]
    if customer is not None and not is_erased(customer):
        identifiers += [customer.account_number, customer.email, customer.name]
    return Subject(
        customer_id=customer.id if customer is not None else None,
        conversation_ids=ordered,
        telegram_chats=chats,
        request=request,
        identifiers=[i for i in identifiers if i],
    )


def _check_request_matches(
    request: DataRequest, customer: Customer | None, conversation_ids: set[str]
) -> None:
    ours = (customer is not None and request.customer_id == customer.id) or (
        request.conversation_id is not None and request.conversation_id in conversation_ids
    )
    if not ours:
        raise SubjectError(
            "request_mismatch",
            f"Data request {request.reference} is not about this customer or conversation.",
        )


def _conversations_of(session: Session, customer_id: int) -> set[str]:
    direct = session.scalars(
        select(Conversation.id).where(Conversation.customer_id == customer_id)
    ).all()
    identified = session.scalars(
        select(ConversationIdentity.conversation_id).where(
            or_(
                ConversationIdentity.verified_customer_id == customer_id,
                ConversationIdentity.claimed_customer_id == customer_id,
            )
        )
    ).all()
    complained = session.scalars(
        select(Complaint.conversation_id).where(Complaint.customer_id == customer_id)
    ).all()
    return {*direct, *identified, *complained}
