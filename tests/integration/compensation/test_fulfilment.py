"""Granted compensation reaches the billing webhook, signed, once: on SQLite and PostgreSQL,
against a real HTTP receiver on 127.0.0.1 that checks signatures and applies each
Idempotency-Key once, as the documentation asks receivers to. Time comes from a clock the
tests move on; a restart is a new ``Fulfilment``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.jobs.fulfilment import Fulfilment
from bot.jobs.scheduler import Scheduler
from redress.business import Business
from redress.compensation import fulfilment, ledger
from redress.compensation.fulfilment import sign, verify_signature
from redress.compensation.policy import policy_from_mapping
from redress.complaints import records as complaint_records
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import CompensationGrant, FulfilmentDelivery, OperatorAlert
from redress.db.session import unit_of_work
from tests.integration.conftest import closed_port, gateway_settings

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
SECRET = "billing-webhook-secret-0123456789"
LEASE = timedelta(minutes=2)

# A small policy with round figures: £10 and £20 are given at once, £30 and £40 wait for a
# person; an incident's customers share £50.
POLICY_DATA: dict[str, Any] = {
    "auto_approve_up_to": "25.00",
    "limits": {
        "per_offer": "60.00",
        "per_customer": {"amount": "100.00", "count": 3, "window_days": 90},
        "per_incident": {"budget": "50.00"},
        # These tests grant one customer the same kind of remedy again to reach the caps;
        # one remedy per problem has tests of its own (test_compensation_ledger.py).
        "same_problem_within_days": 0,
    },
    "rules": [
        {
            "name": "outage-credit",
            "categories": ["outage"],
            "incident": "linked",
            "remedy": "account_credit",
            "amount": {"fixed": "20.00"},
        },
        {
            "name": "missed-appointment-credit",
            "categories": ["delay"],
            "remedy": "account_credit",
            "amount": {"fixed": "30.00"},
        },
        {
            "name": "billing-credit",
            "categories": ["billing"],
            "remedy": "account_credit",
            "amount": {"fixed": "10.00"},
        },
        {
            "name": "rude-staff-voucher",
            "categories": ["staff_conduct"],
            "remedy": "voucher",
            "amount": {"fixed": "40.00"},
        },
    ],
}
POLICY = policy_from_mapping(POLICY_DATA)


# Records, made through the real ledger ------------------------------------------------------


@dataclass(frozen=True)
class Made:
    offer_id: int
    reference: str
    conversation_id: str
    complaint: str


def make_offer(
    database_url: str,
    account: str = "BL-100001",
    category: str = "billing",
    *,
    at: datetime = NOW,
    incident: str | None = None,
    channel: str = "web",
) -> Made:
    """A verified customer's logged complaint in a new conversation, and the policy's offer."""
    with unit_of_work(database_url) as session:
        customer = customers.find_customer(session, account)
        assert customer is not None
        conversation = conversations.start_conversation(session, channel)
        customers.attach_customer(session, conversation, customer)
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category=category,
            severity="medium",
            severity_reasons=[],
            summary="Something went wrong and I want it put right.",
            facts={"logged": True},
        )
        complaint.incident_id = incident
        offer, why = ledger.make_offer(session, complaint, POLICY, at)
        assert offer is not None, why
        return Made(offer.id, offer.reference, conversation.id, complaint.reference)


def grant(database_url: str, made: Made, *, at: datetime = NOW, fulfil: bool = True) -> str:
    """Grants the offer as the assistant would within the policy; returns the grant's reference."""
    with unit_of_work(database_url) as session:
        return ledger.grant(session, made.offer_id, POLICY, at, fulfil=fulfil).reference


def deliveries(database_url: str) -> list[FulfilmentDelivery]:
    with unit_of_work(database_url) as session:
        return list(session.scalars(select(FulfilmentDelivery).order_by(FulfilmentDelivery.id)))


def alerts(database_url: str) -> list[OperatorAlert]:
    with unit_of_work(database_url) as session:
        return list(session.scalars(select(OperatorAlert).order_by(OperatorAlert.id)))


# The receiver: a billing system's webhook on 127.0.0.1 --------------------------------------


