"""Faults under load: ``.venv/bin/python scripts/faults.py [--duration 120]``.

Starts the whole assistant (scripts/stack.py: the Rasa server, the action server, the
gateway) on two new PostgreSQL databases of its own, one for the records and one for Rasa's
tracker store, with the demo customers and incidents loaded from scripts/bench.py's copy of
the business folder. Simulated customers (scripts/bench.py's: a complaint, the account when
asked, the incident updates and the remedy accepted by their buttons, thanks), signed in as
the bench signs them in, talk to it through the web chat API. While they talk, each process
is killed with SIGKILL and started again, one after the other: the Rasa server, the action
server, the gateway, and round again while ``--duration`` lasts. The Rasa server and the
action server stay down until the gateway has raised their ``dependency_down`` alert (it
checks every second and alerts after 3 s here). The gateway is killed when it has recorded,
and not yet answered, both a new conversation's first message and a later message of another
(read from the records database), or, if that moment does not come within 30 s, any message
(within 30 s more). After each
restart the next fault waits until ``GET /ready`` answers 200 and ``--gap`` seconds of load
have passed.

The customers behave as the chat widget does. Each message has its own
``client_message_id``; a request that got no HTTP answer (the gateway was killed, or is not
back yet) is sent again with the same id, which the web chat API treats as the same
message. A message answered 503 ``assistant_unavailable`` is kept by the assistant: the
customer waits for its answer (read from the records API, as the widget would get it on the
live WebSocket) and carries on from there.

When the load stops, it waits (at most ``--recovery`` seconds) until every message is
answered and every alert closed, then checks:

- lost, duplicated, reordered: each client_message_id is recorded exactly once, in the
  conversation it was sent to, in the order sent (read from the records database); and
  scripts/bench.py's checker compares each conversation with its record and with Rasa's
  tracker (what the client sent and got back, each once, in order);
- unanswered: a customer message with no reply after it but the apology for not answering
  (the brand's ``assistant_unavailable``) or the notice that it is taking longer
  (``taking_longer``): a kept message must be answered later;
- false replies: a 503 whose replies are not exactly that apology (after the notice, when
  the turn ran that long), a 200 that carries it, or Rasa's fallback ("I lost my place
  there") said anywhere;
- alerts: for the Rasa server and the action server, one ``dependency_down`` alert per
  outage, each closed once the process is back; none for anything else.

It prints the counts and exits 1 on any problem, or when the faults did not meet the load
(no message kept, no request cut off, the gateway not killed mid-turn).
tests/conversation/test_faults_under_load.py runs a short one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script (sys.path[0] is scripts/): our packages are in the folder above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import select

from redress.business import load_business
from redress.conversations import pending
from redress.db.models import Message
from redress.db.session import unit_of_work
from scripts import bench
from scripts.stack import ADMIN_TOKEN, MODEL, RASA_API_TOKEN, Stack

ROOT = Path(__file__).resolve().parent.parent
# Killed in this order, round after round.
FAULTS = ("rasa", "actions", "gateway")
# Dependencies the gateway watches (bot/jobs/readiness.py); it cannot alert about itself.
ALERTED = ("rasa", "actions")
ALERT_KIND = "dependency_down"
FALLBACK = "I lost my place there"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Settings for every process of the stack.
SETTINGS = {
    # Each outage is noticed within a second and alerted after 3 s.
    "REDRESS_READY_CHECK_SECONDS": "1",
    "REDRESS_OUTAGE_ALERT_AFTER_SECONDS": "3",
    # Kept messages are looked at every second (the replay job runs with the outbox's).
    "REDRESS_OUTBOX_POLL_SECONDS": "1",
    # One gateway, one Rasa server: no Redis, whatever the environment says.
    "REDIS_URL": "",
    # Every customer talks from 127.0.0.1, and a message sent again counts again: the rate
    # limits are not what this run is about.
    "WEBCHAT_MESSAGES_PER_MINUTE_PER_ADDRESS": "6000",
    "WEBCHAT_MESSAGES_PER_MINUTE_PER_CONVERSATION": "600",
    "PYTHONDONTWRITEBYTECODE": "1",
}
ALERT_TIMEOUT_SECONDS = 60.0  # from a kill to its alert
READY_TIMEOUT_SECONDS = 240.0  # from a restart to GET /ready answering 200
POLL_SECONDS = 1.0
# Most seconds to wait for the gateway to be mid-turn on both kinds of message before its kill.
MID_TURN_WAIT_SECONDS = 30.0


@dataclass
class Options:
    duration: float = 20.0  # seconds of load at least (one round of faults always)
    concurrency: int = 10
    gap: float = 8.0  # seconds of load before the first fault, between faults, after the last
    recovery: float = 120.0  # most seconds to wait for every message to be answered
    seed: int = 1


@dataclass
class Sent:
    """One customer message, however many times its request was made."""

    client_message_id: str
    turn: bench.Turn
    requests: int = 0
    sent_again: int = 0  # requests that got no HTTP answer, so the message was sent again
    statuses: list[int] = field(default_factory=list)
    kept: bool = False  # answered 503 assistant_unavailable: answered later
    message_ids: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)  # ids of every reply the client was given


@dataclass
class Chat:
    """One simulated conversation: the bench's log of it, and each message's fate."""

    conversation: bench.Conversation
    customer: bench.Customer
    sent: list[Sent] = field(default_factory=list)


@dataclass
class Outage:
    process: str
    killed_at: float
    alert_after: float | None = None  # seconds from the kill to its open alert
    back_after: float | None = None  # seconds from the kill to GET /ready answering 200
    # The gateway's: messages it had recorded and not yet answered when it was killed, and how
    # many of them were the first message of a new conversation.
    cut_mid_turn: int = 0
    cut_first_messages: int = 0


@dataclass
class Findings:
    """Problems by kind, with an example or two of each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, example: str, count: int = 1) -> None:
        self.counts[kind] += count
        if len(self.examples[kind]) < 5:
            self.examples[kind].append(example[:400])


