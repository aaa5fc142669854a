"""One-time codes e-mailed to the address on an account: issued, checked, never stored.

A code is 6 digits, works for 10 minutes and for 5 tries, once. Only a salted hash is kept.
At most 3 codes an hour go out for one conversation and 5 for one account, so nobody can
flood a customer's inbox or try codes for long.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from redress.db.models import Conversation, Customer, VerificationCode
from redress.identity import records

DIGITS = 6
LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
PER_CONVERSATION_PER_HOUR = 3
PER_CUSTOMER_PER_HOUR = 5

OPEN, USED, SPENT, REPLACED = "open", "used", "spent", "replaced"

# "123456", "it's 123 456", "code: 123456." (a short message holding six digits and no more)
_CODE = re.compile(r"^\D{0,20}?(\d{3})\s?(\d{3})\D{0,12}$")
_NEW_CODE = re.compile(
    r"\b(new|another|fresh|different) code\b|\bresend\b|\bsend (it|the code|a code) again\b|"
    r"\b(didn'?t|did not|haven'?t|have not|never) (get|got|receive[d]?|arrive[d]?)\b.*\bcode\b|"
    r"\bcode (hasn'?t|has not|never|didn'?t|did not) (come|arrive|arrived|came)\b",
    re.IGNORECASE,
)


def typed_code(text: str) -> str | None:
    """The six digits of a code in a short message, else None."""
    match = _CODE.match(text.strip())
    return match[1] + match[2] if match else None


def wants_new_code(text: str) -> bool:
    return len(text) <= 200 and bool(_NEW_CODE.search(text))


@dataclass(frozen=True)
class Issued:
    code: str
    email: str
    customer_name: str


def issue(session: Session, conversation_id: str, at: datetime) -> Issued | None:
    """A new code for the account the conversation named; None when none is named or too
    many were sent this hour. Earlier open codes stop working."""
    customer = records.claimed_customer(session, conversation_id)
    if customer is None:
        return None
    hour_ago = at - timedelta(hours=1)
    sent = (
        select(func.count())
        .select_from(VerificationCode)
        .where(VerificationCode.created_at >= hour_ago)
    )
    for_conversation = session.scalar(
        sent.where(VerificationCode.conversation_id == conversation_id)
    )
    for_customer = session.scalar(sent.where(VerificationCode.customer_id == customer.id))
    if (for_conversation or 0) >= PER_CONVERSATION_PER_HOUR or (
        for_customer or 0
    ) >= PER_CUSTOMER_PER_HOUR:
        return None
    session.execute(
        update(VerificationCode)
        .where(VerificationCode.conversation_id == conversation_id, VerificationCode.status == OPEN)
        .values(status=REPLACED)
    )
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    salt = secrets.token_hex(16)
    session.add(
        VerificationCode(
            conversation_id=conversation_id,
            customer_id=customer.id,
            code_hash=_hash(code, salt),
            salt=salt,
            expires_at=at + LIFETIME,
            created_at=at,
        )
    )
    session.flush()
    return Issued(code, customer.email, customer.first_name)


@dataclass(frozen=True)
class Checked:
    outcome: str  # verified | wrong | expired | spent | none
    tries_left: int = 0
    customer: Customer | None = None


def latest(session: Session, conversation_id: str) -> VerificationCode | None:
    return session.scalar(
        select(VerificationCode)
        .where(VerificationCode.conversation_id == conversation_id)
        .order_by(VerificationCode.id.desc())
        .limit(1)
        .with_for_update()
    )


def awaiting(session: Session, conversation_id: str) -> bool:
    """Whether the conversation was sent a code it has not used yet (open or not)."""
    code = latest(session, conversation_id)
    return code is not None and code.status != USED and code.status != REPLACED


def check(session: Session, conversation: Conversation, typed: str, at: datetime) -> Checked:
    """Checks a typed code against the newest one sent; a match verifies the account."""
    code = latest(session, conversation.id)
    if code is None or code.status in (USED, REPLACED):
        return Checked("none")
    if code.status == SPENT:
        return Checked("spent")
    if at >= code.expires_at:
        return Checked("expired")
    if hmac.compare_digest(code.code_hash, _hash(typed, code.salt)):
        code.status = USED
        customer = session.get(Customer, code.customer_id)
        assert customer is not None  # customers are never deleted while codes point at them
        records.verify(session, conversation, customer, records.EMAIL_CODE, at)
        return Checked("verified", customer=customer)
    code.tries += 1
    if code.tries >= MAX_TRIES:
        code.status = SPENT
        return Checked("spent")
    return Checked("wrong", tries_left=MAX_TRIES - code.tries)


def _hash(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()
