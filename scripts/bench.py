"""Serving speed and correctness under load: ``make bench`` (BENCH_ARGS=... for options).

Starts the whole assistant (Rasa server, action server, gateway: scripts/stack.py) on a
throwaway database, then drives simulated customers concurrently through the web chat API
with multi-turn complaint conversations, and the same conversations straight to Rasa's REST
channel ("bare Rasa": the same model, action server and database, without the gateway), so
the report shows what the gateway adds. Phases alternate bare, full, full, bare, so a change
in machine load during the run (another job starting) weighs on both sides alike.

Each simulated customer reacts to what the assistant says: a complaint, then the account
number (or its email) when asked, the postcode or "since when" if asked, the incident
explanation and the offer of updates (pressed: the button's payload is sent as the text),
the compensation offer (accepted the same way), and a thanks. Most customers live in an area,
or hold an account, that a demo incident from business/incidents.yml explains.

The business folder is copied into the run's directory and changed so that every
conversation can take that path, as it would for thousands of different customers: twelve
demo accounts would otherwise meet the per-customer compensation caps after three
conversations each, and every later complaint would be a "repeat" that brings a person in.
So the copy has the per-customer and per-incident caps at the most the policy allows (100
remedies, £10,000), no repeat-complaint handoff, and ten clones of each demo customer (same
name, postcode and plan, account numbers BL-9...; a clone of an account a demo incident
lists is listed too). Everything else (texts, rules, incidents, opening hours) is as shipped.

Afterwards every conversation (up to --check-limit) is compared with its record from the
records API and with Rasa's tracker: nothing lost, nothing duplicated, order kept. Bursts
send two messages of one conversation at the same moment (to different instances with
--instances N) and check the same.

Writes reports/bench/<name>.json and .md. Figures depend on the machine: the report keeps
the CPU count, the load average and the CPU other processes used while it ran.

    .venv/bin/python scripts/bench.py [--duration 60] [--concurrency 20] [--soak 300]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--instances 2 --redis-url redis://127.0.0.1:6379/5] [--profile] [--smoke]
    .venv/bin/python scripts/bench.py curve [--customers 1,10,20,50,100] [--think 0,5]
        [--seconds 60] [--out reports/bench]
    .venv/bin/python scripts/bench.py length [--turns 60] [--out reports/bench]

(curve and length: scripts/bench_curve.py.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Run as a script (sys.path[0] is scripts/): our packages are in the folder above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml
from sqlalchemy import select

from redress import memory_trace
from redress.business import load_business
from redress.clock import utcnow
from redress.conversations import records as conversations
from redress.conversations.customers import normalise_account_number
from redress.db.models import Customer as DbCustomer
from redress.db.session import unit_of_work
from redress.identity import records as identity_records
from redress.internal_secret import bearer, internal_secret
from scripts.stack import ADMIN_TOKEN, MODEL, RASA_API_TOKEN, Stack, signed_identity

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "bench"
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
ALLOCATIONS = "allocations"  # the run folder's allocation summaries (--trace-allocations)
MAX_TURNS = 10
# The gateway allows at most 6,000 messages a minute from one address; every simulated
# customer talks from 127.0.0.1, so the bench sets that (100 a second is far above what
# two cores serve). A 429 is counted as an error: it would mean this was too low.
PER_ADDRESS_LIMIT = "6000"

# Targets the report is read against (never asserted).
TARGET_P50_RATIO = 1.5
TARGET_P95_MS = 500.0
TARGET_CONCURRENCY = 20
TARGET_SOAK_GROWTH = 0.10  # RSS at the end of the soak within 10% of its start


# ---------------------------------------------------------------------------------------
# What the simulated customers say


@dataclass(frozen=True)
class Customer:
    account: str
    name: str
    email: str
    postcode: str


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: int
    openings: tuple[str, ...]
    customers: tuple[Customer, ...]


OPENINGS = {
    "outage": (
        "my internet's been down since this morning, what is going on??",
        "no internet at all since about 7 this morning, the router lights are all red",
        "broadband has stopped working completely, nothing will load",
        "the broadband is dead. cant get online at all and i need it for work",
        "hi, my internet isn't working, can you help",
    ),
    "billing": (
        "you've charged me twice for my november bill, two payments came out of my bank",
        "why have i been billed twice this month?? thats my money",
        "I've been charged twice for the same bill, please sort it out",
    ),
    "delay": (
        "the engineer was meant to come today between 8 and 1 and never showed up",
        "I took the day off for my installation and nobody turned up",
    ),
    "slow_service": (
        "my broadband keeps dropping out every evening, its unusable",
        "the internet is so slow i cant even load a web page, its useless",
    ),
}
ACCOUNT_REPLIES = ("{account}", "its {account_spaced}", "my account number is {account}")
EMAIL_REPLY = "it's under {email}"
POSTCODE_REPLIES = ("{postcode}", "it's {postcode}")
SINCE_REPLIES = ("about two weeks ago", "since last tuesday", "it started on monday")
THANKS = ("thanks", "great, thank you", "cheers", "thank you so much")
# Clones of each demo customer in the run's copy of the business folder (see the notes).
CLONES = 10
# Sent at once with another message of the same conversation, in the bursts.
HURRY = "please be quick, i work from home and need it back today"


def _district(postcode: str) -> str:
    return postcode.strip().split()[0].upper()


def build_scenarios(business_dir: Path) -> list[Scenario]:
    """Conversations for the demo business: complaints an active demo incident explains
    (customers in its areas, or on its list of accounts) and one it does not."""
    business = load_business(business_dir)
    customers = [
        Customer(c.account_number, c.name, c.email, c.postcode) for c in business.demo_customers
    ]
    incidents_file = business_dir / "incidents.yml"
    incidents = (
        yaml.safe_load(incidents_file.read_text(encoding="utf-8")).get("incidents", [])
        if incidents_file.exists()
        else []
    )
    explained: dict[str, list[Customer]] = defaultdict(list)
    covered: set[str] = set()
    for incident in incidents:
        if incident.get("status") == "resolved":
            continue
        districts: set[str] = set()
        for area in incident.get("areas") or []:
            districts.update(business.regions.get(area, (area,)))
        accounts = set(incident.get("accounts") or [])
        for customer in customers:
            if accounts and customer.account not in accounts:
                continue
            if districts and _district(customer.postcode) not in {d.upper() for d in districts}:
                continue
            for category in incident.get("categories") or []:
                if category in OPENINGS and customer not in explained[category]:
                    explained[category].append(customer)
                    covered.add(customer.account)
    weights = {"outage": 6, "billing": 2, "delay": 1}
    scenarios = [
        Scenario(f"incident-{category}", weight, OPENINGS[category], tuple(explained[category]))
        for category, weight in weights.items()
        if explained[category]
    ]
    others = tuple(c for c in customers if c.account not in covered)
    if others:
        scenarios.append(Scenario("no-incident-slow_service", 1, OPENINGS["slow_service"], others))
    if not scenarios:
        raise SystemExit(f"no demo customers in {business_dir}/demo_customers.yml to talk as")
    return scenarios


def clone_account(account: str, copy: int) -> str:
    """The account number of a demo customer's ``copy``-th clone: BL-100009 -> BL-9009NN."""
    return f"BL-9{int(account[-3:]):03d}{copy:02d}"


