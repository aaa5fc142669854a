"""Runs the whole assistant for conversation and browser tests: the Rasa server with the
trained model, the action server and the gateway, as separate processes on free loopback
ports, on a fresh SQLite database. Tests talk to it over HTTP exactly as a web chat would.
The session-wide ``stack`` fixture in tests/conftest.py starts one for the whole run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from redress.db.session import unit_of_work
from redress.migrate import upgrade
from redress.seed import load_demo_customers
from redress.settings import REPO_ROOT

ADMIN_TOKEN = "conversation-admin-token-0123456789"
RASA_API_TOKEN = "conversation-rasa-api-token"
MODEL = REPO_ROOT / "models" / "redress.tar.gz"
START_TIMEOUT_SECONDS = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """The three processes, their logs, and helpers to talk to them."""

    def __init__(self, workdir: Path, business: Any) -> None:
        self.workdir = workdir
        self.database_url = f"sqlite:///{workdir / 'redress.db'}"
        upgrade(self.database_url)
        with unit_of_work(self.database_url) as session:
            load_demo_customers(session, business.demo_customers)
        self.ports = {name: _free_port() for name in ("rasa", "actions", "gateway")}
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "RASA_TRACKER_URL": f"sqlite:///{workdir / 'tracker.db'}",
            "RASA_PORT": str(self.ports["rasa"]),
            "RASA_URL": f"http://127.0.0.1:{self.ports['rasa']}",
            "ACTION_SERVER_PORT": str(self.ports["actions"]),
            "GATEWAY_PORT": str(self.ports["gateway"]),
            "REDRESS_ADMIN_TOKEN": ADMIN_TOKEN,
            "RASA_TELEMETRY_ENABLED": "false",
            # Every test talks from 127.0.0.1; the per-address limit is tested on its own.
            "WEBCHAT_MESSAGES_PER_MINUTE_PER_ADDRESS": "6000",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.http = httpx.Client(timeout=60)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def rasa(self) -> str:
        return f"http://127.0.0.1:{self.ports['rasa']}"

    def start(self, name: str) -> None:
        commands = {
            # The Rasa HTTP API is on here only so tests can read trackers; loopback only.
            "rasa": [
                str(REPO_ROOT / "scripts" / "run-rasa"),
                "--enable-api",
                "--auth-token",
                RASA_API_TOKEN,
            ],
            "actions": [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "actions"],
            "gateway": [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "bot"],
        }
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            commands[name],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_gateway(self, name: str, extra_env: dict[str, str], port: int | None = None) -> str:
        """Starts another gateway beside the stack's (same database and Rasa) with extra
        settings, for example Telegram on; returns its URL once /health answers."""
        self.ports[name] = port or self.ports.get(name) or _free_port()
        env = {**self.env, **extra_env, "GATEWAY_PORT": str(self.ports[name])}
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "bot"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{self.ports[name]}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log(name)}")
            try:
                if self.http.get(f"{url}/health", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start in time:\n{self.log(name)}")
            time.sleep(0.2)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def wait_until_ready(self) -> None:
        checks = {
            "rasa": f"{self.rasa}/",
            "actions": f"http://127.0.0.1:{self.ports['actions']}/health",
            "gateway": f"{self.gateway}/health",
        }
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for name, url in checks.items():
            while True:
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log(name)}")
                try:
                    if self.http.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start in time:\n{self.log(name)}")
                time.sleep(0.5)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def say(self, conversation_id: str | None, text: str) -> tuple[str, list[dict[str, Any]]]:
        """Sends one customer message; returns the conversation id and the bot's replies."""
        response = self.http.post(
            f"{self.gateway}/api/messages", json={"conversation_id": conversation_id, "text": text}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return body["conversation_id"], body["replies"]

    def record(self, conversation_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"{self.gateway}/api/conversations/{conversation_id}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"{self.rasa}/conversations/{conversation_id}/tracker",
            params={"token": RASA_API_TOKEN},
        )
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.http.close()


def texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(reply["text"] for reply in replies)
