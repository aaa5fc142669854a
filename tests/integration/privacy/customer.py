"""One customer seeded in every store, through the real gateway where a customer would be
(web chat and Telegram, with FakeRasa and the fake Slack and Telegram servers), and straight
into the records where an operator or a job would have written it. Another customer beside
them must come through an erasure untouched.

The tracker store is a database of the test's own with Rasa 3.6's own table, declared here
as Rasa declares it (``rasa.core.tracker_store.SQLTrackerStore.SQLEvent``), not borrowed from
the code under test."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.clock import utcnow
from redress.compensation.ledger import grant_payload
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Conversation,
    Customer,
    DataRequest,
    FulfilmentDelivery,
    Incident,
    IncidentSubscription,
    OutboxMessage,
    PendingTurn,
    TelegramUpdate,
)
from redress.db.session import unit_of_work
from redress.identity import codes
from redress.identity import records as identity_records
from redress.incidents.notices import raise_alert
from redress.privacy.tracker import EVENTS
from redress.settings import TelegramSettings
from tests.conftest import postgres_database
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack_api import DESK_CHANNEL, FakeSlack
from tests.fakes.telegram_api import FakeTelegram, text_update
from tests.integration.conftest import ADMIN_TOKEN, gateway_settings
from tests.integration.incidents.test_incident_notices import INCIDENT, open_incident
from tests.integration.slack.test_slack_desk import (
    START,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    Clock,
    Desk_,
    desk_settings,
)

REDIS_URL = "redis://127.0.0.1:6379/11"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
OTHER_ACCOUNT = "BL-100002"  # a demo customer, who must come through untouched

# Rasa 3.6's SQLTrackerStore table, as Rasa creates it.
RASA_EVENTS = EVENTS


@dataclass
class Seeded:
    """The customer, where they are, and what must be gone after an erasure."""

    customer_id: int
    account: str
    name: str
    email: str
    phone: str
    postcode: str
    web_id: str
    telegram_id: str
    chat_id: int
    thread: str
    agent_ts: str
    request_reference: str
    offer_reference: str
    grant_reference: str
    amount_pence: int
    other_conversation: str
    texts: list[str] = field(default_factory=list)

    @property
    def personal(self) -> list[str]:
        """What must be found nowhere after an erasure."""
        return [self.name, self.email, self.phone, self.account, self.postcode, *self.texts]


@dataclass
class World:
    """The gateway with Slack, Telegram and Redis on, its tracker store and fakes."""

    desk: Desk_
    telegram: FakeTelegram
    tracker_url: str  # as Rasa is given it
    tracker_engine: sa.Engine  # to read it back
    redis: redis.Redis

    @property
    def client(self) -> TestClient:
        return self.desk.client

    @property
    def slack(self) -> FakeSlack:
        return self.desk.slack

    @property
    def database_url(self) -> str:
        return self.desk.database_url


@contextmanager
def tracker_store(database_url: str, tmp_path: Path) -> Iterator[tuple[str, sa.Engine]]:
    """A tracker-store database of the test's own, beside the records: PostgreSQL when the
    records are (given to Rasa as ``postgresql://``), else a SQLite file."""
    if database_url.startswith("postgresql"):
        with postgres_database("redress_tracker") as url:
            engine = sa.create_engine(url)
            RASA_EVENTS.metadata.create_all(engine)
            try:
                yield "postgresql://" + url.split("://", 1)[1], engine
            finally:
                engine.dispose()
    else:
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
        engine = sa.create_engine(url)
        RASA_EVENTS.metadata.create_all(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()


@contextmanager
def world(database_url: str, business: Business, tmp_path: Path) -> Iterator[World]:
    shared = redis.Redis.from_url(REDIS_URL)
    shared.flushdb()
    rasa = FakeRasa()
    try:
        with (
            tracker_store(database_url, tmp_path) as (tracker_url, tracker_engine),
            FakeTelegram(TELEGRAM_TOKEN) as telegram,
            FakeSlack() as slack,
        ):
            settings = replace(
                gateway_settings(database_url, rasa.url),
                slack=desk_settings(slack),
                outbox_poll_seconds=60,
                redis_url=REDIS_URL,
                tracker_url=tracker_url,
                telegram=TelegramSettings(
                    token=TELEGRAM_TOKEN,
                    mode="webhook",
                    webhook_url="https://example.test/telegram/webhook",
                    webhook_secret=TELEGRAM_SECRET,
                    api_url=telegram.api_url,
                ),
            )
            clock = Clock(START)
            with TestClient(create_app(settings, business, clock=clock)) as client:
                telegram.wait_for(lambda: telegram.calls_to("setWebhook"), 30, "setWebhook")
                desk = Desk_(client, slack, rasa, clock, database_url, telegram)
                yield World(desk, telegram, tracker_url, tracker_engine, shared)
    finally:
        rasa.close()
        shared.flushdb()
        shared.close()


def seed(w: World, chat_id: int = 987_654_321) -> Seeded:
    """Marigold Quenby, BL-700001, on the web chat and Telegram, in every store."""
    g = w.desk
    account, name = "BL-700001", "Marigold Quenby"
    email, phone, postcode = "marigold.quenby@example.net", "07700 900461", "LS6 2QZ"
    with unit_of_work(w.database_url) as session:
        customer = Customer(
            account_number=account,
            name=name,
            email=email,
            postcode=postcode,
            plan="Fibre 500",
            monthly_fee_pence=4500,
        )
        session.add(customer)
        session.flush()
        customer_id = customer.id
    texts = [
        f"my broadband has been down since monday, it's {name}, {account}",
        f"please ring me on {phone} or write to {email}",
    ]
    web_id = g.say(None, texts[0])["conversation_id"]
    g.say(web_id, texts[1])

    # Telegram: the customer writes to the bot; one update is still waiting to be answered.
    telegram_text = f"hi, {name} here again, postcode {postcode}"
    texts.append(telegram_text)
    _telegram_says(w, chat_id, telegram_text)
    with unit_of_work(w.database_url) as session:
        telegram_id = conversations.conversation_on_channel(session, "telegram", str(chat_id)).id
        waiting = text_update(chat_id, f"are you there? {name}")
        texts.append(f"are you there? {name}")
        session.add(
            TelegramUpdate(update_id=waiting["update_id"], status="received", payload=waiting)
        )

    now = utcnow()
    request_reference = "DR-K7Q2MZ"
    with unit_of_work(w.database_url) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        for conversation_id in (web_id, telegram_id):
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            identity_records.claim(session, conversation_id, customer)
            if conversation_id == web_id:
                assert codes.issue(session, web_id, now) is not None
            identity_records.verify(session, conversation, customer, "email_code", now)
        web = session.get(Conversation, web_id)
        assert web is not None
        complaint = complaint_records.open_complaint(
            session,
            web,
            category="outage",
            severity="high",
            severity_reasons=["works from home"],
            summary=f"{name}'s broadband down since Monday",
            facts={"account": account, "postcode": postcode, "since": "monday"},
        )
        offer = CompensationOffer(
            reference="OF-7KQ2MZ",
            complaint_id=complaint.id,
            conversation_id=web_id,
            customer_id=customer_id,
            rule="outage_per_day",
            remedy="account_credit",
            amount_pence=900,
            status="granted",
            explanation=f"£3 a day for 3 days, within every cap; {name} asked for more",
            decided_at=now,
            decided_by="assistant (within policy)",
        )
        session.add(offer)
        session.flush()
        grant = CompensationGrant(
            reference="CR-MLA67U",
            offer_id=offer.id,
            customer_id=customer_id,
            remedy="account_credit",
            amount_pence=900,
            approved_by="assistant (within policy)",
        )
        session.add(grant)
        session.flush()
        session.add(
            FulfilmentDelivery(
                grant_id=grant.id, payload=grant_payload(session, grant), status="sent"
            )
        )
        # A kept message, still waiting for the assistant.
        kept_text = f"hello? {name} still waiting"
        texts.append(kept_text)
        kept = conversations.record_message(session, web, "customer", kept_text)
        session.add(
            PendingTurn(conversation_id=web_id, message_id=kept.id, sent=kept_text, channel="web")
        )
        session.add(
            DataRequest(
                reference=request_reference,
                kind="erasure",
                conversation_id=web_id,
                customer_id=customer_id,
                verified=True,
                due_at=now + timedelta(days=30),
            )
        )
        raise_alert(
            session,
            kind="fulfilment_failed",
            dedupe_key=f"fulfilment_failed:test:{account}",
            summary=f"Grant CR-MLA67U (£9 account credit for {account}) could not be sent.",
            detail={"account_number": account, "conversation_id": telegram_id},
            now=now,
        )

    # An incident they subscribed to, with an update delivered to them through the outbox.
    open_incident(w.database_url)
    with unit_of_work(w.database_url) as session:
        incident = session.get(Incident, INCIDENT)
        assert incident is not None
        incident.accounts = [account, "BL-100003"]
        session.add(
            IncidentSubscription(incident_id=INCIDENT, conversation_id=web_id, status="subscribed")
        )
        web = session.get(Conversation, web_id)
        assert web is not None
        update = f"Update for you, {name}: the LS6 fibre fault is being fixed."
        texts.append(update)
        shown = conversations.record_message(session, web, "bot", update, details={"to": email})
        session.add(
            OutboxMessage(
                dedupe_key=f"incident_update:{INCIDENT}:1:{web_id}",
                conversation_id=web_id,
                kind="incident_update",
                incident_id=INCIDENT,
                text=update,
                details={"incident_id": INCIDENT, "for": name},
                status="sent",
                message_id=shown.id,
                sent_at=now,
            )
        )

    # A handoff: the card in Slack, taken over, the customer's message shown in the thread,
    # and an agent's reply.
    g.request_person(web_id)
    thread = g.card(web_id)
    g.press("handoff_take_over", web_id, thread)
    in_thread = f"thanks, I'm {name}, the router light is red"
    texts.append(in_thread)
    g.say(web_id, in_thread)
    g.slack.wait_for(
        lambda: any("router light" in t for t in g.thread_texts(thread)), 30, "the mirrored text"
    )
    # A second handoff, on Telegram, posted but not yet taken over.
    g.request_person(telegram_id)
    g.card(telegram_id)
    agent_text = f"Hello {name.split()[0]}, I'm checking your line now"
    request = g.agent_says(thread, agent_text)
    agent_ts = request.payload["event"]["ts"]
    texts.append(agent_text)

    # Rasa's tracker rows for each of their conversations; Rasa's conversation lock in Redis.
    _tracker_rows(w, web_id, [*texts[:2], in_thread], account, email)
    _tracker_rows(w, telegram_id, [telegram_text], account, email)
    w.redis.set(f"redress:lock:{web_id}", json.dumps({"conversation_id": web_id, "tickets": []}))

    other = _other_customer(w)
    # Both alerts reach the escalation channel, as the gateway's scheduler posts them.
    poster = w.client.app.state.slack.alerts  # type: ignore[attr-defined]
    assert w.client.portal.call(poster.post_due) == 2  # type: ignore[union-attr]
    return Seeded(
        customer_id=customer_id,
        account=account,
        name=name,
        email=email,
        phone=phone,
        postcode=postcode,
        web_id=web_id,
        telegram_id=telegram_id,
        chat_id=chat_id,
        thread=thread,
        agent_ts=agent_ts,
        request_reference=request_reference,
        offer_reference="OF-7KQ2MZ",
        grant_reference="CR-MLA67U",
        amount_pence=900,
        other_conversation=other,
        texts=texts,
    )


def _telegram_says(w: World, chat_id: int, text: str) -> None:
    answered = len(w.telegram.texts(chat_id))
    response = w.client.post(
        "/telegram/webhook",
        json=text_update(chat_id, text),
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    assert response.status_code == 200
    w.telegram.wait_for(
        lambda: len(w.telegram.texts(chat_id)) > answered, 30, "the Telegram answer"
    )
    assert any(text in html.unescape(t) for t in w.telegram.texts(chat_id))


def _tracker_rows(w: World, sender: str, texts: list[str], account: str, email: str) -> None:
    """What Rasa stores for a turn: the user's text, the slots it filled, the bot's reply."""
    rows: list[dict[str, Any]] = []
    stamp = time.time()
    for text in texts:
        user = {
            "event": "user",
            "timestamp": stamp,
            "text": text,
            "parse_data": {
                "intent": {"name": "complain", "confidence": 0.97},
                "entities": [{"entity": "account_number", "value": account}],
                "text": text,
            },
            "input_channel": "redress",
        }
        slot = {"event": "slot", "timestamp": stamp, "name": "email", "value": email}
        bot = {"event": "bot", "timestamp": stamp, "text": f"I hear you: {text}"}
        for kind, data in (("user", user), ("slot", slot), ("bot", bot)):
            rows.append(
                {
                    "sender_id": sender,
                    "type_name": kind,
                    "timestamp": stamp,
                    "intent_name": "complain" if kind == "user" else None,
                    "action_name": None,
                    "data": json.dumps(data),
                }
            )
    with w.tracker_engine.begin() as connection:
        connection.execute(RASA_EVENTS.insert(), rows)


def _other_customer(w: World) -> str:
    """Priya (BL-100002): a web chat, verified, with a complaint, tracker rows and a lock."""
    g = w.desk
    conversation_id = g.say(None, "my bill is wrong again, BL-100002")["conversation_id"]
    with unit_of_work(w.database_url) as session:
        customer = session.scalar(select(Customer).where(Customer.account_number == OTHER_ACCOUNT))
        conversation = session.get(Conversation, conversation_id)
        assert customer is not None and conversation is not None
        identity_records.verify(session, conversation, customer, "email_code", utcnow())
        complaint_records.open_complaint(
            session,
            conversation,
            category="billing",
            severity="medium",
            severity_reasons=[],
            summary="Priya's bill is wrong again",
            facts={"account": OTHER_ACCOUNT},
        )
        raise_alert(
            session,
            kind="fulfilment_failed",
            dedupe_key=f"fulfilment_failed:test:{OTHER_ACCOUNT}",
            summary=f"Grant CR-PRIYA2 (£5 account credit for {OTHER_ACCOUNT}) could not be sent.",
            detail={"account_number": OTHER_ACCOUNT},
            now=utcnow(),
        )
    _tracker_rows(w, conversation_id, ["my bill is wrong again, BL-100002"], OTHER_ACCOUNT, "")
    w.redis.set(f"redress:lock:{conversation_id}", "{}")
    return conversation_id


# Searching every store ----------------------------------------------------------------------


def found_in_records(database_url: str, needles: list[str]) -> list[tuple[str, str]]:
    """(table, needle) for every needle in any column of any row of the records."""
    engine = sa.create_engine(database_url)
    hits: list[tuple[str, str]] = []
    try:
        with engine.connect() as connection:
            for table in sa.inspect(engine).get_table_names():
                rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()
                text = "\n".join(str(tuple(row)) for row in rows).lower()
                hits += [(table, n) for n in needles if n.lower() in text]
    finally:
        engine.dispose()
    return hits


def found_in_tracker(engine: sa.Engine, needles: list[str]) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(select(RASA_EVENTS)).all()
    text = "\n".join(str(tuple(row)) for row in rows).lower()
    return [n for n in needles if n.lower() in text]


def found_in_redis(client: redis.Redis, needles: list[str]) -> list[str]:
    parts: list[str] = []
    for raw in client.scan_iter(count=1000):
        key = raw.decode()
        parts.append(key)
        kind = client.type(raw).decode()
        if kind == "string":
            parts.append(str(client.get(raw)))
        elif kind == "zset":
            parts.append(str(client.zrange(raw, 0, -1)))
        elif kind == "hash":
            parts.append(str(client.hgetall(raw)))
    text = "\n".join(parts).lower()
    return [n for n in needles if n.lower() in text]


def found_in_slack(slack: FakeSlack, needles: list[str], skip: set[str]) -> list[str]:
    """Needles in the desk channel's messages (not those whose ts is in ``skip``)."""
    messages = [m for m in slack.messages_in(DESK_CHANNEL) if m["ts"] not in skip]
    text = html.unescape(json.dumps(messages, ensure_ascii=False)).lower()
    return [n for n in needles if n.lower() in text]