def prepare_business(source: Path, destination: Path) -> Path:
    """A copy of the business folder for the run (see the module notes): the compensation
    caps per customer and per incident at the most the policy allows, no repeat-complaint
    handoff, and CLONES clones of each demo customer (same name, postcode and plan; account
    numbers BL-9...) that the demo incidents cover as they cover the original."""
    shutil.copytree(source, destination)
    compensation_file = destination / "compensation.yml"
    if compensation_file.exists():
        compensation = yaml.safe_load(compensation_file.read_text(encoding="utf-8"))
        limits = compensation.setdefault("limits", {})
        limits["per_customer"] = {"amount": "10000.00", "count": 100, "window_days": 365}
        limits["per_incident"] = {"budget": "10000.00", "budgets": {}}
        compensation_file.write_text(yaml.safe_dump(compensation, sort_keys=False))
    handoff_file = destination / "handoff.yml"
    if handoff_file.exists():
        handoff = yaml.safe_load(handoff_file.read_text(encoding="utf-8")) or {}
        handoff["repeat_within_days"] = 0
        handoff_file.write_text(yaml.safe_dump(handoff, sort_keys=False))
    customers_file = destination / "demo_customers.yml"
    if customers_file.exists():
        data = yaml.safe_load(customers_file.read_text(encoding="utf-8"))
        originals = list(data.get("customers") or [])
        for copy in range(1, CLONES + 1):
            for customer in originals:
                local, _, domain = str(customer["email"]).partition("@")
                data["customers"].append(
                    {
                        **customer,
                        "account_number": clone_account(customer["account_number"], copy),
                        "email": f"bench{copy}.{local}@{domain}",
                    }
                )
        customers_file.write_text(yaml.safe_dump(data, sort_keys=False))
    incidents_file = destination / "incidents.yml"
    if incidents_file.exists():
        data = yaml.safe_load(incidents_file.read_text(encoding="utf-8"))
        for incident in data.get("incidents") or []:
            if incident.get("accounts"):
                incident["accounts"] = [
                    *incident["accounts"],
                    *(
                        clone_account(account, copy)
                        for account in incident["accounts"]
                        for copy in range(1, CLONES + 1)
                    ),
                ]
        incidents_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return destination


# ---------------------------------------------------------------------------------------
# Talking to the assistant


@dataclass
class Turn:
    step: str
    sent: str  # what the client posted as the text
    shown: str  # what the record should show: the button's title for a press
    instance: int
    at: float  # seconds since the run started, when it was sent
    latency_ms: float
    status: int | None  # None: no HTTP answer (timeout, connection refused)
    error: str | None = None
    message_id: int | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Conversation:
    mode: str  # full | bare
    phase: str
    scenario: str
    account: str
    id: str | None = None
    turns: list[Turn] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)
    ended: str = "running"  # done | error | off_script | cut_off | max_turns
    # For a conversation that went off script: the assistant's last words, to say why.
    off_script_after: str | None = None

    def errors(self) -> list[Turn]:
        return [t for t in self.turns if t.error is not None]


class Target:
    """Where one mode's messages go: the gateways' web chat API ("full") or the Rasa servers'
    REST channel ("bare"), a random instance for each message."""

    def __init__(self, mode: str, urls: list[str], database_url: str) -> None:
        self.mode = mode
        self.urls = urls
        self.database_url = database_url
        # Rasa's channel answers only requests with the internal secret, as the gateway sends.
        self.headers = {"Authorization": bearer(internal_secret())} if mode == "bare" else {}
        # Each conversation's conversation_token, from the reply that started it ("full").
        self.tokens: dict[str, str] = {}
        # Conversations whose customer gave their account, so is signed in as it ("full").
        self.signed: set[str] = set()

    def new_id(self, account: str) -> str | None:
        # The gateway issues conversation ids; Rasa's channel takes the sender's.
        return None if self.mode == "full" else f"bench-{uuid.uuid4().hex}"

    def _verify_directly(self, conversation_id: str, account: str) -> None:
        """Rasa alone has no gateway to check a signed login: the verified account is put in
        the records as the gateway would, before the message that gives it."""
        with unit_of_work(self.database_url) as session:
            chat = conversations.ensure_conversation(session, conversation_id, "rasa")
            customer = session.scalar(
                select(DbCustomer).where(DbCustomer.account_number == account)
            )
            if customer is not None:
                identity_records.verify(
                    session, chat, customer, identity_records.SIGNED_LOGIN, utcnow()
                )

    def _identity(
        self, conversation_id: str | None, text: str, customer: Customer | None
    ) -> dict[str, Any]:
        """The signed identity, from the message where the customer gives their account (by
        number or e-mail) on: logged in on the business's site as that account, as the
        conversation tests are."""
        if customer is None:
            return {}
        if conversation_id not in self.signed and not _gives_account(text, customer):
            return {}
        if conversation_id is not None:
            self.signed.add(conversation_id)
        return {"identity": signed_identity(customer.account)}

    def message_body(
        self, conversation_id: str | None, text: str, customer: Customer | None
    ) -> dict[str, Any]:
        """What the web chat API ("full") is sent for one message."""
        return {
            "conversation_id": conversation_id,
            "conversation_token": self.tokens.get(conversation_id or ""),
            "text": text,
            **self._identity(conversation_id, text, customer),
        }

    def answered(
        self,
        conversation_id: str | None,
        text: str,
        customer: Customer | None,
        body: dict[str, Any],
    ) -> str | None:
        """Keeps what an answer of the web chat API means for the next message (the
        conversation's token, the customer signed in); returns the conversation's id."""
        conversation_id = body.get("conversation_id") or conversation_id
        if isinstance(token := body.get("conversation_token"), str) and conversation_id:
            self.tokens[conversation_id] = token
        if customer is not None and _gives_account(text, customer):
            self.signed.add(str(conversation_id))
        return conversation_id

    async def send(
        self,
        client: httpx.AsyncClient,
        conversation_id: str | None,
        text: str,
        instance: int,
        customer: Customer | None = None,
    ) -> tuple[int | None, str | None, int | None, list[dict[str, Any]], str | None]:
        """Sends one message; returns (status, conversation id, customer message id, replies,
        error). Replies are {id, text, buttons: [{title, payload}]} in both modes."""
        url = self.urls[instance]
        try:
            if self.mode == "full":
                response = await client.post(
                    f"{url}/api/messages", json=self.message_body(conversation_id, text, customer)
                )
            else:
                first = conversation_id is not None and conversation_id not in self.signed
                if first and customer and self._identity(conversation_id, text, customer):
                    await asyncio.to_thread(
                        self._verify_directly, conversation_id, customer.account
                    )
                response = await client.post(
                    f"{url}/webhooks/gateway/webhook",
                    headers=self.headers,
                    json={
                        "sender": conversation_id,
                        "message": text,
                        "metadata": {"channel": "web"},
                    },
                )
        except httpx.HTTPError as problem:
            return None, conversation_id, None, [], f"{type(problem).__name__}: {problem}"[:200]
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            return (
                response.status_code,
                conversation_id,
                None,
                [],
                f"HTTP {response.status_code} {code or ''}".strip(),
            )
        if self.mode == "full" and isinstance(body, dict):
            replies = [
                {"id": r.get("id"), "text": r.get("text") or "", "buttons": r.get("buttons") or []}
                for r in body.get("replies") or []
            ]
            conversation_id = self.answered(conversation_id, text, customer, body)
            message_id = body.get("message_id")
        elif self.mode == "bare" and isinstance(body, list):
            replies = [
                {"id": None, "text": r.get("text") or "", "buttons": r.get("buttons") or []}
                for r in body
                if isinstance(r, dict)
            ]
            message_id = None
        else:
            return 200, conversation_id, None, [], "malformed body"
        if not replies:
            return 200, conversation_id, message_id, [], "no reply"
        return 200, conversation_id, message_id, replies, None


def _gives_account(text: str, customer: Customer) -> bool:
    """Whether this message gives the customer's account, by its number or their e-mail."""
    return (
        normalise_account_number(text) == customer.account or customer.email.lower() in text.lower()
    )


def _press(replies: list[dict[str, Any]], title: str) -> tuple[str, str] | None:
    """The payload and title of the button with this title in the last replies that have
    buttons, if there is one."""
    for reply in reversed(replies):
        for button in reply["buttons"]:
            if str(button.get("title", "")).lower() == title.lower():
                return str(button["payload"]), str(button["title"])
    return None