class Clock:
    """The time the gateway (and the receiver) sees; tests move it on instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A billing webhook as the docs ask receivers to write one: refuses a bad signature or
    a stale timestamp, applies each Idempotency-Key once and says 200 to a repeat. ``answers``
    are the statuses it gives first (500: it is having trouble); ``stall`` makes it take the
    grant and then answer too late."""

    def __init__(self, clock: Clock, *, answers: list[int] | None = None) -> None:
        self.clock = clock
        self.answers = list(answers or [])
        self.always: int | None = None
        self.stall_seconds = 0.0
        self.requests: list[Received] = []
        self.applied: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = receiver.receive({k.lower(): v for k, v in self.headers.items()}, body)
                if receiver.stall_seconds:
                    time.sleep(receiver.stall_seconds)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/billing/grants"

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.requests.append(Received(headers, body))
            signed = verify_signature(
                SECRET,
                headers.get("x-redress-timestamp", ""),
                body,
                headers.get("x-redress-signature"),
                self.clock(),
            )
            if not signed:
                return 401
            if self.answers:
                return self.answers.pop(0)
            if self.always is not None:
                return self.always
            key = headers["idempotency-key"]
            if key not in self.applied:  # a repeat is acknowledged, not applied again
                self.applied[key] = json.loads(body)
            return 200

    def keys(self) -> list[str]:
        return [request.key for request in self.requests]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def receiver(clock: Clock) -> Iterator[Receiver]:
    with Receiver(clock) as running:
        yield running


def gateway(database_url: str, clock: Clock, url: str, **options: Any) -> Fulfilment:
    """The sender one gateway process holds; another one on the same database is a restart."""
    return Fulfilment(database_url, url, SECRET, clock=clock, lease=LEASE, **options)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


def send_due(database_url: str, clock: Clock, url: str, **options: Any) -> int:
    async def scenario() -> int:
        sender = gateway(database_url, clock, url, **options)
        try:
            return await sender.deliver_due()
        finally:
            await sender.close()

    return run(scenario)


def state(database_url: str) -> tuple[str, int, datetime]:
    (row,) = deliveries(database_url)
    return row.status, row.attempts, row.next_attempt_at


# Signatures ---------------------------------------------------------------------------------


