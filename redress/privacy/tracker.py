"""Rasa's tracker store, read and erased directly: its ``events`` table (Rasa 3.6's
SQLTrackerStore: id, sender_id, type_name, timestamp, intent_name, action_name, data) on
RASA_TRACKER_URL. Every event of a conversation is a row whose ``sender_id`` is the
conversation id; its ``data`` is the event as JSON, with the customer's text in it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    select,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.engine import Engine

_metadata = MetaData()
EVENTS = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


def engine_for(tracker_url: str) -> Engine | None:
    """An engine on the tracker store, or None when there is none yet (a SQLite file Rasa
    has not made: nothing was ever stored). Rasa's ``postgresql://`` URL gets the driver
    this environment has (psycopg 3)."""
    sqlite_file = tracker_url.removeprefix("sqlite:///")
    if tracker_url.startswith("sqlite:///") and not Path(sqlite_file).exists():
        return None
    scheme, _, rest = tracker_url.partition("://")
    if scheme.startswith("postgres"):
        tracker_url = "postgresql+psycopg://" + rest
    return create_engine(tracker_url)


def has_events(engine: Engine) -> bool:
    return inspect(engine).has_table("events")


def tracker_events(tracker_url: str, sender_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every stored event of these conversations, oldest first, with ``data`` decoded."""
    engine = engine_for(tracker_url)
    if engine is None or not sender_ids:
        return []
    try:
        if not has_events(engine):
            return []
        with engine.connect() as connection:
            rows = connection.execute(
                select(EVENTS).where(EVENTS.c.sender_id.in_(list(sender_ids))).order_by(EVENTS.c.id)
            ).mappings()
            return [_event(dict(row)) for row in rows]
    finally:
        engine.dispose()


def erase_tracker_events(tracker_url: str, sender_ids: Sequence[str]) -> int:
    """Deletes every event of these conversations; returns how many rows went."""
    engine = engine_for(tracker_url)
    if engine is None or not sender_ids:
        return 0
    try:
        if not has_events(engine):
            return 0
        with engine.begin() as connection:
            result = connection.execute(
                sql_delete(EVENTS).where(EVENTS.c.sender_id.in_(list(sender_ids)))
            )
            return int(result.rowcount or 0)
    finally:
        engine.dispose()


def _event(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("data")
    with contextlib.suppress(ValueError):  # else kept as the text Rasa stored
        row["data"] = json.loads(raw) if raw else None
    return row
