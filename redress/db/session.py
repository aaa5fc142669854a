"""Engines and the unit of work: one transaction per piece of work, rolled back unless it
commits, so no record is ever half written."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str) -> Engine:
    """Creates an engine whose errors never quote the statement's values (they hold what
    customers wrote), so a logged database error holds no personal data. SQLite gets WAL, a
    busy timeout and transactions that take the write lock up front, so the gateway and the
    action server can write to the same file."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy, not the sqlite3 module, begins transactions (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            # Take the write lock when the transaction starts. A transaction that read first
            # and then wrote after another process's write failed at once with "database is
            # locked" (SQLite cannot upgrade its snapshot), instead of waiting its turn.
            take_write_lock(connection.connection.dbapi_connection)

        return engine
    return create_engine(
        database_url, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True
    )


# How long a SQLite statement waits for a lock held by another connection.
BUSY_TIMEOUT_SECONDS = 30
# Waiting for SQLite's write lock: SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20,
# 25, 25, 25, 50, 50 then 100 ms between tries, so a transaction queued behind another that
# holds the lock for 2 ms often waits 10 to 25. Here the lock is tried every 1 ms, then a
# little less often, for as long as the busy timeout.
LOCK_WAIT_SECONDS = float(BUSY_TIMEOUT_SECONDS)
LOCK_RETRY_FIRST, LOCK_RETRY_MOST = 0.001, 0.005


def take_write_lock(dbapi_connection: Any) -> None:
    """``BEGIN IMMEDIATE`` on a sqlite3 connection, retried briefly while another
    connection holds the write lock, up to LOCK_WAIT_SECONDS; then "database is locked"."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    pause = LOCK_RETRY_FIRST
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")  # our tries, not SQLite's sleeps
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                busy = "locked" in str(error) or "busy" in str(error)
                if not busy or time.monotonic() + pause > deadline:
                    # As SQLAlchemy raises what the database says, so callers see one kind.
                    raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
            time.sleep(pause)
            pause = min(pause * 1.5, LOCK_RETRY_MOST)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")  # as connected
        cursor.close()


@lru_cache(maxsize=8)
def session_factory(database_url: str) -> sessionmaker[Session]:
    """One engine and session factory per database URL per process, built on first use."""
    return sessionmaker(make_engine(database_url), expire_on_commit=False)


@contextmanager
def unit_of_work(database_url: str) -> Iterator[Session]:
    """A session whose work is committed only if the block finishes without an exception."""
    session = session_factory(database_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
