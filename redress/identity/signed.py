"""Signed identities: the business's login vouches for a customer.

The business's server computes ``hex(HMAC-SHA256(secret, account_number))`` for the signed-in
customer and puts it in the page beside the account number (``data-redress-account`` and
``data-redress-signature``); the widget passes both on. Only someone holding the secret can
make a signature, so a matching one is proof the business logged this customer in. This is
how Intercom's and Zendesk's identity verification work.
"""

from __future__ import annotations

import hashlib
import hmac

from redress.conversations.customers import normalise_account_number


def signature(account_number: str, secret: str) -> str:
    """The signature the business's server puts in the page for ``account_number``."""
    return hmac.new(secret.encode(), account_number.encode(), hashlib.sha256).hexdigest()


def signed_account(account_number: object, given: object, secret: str) -> str | None:
    """The account number when ``given`` is its signature with ``secret``; else None.
    The account number is compared as the business sent it (BL-123456), in constant time."""
    if not isinstance(account_number, str) or not isinstance(given, str):
        return None
    account = normalise_account_number(account_number)
    if account is None or account != account_number.strip():
        return None
    expected = signature(account, secret)
    return account if hmac.compare_digest(expected, given.strip().lower()) else None