class FaultRun:
    def __init__(self, stack: Stack, options: Options) -> None:
        self.stack = stack
        self.options = options
        self.gateway = stack.gateway
        business = load_business(Path(stack.env["REDRESS_BUSINESS_DIR"]))
        self.apology_text = business.brand.assistant_unavailable
        # Said first when a turn runs longer than usual; the answer or the apology follows.
        self.notice_text = business.brand.taking_longer
        self.not_answers = {self.apology_text, self.notice_text}
        self.scenarios = bench.build_scenarios(Path(stack.env["REDRESS_BUSINESS_DIR"]))
        self.target = bench.Target("full", [self.gateway], stack.database_url)
        self.clock = bench.Clock()
        self.stop = asyncio.Event()
        self.final_deadline = float("inf")
        self.chats: list[Chat] = []
        # Requests on their way, by client_message_id: whether each starts a conversation.
        self.in_flight: dict[str, bool] = {}
        self.outages: list[Outage] = []
        self.findings = Findings()
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.client: httpx.AsyncClient

    # -- the customers ----------------------------------------------------------------------

    async def customer(self, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 (who says what, not a secret)
        weights = [s.weight for s in self.scenarios]
        while not self.stop.is_set():
            await self.converse(rng.choices(self.scenarios, weights)[0], rng)

    async def converse(self, scenario: bench.Scenario, rng: random.Random) -> None:
        customer = rng.choice(scenario.customers)
        conversation = bench.Conversation("full", "faults", scenario.name, customer.account)
        chat = Chat(conversation, customer)
        self.chats.append(chat)
        opening = rng.choice(scenario.openings)
        move: tuple[str, str, str] | None = ("complaint", opening, opening)
        while move is not None:
            if self.stop.is_set():
                conversation.ended = "cut_off"
                return
            if len(conversation.turns) >= bench.MAX_TURNS:
                conversation.ended = "max_turns"
                return
            step, text, shown = move
            turn = bench.Turn(step, text, shown, 0, self.clock.now(), 0.0, None)
            sent = Sent(f"f{uuid.uuid4().hex[:20]}", turn)
            conversation.turns.append(turn)
            chat.sent.append(sent)
            replies = await self.send(chat, sent)
            if replies is None:
                if conversation.ended == "running":
                    conversation.ended = "error"
                return
            move = bench.next_move(replies, conversation, customer, rng)

    async def send(self, chat: Chat, sent: Sent) -> list[dict[str, Any]] | None:
        """Sends one message until it gets an HTTP answer; returns the assistant's replies
        (for a kept message, once it is answered), or None when the conversation cannot go
        on."""
        conversation, turn = chat.conversation, sent.turn
        began = time.perf_counter()
        delay = 0.25
        while True:
            if self.clock.now() > self.final_deadline:
                turn.error = "no HTTP answer before the deadline"
                self.findings.add(
                    "no_http_answer",
                    f"{conversation.id}: {sent.client_message_id} {turn.shown[:40]!r} after "
                    f"{sent.requests} requests",
                )
                return None
            body = self.target.message_body(conversation.id, turn.sent, chat.customer)
            body["client_message_id"] = sent.client_message_id
            sent.requests += 1
            self.in_flight[sent.client_message_id] = conversation.id is None
            try:
                response = await self.client.post(f"{self.gateway}/api/messages", json=body)
            except httpx.HTTPError:
                sent.sent_again += 1
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
                continue
            finally:
                self.in_flight.pop(sent.client_message_id, None)
            turn.latency_ms = (time.perf_counter() - began) * 1000
            status = response.status_code
            sent.statuses.append(status)
            turn.status = status
            try:
                answer = response.json()
            except ValueError:
                answer = None
            answer = answer if isinstance(answer, dict) else {}
            code = (answer.get("error") or {}).get("code")
            replies = [
                {"id": r.get("id"), "text": r.get("text") or "", "buttons": r.get("buttons") or []}
                for r in answer.get("replies") or []
                if isinstance(r, dict)
            ]
            if status in (200, 503) and answer.get("conversation_id"):
                conversation.id = self.target.answered(
                    conversation.id, turn.sent, chat.customer, answer
                )
            if isinstance(answer.get("message_id"), int):
                sent.message_ids.add(answer["message_id"])
                turn.message_id = turn.message_id or answer["message_id"]
            sent.seen.update(int(r["id"]) for r in replies if isinstance(r["id"], int))
            self.check_replies(conversation.id, status, code, replies)
            if status == 200:
                turn.replies, turn.error = replies, None if replies else "no reply"
                if not replies:
                    self.findings.add("unanswered", f"{conversation.id}: 200 with no reply")
                    return None
                return replies
            if status == 503 and code == "assistant_unavailable":
                sent.kept = True
                turn.replies, turn.error = replies, "kept"
                answers = await self.kept_answer(chat, turn)
                if answers is None:
                    conversation.ended = "kept_when_the_load_stopped"
                    return None
                turn.replies, turn.error = replies + answers, None
                return answers
            if status == 503:  # not taken (records_unavailable): sent again, as the API says
                self.findings.add(
                    "unexpected_status", f"{conversation.id}: 503 {code} {turn.shown[:40]!r}"
                )
                sent.sent_again += 1
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
                continue
            turn.error = f"HTTP {status} {code or ''}".strip()
            self.findings.add(
                "unexpected_status", f"{conversation.id}: {turn.error} {turn.shown[:40]!r}"
            )
            return None

    def check_replies(
        self, conversation_id: str | None, status: int, code: str | None, replies: list[Any]
    ) -> None:
        texts = [str(r["text"]) for r in replies]
        for kind in false_replies(status, texts, self.apology_text, self.notice_text):
            self.findings.add(kind, f"{conversation_id}: {status} {code or ''} said {texts}")

    async def kept_answer(self, chat: Chat, turn: bench.Turn) -> list[dict[str, Any]] | None:
        """The answer to a kept message once the assistant gave it (from the record), or
        None if the load stopped first (it is checked after the recovery instead)."""
        while not self.stop.is_set():
            record = await self.record(str(chat.conversation.id))
            if record is not None and turn.message_id is not None:
                answers = answers_after(record, turn.message_id)
                if answers:
                    return answers
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop.wait(), POLL_SECONDS)
        return None

    async def record(self, conversation_id: str) -> dict[str, Any] | None:
        record, _ = await bench.fetch_json(
            self.client, f"{self.gateway}/api/conversations/{conversation_id}", headers=self.admin
        )
        return record

    # -- the faults -------------------------------------------------------------------------

    async def inject(self) -> None:
        """Rounds of faults (at least one) while the load lasts, then stops the load."""
        try:
            await asyncio.sleep(self.options.gap)
            while True:
                for name in FAULTS:
                    if not await self.outage(name):
                        return
                    await asyncio.sleep(self.options.gap)
                if self.clock.now() >= self.options.duration:
                    return
        finally:
            self.final_deadline = self.clock.now() + self.options.recovery
            self.stop.set()

    async def outage(self, name: str) -> bool:
        """Kills process ``name`` with SIGKILL, waits for its alert (the Rasa server and the
        action server), starts it again and waits until the gateway is ready; False when it
        did not come back."""
        cut: dict[str, bool] = {}
        if name == "gateway":
            cut = await self.mid_turn(MID_TURN_WAIT_SECONDS)
        outage = Outage(name, self.clock.now())
        self.outages.append(outage)
        await asyncio.to_thread(kill, self.stack, name)
        if name == "gateway":
            outage.cut_mid_turn, outage.cut_first_messages = len(cut), sum(cut.values())
        if name in ALERTED:
            if await self.wait_for_alert(name, ALERT_TIMEOUT_SECONDS):
                outage.alert_after = round(self.clock.now() - outage.killed_at, 1)
            else:
                self.findings.add(
                    "alert_missing", f"no {ALERT_KIND} alert for {name} within "
                    f"{ALERT_TIMEOUT_SECONDS:.0f} s of its kill"
                )  # fmt: skip
        await asyncio.to_thread(self.stack.start, name)
        try:
            await asyncio.to_thread(self.stack.wait_for, name)
        except RuntimeError as problem:
            self.findings.add("not_back", f"{name} did not start again: {problem}")
            return False
        if not await self.wait_until_ready(READY_TIMEOUT_SECONDS):
            self.findings.add(
                "not_back", f"/ready not 200 {READY_TIMEOUT_SECONDS:.0f} s after {name}"
            )
            return False
        outage.back_after = round(self.clock.now() - outage.killed_at, 1)
        print(
            f"  {outage.killed_at:6.1f} s: {name} killed"
            + (f", alert after {outage.alert_after} s" if outage.alert_after is not None else "")
            + (f" mid-turn on {len(cut)} messages" if name == "gateway" else "")
            + f", back after {outage.back_after} s"
        )
        return True

    async def mid_turn(self, seconds: float) -> dict[str, bool]:
        """Waits until the gateway has recorded, and not yet answered, both a new
        conversation's first message and a message of one already going, so that killing it
        then cuts off both kinds of turn; after ``seconds``, until it has any message
        mid-turn; after twice that, no longer. Returns those it has (by client_message_id:
        whether it starts a conversation)."""
        began = self.clock.now()
        while True:
            waiting = dict(self.in_flight)
            found = await asyncio.to_thread(recorded_ids, self.stack.database_url, sorted(waiting))
            cut = {c: waiting[c] for c in found if c in self.in_flight}
            waited = self.clock.now() - began
            if len(set(cut.values())) == 2 or (cut and waited > seconds) or waited > 2 * seconds:
                return cut
            await asyncio.sleep(0.05)

    async def open_alerts(self) -> list[dict[str, Any]] | None:
        answer, _ = await bench.fetch_json(
            self.client, f"{self.gateway}/api/alerts", params={"status": "open"}, headers=self.admin
        )
        return None if answer is None else [a for a in answer["alerts"] if a["kind"] == ALERT_KIND]

    async def wait_for_alert(self, name: str, seconds: float) -> bool:
        deadline = self.clock.now() + seconds
        while self.clock.now() < deadline:
            alerts = await self.open_alerts() or []
            if any((a.get("detail") or {}).get("dependency") == name for a in alerts):
                return True
            await asyncio.sleep(0.5)
        return False

    async def ready(self) -> bool:
        try:
            return (await self.client.get(f"{self.gateway}/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_until_ready(self, seconds: float) -> bool:
        deadline = self.clock.now() + seconds
        while self.clock.now() < deadline:
            if await self.ready():
                return True
            await asyncio.sleep(0.5)
        return False

    # -- recovery and the checks ------------------------------------------------------------

    async def outstanding(self) -> list[str]:
        """What is not back to normal yet: readiness, kept messages, open alerts, customer
        messages without an answer."""
        left: list[str] = []
        if not await self.ready():
            left.append("/ready is not 200")
        waiting = await asyncio.to_thread(pending_count, self.stack.database_url)
        if waiting:
            left.append(f"{waiting} messages in pending_turns")
        alerts = await self.open_alerts()
        if alerts is None or alerts:
            left.append(f"open {ALERT_KIND} alerts: {alerts}")
        records = await self.records()
        unanswered = sum(len(unanswered_messages(r, self.not_answers)) for r in records.values())
        if unanswered:
            left.append(f"{unanswered} customer messages without an answer")
        return left

    async def records(self) -> dict[str, dict[str, Any]]:
        ids = sorted({str(c.conversation.id) for c in self.chats if c.conversation.id})
        semaphore = asyncio.Semaphore(8)

        async def one(conversation_id: str) -> tuple[str, dict[str, Any] | None]:
            async with semaphore:
                return conversation_id, await self.record(conversation_id)

        found = await asyncio.gather(*(one(i) for i in ids))
        return {i: r for i, r in found if r is not None}

    async def trackers(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        semaphore = asyncio.Semaphore(8)
        params = {"token": RASA_API_TOKEN, "include_events": "ALL"}

        async def one(conversation_id: str) -> tuple[str, dict[str, Any] | None]:
            async with semaphore:
                url = f"{self.stack.rasa}/conversations/{conversation_id}/tracker"
                tracker, _ = await bench.fetch_json(self.client, url, params=params)
                return conversation_id, tracker

        found = await asyncio.gather(*(one(i) for i in ids))
        return {i: t for i, t in found if t is not None}

    async def recover(self) -> tuple[float, list[str]]:
        """Waits until nothing is outstanding, at most until the final deadline; returns the
        seconds it took and what was outstanding when the wait began."""
        began = self.clock.now()
        first: list[str] | None = None
        while True:
            left = await self.outstanding()
            first = left if first is None else first
            if not left:
                return round(self.clock.now() - began, 1), first
            if self.clock.now() > self.final_deadline:
                for what in left:
                    self.findings.add("not_recovered", what)
                return round(self.clock.now() - began, 1), first
            await asyncio.sleep(POLL_SECONDS)

    async def check(self) -> dict[str, Any]:
        """Every conversation against the records database, its record and its tracker, and
        the alerts against the outages."""
        records = await self.records()
        trackers = await self.trackers(sorted(records))
        rows = await asyncio.to_thread(customer_rows, self.stack.database_url)
        unknown = check_client_message_ids(self.chats, rows, self.findings, self.during)
        for conversation_id in unknown:
            record = await self.record(conversation_id)
            if record is not None:
                self.findings.add(
                    "unknown_conversations", f"{conversation_id} ({len(record['complaints'])} "
                    f"complaints logged): {said(record)}", 0
                )  # fmt: skip
        checker: Counter[str] = Counter()
        unseen_notices = 0
        for chat in self.chats:
            conversation_id = chat.conversation.id
            if conversation_id is None:
                continue
            record = records.get(conversation_id)
            if record is None:
                self.findings.add("not_read", f"{conversation_id}: no record")
                continue
            for sent in chat.sent:  # kept messages answered after the load stopped
                turn = sent.turn
                if turn.error != "kept" or turn.message_id is None:
                    continue
                if answers := answers_after(record, turn.message_id):
                    turn.replies, turn.error = turn.replies + answers, None
            seen = {i for sent in chat.sent for i in sent.seen}
            # The apology, or the notice that the turn was taking longer, recorded for a
            # request whose answer never reached the client (the gateway was killed before
            # it replied, then answered the message sent again): true, but not among what the
            # client got back, so not part of the comparison.
            unseen = [m for m in record["messages"] if is_notice(m) and int(m["id"]) not in seen]
            unseen_notices += len(unseen)
            for message in unseen:
                if message["text"] not in self.not_answers:
                    self.findings.add("false_notice", f"{conversation_id}: {message['text']!r}")
            compared = {
                **record,
                "messages": [m for m in record["messages"] if m not in unseen],
            }
            problems = bench.compare_record(chat.conversation, compared)
            tracker = trackers.get(conversation_id)
            if tracker is None:
                problems.append("tracker: not read")
            else:
                problems += bench.compare_tracker(record, tracker)
            for problem in problems:
                kind = checker_kind(problem)
                checker[kind] += 1
                self.findings.add(
                    f"checker_{kind}", f"{conversation_id}: {problem}; {self.trouble(chat)}"
                )
            for message in unanswered_messages(record, self.not_answers):
                self.findings.add(
                    "unanswered",
                    f"{conversation_id}: message {message['id']} {message['text'][:40]!r}; "
                    f"the conversation: {said(record)}",
                )
            for message in record["messages"]:
                if message["role"] == "bot" and FALLBACK in message["text"]:
                    self.findings.add("fallback", f"{conversation_id}: message {message['id']}")
        alerts = await self.check_alerts()
        sent = [s for c in self.chats for s in c.sent]
        return {
            "conversations": len(self.chats),
            "conversations_done": sum(1 for c in self.chats if c.conversation.ended == "done"),
            "customer_messages": len(sent),
            "requests": sum(s.requests for s in sent),
            "sent_again": sum(s.sent_again for s in sent),
            "answered_200": sum(1 for s in sent if s.statuses and s.statuses[-1] == 200),
            "kept_503": sum(1 for s in sent if s.kept),
            "notices_not_seen_by_the_client": unseen_notices,
            "checked_conversations": len(records),
            "checker": dict(checker),
            "alerts": alerts,
        }

    def during(self, at: float) -> str:
        """Which fault a moment of the run came after, and how long after its kill."""
        before = [o for o in self.outages if o.killed_at <= at]
        after = [o for o in self.outages if o.killed_at > at]
        where = [f"{at - o.killed_at:.1f} s after the {o.process} kill" for o in before[-1:]]
        if after:
            where.append(f"{after[0].killed_at - at:.1f} s before the {after[0].process} kill")
        return ", ".join(where)

    def trouble(self, chat: Chat) -> str:
        """The conversation's messages that met a fault: kept (503) or sent again."""
        met = [
            f"{s.turn.shown[:30]!r} first sent {self.during(s.turn.at)}; answers "
            f"{s.statuses}, {s.requests} requests"
            for s in chat.sent
            if s.kept or s.sent_again
        ]
        return "met a fault: " + ("; ".join(met) if met else "none")

    async def check_alerts(self) -> dict[str, dict[str, int]]:
        """One alert per outage of each watched process, each closed; none for the rest."""
        answer, problem = await bench.fetch_json(
            self.client, f"{self.gateway}/api/alerts", params={"status": "all"}, headers=self.admin
        )
        if answer is None:
            self.findings.add("not_read", f"alerts: {problem}")
            return {}
        by_dependency: dict[str, dict[str, int]] = defaultdict(
            lambda: {"outages": 0, "raised": 0, "closed": 0}
        )
        for outage in self.outages:
            if outage.process in ALERTED:
                by_dependency[outage.process]["outages"] += 1
        for alert in answer["alerts"]:
            if alert["kind"] != ALERT_KIND:
                continue
            dependency = str((alert.get("detail") or {}).get("dependency"))
            by_dependency[dependency]["raised"] += 1
            if alert.get("acknowledged_by") == "recovered":
                by_dependency[dependency]["closed"] += 1
        for dependency, figures in by_dependency.items():
            if figures["raised"] != figures["outages"]:
                self.findings.add(
                    "alerts", f"{dependency}: {figures['raised']} alerts for "
                    f"{figures['outages']} outages"
                )  # fmt: skip
            if figures["closed"] != figures["raised"]:
                self.findings.add(
                    "alerts_open", f"{dependency}: {figures['raised'] - figures['closed']} "
                    "alerts not closed after it recovered"
                )  # fmt: skip
        return dict(by_dependency)

    async def run(self) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=self.options.concurrency * 2 + 16)
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=5.0), limits=limits
        ) as client:
            self.client = client
            rng = random.Random(self.options.seed)  # noqa: S311 (who says what, not a secret)
            customers = [
                asyncio.create_task(self.customer(rng.randrange(2**32)))
                for _ in range(self.options.concurrency)
            ]
            await self.inject()
            load_seconds = round(self.clock.now(), 1)
            # In-flight messages keep being sent until they get an answer, at most until the
            # final deadline (then each says so itself).
            await asyncio.gather(*customers)
            recovery_seconds, waited_for = await self.recover()
            figures = await self.check()
        return {
            "load_seconds": load_seconds,
            "recovery_seconds": recovery_seconds,
            "recovery_waited_for": waited_for,
            "outages": [vars(o) for o in self.outages],
            **figures,
            "problems": dict(self.findings.counts),
            "examples": {k: v for k, v in self.findings.examples.items() if v},
        }


