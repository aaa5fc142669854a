"""Running the custom actions the way the action server does, without Rasa: a tracker built
from what Rasa would send, a CollectingDispatcher that keeps what the action says, and the
records on a SQLite file migrated to the latest schema (one per test module)."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import context
from redress.business import Business, load_business
from redress.conversations import records as conversations
from redress.db.models import Customer
from redress.db.session import unit_of_work
from redress.identity import records as identity
from redress.migrate import upgrade
from redress.seed import load_demo_customers
from redress.settings import REPO_ROOT

# A Tuesday morning, inside opening hours, so reply times read the same in every run.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def records_url(tmp_path: Path) -> str:
    business = load_business(REPO_ROOT / "business")
    url = f"sqlite:///{tmp_path / 'redress.db'}"
    upgrade(url)
    with unit_of_work(url) as session:
        load_demo_customers(session, business.demo_customers)
    return url


@pytest.fixture(autouse=True)
def action_context(records_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What every action reads (settings, business, clock) pointed at the test records."""
    monkeypatch.setenv("DATABASE_URL", records_url)
    monkeypatch.delenv("FULFILMENT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("REDRESS_BUSINESS_DIR", raising=False)
    monkeypatch.setattr(context, "clock", lambda: NOW)
    context.settings.cache_clear()
    context.business.cache_clear()
    yield
    context.settings.cache_clear()
    context.business.cache_clear()


@pytest.fixture
def business() -> Business:
    return context.business()


@dataclass
class Said:
    """What one run of an action said and did."""

    messages: list[dict[str, Any]]
    events: list[EventType]

    @property
    def responses(self) -> list[str]:
        return [m.get("response") or m.get("text") or "" for m in self.messages]

    def slot(self, name: str) -> Any:
        values = [e["value"] for e in self.events if e.get("event") == "slot" and e["name"] == name]
        assert values, f"{name} was not set; events: {self.events}"
        return values[-1]

    def said(self, response: str) -> dict[str, Any]:
        found = [m for m in self.messages if m.get("response") == response]
        assert found, f"{response} not said; said {self.responses}"
        return found[-1]


@dataclass
class Conversation:
    """One customer's conversation as the action server sees it: an id, the slots so far,
    and each new message with what the NLU made of it."""

    sender_id: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:12]}")
    slots: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def tracker(
        self,
        text: str,
        intent: str,
        *,
        entities: list[dict[str, Any]] | None = None,
        ranking: list[tuple[str, float]] | None = None,
        confidence: float = 0.9,
        **parse: Any,
    ) -> Tracker:
        message = {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [
                {"name": name, "confidence": p} for name, p in (ranking or [(intent, 0.9)])
            ],
            "entities": entities or [],
            **parse,
        }
        self.events.append({"event": "user", "text": text, "parse_data": message})
        return Tracker(
            self.sender_id, dict(self.slots), message, list(self.events), False, None, None, None
        )

    def run(self, action: Action, text: str, intent: str, **parse: Any) -> Said:
        """Runs ``action`` on a new message, then keeps the slots it set, as Rasa would."""
        dispatcher = CollectingDispatcher()
        result = action.run(dispatcher, self.tracker(text, intent, **parse), {})
        events = asyncio.run(result) if inspect.isawaitable(result) else result
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        # What was said joins the history, named by its response, as Rasa records it.
        for message in dispatcher.messages:
            said = message.get("response")
            self.events.append(
                {"event": "bot", "text": message.get("text"), "metadata": {"utter_action": said}}
            )
        return Said(dispatcher.messages, events)


def signed_in(conversation: Conversation, account_number: str) -> None:
    """The customer proved the account is theirs (the business's signed login), as the
    gateway records it before the assistant sees the message."""
    with unit_of_work(context.settings().database_url) as session:
        chat = conversations.ensure_conversation(session, conversation.sender_id, "web")
        customer = session.scalar(select(Customer).where(Customer.account_number == account_number))
        assert customer is not None
        identity.verify(session, chat, customer, identity.SIGNED_LOGIN, NOW)


def entity(text: str, value: str, name: str) -> dict[str, Any]:
    start = text.index(value)
    return {"entity": name, "value": value, "start": start, "end": start + len(value)}
