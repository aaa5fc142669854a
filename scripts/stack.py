"""Runs the whole assistant as separate processes on free loopback ports: the Rasa server
with the trained model, the action server and the gateway, on a database of its own. Callers
talk to it over HTTP exactly as a web chat would.

Used by the conversation and browser tests (the session-wide ``stack`` fixture in
tests/conftest.py starts one for the whole run) and by the serving benchmark
(scripts/bench.py), which also starts more Rasa servers and gateways beside the first ones.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from redress.conversations.customers import find_customer
from redress.db.session import unit_of_work
from redress.identity.signed import signature
from redress.internal_secret import bearer, internal_secret
from redress.migrate import upgrade
from redress.seed import load_demo_customers
from redress.settings import REPO_ROOT

ADMIN_TOKEN = "conversation-admin-token-0123456789"  # noqa: S105 (throwaway stacks only)
RASA_API_TOKEN = "conversation-rasa-api-token"  # noqa: S105
IDENTITY_SECRET = "conversation-identity-secret-0123456789"  # noqa: S105
MODEL = REPO_ROOT / "models" / "redress.tar.gz"
START_TIMEOUT_SECONDS = 240
PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")

# Each kind of process: the variable that gives it its port, and what answers 200 once ready.
PORT_VARIABLES = {"rasa": "RASA_PORT", "actions": "ACTION_SERVER_PORT", "gateway": "GATEWAY_PORT"}
READY_PATHS = {"rasa": "/", "actions": "/health", "gateway": "/health"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tracker_url_for(database_url: str, workdir: Path) -> str:
    """Rasa's tracker store beside the records, as scripts/run-rasa would choose it: the same
    PostgreSQL database, or a SQLite file of its own (here in ``workdir``)."""
    if database_url.startswith("postgresql"):
        return "postgresql://" + database_url.split("://", 1)[1]
    return f"sqlite:///{workdir / 'tracker.db'}"


class Stack:
    """The processes, their logs, and helpers to talk to them.

    ``business`` (anything with ``demo_customers``) loads the demo customers into the
    database; ``database_url`` is an existing empty database to use instead of a new SQLite
    file in ``workdir``; ``extra_env`` is added to every process's environment."""

    def __init__(
        self,
        workdir: Path,
        business: Any = None,
        *,
        database_url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.database_url = database_url or f"sqlite:///{workdir / 'redress.db'}"
        upgrade(self.database_url)
        if business is not None:
            with unit_of_work(self.database_url) as session:
                load_demo_customers(session, business.demo_customers)
        self.ports = {name: free_port() for name in ("rasa", "actions", "gateway")}
        self.kinds: dict[str, str] = {}
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "RASA_TRACKER_URL": tracker_url_for(self.database_url, workdir),
            "RASA_PORT": str(self.ports["rasa"]),
            "RASA_URL": f"http://127.0.0.1:{self.ports['rasa']}",
            "ACTION_SERVER_PORT": str(self.ports["actions"]),
            "GATEWAY_PORT": str(self.ports["gateway"]),
            "REDRESS_ADMIN_TOKEN": ADMIN_TOKEN,
            "RASA_TELEMETRY_ENABLED": "false",
            # Every test talks from 127.0.0.1; the per-address limits are tested on their own.
            "WEBCHAT_MESSAGES_PER_MINUTE_PER_ADDRESS": "6000",
            # Every browser test signs in to the console from this one address.
            "CONSOLE_SIGN_INS_PER_MINUTE_PER_ADDRESS": "6000",
            "REDRESS_LOOKUPS_PER_HOUR_PER_ADDRESS": "1000000",
            # The business's login signs identities with this (docs/identity.md).
            "REDRESS_IDENTITY_SECRET": IDENTITY_SECRET,
            **(extra_env or {}),
        }
        # What the three processes prove themselves to each other with: REDRESS_INTERNAL_SECRET
        # if set, otherwise var/internal-secret, as under `make run` (made here, before any
        # process starts).
        self.internal_secret = internal_secret(self.env)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # Each web chat's conversation_token, from the reply that started it.
        self.conversation_tokens: dict[str, str] = {}
        # The account each conversation's customer is logged in with (``say``).
        self.signed_in: dict[str, str] = {}
        self.http = httpx.Client(timeout=60)

    @property
    def gateway(self) -> str:
        return self.url("gateway")

    @property
    def rasa(self) -> str:
        return self.url("rasa")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def internal_headers(self) -> dict[str, str]:
        """The header the gateway sends Rasa, and Rasa the action server."""
        return {"Authorization": bearer(self.internal_secret)}

    def command(self, kind: str) -> list[str]:
        return {
            # The Rasa HTTP API is on here only so tests can read trackers; loopback only.
            "rasa": [
                str(REPO_ROOT / "scripts" / "run-rasa"),
                "--enable-api",
                "--auth-token",
                RASA_API_TOKEN,
            ],
            "actions": [PYTHON, "-m", "actions"],
            "gateway": [PYTHON, "-m", "bot"],
        }[kind]

    def start(
        self,
        name: str,
        kind: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        """Starts process ``name``, a ``kind`` of process (its name unless given: "rasa",
        "actions" or "gateway"), on ``port`` (the one it had, or a free one)."""
        kind = kind or name
        self.kinds[name] = kind
        self.ports[name] = port or self.ports.get(name) or free_port()
        env = {**self.env, **(extra_env or {}), PORT_VARIABLES[kind]: str(self.ports[name])}
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603 (our own commands)
            self.command(kind),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_gateway(self, name: str, extra_env: dict[str, str], port: int | None = None) -> str:
        """Starts another gateway beside the stack's (same database and Rasa) with extra
        settings, for example Telegram on; returns its URL once /health answers."""
        self.start(name, "gateway", extra_env, port)
        self.wait_for(name)
        return self.url(name)

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return  # it had already stopped
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def wait_for(self, name: str, deadline: float | None = None) -> None:
        """Waits until process ``name`` answers on its ready path; fails with its log if it
        exits or takes longer than START_TIMEOUT_SECONDS."""
        deadline = deadline or time.monotonic() + START_TIMEOUT_SECONDS
        url = self.url(name) + READY_PATHS[self.kinds.get(name, name)]
        while True:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log(name)}")
            try:
                if self.http.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start in time:\n{self.log(name)}")
            time.sleep(0.2)

    def wait_until_ready(self, names: Iterable[str] = ("rasa", "actions", "gateway")) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for name in names:
            self.wait_for(name, deadline)

    def redress(self, *args: str) -> str:
        """Runs ``python -m redress ARGS`` on the stack's database and settings (for example
        ``seed``, which loads the demo customers and incidents); returns what it printed."""
        done = subprocess.run(  # noqa: S603 (our own interpreter and module)
            [PYTHON, "-m", "redress", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"python -m redress {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout + done.stderr

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def say(
        self, conversation_id: str | None, text: str, *, signed_in: str | bool = True
    ) -> tuple[str, list[dict[str, Any]]]:
        """Sends one customer message; returns the conversation id and the bot's replies.

        ``signed_in``: the account the customer is logged in with on the business's site,
        passed as the widget does (a signed identity). ``True`` (the default): the customer
        is logged in as the first account number they type, from that message on, so a
        typed account is theirs, as on a business's own logged-in pages. ``False``: never
        signed in, so a typed account is only claimed (docs/identity.md)."""
        token = self.conversation_tokens.get(conversation_id or "")
        if signed_in is True:
            signed_in = self.signed_in.get(conversation_id or "") or self._account_in(text)
        body: dict[str, Any] = {
            "conversation_id": conversation_id,
            "conversation_token": token,
            "text": text,
        }
        if signed_in:
            body["identity"] = signed_identity(str(signed_in))
        response = self.http.post(f"{self.gateway}/api/messages", json=body)
        if response.status_code != 200:
            raise AssertionError(response.text)
        body = response.json()
        if "conversation_token" in body:
            self.conversation_tokens[body["conversation_id"]] = body["conversation_token"]
        if signed_in:
            self.signed_in[body["conversation_id"]] = str(signed_in)
        return body["conversation_id"], body["replies"]

    def _account_in(self, text: str) -> str | bool:
        """The account a message names by number or e-mail address, if it exists."""
        with unit_of_work(self.database_url) as session:
            customer = find_customer(session, text)
            return customer.account_number if customer is not None else False

    def record(self, conversation_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"{self.gateway}/api/conversations/{conversation_id}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        if response.status_code != 200:
            raise AssertionError(response.text)
        return dict(response.json())

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"{self.rasa}/conversations/{conversation_id}/tracker",
            params={"token": RASA_API_TOKEN},
        )
        response.raise_for_status()
        return dict(response.json())

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.http.close()


def signed_identity(account_number: str) -> dict[str, str]:
    """What a business's page gives the widget for a customer logged in as ``account_number``."""
    return {
        "account_number": account_number,
        "signature": signature(account_number, IDENTITY_SECRET),
    }


def texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(reply["text"] for reply in replies)