def check_client_message_ids(
    chats: list[Chat],
    rows: list[tuple[int, str, str | None]],
    findings: Findings,
    during: Callable[[float], str] = str,
) -> list[str]:
    """Each client_message_id recorded exactly once, in its conversation, in the order sent;
    no customer message in these conversations that no client sent. ``rows`` are the
    customer messages in the records (id, conversation, client_message_id), in order;
    ``during`` says which fault a moment of the run came after. Returns the conversations
    no client knows."""
    where: dict[str, list[tuple[str, int]]] = defaultdict(list)
    in_conversation: dict[str, list[str | None]] = defaultdict(list)
    for message_id, conversation_id, client_message_id in rows:
        in_conversation[conversation_id].append(client_message_id)
        if client_message_id is not None:
            where[client_message_id].append((conversation_id, message_id))
    known = {str(c.conversation.id) for c in chats if c.conversation.id}
    for chat in chats:
        conversation_id = str(chat.conversation.id)
        for sent in chat.sent:
            found = where.get(sent.client_message_id, [])
            label = f"{sent.client_message_id} {sent.turn.shown[:40]!r}"
            if not found:
                findings.add(
                    "lost", f"{conversation_id}: {label} is not recorded "
                    f"({sent.requests} requests, answers {sent.statuses})"
                )  # fmt: skip
            elif len(found) > 1:
                findings.add(
                    "duplicated", f"{conversation_id}: {label} is recorded {len(found)} "
                    f"times: {found} ({sent.requests} requests, answers {sent.statuses}; "
                    f"first sent {during(sent.turn.at)})",
                    len(found) - 1,
                )  # fmt: skip
            if found and conversation_id not in {c for c, _ in found}:
                findings.add("lost", f"{conversation_id}: {label} is only in {found}")
            if len(sent.message_ids) > 1:
                findings.add(
                    "duplicated", f"{conversation_id}: {label} was given the ids "
                    f"{sorted(sent.message_ids)}"
                )  # fmt: skip
        if chat.conversation.id is None:
            continue
        sent_ids = [s.client_message_id for s in chat.sent]
        recorded = in_conversation.get(conversation_id, [])
        strangers = [c for c in recorded if c not in sent_ids]
        if strangers:
            findings.add(
                "unexpected", f"{conversation_id}: customer messages no client sent here: "
                f"{strangers}", len(strangers)
            )  # fmt: skip
        mine = [c for c in recorded if c in sent_ids]
        if mine != [c for c in sent_ids if c in mine]:
            findings.add("reordered", f"{conversation_id}: recorded {mine}, sent {sent_ids}")
    others = sorted(set(in_conversation) - known)
    if others:
        findings.add(
            "unknown_conversations", f"conversations no client knows: {others}", len(others)
        )
    return others


