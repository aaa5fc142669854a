"""Engines and the unit of work: one transaction per piece of work, rolled back unless it
commits, so no record is ever half written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
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
        engine = create_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy, not the sqlite3 module, begins transactions (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            # Take the write lock when the transaction starts. A transaction that read first
            # and then wrote after another process's write failed at once with "database is
            # locked" (SQLite cannot upgrade its snapshot), instead of waiting its turn.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        database_url, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True
    )


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