def next_move(
    replies: list[dict[str, Any]],
    conversation: Conversation,
    customer: Customer,
    rng: random.Random,
) -> tuple[str, str, str] | None:
    """What the customer says next, as (step, text to send, text the record should show), or
    None when the conversation is over (``conversation.ended`` says how)."""
    said = " ".join(r["text"] for r in replies).lower()
    last = replies[-1]["text"].lower() if replies else ""
    asked = {t.step for t in conversation.turns}
    for marker, step in (
        ("i've found your account", "account_found"),
        ("part of a wider problem", "incident"),
        ("don't know of a wider problem", "no_incident"),
        ("to make up for this", "offer"),
        ("i've added", "granted"),
        ("we already added", "already_compensated"),
        ("you're welcome", "thanked"),
    ):
        if marker in said:
            conversation.reached.add(step)
    if len(conversation.turns) == 1 and said.startswith("i'm sorry"):
        conversation.reached.add("apology")  # the first answer apologises
    if "you're welcome" in said:
        conversation.ended = "done"
        return None
    if "account number" in last and "account" not in asked:
        if rng.random() < 0.2:
            text = EMAIL_REPLY.format(email=customer.email)
        else:
            template = rng.choice(ACCOUNT_REPLIES)
            text = template.format(
                account=customer.account,
                account_spaced=customer.account.replace("-", " ").lower(),
            )
        return "account", text, text
    if "postcode" in last and "postcode" not in asked:
        text = rng.choice(POSTCODE_REPLIES).format(postcode=customer.postcode)
        return "postcode", text, text
    if "when did this start" in said and "since" not in asked:
        text = rng.choice(SINCE_REPLIES)
        return "since", text, text
    if "updates" not in asked and (pressed := _press(replies, "Yes, keep me posted")):
        return "updates", pressed[0], pressed[1]
    if "to make up for this" in said and (pressed := _press(replies, "Yes, please")):
        return "accept_offer", pressed[0], pressed[1]
    # A customer of the few demo accounts often brings the same problem again: it was
    # already put right, so they are told so (with the reference) and say thanks.
    settled = ("i've added", "we already added")
    if "thanks" not in asked and (any(m in said for m in settled) or "anything else" in last):
        text = rng.choice(THANKS)
        return "thanks", text, text
    conversation.ended = "off_script"
    conversation.off_script_after = replies[-1]["text"][:120] if replies else "(no reply)"
    return None


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.start


async def converse(
    client: httpx.AsyncClient,
    target: Target,
    scenario: Scenario,
    phase: str,
    deadline: float,
    rng: random.Random,
    clock: Clock,
    think: float = 0.0,
) -> Conversation:
    """One simulated customer's conversation, until it is over or the phase ends."""
    customer = rng.choice(scenario.customers)
    conversation = Conversation(target.mode, phase, scenario.name, customer.account)
    conversation.id = target.new_id(customer.account)
    opening = rng.choice(scenario.openings)
    move: tuple[str, str, str] | None = ("complaint", opening, opening)
    while move is not None:
        if clock.now() >= deadline:
            conversation.ended = "cut_off"
            break
        if len(conversation.turns) >= MAX_TURNS:
            conversation.ended = "max_turns"
            break
        step, text, shown = move
        instance = rng.randrange(len(target.urls))
        sent_at = clock.now()
        began = time.perf_counter()
        status, conversation.id, message_id, replies, error = await target.send(
            client, conversation.id, text, instance, customer
        )
        latency = (time.perf_counter() - began) * 1000
        conversation.turns.append(
            Turn(step, text, shown, instance, sent_at, latency, status, error, message_id, replies)
        )
        if error is not None:
            conversation.ended = "error"
            break
        move = next_move(replies, conversation, customer, rng)
        if think and move is not None:  # reading the answer and typing the next message
            await asyncio.sleep(rng.uniform(0, 2 * think))
    return conversation


@dataclass
class Phase:
    name: str
    mode: str
    started: float
    seconds: float
    conversations: list[Conversation]
    snapshot_before: dict[str, Any]
    snapshot_after: dict[str, Any]


async def run_phase(
    name: str,
    client: httpx.AsyncClient,
    target: Target,
    scenarios: list[Scenario],
    seconds: float,
    concurrency: int,
    rng: random.Random,
    clock: Clock,
    monitor: Monitor,
    think: float = 0.0,
) -> Phase:
    """``concurrency`` customers, each starting a new conversation when one ends, for
    ``seconds``; a conversation still going at the end is cut off (its last turn counts)."""
    monitor.phase = name
    before = monitor.snapshot()
    started = clock.now()
    deadline = started + seconds
    weights = [s.weight for s in scenarios]
    done: list[Conversation] = []

    async def customer(seed: int) -> None:
        own = random.Random(seed)  # noqa: S311 (who says what, not a secret)
        if think:  # customers arrive spread out, not all at the first second
            await asyncio.sleep(own.uniform(0, 2 * think))
        while clock.now() < deadline:
            scenario = own.choices(scenarios, weights)[0]
            done.append(await converse(client, target, scenario, name, deadline, own, clock, think))

    await asyncio.gather(*(customer(rng.randrange(2**32)) for _ in range(concurrency)))
    ended = clock.now()
    after = monitor.snapshot()
    monitor.phase = None
    return Phase(name, target.mode, started, ended - started, done, before, after)


# ---------------------------------------------------------------------------------------
# Processes: memory and CPU, from psutil when it is installed, else from /proc


try:  # optional: /proc is read otherwise (Linux)
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_tree(pid: int) -> list[int]:
    """The process and its descendants."""
    if psutil is not None:
        try:
            parent = psutil.Process(pid)
            return [pid, *(child.pid for child in parent.children(recursive=True))]
        except psutil.Error:
            return []
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children[ppid].append(int(entry.name))
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue.extend(children.get(current, []))
    return tree


def process_usage(pid: int) -> tuple[int, float] | None:
    """(RSS in bytes, CPU seconds used so far) of a process and its descendants."""
    rss, cpu, seen = 0, 0.0, False
    for member in _proc_tree(pid):
        if psutil is not None:
            try:
                process = psutil.Process(member)
                rss += process.memory_info().rss
                times = process.cpu_times()
                cpu += times.user + times.system
                seen = True
            except psutil.Error:
                continue
            continue
        try:
            status = Path(f"/proc/{member}/status").read_text()
            stat = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        rss += int(match[1]) * 1024 if match else 0
        cpu += (int(stat[11]) + int(stat[12])) / CLOCK_TICKS  # utime, stime
        seen = True
    return (rss, cpu) if seen else None


def machine_cpu_seconds() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    if psutil is not None:
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        total = sum(times)
        return total - idle, total
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    idle = fields[3] + fields[4]
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


class Monitor:
    """Samples each process's RSS every ``interval`` seconds (peaks per phase, a timeline),
    and takes CPU snapshots at phase boundaries."""

    def __init__(self, pids: dict[str, int], clock: Clock, interval: float) -> None:
        self.pids = pids
        self.clock = clock
        self.interval = interval
        self.phase: str | None = None
        self.peaks: dict[str, dict[str, int]] = defaultdict(dict)  # phase -> process -> bytes
        self.timeline: list[dict[str, Any]] = []
        self.load_peak = os.getloadavg()[0]
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> dict[str, int]:
        rss = {}
        for name, pid in self.pids.items():
            usage = process_usage(pid)
            if usage is not None:
                rss[name] = usage[0]
        return rss

    def snapshot(self) -> dict[str, Any]:
        usage = {name: process_usage(pid) for name, pid in self.pids.items()}
        return {
            "at": self.clock.now(),
            "cpu": {name: u[1] for name, u in usage.items() if u is not None},
            "rss": {name: u[0] for name, u in usage.items() if u is not None},
            "client_cpu": time.process_time(),
            "machine": machine_cpu_seconds(),
            "loadavg": os.getloadavg(),
        }

    async def _run(self) -> None:
        while True:
            rss = self.sample()
            self.load_peak = max(self.load_peak, os.getloadavg()[0])
            self.timeline.append({"t": round(self.clock.now(), 1), "phase": self.phase, **rss})
            if self.phase is not None:
                peaks = self.peaks[self.phase]
                for name, value in rss.items():
                    peaks[name] = max(peaks.get(name, 0), value)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ---------------------------------------------------------------------------------------
# Correctness: each conversation against its record and Rasa's tracker


def expected_messages(conversation: Conversation) -> list[tuple[int, str, str]]:
    """(id, role, text) the record should hold, in order, from the turns answered before any
    error (after an error the record may hold more: the message and an apology)."""
    expected: list[tuple[int, str, str]] = []
    for turn in conversation.turns:
        if turn.error is not None or turn.message_id is None:
            break
        expected.append((turn.message_id, "customer", turn.shown))
        expected.extend((int(r["id"]), "bot", r["text"]) for r in turn.replies)
    return expected