def test_a_signature_holds_only_for_the_secret_the_exact_body_and_a_fresh_time() -> None:
    body = b'{"amount_pence":3000,"grant":"CR-7KQ2MZ"}'
    stamp = int(NOW.timestamp())
    header = sign(SECRET, stamp, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64

    assert verify_signature(SECRET, str(stamp), body, header, NOW)
    assert verify_signature(SECRET, stamp, body, header, NOW + timedelta(seconds=299))
    # Someone without the secret, or who changed a byte of the body or the time, is refused.
    assert not verify_signature("another-secret-0123456789", stamp, body, header, NOW)
    assert not verify_signature(SECRET, stamp, body.replace(b"3000", b"9000"), header, NOW)
    assert not verify_signature(SECRET, stamp + 1, body, header, NOW)
    assert not verify_signature(SECRET, stamp, body, header.upper(), NOW)
    assert not verify_signature(SECRET, stamp, body, None, NOW)
    assert not verify_signature(SECRET, "yesterday", body, header, NOW)
    # A request captured and replayed later (or stamped far ahead) is refused.
    assert not verify_signature(SECRET, stamp, body, header, NOW + timedelta(seconds=301))
    assert not verify_signature(SECRET, stamp, body, header, NOW - timedelta(seconds=301))
    assert verify_signature(
        SECRET, stamp, body, header, NOW + timedelta(minutes=9), tolerance=timedelta(minutes=10)
    )


# Sending ------------------------------------------------------------------------------------


def test_a_grant_reaches_the_billing_system_once_signed_with_its_reference(
    database_url: str, clock: Clock, receiver: Receiver
) -> None:
    made = make_offer(database_url, "BL-100001", "billing")
    reference = grant(database_url, made)
    assert state(database_url) == (fulfilment.PENDING, 0, NOW)

    clock.now = NOW + timedelta(seconds=2)
    assert send_due(database_url, clock, receiver.url) == 1
    assert send_due(database_url, clock, receiver.url) == 0

    (request,) = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == reference
    stamp = request.headers["x-redress-timestamp"]
    assert stamp == str(int(clock.now.timestamp()))
    assert verify_signature(
        SECRET, stamp, request.body, request.headers["x-redress-signature"], clock.now
    )
    assert request.payload == {
        "grant": reference,
        "account_number": "BL-100001",
        "remedy": "account_credit",
        "amount_pence": 1000,
        "currency": "GBP",
        "complaint": made.complaint,
        "incident": None,
        "rule": "billing-credit",
        "approved_by": ledger.BY_POLICY,
        "granted_at": NOW.isoformat(),
    }
    assert receiver.applied == {reference: request.payload}
    (row,) = deliveries(database_url)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == (
        fulfilment.SENT,
        1,
        clock.now,
        None,
    )
    assert alerts(database_url) == []


def test_a_receiver_in_trouble_is_tried_again_later_and_credits_the_grant_once(
    database_url: str, clock: Clock, receiver: Receiver
) -> None:
    reference = grant(database_url, make_offer(database_url))
    receiver.answers = [500, 503]

    # First try: the billing system has trouble. The next try waits 30 seconds.
    assert send_due(database_url, clock, receiver.url) == 0
    first_retry = NOW + fulfilment.FIRST_RETRY
    assert state(database_url) == (fulfilment.PENDING, 1, first_retry)
    assert deliveries(database_url)[0].last_error == "the billing system answered HTTP 500"

    # Not due yet: nothing is sent.
    clock.now = NOW + timedelta(seconds=20)
    assert send_due(database_url, clock, receiver.url) == 0
    assert len(receiver.requests) == 1

    # Second try fails too, and the wait doubles.
    clock.now = first_retry
    assert send_due(database_url, clock, receiver.url) == 0
    second_retry = first_retry + 2 * fulfilment.FIRST_RETRY
    assert state(database_url) == (fulfilment.PENDING, 2, second_retry)

    # Third try gets through.
    clock.now = second_retry
    assert send_due(database_url, clock, receiver.url) == 1
    assert state(database_url)[:2] == (fulfilment.SENT, 3)

    # Every try carried the same key and body; only the time (and so the signature) moved on.
    assert receiver.keys() == [reference] * 3
    assert len({request.body for request in receiver.requests}) == 1
    stamps = [request.headers["x-redress-timestamp"] for request in receiver.requests]
    assert stamps == [str(int(t.timestamp())) for t in (NOW, first_retry, second_retry)]
    assert list(receiver.applied) == [reference]

    clock.now += timedelta(days=1)
    assert send_due(database_url, clock, receiver.url) == 0
    assert len(receiver.requests) == 3
    assert alerts(database_url) == []


@pytest.mark.parametrize("trouble", ["refused", "unreachable"])
def test_a_grant_the_billing_system_never_takes_fails_after_the_last_try_and_operators_hear(
    database_url: str, clock: Clock, receiver: Receiver, trouble: str
) -> None:
    made = make_offer(database_url, "BL-100002", "billing")
    reference = grant(database_url, made)
    receiver.always = 500
    url = receiver.url if trouble == "refused" else f"http://127.0.0.1:{closed_port()}/grants"

    waits = []
    for attempt in range(1, fulfilment.MAX_ATTEMPTS + 1):
        assert send_due(database_url, clock, url) == 0
        status, attempts, next_at = state(database_url)
        assert attempts == attempt
        if attempt < fulfilment.MAX_ATTEMPTS:
            assert status == fulfilment.PENDING
            waits.append(next_at - clock.now)
            assert alerts(database_url) == []
            clock.now = next_at
    # 30 seconds, doubling, never more than 30 minutes apart.
    assert [w.total_seconds() for w in waits] == [30, 60, 120, 240, 480, 960, 1800]

    (row,) = deliveries(database_url)
    assert row.status == fulfilment.FAILED
    expected = (
        "the billing system answered HTTP 500"
        if trouble == "refused"
        else "could not reach the billing system (ConnectError)"
    )
    assert row.last_error == expected
    (alert,) = alerts(database_url)
    assert alert.kind == "fulfilment_failed"
    assert reference in alert.summary and "BL-100002" in alert.summary
    assert "£10 account credit" in alert.summary and "after 8 tries" in alert.summary
    assert alert.detail["grant"] == reference

    # Nothing more is tried, however long we wait.
    tries = len(receiver.requests)
    clock.now += timedelta(days=2)
    assert send_due(database_url, clock, url) == 0
    assert len(receiver.requests) == tries
    assert receiver.applied == {}

    # An operator fixes the receiver and sends it again: it goes through, once.
    receiver.always = None
    with unit_of_work(database_url) as session:
        fulfilment.retry_failed(session, reference.lower(), clock.now)
    assert send_due(database_url, clock, receiver.url) == 1
    assert list(receiver.applied) == [reference]
    assert state(database_url)[:2] == (fulfilment.SENT, 1)


class Crash(BaseException):
    """The gateway process stopping dead: not an error it catches and handles."""


class CrashAfterAnswer(httpx.AsyncBaseTransport):
    """A gateway that dies after the receiver answered 200, before noting the grant sent."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        await self.inner.aclose()
        raise Crash(f"stopped after {request.url} answered {response.status_code}")


def test_a_gateway_that_stops_after_the_receiver_took_the_grant_sends_it_again_with_the_same_key(
    database_url: str, clock: Clock, receiver: Receiver
) -> None:
    reference = grant(database_url, make_offer(database_url))

    async def scenario() -> None:
        # 1. The receiver takes the grant and says 200; the gateway dies before noting it.
        first = gateway(database_url, clock, receiver.url, transport=CrashAfterAnswer())
        with pytest.raises(Crash):
            await first.deliver_due()
        await first.close()
        assert receiver.keys() == [reference]
        assert state(database_url)[:2] == (fulfilment.SENDING, 1)

        # 2. Restarted at once: the dead gateway's claim still holds, nothing is sent.
        clock.now = NOW + LEASE / 2
        early = gateway(database_url, clock, receiver.url)
        assert await early.deliver_due() == 0
        await early.close()
        assert len(receiver.requests) == 1

        # 3. Once the claim lapses, it is sent again: same key, same body.
        clock.now = NOW + LEASE + timedelta(seconds=1)
        later = gateway(database_url, clock, receiver.url)
        assert await later.deliver_due() == 1
        await later.close()

    run(scenario)
    assert receiver.keys() == [reference, reference]
    assert receiver.requests[0].body == receiver.requests[1].body
    # The receiver applied it once, as documented: the key told it the second was a repeat.
    assert list(receiver.applied) == [reference]
    (row,) = deliveries(database_url)
    assert (row.status, row.attempts) == (fulfilment.SENT, 2)


def test_an_answer_that_comes_too_late_is_a_retry_with_the_same_key(
    database_url: str, clock: Clock, receiver: Receiver
) -> None:
    reference = grant(database_url, make_offer(database_url))
    receiver.stall_seconds = 1.5  # takes the grant, answers after the gateway stopped waiting
    assert send_due(database_url, clock, receiver.url, timeout_seconds=0.3) == 0
    assert state(database_url) == (fulfilment.PENDING, 1, NOW + fulfilment.FIRST_RETRY)
    assert deliveries(database_url)[0].last_error == "no answer in time"

    receiver.stall_seconds = 0
    clock.now = NOW + fulfilment.FIRST_RETRY
    assert send_due(database_url, clock, receiver.url) == 1
    assert receiver.keys() == [reference, reference]
    assert list(receiver.applied) == [reference]


def test_two_gateways_at_once_send_each_grant_once(
    database_url: str, clock: Clock, receiver: Receiver
) -> None:
    accounts = [f"BL-1000{n:02d}" for n in range(1, 11)]
    references = {grant(database_url, make_offer(database_url, a)) for a in accounts}

    async def scenario() -> list[int]:
        senders = [gateway(database_url, clock, receiver.url, batch=3) for _ in range(2)]
        try:
            return list(await asyncio.gather(*(s.deliver_due() for s in senders)))
        finally:
            for sender in senders:
                await sender.close()

    assert sum(run(scenario)) == len(accounts)
    assert sorted(receiver.keys()) == sorted(references)
    with unit_of_work(database_url) as session:
        assert fulfilment.counts(session) == {fulfilment.SENT: len(accounts)}


# Without a webhook --------------------------------------------------------------------------


def test_without_a_webhook_the_ledger_is_the_record_and_nothing_is_sent(
    database_url: str, business: Business
) -> None:
    grant(database_url, make_offer(database_url), fulfil=False)
    with unit_of_work(database_url) as session:
        assert len(session.scalars(select(CompensationGrant)).all()) == 1
    assert deliveries(database_url) == []

    rasa_url = f"http://127.0.0.1:{closed_port()}"
    plain = create_app(gateway_settings(database_url, rasa_url), business)
    assert plain.state.fulfilment is None
    assert Scheduler.FULFIL not in plain.state.scheduler.job_ids()

    configured = replace(
        gateway_settings(database_url, rasa_url),
        fulfilment_webhook_url=f"http://127.0.0.1:{closed_port()}/grants",
        fulfilment_webhook_secret=SECRET,
    )
    wired = create_app(configured, business)
    assert isinstance(wired.state.fulfilment, Fulfilment)
    assert Scheduler.FULFIL in wired.state.scheduler.job_ids()
    run(wired.state.fulfilment.close)
