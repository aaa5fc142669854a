"""Gateway fixtures: the real application on a real database, driven over HTTP in-process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.settings import Settings

ADMIN_TOKEN = "integration-admin-token-0123456789"


def closed_port() -> int:
    """A loopback port nothing listens on: Rasa is 'down' there, for real."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gateway_settings(database_url: str, rasa_url: str) -> Settings:
    return replace(
        Settings.from_env({}),
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        rasa_url=rasa_url,
        rasa_timeout_seconds=5,
    )


@pytest.fixture
def rasa_down_client(database_url: str, business: Business) -> Iterator[TestClient]:
    """The gateway with no Rasa server behind it."""
    settings = gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}")
    with TestClient(create_app(settings, business)) as client:
        client.database_url = database_url  # type: ignore[attr-defined]
        yield client