def false_replies(status: int, texts: list[str], apology: str, notice: str) -> list[str]:
    """What is false in an answer of the web chat API: a 503 says exactly the apology (after
    the notice that the turn was taking longer, when it was), a 200 never says it, and
    Rasa's fallback never reaches the customer."""
    kinds = []
    if status == 503 and texts not in ([apology], [notice, apology]):
        kinds.append("false_503")
    if status == 200 and apology in texts:
        kinds.append("apology_in_200")
    if any(FALLBACK in text for text in texts):
        kinds.append("fallback")
    return kinds


def answers_after(record: dict[str, Any], message_id: int) -> list[dict[str, Any]]:
    """The assistant's answer to customer message ``message_id`` in the record: the bot
    messages after it, up to the customer's next message, except the apology for not
    answering, the notice that it was taking longer, and messages pushed on their own
    (incident updates)."""
    answers: list[dict[str, Any]] = []
    after = False
    for message in record.get("messages", []):
        if int(message["id"]) == message_id:
            after = True
            continue
        if not after:
            continue
        if message["role"] == "customer":
            break
        details = message.get("details") or {}
        if message["role"] == "bot" and not is_notice(message) and not details.get("kind"):
            answers.append(
                {"id": message["id"], "text": message["text"], "buttons": message["buttons"]}
            )
    return answers