def compare_record(conversation: Conversation, record: dict[str, Any]) -> list[str]:
    """Problems between what the client sent and got back and the conversation's record:
    lost or duplicated messages, changed text, or a different order. Messages pushed later
    (incident updates: details.kind) are not part of the turns and are left out."""
    expected = expected_messages(conversation)
    recorded = [
        (int(m["id"]), str(m["role"]), str(m["text"]))
        for m in record.get("messages", [])
        if not (m.get("details") or {}).get("kind")
    ]
    problems: list[str] = []
    ids = [m[0] for m in recorded]
    if len(set(ids)) != len(ids):
        problems.append("duplicated: a message id appears twice in the record")
    by_id = {m[0]: m for m in recorded}
    for message in expected:
        found = by_id.get(message[0])
        if found is None:
            problems.append(f"lost: {message[1]} message {message[0]} {message[2][:40]!r}")
        elif found != message:
            problems.append(
                f"changed: message {message[0]} is {found[1]} {found[2][:40]!r}, "
                f"expected {message[1]} {message[2][:40]!r}"
            )
    complete = not conversation.errors()
    if complete:
        extra = [m for m in recorded if m[0] not in {e[0] for e in expected}]
        for message in extra:
            kind = (
                "duplicated"
                if any(e[1:] == message[1:] for e in expected if e[1] == "customer")
                else "unexpected"
            )
            problems.append(f"{kind}: {message[1]} message {message[0]} {message[2][:40]!r}")
    in_record = [i for i in ids if i in {e[0] for e in expected}]
    if in_record != [e[0] for e in expected if e[0] in by_id]:
        problems.append("order: the record's order differs from the order of the turns")
    if complete and recorded[: len(expected)] != expected and not problems:
        problems.append("order: the record does not start with the conversation's turns")
    return problems


def tracker_user_texts(tracker: dict[str, Any]) -> list[str]:
    return [str(e.get("text")) for e in tracker.get("events", []) if e.get("event") == "user"]


def compare_tracker(record: dict[str, Any], tracker: dict[str, Any]) -> list[str]:
    """The customer messages that reached Rasa (what was sent: a button's payload, or the
    typed text) against the user messages in Rasa's tracker: same ones, once, same order."""
    sent = [
        str((m.get("details") or {}).get("sent_to_assistant") or m["text"])
        for m in record.get("messages", [])
        if m["role"] == "customer"
    ]
    seen = tracker_user_texts(tracker)
    if seen == sent:
        return []
    if Counter(seen) != Counter(sent):
        missing = list((Counter(sent) - Counter(seen)).elements())
        doubled = list((Counter(seen) - Counter(sent)).elements())
        return [
            f"tracker: {len(seen)} user messages for {len(sent)} recorded"
            + (f"; missing {missing[:3]}" if missing else "")
            + (f"; extra {doubled[:3]}" if doubled else "")
        ]
    return ["tracker: Rasa saw the customer's messages in a different order than recorded"]


@dataclass
class Burst:
    """Two messages of one conversation sent at the same moment (to two instances when
    there are several), after the opening complaint."""

    conversation: Conversation
    texts: tuple[str, str] = ("", "")
    instances: tuple[int, int] = (0, 0)
    outcomes: list[tuple[int | None, int | None, list[dict[str, Any]], str | None]] = field(
        default_factory=list
    )


async def run_burst(
    client: httpx.AsyncClient, target: Target, scenario: Scenario, rng: random.Random, clock: Clock
) -> Burst:
    customer = rng.choice(scenario.customers)
    conversation = Conversation("full", "burst", scenario.name, customer.account)
    opening = rng.choice(scenario.openings)
    began = time.perf_counter()
    status, conversation.id, message_id, replies, error = await target.send(
        client, None, opening, 0, customer
    )
    conversation.turns.append(
        Turn(
            "complaint", opening, opening, 0, clock.now(),
            (time.perf_counter() - began) * 1000, status, error, message_id, replies,
        )
    )  # fmt: skip
    burst = Burst(conversation)
    if error is not None:
        return burst
    first = customer.account
    second = HURRY
    count = len(target.urls)
    instances = (0, 1 % count) if count > 1 else (0, 0)
    if rng.random() < 0.5:
        instances = (instances[1], instances[0])
    burst.texts, burst.instances = (first, second), instances
    results = await asyncio.gather(
        target.send(client, conversation.id, first, instances[0], customer),
        target.send(client, conversation.id, second, instances[1], customer),
    )
    burst.outcomes = [(r[0], r[2], r[3], r[4]) for r in results]
    return burst


def check_burst(burst: Burst, record: dict[str, Any], tracker: dict[str, Any] | None) -> list[str]:
    """Both messages recorded once, each answered, each answer recorded after its message,
    the two answers in the order of the two messages, and Rasa saw them in that order.
    (The two customer messages may both come before the answers: a customer who sent two
    messages at once sees them both, then the answers.)"""
    problems: list[str] = []
    if len(burst.outcomes) != 2:
        return ["burst not sent: the opening message failed"]
    messages = record.get("messages", [])
    position = {int(m["id"]): index for index, m in enumerate(messages)}
    customer_positions: list[int] = []
    answer_spans: list[tuple[int, int]] = []
    for text, (status, message_id, replies, error) in zip(burst.texts, burst.outcomes, strict=True):
        copies = [m for m in messages if m["role"] == "customer" and m["text"] == text]
        if len(copies) != 1:
            kind = "lost" if not copies else "duplicated"
            problems.append(f"{kind}: {text[:30]!r} recorded {len(copies)} times")
        if error is not None or message_id is None:
            problems.append(f"{text[:30]!r}: {error or 'no message id'} (status {status})")
            continue
        if message_id not in position:
            problems.append(f"lost: {text[:30]!r} (message {message_id}) is not in the record")
            continue
        reply_positions = [position.get(int(r["id"]), -1) for r in replies]
        if -1 in reply_positions:
            problems.append(f"lost: a reply to {text[:30]!r} is not in the record")
            continue
        if (
            reply_positions != sorted(reply_positions)
            or min(reply_positions) < position[message_id]
        ):
            problems.append(f"order: the replies to {text[:30]!r} are out of order in the record")
        customer_positions.append(position[message_id])
        answer_spans.append((min(reply_positions), max(reply_positions)))
    if len(answer_spans) == 2:
        order = sorted(range(2), key=lambda i: customer_positions[i])
        first, second = answer_spans[order[0]], answer_spans[order[1]]
        if first[1] > second[0]:
            problems.append(
                "order: the answers to the two messages are interleaved or in the other order"
            )
    if tracker is not None:
        problems.extend(compare_tracker(record, tracker))
    return problems


async def fetch_json(
    client: httpx.AsyncClient, url: str, **kwargs: Any
) -> tuple[dict[str, Any] | None, str | None]:
    try:
        response = await client.get(url, **kwargs)
    except httpx.HTTPError as problem:
        return None, f"{type(problem).__name__}: {problem}"
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}"
    return response.json(), None


async def check_conversations(
    client: httpx.AsyncClient,
    gateway: str,
    rasa: str,
    conversations: list[Conversation],
    bursts: list[Burst],
    limit: int,
    rng: random.Random,
) -> dict[str, Any]:
    """Compares conversations (all when at most ``limit``, else a random sample of that
    many plus every one that had an error) and every burst with the records API and Rasa's
    tracker."""
    candidates = [c for c in conversations if c.id and any(t.message_id for t in c.turns)]
    chosen = candidates
    if len(candidates) > limit:
        with_errors = [c for c in candidates if c.errors()]
        rest = [c for c in candidates if not c.errors()]
        chosen = with_errors + rng.sample(rest, max(0, limit - len(with_errors)))
    semaphore = asyncio.Semaphore(8)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    params = {"token": RASA_API_TOKEN, "include_events": "ALL"}

    async def both(
        conversation_id: str,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
        async with semaphore:
            record, problem = await fetch_json(
                client, f"{gateway}/api/conversations/{conversation_id}", headers=headers
            )
            tracker, tracker_problem = await fetch_json(
                client, f"{rasa}/conversations/{conversation_id}/tracker", params=params
            )
            return record, tracker, problem or tracker_problem

    problems: list[dict[str, Any]] = []
    messages_compared = 0

    async def one(conversation: Conversation) -> None:
        nonlocal messages_compared
        record, tracker, problem = await both(str(conversation.id))
        if record is None or tracker is None:
            problems.append({"conversation": conversation.id, "problems": [f"not read: {problem}"]})
            return
        found = compare_record(conversation, record)
        if not conversation.errors():
            found += compare_tracker(record, tracker)
        messages_compared += len(expected_messages(conversation))
        if found:
            problems.append({"conversation": conversation.id, "problems": found})

    burst_problems: list[dict[str, Any]] = []

    async def one_burst(burst: Burst) -> None:
        record, tracker, problem = await both(str(burst.conversation.id))
        if record is None:
            burst_problems.append(
                {"conversation": burst.conversation.id, "problems": [f"not read: {problem}"]}
            )
            return
        found = check_burst(burst, record, tracker)
        if found:
            burst_problems.append(
                {
                    "conversation": burst.conversation.id,
                    "instances": burst.instances,
                    "problems": found,
                }
            )

    await asyncio.gather(*(one(c) for c in chosen), *(one_burst(b) for b in bursts))
    kinds = Counter(p.split(":")[0] for item in problems for p in item["problems"])
    burst_kinds = Counter(p.split(":")[0] for item in burst_problems for p in item["problems"])
    return {
        "conversations": len(candidates),
        "checked": len(chosen),
        "messages_compared": messages_compared,
        "with_problems": len(problems),
        "problem_kinds": dict(kinds),
        "examples": problems[:20],
        "bursts": {
            "sent": len(bursts),
            "across_instances": sum(1 for b in bursts if b.instances[0] != b.instances[1]),
            "with_problems": len(burst_problems),
            "problem_kinds": dict(burst_kinds),
            "examples": burst_problems[:20],
        },
    }


# ---------------------------------------------------------------------------------------
# Figures


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency_stats(values: Sequence[float]) -> dict[str, Any]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "turns": len(values),
        "p50_ms": rounded(percentile(values, 50)),
        "p95_ms": rounded(percentile(values, 95)),
        "p99_ms": rounded(percentile(values, 99)),
        "mean_ms": rounded(sum(values) / len(values)) if values else None,
        "max_ms": rounded(max(values)) if values else None,
    }


