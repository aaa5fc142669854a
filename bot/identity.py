"""The gateway's side of identity (docs/identity.md): signed logins, codes sent by e-mail,
and the customer's answers to them. The gateway owns codes from end to end, so what the
customer is told about a code ("I've sent it", "I couldn't") is what really happened."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.transactions import in_transaction
from redress.clock import utcnow
from redress.db.models import Conversation, Customer
from redress.identity import codes, records, signed
from redress.identity.config import IdentitySettings
from redress.identity.mailer import Mailer, MailError, code_message, mailer_for
from redress.internal_secret import internal_secret

logger = logging.getLogger("redress.gateway.identity")

# The intent the gateway sends the assistant once a code is right (never typed: typed
# slashes are neutralised, and the code itself never reaches the assistant).
VERIFIED_COMMAND = "/identity_verified"
# What the assistant's reply carries when it wants a code sent (a custom payload).
SEND_CODE = "send_code"

MINUTES = int(codes.LIFETIME.total_seconds() // 60)
CODE_SENT = (
    f"I've sent a {codes.DIGITS}-digit code to the e-mail address on that account. Type it "
    f"here when it arrives: it works for {MINUTES} minutes."
)
CODE_NOT_SENT = (
    "I couldn't send a code just now, so I can't show anything from that account or offer "
    'money back yet. Your complaint is still logged. Type "new code" in a few minutes and '
    "I'll try again."
)
TOO_MANY_CODES = (
    "I've sent as many codes as I can for now. Your complaint is still logged. If the e-mail "
    'hasn\'t arrived, check your spam folder, or type "new code" again in an hour.'
)
NOTHING_TO_CONFIRM = (
    "There's no account to confirm in this chat yet. If you tell me your account number, "
    "I'll send a code to the e-mail address on it."
)
ALREADY_CONFIRMED = "This chat is already linked to your account, so there's no code to send."
EXPIRED = 'That code has expired. Type "new code" and I\'ll send another.'
SPENT = (
    'That code had too many wrong tries, so it no longer works. Type "new code" and I\'ll '
    "send another."
)


def wrong_code(tries_left: int) -> str:
    tries = "1 try" if tries_left == 1 else f"{tries_left} tries"
    return (
        f"That code doesn't match. Please check the e-mail and type the {codes.DIGITS} digits "
        f"again ({tries} left)."
    )


class InvalidIdentity(ValueError):
    """A signed identity that is not valid (no secret set, bad signature, no such account)."""


@dataclass(frozen=True)
class CodeAnswer:
    """What the gateway does with a message about a code: answer it itself (``text``), or
    tell the assistant the account is now verified (``verified``)."""

    text: str | None = None
    verified: bool = False


class Verifier:
    def __init__(self, database_url: str, settings: IdentitySettings, business_name: str) -> None:
        self._database_url = database_url
        self._settings = settings
        self._mailer: Mailer = mailer_for(settings.smtp)
        self._business_name = business_name
        self._address_secret = internal_secret().encode()

    def address_key(self, address: str) -> str:
        """A keyed hash of a network address: counts lookups per address without keeping
        the address itself in the records."""
        return hmac.new(self._address_secret, address.encode(), hashlib.sha256).hexdigest()[:24]

    @property
    def signing(self) -> bool:
        return self._settings.signing_secret is not None

    def signed_customer(
        self, session: Session, account_number: object, signature: object
    ) -> Customer:
        """The customer a signed identity names, or InvalidIdentity."""
        secret = self._settings.signing_secret
        if secret is None:
            raise InvalidIdentity(
                "Signed identities are not set up here (no REDRESS_IDENTITY_SECRET)."
            )
        account = signed.signed_account(account_number, signature, secret)
        if account is None:
            raise InvalidIdentity("The identity's signature does not match its account number.")
        customer = session.query(Customer).filter_by(account_number=account).one_or_none()
        if customer is None:
            raise InvalidIdentity("The identity names an account that does not exist.")
        return customer

    def accept_signed(
        self, session: Session, conversation: Conversation, customer: Customer
    ) -> None:
        records.verify(session, conversation, customer, records.SIGNED_LOGIN, utcnow())

    def answer(self, session: Session, conversation: Conversation, text: str) -> CodeAnswer | None:
        """A typed code checked (inside the caller's transaction), or None when the message
        is not about a code. Asking for a new one is answered by ``send_code``."""
        typed = codes.typed_code(text)
        if typed is None or not codes.awaiting(session, conversation.id):
            return None
        checked = codes.check(session, conversation, typed, utcnow())
        if checked.outcome == "verified":
            return CodeAnswer(verified=True)
        if checked.outcome == "wrong":
            return CodeAnswer(wrong_code(checked.tries_left))
        if checked.outcome == "expired":
            return CodeAnswer(EXPIRED)
        if checked.outcome == "spent":
            return CodeAnswer(SPENT)
        return None

    def asks_for_new_code(self, text: str) -> bool:
        return codes.wants_new_code(text)

    async def send_code(self, conversation_id: str) -> str:
        """Issues a code for the account the conversation named and e-mails it; returns the
        sentence that tells the customer what happened."""

        def issue(session: Session) -> codes.Issued | str:
            if records.verified_customer(session, conversation_id) is not None:
                return ALREADY_CONFIRMED
            if records.claimed_customer(session, conversation_id) is None:
                return NOTHING_TO_CONFIRM
            return codes.issue(session, conversation_id, utcnow()) or TOO_MANY_CODES

        issued = await in_transaction(self._database_url, issue)
        if isinstance(issued, str):
            return issued
        subject, body = code_message(self._business_name, issued.code, MINUTES)
        try:
            await run_in_threadpool(self._mailer.send, issued.email, subject, body)
        except MailError:
            return CODE_NOT_SENT
        logger.info("verification code sent for conversation %s", conversation_id)
        return CODE_SENT