def is_notice(message: dict[str, Any]) -> bool:
    """Whether a recorded message is the apology for not answering or the notice that a turn
    is taking longer: said while the assistant had not answered."""
    details = message.get("details") or {}
    return bool(details.get("unavailable") or details.get("taking_longer"))


def unanswered_messages(record: dict[str, Any], not_answers: set[str]) -> list[dict[str, Any]]:
    """Customer messages followed, before the customer's next one, by no assistant reply
    but the apology for not answering or the notice that it is taking longer."""
    unanswered: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    answered = True
    for message in record.get("messages", []):
        if message["role"] == "customer":
            if not answered and current is not None:
                unanswered.append(current)
            current, answered = message, False
        elif message["role"] == "bot" and message["text"] not in not_answers:
            answered = True
    if not answered and current is not None:
        unanswered.append(current)
    return unanswered


def said(record: dict[str, Any]) -> str:
    """A conversation's messages, short, for a report."""
    return " | ".join(
        f"{m['id']} {m['role']}{'*' if (m.get('details') or {}).get('unavailable') else ''}: "
        f"{m['text'][:50]}"
        for m in record.get("messages", [])
    )


def checker_kind(problem: str) -> str:
    """The kind of a problem scripts/bench.py's checker found: in the record (lost,
    duplicated, changed, unexpected, order) or in Rasa's tracker."""
    if problem.startswith("tracker"):
        if "different order" in problem:
            return "tracker_reordered"
        if "extra" in problem:
            return "tracker_duplicated"
        if "missing" in problem:
            return "tracker_lost"
        return "tracker_other"
    kind = problem.split(":", 1)[0]
    return "reordered" if kind == "order" else kind


