"""Sending granted compensation to the business's billing system: sign, claim, finish.

When ``FULFILMENT_WEBHOOK_URL`` is set, ``ledger.grant(..., fulfil=True)`` writes
a ``FulfilmentDelivery`` row in the same transaction as the grant, so a grant and the duty to
send it exist together or not at all. The gateway (``bot/fulfilment.py``) then POSTs each row's
payload to the URL, and this module keeps the steps safe across crashes and several gateways:

1. ``claim_due`` takes rows that are due (or whose claim went stale: a gateway died while
   sending) and marks them ``sending``; on PostgreSQL with SKIP LOCKED, and on every database
   only if the row is still due (compare-and-set), so one row is taken by one gateway.
2. ``prepare`` renews the claim and hands back the exact bytes to send. It returns None when
   another gateway took the row over after this one's claim lapsed.
3. The gateway POSTs the body with the headers from ``signed_headers``.
4. ``finish`` marks it sent on a 2xx; otherwise retries after 30 seconds, doubling up to 30
   minutes; after the last try (8 by default) marks it ``failed`` and raises an operator
   alert (kind ``fulfilment_failed``).

What the receiver gets, for each grant::

    POST <FULFILMENT_WEBHOOK_URL>
    Content-Type: application/json
    Idempotency-Key: CR-7KQ2MZ                  (the grant reference; the same on every try)
    X-Redress-Timestamp: 1795435200             (unix seconds when this try was sent)
    X-Redress-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret>

    {"account_number": "BL-100001", "amount_pence": 3000, "currency": "GBP", "grant": ...}

Delivery is at least once. A grant is sent again only when the receiver's answer never
reached us (a timeout, or the gateway stopped between the receiver's 2xx and noting it sent):
the retry carries the same body and the same ``Idempotency-Key``, so **the receiver must apply
each Idempotency-Key once** and answer 2xx to a repeat. It should also check the signature
with ``verify_signature`` (or the same few lines in its own language) and refuse requests
whose timestamp is more than five minutes from its clock, so a captured request cannot be
replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from redress.compensation.policy import show_money
from redress.db.models import CompensationGrant, FulfilmentDelivery
from redress.delivery import leased_queue
from redress.incidents.notices import raise_alert

# The states and backoff every leased table shares (redress/delivery/leased_queue.py).
PENDING, SENDING, SENT, FAILED = (
    leased_queue.PENDING, leased_queue.SENDING, leased_queue.SENT, leased_queue.FAILED,
)  # fmt: skip
FIRST_RETRY, LONGEST_RETRY = leased_queue.FIRST_RETRY, leased_queue.LONGEST_RETRY
retry_delay = leased_queue.retry_delay

# Longer than one POST can take (the timeout is at most a minute).
DEFAULT_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
SIGNATURE_TOLERANCE = timedelta(seconds=300)
ALERT_KIND = "fulfilment_failed"


# Signing ------------------------------------------------------------------------------------


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The payload as the exact bytes sent: keys sorted, so every try sends the same body."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with the secret."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, reference: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": reference,
        "X-Redress-Timestamp": str(timestamp),
        "X-Redress-Signature": sign(secret, timestamp, body),
    }


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str | None,
    now: datetime,
    tolerance: timedelta = SIGNATURE_TOLERANCE,
) -> bool:
    """For receivers: True only when ``header`` (X-Redress-Signature) is the signature of this
    exact body and timestamp (X-Redress-Timestamp) with the secret, and the timestamp is
    within ``tolerance`` of ``now`` either way."""
    try:
        seconds = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs(now.timestamp() - seconds) > tolerance.total_seconds():
        return False
    if not header:
        return False
    return hmac.compare_digest(header.strip().encode(), sign(secret, seconds, body).encode())


# Claim, prepare, finish ---------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    delivery_id: int
    reference: str
    body: bytes
    # The renewed claim: ``finish`` acts only while it still holds.
    claimed_at: datetime


def claim_due(
    session: Session, now: datetime, *, limit: int = 20, lease: timedelta = DEFAULT_LEASE
) -> list[int]:
    """Marks up to ``limit`` due deliveries as being sent and returns their ids, oldest first.
    Each claim counts as a try."""
    return leased_queue.claim_due(session, FulfilmentDelivery, now, limit=limit, lease=lease)


def prepare(
    session: Session, delivery_id: int, claimed_at: datetime, now: datetime
) -> Prepared | None:
    """What to send, with the claim renewed so the lease counts from now. None when the claim
    made at ``claimed_at`` lapsed and another gateway took the row over."""
    if not leased_queue.renew_claim(session, FulfilmentDelivery, delivery_id, claimed_at, now):
        return None
    row = session.get(FulfilmentDelivery, delivery_id)
    assert row is not None  # claimed a moment ago; rows are not deleted
    reference = str(row.payload.get("grant") or "")
    if not reference:
        grant = session.get(CompensationGrant, row.grant_id)
        assert grant is not None  # a foreign key
        reference = grant.reference
    return Prepared(row.id, reference, body_bytes(row.payload), now)


def finish(
    session: Session,
    delivery_id: int,
    claimed_at: datetime,
    now: datetime,
    *,
    delivered: bool,
    error: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> str:
    """Records how the try went; returns the row's status. A 2xx is noted whatever happened to
    the claim (the receiver has it). A failure is noted only while this gateway's claim holds,
    so a gateway that fell behind cannot undo what another one did since."""
    if delivered:
        session.execute(
            update(FulfilmentDelivery)
            .where(FulfilmentDelivery.id == delivery_id, FulfilmentDelivery.status != SENT)
            .values(status=SENT, sent_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )
        return SENT
    # Noting the error first takes the row (the write lock on SQLite) until this commits,
    # and only while this gateway's claim holds.
    noted = session.execute(
        update(FulfilmentDelivery)
        .where(
            FulfilmentDelivery.id == delivery_id,
            FulfilmentDelivery.status == SENDING,
            FulfilmentDelivery.claimed_at == claimed_at,
        )
        .values(last_error=(error or "not delivered")[:500])
        .execution_options(synchronize_session=False)
    )
    row = session.get(FulfilmentDelivery, delivery_id, populate_existing=True)
    assert row is not None
    if noted.rowcount != 1:
        return row.status
    if row.attempts >= max_attempts:
        row.status = FAILED
        _alert(session, row, now)
    else:
        row.status = PENDING
        row.next_attempt_at = now + leased_queue.retry_delay(row.attempts)
    return row.status


def _alert(session: Session, row: FulfilmentDelivery, now: datetime) -> None:
    payload = row.payload
    amount = payload.get("amount_pence")
    what = str(payload.get("remedy", "remedy")).replace("_", " ")
    if isinstance(amount, int) and amount > 0:
        what = f"{show_money(amount)} {what}"
    raise_alert(
        session,
        kind=ALERT_KIND,
        # One alert each time it gives up (an operator may retry it, and it may fail again).
        dedupe_key=f"{ALERT_KIND}:{row.id}:{now.isoformat()}",
        summary=(
            f"Grant {payload.get('grant')} ({what} for {payload.get('account_number')}) could "
            f"not be sent to the billing system after {row.attempts} tries: {row.last_error}. "
            "Apply it by hand, or fix the receiver and retry it."
        ),
        detail={
            "fulfilment": row.id,
            "grant": payload.get("grant"),
            "account_number": payload.get("account_number"),
            "attempts": row.attempts,
            "last_error": row.last_error,
        },
        incident_id=payload.get("incident"),
        now=now,
    )


def retry_failed(session: Session, grant_reference: str, now: datetime) -> FulfilmentDelivery:
    """Puts a failed delivery back in the queue with a fresh count of tries (an operator
    fixed the receiver). Raises LookupError when the grant has no failed delivery."""
    row = session.scalar(
        select(FulfilmentDelivery)
        .join(CompensationGrant, CompensationGrant.id == FulfilmentDelivery.grant_id)
        .where(CompensationGrant.reference == grant_reference.strip().upper())
        .with_for_update()
    )
    if row is None:
        raise LookupError(f"grant {grant_reference} has nothing to send to the billing system")
    if row.status != FAILED:
        raise LookupError(f"grant {grant_reference} is {row.status}, not failed")
    row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
    return row


def counts(session: Session) -> dict[str, int]:
    """How many deliveries are in each state, for operators and tests."""
    rows = session.execute(
        select(FulfilmentDelivery.status, func.count()).group_by(FulfilmentDelivery.status)
    ).all()
    return {status: number for status, number in rows}