def mode_figures(phases: list[Phase]) -> dict[str, Any]:
    """Latency, throughput, errors, the path conversations took, CPU per turn, for the
    phases of one mode together."""
    conversations = [c for p in phases for c in p.conversations]
    turns = [t for c in conversations for t in c.turns]
    answered = [t.latency_ms for t in turns if t.error is None]
    seconds = sum(p.seconds for p in phases)
    errors = Counter(t.error.split(":")[0] if t.error else "" for t in turns if t.error)
    by_step: dict[str, list[float]] = defaultdict(list)
    for turn in turns:
        if turn.error is None:
            by_step[turn.step].append(turn.latency_ms)
    reached = Counter(step for c in conversations for step in c.reached)
    cpu: dict[str, float] = defaultdict(float)
    others, machine_busy = 0.0, 0.0
    for phase in phases:
        before, after = phase.snapshot_before, phase.snapshot_after
        ours = 0.0
        for name, value in after["cpu"].items():
            if name in before["cpu"]:
                cpu[name] += value - before["cpu"][name]
                ours += value - before["cpu"][name]
        client = after["client_cpu"] - before["client_cpu"]
        cpu["bench client"] += client
        ours += client
        if before["machine"] and after["machine"]:
            busy = after["machine"][0] - before["machine"][0]
            machine_busy += busy
            others += max(0.0, busy - ours)
    return {
        "seconds": round(seconds, 1),
        "conversations": len(conversations),
        "conversations_done": sum(1 for c in conversations if c.ended == "done"),
        "ended": dict(Counter(c.ended for c in conversations)),
        "off_script_after": dict(
            Counter(c.off_script_after for c in conversations if c.off_script_after).most_common(5)
        ),
        "turns": len(turns),
        "turns_per_second": round(len(turns) / seconds, 2) if seconds else None,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "latency": latency_stats(answered),
        "latency_by_step": {step: latency_stats(v) for step, v in sorted(by_step.items())},
        "reached": dict(sorted(reached.items())),
        "scenarios": dict(Counter(c.scenario for c in conversations)),
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_ms_per_turn": {k: round(1000 * v / len(turns), 1) for k, v in cpu.items()}
        if turns
        else {},
        "machine_cores_busy": round(machine_busy / seconds, 2) if seconds else None,
        "other_processes_cores": round(others / seconds, 2) if seconds else None,
    }