def kill(stack: Stack, name: str) -> None:
    """kill -9 of process ``name`` and everything it started."""
    process = stack.processes.pop(name)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def recorded_ids(database_url: str, client_message_ids: list[str]) -> set[str]:
    """Which of these client_message_ids are recorded."""
    if not client_message_ids:
        return set()
    with unit_of_work(database_url) as session:
        return set(
            session.scalars(
                select(Message.client_message_id).where(
                    Message.client_message_id.in_(client_message_ids)
                )
            )
        )


def pending_count(database_url: str) -> int:
    with unit_of_work(database_url) as session:
        return pending.count(session)


def customer_rows(database_url: str) -> list[tuple[int, str, str | None]]:
    """(id, conversation, client_message_id) of every customer message, in order."""
    with unit_of_work(database_url) as session:
        rows = session.execute(
            select(Message.id, Message.conversation_id, Message.client_message_id)
            .where(Message.role == "customer")
            .order_by(Message.id)
        )
        return [(int(i), str(c), m) for i, c, m in rows]


def start(workdir: Path, records_url: str, tracker_url: str) -> Stack:
    """The stack on two empty PostgreSQL databases (SQLAlchemy URLs): the records, and Rasa's
    tracker store; the bench's copy of the business folder, its customers and incidents."""
    business = bench.prepare_business(ROOT / "business", workdir / "business")
    tracker = "postgresql://" + tracker_url.split("://", 1)[1]
    extra = {**SETTINGS, "REDRESS_BUSINESS_DIR": str(business), "RASA_TRACKER_URL": tracker}
    stack = Stack(workdir, database_url=records_url, extra_env=extra)
    try:
        stack.redress("seed")
        # The gateway last, once the rest answer: the outages counted are the run's own, not
        # Rasa's half minute of loading its model.
        stack.start("actions")
        stack.start("rasa")
        stack.wait_until_ready(("actions", "rasa"))
        stack.start("gateway")
        stack.wait_until_ready(("gateway",))
    except BaseException:
        stack.close()
        raise
    return stack


