"""SQLite's write lock, as the gateway and the action server share one file: a transaction
waits for another's write lock and then goes ahead, gives up with "database is locked"
only after the wait allowed, and leaves the connection's own busy timeout as it was."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text

from redress.db import session as db_session


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = db_session.make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    with made.begin() as connection:
        connection.execute(text("CREATE TABLE said (what TEXT)"))
    yield made
    made.dispose()


def _holding_the_lock(engine: Engine, release: threading.Event) -> threading.Thread:
    held = threading.Event()

    def hold() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO said VALUES ('first')"))
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    return thread


def test_a_transaction_waits_for_the_write_lock_then_goes_ahead(engine: Engine) -> None:
    release = threading.Event()
    holder = _holding_the_lock(engine, release)
    threading.Timer(0.05, release.set).start()

    with engine.begin() as connection:  # queued behind the first, not refused
        connection.execute(text("INSERT INTO said VALUES ('second')"))
    holder.join()

    with engine.connect() as connection:
        said = connection.execute(text("SELECT what FROM said ORDER BY rowid")).scalars().all()
        busy_timeout = connection.execute(text("PRAGMA busy_timeout")).scalar()
    assert said == ["first", "second"]
    assert busy_timeout == 30_000  # every other statement still waits as long


def test_after_the_wait_allowed_it_is_refused_as_a_locked_database(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "LOCK_WAIT_SECONDS", 0.2)
    release = threading.Event()
    holder = _holding_the_lock(engine, release)
    try:
        with (
            pytest.raises(exc.OperationalError, match="database is locked"),
            engine.begin() as connection,
        ):
            connection.execute(text("INSERT INTO said VALUES ('refused')"))
    finally:
        release.set()
        holder.join()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM said")).scalar() == 1
