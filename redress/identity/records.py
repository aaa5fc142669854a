"""What the records know about a conversation's customer: claimed, verified, and how."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import Conversation, ConversationEvent, ConversationIdentity, Customer

SIGNED_LOGIN = "signed_login"
EMAIL_CODE = "email_code"

# Account lookups (typing an account number or e-mail address) per hour, by default: enough
# for a customer with a typo or two accounts, too few to try account numbers one by one.
LOOKUPS_PER_CONVERSATION = 6
LOOKUPS_PER_ADDRESS = 12
LOOKUP_WINDOW = timedelta(hours=1)
LOOKUP = "account_lookup"


def identity(session: Session, conversation_id: str) -> ConversationIdentity:
    found = session.get(ConversationIdentity, conversation_id)
    if found is None:
        found = ConversationIdentity(conversation_id=conversation_id)
        session.add(found)
    return found


def verified_customer(session: Session, conversation_id: str) -> Customer | None:
    """The customer this conversation has proven to be, if any."""
    found = session.get(ConversationIdentity, conversation_id)
    if found is None or found.verified_customer_id is None:
        return None
    return session.get(Customer, found.verified_customer_id)


def claimed_customer(session: Session, conversation_id: str) -> Customer | None:
    found = session.get(ConversationIdentity, conversation_id)
    if found is None or found.claimed_customer_id is None:
        return None
    return session.get(Customer, found.claimed_customer_id)


def claim(session: Session, conversation_id: str, customer: Customer) -> None:
    """The customer named this account; a code can now be sent to its e-mail address."""
    identity(session, conversation_id).claimed_customer_id = customer.id
    session.flush()


def verify(
    session: Session, conversation: Conversation, customer: Customer, via: str, at: datetime
) -> None:
    """The customer proved the account is theirs: the conversation and its complaints are
    now on the account (so its history counts and compensation can be offered)."""
    found = identity(session, conversation.id)
    if found.verified_customer_id == customer.id and conversation.customer_id == customer.id:
        return  # already proven (a signed login comes with every message): nothing to write
    already = found.verified_customer_id == customer.id
    found.claimed_customer_id = customer.id
    found.verified_customer_id = customer.id
    found.verified_via = via
    found.verified_at = at
    if conversation.customer_id not in (None, customer.id):
        # Named another account earlier (typed, never proven): the complaints are this one's.
        conversation.customer_id = None
        for complaint in conversation.complaints:
            complaint.customer_id = None
    customers.attach_customer(session, conversation, customer)
    if not already:
        conversations.record_event(session, conversation.id, "identity_verified", {"via": via})


def lookup_allowed(
    session: Session,
    conversation_id: str,
    address: str | None,
    at: datetime,
    *,
    per_conversation: int = LOOKUPS_PER_CONVERSATION,
    per_address: int = LOOKUPS_PER_ADDRESS,
) -> bool:
    """Whether one more account lookup is allowed for this conversation and address."""
    since = at - LOOKUP_WINDOW
    recent = select(ConversationEvent.detail, ConversationEvent.conversation_id).where(
        ConversationEvent.kind == LOOKUP, ConversationEvent.created_at >= since
    )
    in_conversation = session.scalar(
        select(func.count())
        .select_from(ConversationEvent)
        .where(
            ConversationEvent.kind == LOOKUP,
            ConversationEvent.created_at >= since,
            ConversationEvent.conversation_id == conversation_id,
        )
    )
    if (in_conversation or 0) >= per_conversation:
        return False
    if address is None:
        return True
    from_address = sum(
        1 for detail, _ in session.execute(recent) if detail.get("address") == address
    )
    return from_address < per_address


def note_lookup(session: Session, conversation_id: str, address: str | None, at: datetime) -> None:
    session.add(
        ConversationEvent(
            conversation_id=conversation_id,
            kind=LOOKUP,
            detail={"address": address} if address else {},
            created_at=at,
        )
    )
    session.flush()