def run(options: Options, workdir: Path, records_url: str, tracker_url: str) -> dict[str, Any]:
    """Starts the stack, drives it through the faults, checks; returns the report."""
    if not MODEL.exists():
        raise SystemExit("No trained model: run `make train` first.")
    began = time.monotonic()
    stack = start(workdir, records_url, tracker_url)
    try:
        started = round(time.monotonic() - began, 1)
        print(
            f"ready in {started} s; {options.concurrency} customers, faults every "
            f"{options.gap:.0f} s of load, at least {options.duration:.0f} s ..."
        )
        report = asyncio.run(FaultRun(stack, options).run())
    finally:
        stack.close()
    return {"start_seconds": started, **report, "workdir": str(workdir)}


def failures(report: dict[str, Any]) -> list[str]:
    """What the run found wrong, one line each (empty: nothing)."""
    lines = [f"{kind}: {count}" for kind, count in sorted(report["problems"].items()) if count]
    if report["kept_503"] == 0:
        lines.append("no message was kept: the outages did not meet the load")
    if report["sent_again"] == 0:
        lines.append("no request went unanswered: the gateway's kill did not meet the load")
    if any(o["process"] == "gateway" and not o["cut_mid_turn"] for o in report["outages"]):
        lines.append("the gateway was not killed mid-turn")
    return lines


