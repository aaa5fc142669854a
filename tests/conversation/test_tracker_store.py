"""The tracker store that keeps conversations between their turns (rasa_addons/
tracker_store.py), run in the Rasa environment on SQLite and on PostgreSQL: two Rasa servers
taking turns of the same conversations always see exactly what Rasa's own SQL store reads
from the database (after the other server's turns, a failed turn, an erasure and a new
session), and a turn reads only the events it has not seen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgres_database
from tests.rasa_env import run_in_rasa

pytestmark = pytest.mark.conversation

SCENARIOS = """
import asyncio, json, random
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered)
from rasa.shared.core.trackers import EventVerbosity
import rasa_addons.tracker_store as kept_module
from rasa_addons import event_types
from rasa_addons.tracker_store import KeptSQLTrackerStore

event_types.install()
URL = {url!r}
domain = Domain.load("domain")
servers = [KeptSQLTrackerStore(domain=domain, host=URL, dialect="sqlite") for _ in range(2)]
rasas = SQLTrackerStore(domain=domain, host=URL, dialect="sqlite")
rng = random.Random(7)
read = []  # how many stored events each incremental read deserialised
rasas_deserialise = kept_module.deserialise_events
def counting(events):
    read.append(len(events))
    return rasas_deserialise(events)
kept_module.deserialise_events = counting

def said(text, intent="complain"):
    parse = {{"text": text, "intent": {{"name": intent, "confidence": 0.9}}, "entities": []}}
    return UserUttered(text, parse["intent"], [], parse_data=parse)

def a_turn(tracker, n):
    tracker.update(said(f"message {{n}}"))
    tracker.update(ActionExecuted("complaint_form"))
    tracker.update(ActiveLoop("complaint_form" if n % 4 else None))
    tracker.update(SlotSet("complaint_category", rng.choice(["billing", "outage", None])))
    tracker.update(BotUttered(f"answer {{n}}", {{"buttons": None}}))
    tracker.update(ActionExecuted("action_listen"))

def a_new_session(tracker):
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))

async def as_rasa_reads(store, sender):
    mine, rasa = await store.retrieve(sender), await rasas.retrieve(sender)
    if rasa is None or mine is None:
        return mine is None and rasa is None
    return mine.current_state(EventVerbosity.ALL) == rasa.current_state(EventVerbosity.ALL)

async def main():
    result = {{"differ": [], "server": []}}
    for n in range(40):
        server = rng.randrange(2)
        result["server"].append(server)
        store = servers[server]
        tracker = await store.get_or_create_tracker("long", append_action_listen=False)
        if n in (0, 25):
            a_new_session(tracker)
        a_turn(tracker, n)
        await store.save(tracker)
        for other in servers:
            if not await as_rasa_reads(other, "long"):
                result["differ"].append(n)
    # A turn of 6 events after server 0 has read the conversation: server 0 reads those 6.
    tracker = await servers[1].retrieve("long")
    await servers[0].retrieve("long")
    a_turn(tracker, 40)
    await servers[1].save(tracker)
    read.clear()
    await servers[0].retrieve("long")
    await servers[1].retrieve("long")
    result["read_after_other_server"] = read[:]
    # A turn handed its tracker and never saved leaves nothing behind.
    tracker = await servers[0].retrieve("long")
    a_turn(tracker, 41)
    result["unsaved_ignored"] = await as_rasa_reads(servers[0], "long")
    # Erased in the database (privacy, retention): gone for both servers.
    before = await servers[0].retrieve("long")
    result["events_before_erasure"] = len(before.events)
    with rasas.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = 'long'"))
    result["erased"] = [await store.retrieve("long") is None for store in servers]
    fresh = await servers[0].get_or_create_tracker("long", append_action_listen=False)
    result["events_after_erasure"] = len(fresh.events)
    # Only `keep` conversations are kept, and the others are read whole, correctly.
    small = KeptSQLTrackerStore(domain=domain, host=URL, dialect="sqlite", keep=2)
    for sender in ("one", "two", "three"):
        tracker = await small.get_or_create_tracker(sender, append_action_listen=False)
        a_new_session(tracker)
        a_turn(tracker, 0)
        await small.save(tracker)
        await small.retrieve(sender)
    result["kept"] = small.kept_conversations()
    result["small_as_rasa"] = [await as_rasa_reads(small, s) for s in ("one", "two", "three")]
    print(json.dumps(result))

asyncio.run(main())
"""


def _run(url: str) -> dict[str, Any]:
    return run_in_rasa(SCENARIOS.format(url=url))


@pytest.fixture(params=["sqlite", "postgres"])
def tracker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
        return
    with postgres_database("redress_tracker") as url:
        # Rasa's side has its own PostgreSQL driver (psycopg2), as scripts/run-rasa sets.
        yield "postgresql://" + url.split("://", 1)[1]


def test_two_servers_see_what_rasas_own_store_reads_and_read_only_new_events(
    tracker_url: str,
) -> None:
    result = _run(tracker_url)

    assert set(result["server"]) == {0, 1}  # both servers took turns
    assert result["differ"] == []  # after every turn, from both servers
    # The server that saved reads nothing; the other reads the 6 new events, not 240.
    assert sorted(result["read_after_other_server"]) == [0, 6]
    assert result["unsaved_ignored"] is True
    assert result["events_before_erasure"] > 0
    assert result["erased"] == [True, True]
    assert result["events_after_erasure"] == 0
    assert result["kept"] == ["two", "three"]
    assert result["small_as_rasa"] == [True, True, True]


TRACKER_STORE_FROM_ENDPOINTS = """
import json, os
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig
from rasa_addons import tracker_guard

tracker_guard.install()
domain = Domain.load("domain")
os.environ.update(RASA_TRACKER_URL={url!r}, ACTION_SERVER_URL="http://127.0.0.1:1/webhook",
                  REDRESS_INTERNAL_SECRET="x")
configured = read_endpoints_from_path("endpoints.yml").tracker_store
store = TrackerStore.create(configured, domain)
result = {{"type": type(store).__name__, "keep": store.keep}}
try:
    TrackerStore.create(EndpointConfig(type="rasa_addons.no_such_store"), domain)
    result["misspelt"] = "started"
except tracker_guard.TrackerStoreUnavailable as error:
    result["misspelt"] = str(error)
print(json.dumps(result))
"""


def test_rasa_uses_the_configured_store_and_refuses_one_it_cannot_load(tmp_path: Path) -> None:
    result = run_in_rasa(TRACKER_STORE_FROM_ENDPOINTS.format(url=f"sqlite:///{tmp_path}/t.db"))

    assert result["type"] == "KeptSQLTrackerStore"
    assert result["keep"] == 256
    # Rasa alone would carry on with a store in memory and forget every conversation.
    assert "'rasa_addons.no_such_store'" in result["misspelt"]
    assert "will not start" in result["misspelt"]
