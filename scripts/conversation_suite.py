"""Runs the multi-turn conversation suite against a running assistant and prints its pass
rate.

Each conversation in tests/conversation/suite/*.yml is a customer talking to the assistant
over the web chat API, with what a good agent would do checked after each turn and in the
records at the end (see docs/testing.md for the format). Every conversation gets a customer
account of its own, made fresh for the run, so earlier runs (repeat complaints, spent
compensation caps) never change what a conversation sees.

    .venv/bin/python scripts/conversation_suite.py --url http://127.0.0.1:8080 \\
        --token "$REDRESS_ADMIN_TOKEN" --database-url "$DATABASE_URL"

The database URL is the one the assistant uses: the fresh customers are written there. The
exit status is 0 when the pass rate is at least --min-rate (100 by default).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from redress.business import DemoCustomer  # noqa: E402
from redress.db.session import unit_of_work  # noqa: E402
from redress.identity.signed import signature  # noqa: E402
from redress.seed import load_demo_customers  # noqa: E402

SUITE = REPO_ROOT / "tests" / "conversation" / "suite"
# The complaint apology says this, and nothing else the assistant says does.
APOLOGY_MARK = "that's on us"
DEFAULT_POSTCODE = "NE1 4ST"  # no demo incident covers it
_FIRST = ["Rosa", "Kwame", "Bethan", "Imran", "Lena", "Declan", "Mei", "Stuart", "Joy", "Arjun"]
_LAST = ["Delgado", "Mensah", "Pryce", "Qureshi", "Novak", "Byrne", "Chen", "Fraser", "Ade"]
_KEYS = {"say", "press", "expect"}
_EXPECT_KEYS = {"any", "all", "none"}
_END_KEYS = {"categories", "severity", "person", "grants"}


class SuiteError(ValueError):
    """The suite file itself is wrong: which file, which conversation, and what."""


@dataclass(frozen=True)
class Conversation:
    id: str
    about: str
    turns: list[dict[str, Any]]
    end: dict[str, Any]
    customer: dict[str, str]
    source: str


@dataclass
class Outcome:
    conversation: Conversation
    failures: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    conversation_id: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def load(folder: Path = SUITE) -> list[Conversation]:
    """Every conversation in the folder's *.yml files, checked for shape before anything
    runs."""
    files = sorted(folder.glob("*.yml"))
    if not files:
        raise SuiteError(f"no suite files (*.yml) in {folder}")
    found: list[Conversation] = []
    for path in files:
        data = yaml.safe_load(path.read_text()) or {}
        for index, entry in enumerate(data.get("conversations") or []):
            found.append(_conversation(entry, f"{path.name} #{index + 1}"))
    duplicates = [cid for cid, n in Counter(c.id for c in found).items() if n > 1]
    if duplicates:
        raise SuiteError(f"conversation ids used twice: {', '.join(sorted(duplicates))}")
    return found


def _conversation(entry: Any, where: str) -> Conversation:
    if not isinstance(entry, dict) or not entry.get("id") or not entry.get("turns"):
        raise SuiteError(f"{where}: a conversation needs an id and turns")
    where = f"{where} ({entry['id']})"
    for turn in entry["turns"]:
        if not isinstance(turn, dict) or set(turn) - _KEYS or ("say" in turn) == ("press" in turn):
            raise SuiteError(f"{where}: each turn has say or press (and optionally expect)")
        if set(turn.get("expect") or {}) - _EXPECT_KEYS:
            raise SuiteError(f"{where}: expect takes only {sorted(_EXPECT_KEYS)}")
    end = entry.get("end") or {}
    if set(end) - _END_KEYS:
        raise SuiteError(f"{where}: end takes only {sorted(_END_KEYS)}")
    return Conversation(
        id=str(entry["id"]),
        about=str(entry.get("about") or ""),
        turns=list(entry["turns"]),
        end=dict(end),
        customer={k: str(v) for k, v in (entry.get("customer") or {}).items()},
        source=where,
    )


def fresh_customers(database_url: str, conversations: list[Conversation]) -> list[dict[str, str]]:
    """One new customer per conversation, with account numbers no earlier run used."""
    rng = random.Random()  # noqa: S311 (test accounts, not secrets)
    people: list[dict[str, str]] = []
    for number, conversation in enumerate(conversations):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        account = f"BL-9{rng.randrange(10**5):05d}"
        people.append(
            {
                "account": account,
                "name": f"{first} {last}",
                "first_name": first,
                "email": f"{first}.{last}.{account[-5:]}{number}@example.com".lower(),
                "postcode": conversation.customer.get("postcode", DEFAULT_POSTCODE),
                "plan": conversation.customer.get("plan", "Fibre 150"),
                "monthly_fee": conversation.customer.get("monthly_fee", "32.00"),
            }
        )
    if len({p["account"] for p in people}) != len(people):
        return fresh_customers(database_url, conversations)
    entries = tuple(
        DemoCustomer(
            account_number=p["account"],
            name=p["name"],
            email=p["email"],
            postcode=p["postcode"],
            plan=p["plan"],
            monthly_fee=p["monthly_fee"],
        )
        for p in people
    )
    with unit_of_work(database_url) as session:
        load_demo_customers(session, entries)
    return people


class Client:
    """The web chat and records APIs of one running assistant."""

    def __init__(
        self,
        url: str,
        token: str,
        http: httpx.Client | None = None,
        *,
        identity_secret: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        # With the business's identity secret, each customer is logged in on the business's
        # site: the widget passes their signed account number (docs/identity.md).
        self.identity_secret = identity_secret
        self.http = http or httpx.Client(timeout=60)
        # Each conversation's conversation_token, from the reply that started it: later
        # messages carry it, as the widget's do.
        self.conversation_tokens: dict[str, str] = {}

    def send(
        self, conversation_id: str | None, text: str, *, account: str | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        body: dict[str, Any] = {
            "conversation_id": conversation_id,
            "conversation_token": self.conversation_tokens.get(conversation_id or ""),
            "text": text,
        }
        if account is not None and self.identity_secret is not None:
            body["identity"] = {
                "account_number": account,
                "signature": signature(account, self.identity_secret),
            }
        response = self.http.post(f"{self.url}/api/messages", json=body)
        if response.status_code != 200:
            raise TurnFailed(f"HTTP {response.status_code}: {response.text[:200]}")
        body = response.json()
        if "conversation_token" in body:
            self.conversation_tokens[str(body["conversation_id"])] = str(body["conversation_token"])
        return str(body["conversation_id"]), list(body["replies"])

    def record(self, conversation_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"{self.url}/api/conversations/{conversation_id}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if response.status_code != 200:
            raise TurnFailed(f"records API: HTTP {response.status_code}")
        return dict(response.json())


class TurnFailed(RuntimeError):
    pass


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], m[0]), text)


def run_one(client: Client, conversation: Conversation, customer: dict[str, str]) -> Outcome:
    outcome = Outcome(conversation)
    values = dict(customer)
    said: list[str] = []
    last: list[dict[str, Any]] = []
    record: dict[str, Any] = {}
    signed_in = False
    for number, turn in enumerate(conversation.turns, start=1):
        if "press" in turn:
            title = str(turn["press"])
            buttons = {b.get("title"): b.get("payload") for r in last for b in r.get("buttons", [])}
            if title not in buttons:
                outcome.failures.append(f"turn {number}: no {title!r} button (had {list(buttons)})")
                break
            text, shown = str(buttons[title]), f"[{title}]"
        else:
            text = shown = _fill(str(turn["say"]), values)
        outcome.transcript.append(f"customer: {shown}")
        # Logged in on the business's site as the account they give, from when they give it.
        account = customer.get("account")
        signed_in = signed_in or bool(account and account in text)
        try:
            outcome.conversation_id, last = client.send(
                outcome.conversation_id, text, account=account if signed_in else None
            )
            record = client.record(outcome.conversation_id)
        except (TurnFailed, httpx.HTTPError) as error:
            outcome.failures.append(f"turn {number}: {error}")
            break
        replies = [str(r.get("text") or "") for r in last]
        outcome.transcript += [f"bot: {r}" for r in replies]
        said += replies
        if not replies:
            outcome.failures.append(f"turn {number}: no reply")
        if record.get("complaints"):
            values["reference"] = record["complaints"][0]["reference"]
        outcome.failures += [
            f"turn {number}: {problem}"
            for problem in _check_turn(" ".join(replies), turn.get("expect") or {}, values)
        ]
    outcome.failures += _check_whole(said)
    if record:
        outcome.failures += _check_end(record, conversation.end)
    return outcome


def _check_turn(reply: str, expect: dict[str, Any], values: dict[str, str]) -> Iterator[str]:
    low = reply.lower()
    phrases = {k: [_fill(str(p), values).lower() for p in expect.get(k) or []] for k in expect}
    if phrases.get("any") and not any(p in low for p in phrases["any"]):
        yield f"expected one of {phrases['any']} in {reply!r}"
    for phrase in phrases.get("all", []):
        if phrase not in low:
            yield f"expected {phrase!r} in {reply!r}"
    for phrase in phrases.get("none", []):
        if phrase in low:
            yield f"did not expect {phrase!r} in {reply!r}"


def _check_whole(said: list[str]) -> Iterator[str]:
    apologies = sum(APOLOGY_MARK in s.lower() for s in said)
    if apologies > 1:
        yield f"{apologies} apologies in one conversation"
    for text, times in Counter(s for s in said if s).items():
        if times > 1:
            yield f"said {times} times: {text!r}"


def _check_end(record: dict[str, Any], end: dict[str, Any]) -> Iterator[str]:
    complaints = record.get("complaints") or []
    if "categories" in end:
        got = [c["category"] for c in complaints]
        if got != list(end["categories"]):
            yield f"complaints {got}, expected {list(end['categories'])}"
    if "severity" in end:
        got_severity = complaints[0]["severity"] if complaints else None
        if got_severity != end["severity"]:
            yield f"severity {got_severity}, expected {end['severity']}"
    if "person" in end:
        asked = bool(record.get("handoffs"))
        if asked != bool(end["person"]):
            yield f"person asked for: {asked}, expected {bool(end['person'])}"
    if "grants" in end:
        grants = len(record.get("grants") or [])
        if grants != int(end["grants"]):
            yield f"{grants} grants, expected {end['grants']}"


def run(client: Client, database_url: str, conversations: list[Conversation]) -> list[Outcome]:
    people = fresh_customers(database_url, conversations)
    return [run_one(client, c, p) for c, p in zip(conversations, people, strict=True)]


def report(outcomes: list[Outcome], *, verbose: bool = False) -> str:
    lines = []
    for outcome in outcomes:
        mark = "pass" if outcome.passed else "FAIL"
        lines.append(f"{mark}  {outcome.conversation.id}")
        if not outcome.passed or verbose:
            lines += [f"      - {f}" for f in outcome.failures]
            lines += [f"      | {t}" for t in outcome.transcript]
    passed = sum(o.passed for o in outcomes)
    rate = 100 * passed / len(outcomes) if outcomes else 0.0
    lines.append(f"\n{passed} of {len(outcomes)} conversations passed ({rate:.1f}%)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway")
    parser.add_argument("--token", required=True, help="REDRESS_ADMIN_TOKEN (records API)")
    parser.add_argument("--database-url", required=True, help="the assistant's DATABASE_URL")
    parser.add_argument("--suite", type=Path, default=SUITE, help="folder of *.yml files")
    parser.add_argument("--only", action="append", default=[], help="run these ids only")
    parser.add_argument(
        "--identity-secret",
        help="REDRESS_IDENTITY_SECRET: customers are then logged in on the business's site "
        "(default: from the environment; unset, they verify nothing)",
    )
    parser.add_argument("--min-rate", type=float, default=100.0)
    parser.add_argument("--json", type=Path, help="also write the outcomes here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every transcript")
    args = parser.parse_args(argv)
    try:
        conversations = load(args.suite)
    except (SuiteError, OSError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.only:
        conversations = [c for c in conversations if c.id in set(args.only)]
    secret = args.identity_secret or os.environ.get("REDRESS_IDENTITY_SECRET") or None
    client = Client(args.url, args.token, identity_secret=secret)
    outcomes = run(client, args.database_url, conversations)
    print(report(outcomes, verbose=args.verbose))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"id": o.conversation.id, "passed": o.passed, "failures": o.failures}
                    for o in outcomes
                ],
                indent=2,
            )
        )
    rate = 100 * sum(o.passed for o in outcomes) / max(len(outcomes), 1)
    return 0 if rate >= args.min_rate else 1


if __name__ == "__main__":
    raise SystemExit(main())