def render(report: dict[str, Any]) -> str:
    p = Counter(report["problems"])
    checker = Counter(report["checker"])
    alerts = report["alerts"]
    lines = [
        f"faults under load: stack ready in {report['start_seconds']} s, load "
        f"{report['load_seconds']} s, recovery {report['recovery_seconds']} s",
        "outages: "
        + "; ".join(
            f"{o['process']} killed at {o['killed_at']:.0f} s ("
            + (f"alert after {o['alert_after']} s, " if o["process"] in ALERTED else "")
            + (
                f"{o['cut_mid_turn']} messages recorded and not yet answered, "
                f"{o['cut_first_messages']} of them a new conversation's first, "
                if o["process"] == "gateway"
                else ""
            )
            + f"ready again after {o['back_after']} s)"
            for o in report["outages"]
        ),
        "recovery waited for: " + ("; ".join(report["recovery_waited_for"]) or "nothing"),
        f"messages: {report['customer_messages']} customer messages in "
        f"{report['conversations']} conversations ({report['conversations_done']} done); "
        f"{report['requests']} requests, {report['sent_again']} sent again after no HTTP "
        f"answer; answered 200: {report['answered_200']}, kept (503): {report['kept_503']}; "
        f"apologies or taking-longer notices recorded that the client never got: "
        f"{report['notices_not_seen_by_the_client']}",
        f"records (each client_message_id): lost {p['lost']}, duplicated {p['duplicated']}, "
        f"reordered {p['reordered']}, unexpected {p['unexpected']}, in unknown conversations "
        f"{p['unknown_conversations']}, never answered over HTTP {p['no_http_answer']}",
        f"bench checker ({report['checked_conversations']} conversations): record lost "
        f"{checker['lost']}, duplicated {checker['duplicated']}, reordered "
        f"{checker['reordered']}, changed {checker['changed'] + checker['unexpected']}; "
        f"tracker lost {checker['tracker_lost']}, duplicated {checker['tracker_duplicated']}, "
        f"reordered {checker['tracker_reordered']}",
        f"answered after recovery: unanswered {p['unanswered']}",
        f"false: 503 not the apology {p['false_503'] + p['false_notice']}, 200 with the "
        f"apology {p['apology_in_200']}, fallback {p['fallback']}, other statuses "
        f"{p['unexpected_status']}",
        "alerts: "
        + "; ".join(
            f"{name} {a['raised']} raised for {a['outages']} outages, {a['closed']} closed"
            for name, a in sorted(alerts.items())
        ),
    ]
    wrong = failures(report)
    lines.append("problems: " + (", ".join(wrong) if wrong else "none"))
    for kind, examples in sorted(report["examples"].items()):
        lines.append(f"  {kind}:")
        lines += [f"    - {example}" for example in examples[:3]]
    return "\n".join(lines)


@contextlib.contextmanager
def _databases(server_url: str) -> Iterator[tuple[str, str]]:
    with (
        bench.throwaway_postgres(server_url) as records,
        bench.throwaway_postgres(server_url) as tracker,
    ):
        yield records, tracker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/faults.py",
        description="Kill the Rasa server, the action server and the gateway in turn under "
        "load; check nothing is lost, doubled, reordered, unanswered or falsely said. See "
        "the module notes (scripts/faults.py).",
    )
    parser.add_argument(
        "--duration", type=float, default=120.0, help="seconds of load at least, default 120"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="customers, default 10")
    parser.add_argument(
        "--gap", type=float, default=8.0, help="seconds of load between faults, default 8"
    )
    parser.add_argument(
        "--recovery",
        type=float,
        default=120.0,
        help="most seconds to wait for every message to be answered, default 120",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for who says what")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="the PostgreSQL server to make the two throwaway databases on (dropped after)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    args = parser.parse_args(argv)
    options = Options(args.duration, args.concurrency, args.gap, args.recovery, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="redress-faults-"))
    failed = True
    try:
        with _databases(args.database_url) as (records, tracker):
            report = run(options, workdir, records, tracker)
        print(render(report))
        failed = bool(failures(report))
    finally:
        if failed or args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
