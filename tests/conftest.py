"""Shared fixtures: databases (SQLite files and real PostgreSQL) migrated to the latest schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from redress.business import Business, load_business
from redress.db.session import unit_of_work
from redress.migrate import upgrade
from redress.seed import load_demo_customers
from redress.settings import REPO_ROOT
from tests.stack import MODEL, Stack

POSTGRES_ADMIN_URL = os.environ.get(
    "REDRESS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def business() -> Business:
    return load_business(REPO_ROOT / "business")


def _migrated(url: str, business: Business) -> str:
    upgrade(url)
    with unit_of_work(url) as session:
        load_demo_customers(session, business.demo_customers)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, business: Business) -> str:
    return _migrated(f"sqlite:///{tmp_path / 'redress.db'}", business)


def _postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def postgres_database(prefix: str = "redress_test") -> Iterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards. Skips
    when PostgreSQL is not running, except in CI, where it must."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(
                f"PostgreSQL is required in CI and is not reachable at {POSTGRES_ADMIN_URL}"
            )
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    try:
        yield url
    finally:
        from redress.db.session import session_factory

        session_factory(url).kw["bind"].dispose()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(business: Business) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with postgres_database() as url:
        yield _migrated(url, business)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, business: Business) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` (make test does it) first.")
    running = Stack(tmp_path_factory.mktemp("stack"), business)
    try:
        for name in ("actions", "rasa", "gateway"):
            running.start(name)
        running.wait_until_ready()
        yield running
    finally:
        running.close()