def allocation_growth(folder: Path, since: float) -> dict[str, Any]:
    """For each traced process, what grew between its first allocation summary written
    after ``since`` (the soak's start) and its last."""
    by_process: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(folder.glob("*.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        if summary["at"] >= since:
            by_process[path.stem.rsplit("-", 1)[0]].append(summary)
    return {
        name: memory_trace.growth(summaries[0], summaries[-1])
        if len(summaries) > 1
        else {"error": "fewer than two summaries during the soak (it needs 2 minutes or more)"}
        for name, summaries in sorted(by_process.items())
    }


def _allocation_lines(allocations: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, grown in allocations.items():
        lines += ["", f"### Allocations traced in {name} during the soak", ""]
        if "error" in grown:
            lines.append(grown["error"])
            continue
        first, last = grown["traced_mb"]
        lines += [
            f"Traced memory {first} MB to {last} MB over {grown['minutes']} min "
            f"({grown['traced_mb_per_minute']:+} MB a minute). The sites that gained most "
            "(allocating line, then the calls that led to it, innermost first):",
            "",
        ]
        for line in grown["top"][:8]:
            calls = " < ".join(_short(call) for call in line["calls"][1:4])
            lines.append(
                f"- {line['bytes'] / 1024:+.0f} KB ({line['blocks']:+} blocks, "
                f"{line['bytes_now'] / 1024:.0f} KB now): `{_short(line['where'])}` < {calls}"
            )
    return lines


def soak_figures(monitor: Monitor, phase: Phase) -> dict[str, Any]:
    """RSS at the start and the end of the soak (the mean of its first and last tenth)."""
    samples = [s for s in monitor.timeline if s["phase"] == phase.name]
    if len(samples) < 4:
        return {"samples": len(samples)}
    tenth = max(1, len(samples) // 10)
    figures: dict[str, Any] = {"samples": len(samples), "seconds": round(phase.seconds, 1)}
    processes = {}
    for name in monitor.pids:
        values = [(s["t"], s[name]) for s in samples if name in s]
        if len(values) < 4:
            continue
        start = sum(v for _, v in values[:tenth]) / tenth
        end = sum(v for _, v in values[-tenth:]) / tenth
        # Least-squares slope, MB per minute.
        mean_t = sum(t for t, _ in values) / len(values)
        mean_v = sum(v for _, v in values) / len(values)
        num = sum((t - mean_t) * (v - mean_v) for t, v in values)
        den = sum((t - mean_t) ** 2 for t, _ in values) or 1.0
        growth = (end - start) / start if start else 0.0
        processes[name] = {
            "start_mb": round(start / 2**20, 1),
            "end_mb": round(end / 2**20, 1),
            "growth_percent": round(100 * growth, 1),
            "slope_mb_per_minute": round(num / den * 60 / 2**20, 2),
            "flat": growth <= TARGET_SOAK_GROWTH,
        }
    figures["processes"] = processes
    per_minute: dict[int, list[float]] = defaultdict(list)
    for conversation in phase.conversations:
        for turn in conversation.turns:
            if turn.error is None:
                per_minute[int((turn.at - phase.started) // 60)].append(turn.latency_ms)
    figures["p50_ms_by_minute"] = [
        round(percentile(v, 50) or 0, 1) for _, v in sorted(per_minute.items())
    ]
    return figures


def targets(report: dict[str, Any], concurrency: int) -> list[dict[str, Any]]:
    full, bare = report["modes"].get("full"), report["modes"].get("bare")
    rows: list[dict[str, Any]] = []
    if full and bare and bare["latency"]["p50_ms"] and full["latency"]["p50_ms"]:
        ratio = full["latency"]["p50_ms"] / bare["latency"]["p50_ms"]
        rows.append(
            {
                "target": f"full-stack p50 <= {TARGET_P50_RATIO}x bare Rasa p50",
                "value": f"{ratio:.2f}x",
                "met": ratio <= TARGET_P50_RATIO,
            }
        )
    if full and full["latency"]["p95_ms"] is not None:
        rows.append(
            {
                "target": f"full-stack p95 < {TARGET_P95_MS:.0f} ms at {TARGET_CONCURRENCY} "
                "concurrent conversations",
                "value": f"{full['latency']['p95_ms']:.0f} ms at {concurrency}",
                "met": full["latency"]["p95_ms"] < TARGET_P95_MS
                if concurrency >= TARGET_CONCURRENCY
                else None,
            }
        )
    errors = _errors(report)
    rows.append({"target": "zero errors", "value": str(errors), "met": errors == 0})
    checks = report.get("checks") or {}
    if checks:
        wrong = checks["with_problems"] + checks["bursts"]["with_problems"]
        rows.append(
            {
                "target": "order kept, nothing lost or duplicated",
                "value": f"{wrong} conversations with problems "
                f"({checks['checked']} checked, {checks['bursts']['sent']} bursts)",
                "met": wrong == 0,
            }
        )
    soak = report.get("soak")
    if soak and soak.get("processes"):
        growths = {n: p["growth_percent"] for n, p in soak["processes"].items()}
        rows.append(
            {
                "target": f"memory flat over the soak (within {TARGET_SOAK_GROWTH:.0%})",
                "value": ", ".join(f"{n} {g:+.1f}%" for n, g in growths.items()),
                "met": all(p["flat"] for p in soak["processes"].values()),
            }
        )
    return rows


# ---------------------------------------------------------------------------------------
# Profiling with py-spy


def start_profiler(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    if not PY_SPY.exists():
        print(f"--profile: {PY_SPY} is missing (pip install py-spy, see requirements.txt)")
        return None
    return subprocess.Popen(  # noqa: S603 (py-spy from our own environment)
        [
            str(PY_SPY), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
            "--rate", "100", "--format", "raw", "--full-filenames",
            "--output", str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _where(file: str) -> str:
    """Which package a frame's file belongs to: ours (bot, actions, redress, scripts), a
    library from site-packages, or the standard library."""
    root = str(ROOT) + "/"
    if file.startswith(root) and "/.venv" not in file:
        return file[len(root) :].split("/", 1)[0]
    if "site-packages/" in file:
        rest = file.split("site-packages/", 1)[1]
        return rest.split("/", 1)[0].removesuffix(".py")
    return "stdlib"


def _short(file: str) -> str:
    """A frame's file as people read it: inside site-packages, inside the repository, or
    the standard library module's name."""
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1]
    if file.startswith(str(ROOT) + "/"):
        return file[len(str(ROOT)) + 1 :]
    return file.rsplit("/", 1)[-1]


def summarise_profile(folded: Path, top: int = 15) -> dict[str, Any]:
    """From py-spy's collapsed stacks: the share of samples by package of the innermost
    frame, the functions most often innermost (self) and anywhere on the stack (inclusive),
    and for our code (bot, actions, redress) the innermost of our functions on each stack and
    our functions anywhere on it."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    innermost_ours: Counter[str] = Counter()
    inclusive_ours: Counter[str] = Counter()
    total = 0
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            (f"{match['function']} ({_short(match['file'])})", _where(match["file"]))
            for match in map(_FRAME.match, stack.split(";"))
            if match is not None
        ]
        if not frames:
            continue
        total += count
        leaf[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        for name in {f[0] for f in frames}:
            inclusive[name] += count
        own = [f[0] for f in frames if f[1] in ("bot", "actions", "redress")]
        innermost_ours[own[-1] if own else "(no frame of ours)"] += count
        for name in set(own):
            if "__main__.py" not in name:  # not the entry point: the whole event loop
                inclusive_ours[name] += count

    def share(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        return [
            {"what": name, "percent": round(100 * value / total, 1)}
            for name, value in counter.most_common(n)
        ]

    return {
        "samples": total,
        "by_package": share(packages, 12) if total else [],
        "self": share(leaf, top) if total else [],
        "inclusive": share(inclusive, top + 10) if total else [],
        "innermost_of_ours": share(innermost_ours, top) if total else [],
        "inclusive_ours": share(inclusive_ours, top + 10) if total else [],
    }


# ---------------------------------------------------------------------------------------
# The run


@dataclass
class Options:
    duration: float = 60.0
    concurrency: int = 20
    warmup: float = 5.0
    soak: float = 0.0
    instances: int = 1
    database_url: str | None = None
    redis_url: str | None = None
    bursts: int = 10
    check_limit: int = 500
    profile: bool = False
    trace_allocations: bool = False
    think: float = 0.0
    seed: int = 1
    name: str | None = None
    out: Path = REPORTS
    smoke: bool = False
    bare: bool = True
    keep: bool = False
    workdir: Path | None = None


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="scripts/bench.py",
        description="Serving speed through the web chat API against bare Rasa, with memory, "
        "CPU and correctness checks. See the module notes (scripts/bench.py).",
        epilog="Also: `scripts/bench.py curve --help` (turns/s and latency against customers "
        "at once) and `scripts/bench.py length --help` (a turn's cost against conversation "
        "length).",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="seconds measured per mode (full stack and bare Rasa), default 60",
    )
    parser.add_argument(
        "--concurrency", type=int, default=20, help="simulated customers at once, default 20"
    )
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds per mode before measuring, default 5"
    )
    parser.add_argument(
        "--soak",
        type=float,
        default=0.0,
        help="then run the full stack this many seconds more and report RSS at start vs end "
        "(300 for the 5-minute soak)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="Rasa servers and gateways to start (one action server); each message goes to "
        "a random one",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres: "
        "the bench creates a throwaway database there and drops it (default: a SQLite file)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="REDIS_URL for every process (default: $REDIS_URL); what several instances share",
    )
    parser.add_argument(
        "--bursts",
        type=int,
        default=10,
        help="conversations that get two messages at the same moment, default 10",
    )
    parser.add_argument(
        "--check-limit",
        type=int,
        default=500,
        help="conversations compared with their records (a sample beyond this), default 500",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy Rasa, the gateway and the action server during the full-stack phases",
    )
    parser.add_argument(
        "--trace-allocations",
        action="store_true",
        help="trace the gateway's and the action server's allocations (tracemalloc, slower) "
        "and report what grew during the soak (redress/memory_trace.py)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a customer waits between messages (default 0: closed loop)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for who says what")
    parser.add_argument("--name", help="report name (default: the UTC time)")
    parser.add_argument(
        "--out", type=Path, default=REPORTS, help="report folder, default reports/bench"
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Rasa phases")
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's folder (logs, SQLite files)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="the run's folder, kept (default: a new temporary one, removed unless something "
        "failed)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds and a few conversations, for the tests; exits 1 on any error or "
        "correctness problem",
    )
    args = parser.parse_args(argv)
    options = Options(
        duration=args.duration, concurrency=args.concurrency, warmup=args.warmup,
        soak=args.soak, instances=args.instances, database_url=args.database_url,
        redis_url=args.redis_url or None, bursts=args.bursts, check_limit=args.check_limit,
        profile=args.profile, think=args.think, seed=args.seed, name=args.name, out=args.out,
        smoke=args.smoke, bare=not args.no_bare, keep=args.keep, workdir=args.workdir,
        trace_allocations=args.trace_allocations,
    )  # fmt: skip
    if options.smoke:
        options.duration = min(options.duration, 6.0)
        options.concurrency = min(options.concurrency, 3)
        options.warmup = 0.0
        options.bursts = min(options.bursts, 3)
        options.soak = 0.0
    if options.instances < 1 or options.concurrency < 1 or options.duration <= 0:
        parser.error("--instances, --concurrency and --duration must be positive")
    if options.database_url and not options.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL (SQLite is the default)")
    return options


@contextlib.contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """A new database on the server for the run, dropped afterwards."""
    import psycopg

    admin_url = server_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"redress_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = server_url.rsplit("/", 1)[0] if server_url.count("/") > 2 else server_url
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        from redress.db.session import session_factory

        with contextlib.suppress(Exception):
            session_factory(f"{base}/{name}").kw["bind"].dispose()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_stack(
    workdir: Path,
    options: Options,
    database_url: str | None,
    more_env: dict[str, str] | None = None,
) -> Stack:
    business = prepare_business(ROOT / "business", workdir / "business")
    extra = {
        "REDRESS_BUSINESS_DIR": str(business),
        "WEBCHAT_MESSAGES_PER_MINUTE_PER_ADDRESS": PER_ADDRESS_LIMIT,
        "PYTHONDONTWRITEBYTECODE": "1",
        **(more_env or {}),
    }
    if options.trace_allocations:
        extra[memory_trace.FOLDER_VARIABLE] = str(workdir / ALLOCATIONS)
        extra[memory_trace.EVERY_VARIABLE] = "60"
    # Empty is off for the gateway and scripts/run-rasa, whatever the environment says.
    extra["REDIS_URL"] = options.redis_url or ""
    stack = Stack(workdir, database_url=database_url, extra_env=extra)
    try:
        stack.redress("seed")  # the demo customers and incidents, as `make run` loads them
        stack.start("actions")
        for index in range(options.instances):
            suffix = "" if index == 0 else f"-{index + 1}"
            stack.start(f"rasa{suffix}", "rasa")
        for index in range(options.instances):
            suffix = "" if index == 0 else f"-{index + 1}"
            stack.start(f"gateway{suffix}", "gateway", {"RASA_URL": stack.url(f"rasa{suffix}")})
        stack.wait_until_ready(list(stack.processes))
    except BaseException:
        stack.close()
        raise
    return stack


async def drive(stack: Stack, options: Options, clock: Clock) -> dict[str, Any]:
    """Warm-up, the measured phases (bare, full, full, bare), bursts, the soak, checks."""
    rng = random.Random(options.seed)  # noqa: S311 (who says what, not a secret)
    scenarios = build_scenarios(Path(stack.env["REDRESS_BUSINESS_DIR"]))
    names = list(stack.processes)
    gateways = [stack.url(n) for n in names if stack.kinds[n] == "gateway"]
    rasas = [stack.url(n) for n in names if stack.kinds[n] == "rasa"]
    full = Target("full", gateways, stack.database_url)
    bare = Target("bare", rasas, stack.database_url)
    monitor = Monitor({n: stack.pid(n) for n in names}, clock, 0.5 if options.smoke else 1.0)
    monitor.start()
    limits = httpx.Limits(
        max_connections=options.concurrency * 2 + 16,
        max_keepalive_connections=options.concurrency * 2 + 16,
    )
    profilers: dict[str, subprocess.Popen[bytes]] = {}
    folded: dict[str, Path] = {}
    phases: list[Phase] = []
    try:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=5.0), limits=limits
        ) as client:
            modes = [bare, full] if options.bare else [full]
            if options.warmup > 0:
                for target in modes:
                    await run_phase(
                        f"warmup-{target.mode}", client, target, scenarios, options.warmup,
                        options.concurrency, rng, clock, monitor, options.think,
                    )  # fmt: skip
            half = options.duration / 2
            plan = [bare, full, full, bare] if options.bare else [full, full]
            for index, target in enumerate(plan):
                if options.profile and target.mode == "full" and not profilers:
                    seconds = half * plan.count(full) + 1
                    for name in ("rasa", "gateway", "actions"):
                        folded[name] = stack.workdir / f"profile-{name}.folded"
                        process = start_profiler(stack.pid(name), seconds, folded[name])
                        if process is not None:
                            profilers[name] = process
                phases.append(
                    await run_phase(
                        f"{target.mode}-{index + 1}", client, target, scenarios, half,
                        options.concurrency, rng, clock, monitor, options.think,
                    )
                )  # fmt: skip
            bursts: list[Burst] = []
            burst_scenarios = [s for s in scenarios if s.name.startswith("incident")] or scenarios
            for index in range(options.bursts):
                bursts.append(
                    await run_burst(
                        client, full, burst_scenarios[index % len(burst_scenarios)], rng, clock
                    )
                )
            soak: Phase | None = None
            soak_began = time.time()
            if options.soak > 0:
                soak = await run_phase(
                    "soak", client, full, scenarios, options.soak, options.concurrency, rng,
                    clock, monitor, options.think,
                )  # fmt: skip
            await monitor.stop()
            for process in profilers.values():
                await asyncio.to_thread(process.wait)
            full_conversations = [c for p in phases if p.mode == "full" for c in p.conversations]
            if soak is not None:
                full_conversations += soak.conversations
            checks = await check_conversations(
                client, gateways[0], rasas[0], full_conversations, bursts,
                options.check_limit, rng,
            )  # fmt: skip
    finally:
        await monitor.stop()
        for process in profilers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
    report: dict[str, Any] = {
        "modes": {
            mode: mode_figures([p for p in phases if p.mode == mode])
            for mode in (["bare", "full"] if options.bare else ["full"])
        },
        "phases": [
            {
                "name": p.name,
                "seconds": round(p.seconds, 1),
                "conversations": len(p.conversations),
                "turns": sum(len(c.turns) for c in p.conversations),
                "loadavg_1m_at_end": round(p.snapshot_after["loadavg"][0], 2),
            }
            for p in phases
        ],
        "checks": checks,
        "scenarios": {s.name: [c.account for c in s.customers] for s in scenarios},
    }
    if report["modes"].get("bare") and report["modes"].get("full"):
        f, b = report["modes"]["full"]["latency"], report["modes"]["bare"]["latency"]
        report["overhead"] = {
            key: round(f[key] / b[key], 2) if f[key] and b[key] else None
            for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")
        }
    report["loadavg_1m_peak"] = round(monitor.load_peak, 2)
    report["memory_peak_mb"] = {
        phase: {n: round(v / 2**20, 1) for n, v in peaks.items()}
        for phase, peaks in monitor.peaks.items()
        if not phase.startswith("warmup")
    }
    overall: dict[str, int] = {}
    for peaks in monitor.peaks.values():
        for name, value in peaks.items():
            overall[name] = max(overall.get(name, 0), value)
    report["memory_peak_mb"]["run"] = {n: round(v / 2**20, 1) for n, v in overall.items()}
    if soak is not None:
        report["soak"] = soak_figures(monitor, soak)
        report["soak"]["figures"] = mode_figures([soak])
        if options.trace_allocations:
            report["soak"]["allocations"] = allocation_growth(
                stack.workdir / ALLOCATIONS, soak_began
            )
    if options.profile:
        report["profile"] = {}
        for name, path in folded.items():
            if path.exists() and path.stat().st_size:
                report["profile"][name] = summarise_profile(path)
                kept = options.out / f"{options.name}-{name}.folded.gz"
                with path.open("rb") as source, gzip.open(kept, "wb") as target:
                    shutil.copyfileobj(source, target)
                report["profile"][name]["folded"] = str(
                    kept.relative_to(ROOT) if kept.is_relative_to(ROOT) else kept
                )
            else:
                error = (
                    profilers[name].stderr.read().decode(errors="replace")
                    if name in profilers and profilers[name].stderr
                    else ""
                )
                report["profile"][name] = {"error": error[-500:] or "no samples"}
    if options.smoke:
        report["conversations"] = [
            {"id": c.id, "mode": c.mode, "scenario": c.scenario, "ended": c.ended,
             "turns": [{"step": t.step, "sent": t.sent, "status": t.status, "error": t.error,
                        "latency_ms": round(t.latency_ms, 1), "message_id": t.message_id,
                        "replies": [r["text"][:80] for r in t.replies]} for t in c.turns]}
            for p in phases for c in p.conversations
        ]  # fmt: skip
    return report


def _errors(report: dict[str, Any]) -> int:
    """Messages not answered, in every phase (the soak's too)."""
    soak = (report.get("soak") or {}).get("figures") or {}
    return sum(m["errors"] for m in report["modes"].values()) + soak.get("errors", 0)


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "loadavg": [round(v, 2) for v in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_total_mb": _memory_total_mb(),
    }


def _memory_total_mb() -> int | None:
    with contextlib.suppress(OSError, AttributeError, IndexError, ValueError):
        line = Path("/proc/meminfo").read_text().split("\n", 1)[0]
        return int(line.split()[1]) // 1024
    return None


def run(options: Options) -> tuple[dict[str, Any], int]:
    """Starts everything, drives it, writes the report; returns it and the exit code."""
    if not MODEL.exists():
        raise SystemExit("No trained model: run `make train` first.")
    options.name = options.name or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + (
        "-smoke" if options.smoke else ""
    )
    options.out.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(timezone.utc)
    before = machine()
    print(f"bench {options.name}: load average {before['loadavg']} on {before['cpu_count']} CPUs")
    if options.workdir is not None:
        options.workdir.mkdir(parents=True, exist_ok=True)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="redress-bench-"))
    clock = Clock()
    failed = True
    try:
        with contextlib.ExitStack() as cleanup:  # stops the processes, then drops the database
            database_url = None
            if options.database_url:
                database_url = cleanup.enter_context(throwaway_postgres(options.database_url))
            print(
                f"starting {options.instances} Rasa server(s), the action server and "
                f"{options.instances} gateway(s) in {workdir} ..."
            )
            began = time.monotonic()
            stack = start_stack(workdir, options, database_url)
            cleanup.callback(stack.close)
            print(
                f"ready in {time.monotonic() - began:.0f} s; measuring {options.duration:.0f} s "
                f"per mode at {options.concurrency} customers ..."
            )
            report = asyncio.run(drive(stack, options, clock))
            failed = bool(_errors(report))  # keep the logs
    finally:
        if failed or options.keep or options.workdir is not None:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    after = machine()
    report = {
        "name": options.name,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            **before,
            "loadavg_before": before["loadavg"],
            "loadavg_after": after["loadavg"],
            "loadavg_1m_peak": report.pop("loadavg_1m_peak", None),
        },
        "settings": {
            "duration_per_mode_s": options.duration,
            "concurrency": options.concurrency,
            "warmup_s": options.warmup,
            "soak_s": options.soak,
            "instances": options.instances,
            "database": "postgresql" if options.database_url else "sqlite",
            "redis": bool(options.redis_url),
            "bursts": options.bursts,
            "think_s": options.think,
            "profiled": options.profile,
            "smoke": options.smoke,
            "seed": options.seed,
            "memory_sampler": "psutil" if psutil is not None else "/proc",
        },
        **report,
    }
    report["machine"].pop("loadavg")
    report["targets"] = targets(report, options.concurrency)
    json_path = options.out / f"{options.name}.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(report)
    (options.out / f"{options.name}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"written {json_path} and .md")
    checks = report["checks"]
    problems = _errors(report) + checks["with_problems"] + checks["bursts"]["with_problems"]
    return report, 1 if options.smoke and problems else 0


# ---------------------------------------------------------------------------------------
# The Markdown summary


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    m, s, modes = report["machine"], report["settings"], report["modes"]
    notes = [
        f"{s['instances']} instance(s)",
        s["database"],
        "Redis" if s["redis"] else "no Redis",
        f"{s['concurrency']} concurrent customers",
        f"{s['duration_per_mode_s']:.0f} s per mode",
    ]
    if s["profiled"]:
        notes.append("profiled with py-spy (figures perturbed)")
    if s["smoke"]:
        notes.append("smoke run")
    if s["instances"] > 1 and not s["redis"]:
        notes.append(
            "no Redis, so each gateway and each Rasa server orders only its own messages: "
            "bursts across instances are expected to show problems"
        )
    lines = [
        f"# Bench {report['name']}",
        "",
        f"{report['started_at']} to {report['finished_at']} (UTC) on {m['cpu_count']} CPUs, "
        f"{m['memory_total_mb']} MB. Load average (1, 5, 15 min): {m['loadavg_before']} "
        f"before, {m['loadavg_after']} after, 1-minute peak {m['loadavg_1m_peak']}. "
        + ", ".join(notes)
        + ".",
        "",
        "CPU used by processes outside the bench while it measured (cores): "
        + ", ".join(f"{mode} {_cell(f['other_processes_cores'])}" for mode, f in modes.items())
        + ". More than a few tenths means the machine was busy and latencies are inflated.",
        "",
    ]
    labels = {"full": "full stack (gateway)", "bare": "bare Rasa (REST)"}
    lines += _table(
        ["", "turns", "turns/s", "p50 ms", "p95 ms", "p99 ms", "mean ms", "max ms", "errors",
         "conversations (done)"],
        [
            [labels[mode], f["turns"], f["turns_per_second"], f["latency"]["p50_ms"],
             f["latency"]["p95_ms"], f["latency"]["p99_ms"], f["latency"]["mean_ms"],
             f["latency"]["max_ms"], f["errors"],
             f"{f['conversations']} ({f['conversations_done']})"]
            for mode, f in modes.items()
        ],
    )  # fmt: skip
    if overhead := report.get("overhead"):
        lines += [
            "",
            f"Overhead (full / bare): p50 {_cell(overhead['p50_ms'])}x, "
            f"p95 {_cell(overhead['p95_ms'])}x, p99 {_cell(overhead['p99_ms'])}x.",
        ]
    met = {True: "yes", False: "**no**", None: "n/a"}
    lines += ["", "## Targets", ""]
    lines += _table(
        ["target", "value", "met"],
        [[row["target"], row["value"], met[row["met"]]] for row in report["targets"]],
    )
    lines += ["", "## Latency by step (p50 / p95 ms, turns)", ""]
    steps = sorted({step for f in modes.values() for step in f["latency_by_step"]})

    def step_cell(f: dict[str, Any], step: str) -> str | None:
        figures = f["latency_by_step"].get(step)
        if not figures:
            return None
        return f"{figures['p50_ms']} / {figures['p95_ms']} ({figures['turns']})"

    lines += _table(
        ["step", *modes], [[step, *(step_cell(f, step) for f in modes.values())] for step in steps]
    )
    lines += ["", "## CPU per turn (ms of CPU time, all threads)", ""]
    processes = sorted({p for f in modes.values() for p in f["cpu_ms_per_turn"]})
    lines += _table(
        ["process", *modes],
        [[p, *(f["cpu_ms_per_turn"].get(p) for f in modes.values())] for p in processes],
    )
    peaks = report["memory_peak_mb"]
    lines += ["", "## Peak memory (RSS, MB, with child processes)", ""]
    names = sorted({n for phase in peaks.values() for n in phase})
    lines += _table(
        ["process", *peaks], [[n, *(phase.get(n) for phase in peaks.values())] for n in names]
    )
    lines += ["", "## Conversations", ""]
    for mode, f in modes.items():
        lines.append(
            f"- {mode}: scenarios {f['scenarios']}; steps reached {f['reached']}; "
            f"ended {f['ended']}; errors {f['error_kinds'] or 'none'}"
        )
        for said, count in (f.get("off_script_after") or {}).items():
            lines.append(f"  - off script after ({count}): {said!r}")
    checks, bursts = report["checks"], report["checks"]["bursts"]
    lines += [
        "",
        "## Correctness",
        "",
        f"Full-stack conversations compared with their record and Rasa's tracker: "
        f"{checks['checked']} of {checks['conversations']} ({checks['messages_compared']} "
        f"messages); with problems: {checks['with_problems']} {checks['problem_kinds'] or ''}",
        "",
        f"Bursts (two messages of one conversation at the same moment): {bursts['sent']}, "
        f"{bursts['across_instances']} across two instances; with problems: "
        f"{bursts['with_problems']} {bursts['problem_kinds'] or ''}",
        "",
    ]
    for example in (checks["examples"] + bursts["examples"])[:5]:
        lines.append(f"- `{example['conversation']}`: {'; '.join(example['problems'][:3])}")
    if soak := report.get("soak"):
        lines += ["", f"## Soak ({soak.get('seconds')} s)", ""]
        lines += _table(
            ["process", "start MB", "end MB", "growth", "slope MB/min", "flat"],
            [
                [name, p["start_mb"], p["end_mb"], f"{p['growth_percent']:+.1f}%",
                 p["slope_mb_per_minute"], "yes" if p["flat"] else "**no**"]
                for name, p in (soak.get("processes") or {}).items()
            ],
        )  # fmt: skip
        if "figures" in soak:
            lines += [
                "",
                f"p50 by minute (ms): {soak.get('p50_ms_by_minute')}; "
                f"turns {soak['figures']['turns']}, errors {soak['figures']['errors']}.",
            ]
        lines += _allocation_lines(soak.get("allocations") or {})
    for name, p in (report.get("profile") or {}).items():
        lines += ["", f"## Profile: {name} (py-spy, on-CPU samples)", ""]
        if "error" in p:
            lines.append(p["error"])
            continue
        lines += [
            f"{p['samples']} samples. By package of the innermost frame: "
            + ", ".join(f"{x['what']} {x['percent']}%" for x in p["by_package"]),
            "",
            "Innermost function of ours on the stack:",
            "",
            *(f"- {x['percent']}% {x['what']}" for x in p["innermost_of_ours"][:10]),
            "",
            "Our functions anywhere on the stack (inclusive; the entry point left out):",
            "",
            *(f"- {x['percent']}% {x['what']}" for x in p.get("inclusive_ours", [])[:15]),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments and arguments[0] in ("curve", "length"):
        from scripts import bench_curve

        return bench_curve.main(arguments)
    options = parse_args(argv)
    _, code = run(options)
    return code


if __name__ == "__main__":
    sys.exit(main())
