"""How fast the console's case list and search are on a realistic amount of data:
``make bench-console`` (BENCH_CONSOLE_ARGS=... for options).

Seeds a database with scripts/seed_console.py (10,000 conversations, 100,000 messages) when it
holds no conversations, then times each query of the case list (redress/console/queries.py),
the reports (redress/reports/figures.py) and whole console pages over HTTP (the gateway in
this process, signed in: query, template and response together) several times, and prints
the median and the 95th percentile in milliseconds. The console's
target is under 300 ms for each on a 2-core machine. Other work on the machine slows every
figure, so the report gives the load average before and after.

Without --database-url it measures both SQLite (a file in a temporary folder) and PostgreSQL
(a database it creates, redress_console_bench, and drops afterwards unless --keep), on the
server the tests use: REDRESS_TEST_POSTGRES_URL, or postgresql://postgres@127.0.0.1:5432/postgres.
It exits with 1 when any query's 95th percentile is over the target.

    .venv/bin/python scripts/bench_console.py [--database-url URL] [--runs 20]
        [--conversations 10000] [--messages 100000] [--revision head] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.orm import Session

# Run as a script (sys.path[0] is scripts/): our packages are in the folder above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import load_business
from redress.clock import utcnow
from redress.console.queries import CaseFilter, count_cases, distinct_values, list_cases
from redress.db.models import Complaint, Conversation, Customer, OperatorAccount
from redress.db.session import session_factory
from redress.migrate import upgrade
from redress.operators import accounts
from redress.reports.figures import ReportQuery, build_report
from redress.settings import REPO_ROOT, Settings
from scripts.seed_console import seed

POSTGRES_ADMIN_URL = os.environ.get(
    "REDRESS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BENCH_DATABASE = "redress_console_bench"
BUSINESS_DIR = REPO_ROOT / "business"
TARGET_MS = 300


def cases(session: Session, now: datetime) -> list[tuple[str, Callable[[], Any]]]:
    """The queries timed: what an operator does on the case list page."""
    account, name = session.execute(
        select(Customer.account_number, Customer.name)
        .join(Complaint, Complaint.customer_id == Customer.id)
        .order_by(Complaint.id)
        .limit(1)
    ).one()
    reference = session.scalar(select(Complaint.reference).order_by(Complaint.id.desc()).limit(1))
    typed_account = account.replace("BL-", "bl ")  # as a person might type it
    surname = name.split()[-1].lower()
    day = now.date()
    filters = {
        "list, page 1": CaseFilter(),
        "list, team + status": CaseFilter(team="network", status="open"),
        "list, overdue": CaseFilter(overdue=True),
        "list, date range": CaseFilter(
            date_from=day - timedelta(days=40), date_to=day - timedelta(days=10)
        ),
        "list, sort by due": CaseFilter(sort="due", status="open"),
        "list, sort by severity": CaseFilter(sort="severity"),
        "list, page 200": CaseFilter(page=200),
        "search, account": CaseFilter(q=typed_account),
        "search, reference": CaseFilter(q=(reference or "").lower()),
        "search, message word": CaseFilter(q="ridiculous"),
        "search, name": CaseFilter(q=surname),
        "search, e-mail": CaseFilter(q="@example.net"),
        "search + filters": CaseFilter(q="engineer", team="network", status="resolved"),
    }
    timed: list[tuple[str, Callable[[], Any]]] = [
        (label, lambda f=f: list_cases(session, f, now)) for label, f in filters.items()
    ]
    timed.append(("count only", lambda: count_cases(session, CaseFilter(), now)))
    timed.append(("filter menus", lambda: distinct_values(session)))
    business = load_business(BUSINESS_DIR)
    for label, days, team in (
        ("report, 7 days", 7, None),
        ("report, 30 days", 30, None),
        ("report, 30 days, one team", 30, "network"),
    ):
        query = ReportQuery(day - timedelta(days=days - 1), day, team, None)
        timed.append((label, lambda q=query: build_report(session, business, q, now)))
    return timed


@contextmanager
def console(database_url: str) -> Iterator[TestClient]:
    """The gateway in this process on the bench database, signed in to the console as an
    agent, as a browser would be."""
    business = load_business(BUSINESS_DIR)
    with session_factory(database_url)() as session:
        bench = select(OperatorAccount).where(OperatorAccount.username == "bench")
        if session.scalar(bench) is None:
            accounts.add(session, "bench", "Bench", "admin", None, "bench pass phrase 1", utcnow())
            session.commit()
    settings = replace(
        Settings.from_env({}), database_url=database_url, rasa_url="http://127.0.0.1:9"
    )
    with TestClient(create_app(settings, business), base_url="https://testserver") as client:
        page = client.get("/console/sign-in")
        token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text)
        assert token is not None
        signed = client.post(
            "/console/sign-in",
            data={
                "username": "bench",
                "password": "bench pass phrase 1",
                "sign_in_token": token.group(1),
            },
            headers={"origin": "https://testserver"},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        yield client


def pages(client: TestClient, session: Session) -> list[tuple[str, Callable[[], Any]]]:
    """Whole console pages over HTTP: the query, the template and the response together."""
    complaint_id = session.scalar(select(Complaint.id).order_by(Complaint.id.desc()).limit(1))
    conversation_id = session.scalar(
        select(Complaint.conversation_id).order_by(Complaint.id.desc()).limit(1)
    )
    session.rollback()  # a SQLite session holds the write lock the pages' actions need

    today = datetime.now(timezone.utc).date()
    week_ago = today - timedelta(days=6)

    def get(path: str) -> Callable[[], Any]:
        def run() -> None:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)

        return run

    return [
        ("page: desk", get("/console/desk")),
        ("page: cases", get("/console/cases")),
        ("page: cases, search a word", get("/console/cases?q=ridiculous")),
        ("page: cases, overdue", get("/console/cases?overdue=yes")),
        ("page: a case", get(f"/console/cases/{complaint_id}")),
        ("page: a conversation", get(f"/console/desk/conversations/{conversation_id}")),
        ("page: incidents", get("/console/incidents")),
        ("page: approvals", get("/console/approvals")),
        ("page: reports, 7 days", get(f"/console/reports?start={week_ago}&end={today}")),
        ("page: reports, 30 days", get("/console/reports")),
        ("page: recovery quality, 7 days", get(f"/console/reports/recovery?start={week_ago}")),
        ("page: recovery quality, 30 days", get("/console/reports/recovery")),
    ]


def _timed(run: Callable[[], Any], runs: int, before: Callable[[], None]) -> tuple[float, float]:
    run()  # warm the caches once
    times = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95


def measure(database_url: str, runs: int) -> dict[str, tuple[float, float]]:
    now = datetime.now(timezone.utc)
    results: dict[str, tuple[float, float]] = {}
    with session_factory(database_url)() as session:
        for label, run in cases(session, now):
            results[label] = _timed(run, runs, session.expire_all)
            session.rollback()
        with console(database_url) as client:
            for label, run in pages(client, session):
                results[label] = _timed(run, runs, lambda: None)
    return results


def prepare(database_url: str, options: argparse.Namespace) -> None:
    """Seeds the database when it has no conversations yet; migrates it either way."""
    upgrade(database_url, options.revision)
    with session_factory(database_url)() as session:
        present = session.scalar(select(func.count()).select_from(Conversation))
    if present:
        print(f"  {present} conversations already there: not seeding", file=sys.stderr)
        return
    started = time.perf_counter()
    counts = seed(
        database_url,
        conversations=options.conversations,
        messages=options.messages,
        seed_value=options.seed,
        revision=options.revision,
    )
    took = time.perf_counter() - started
    print(f"  seeded {counts['messages']} messages in {took:.1f}s", file=sys.stderr)


def bench(database_url: str, options: argparse.Namespace) -> dict[str, tuple[float, float]]:
    prepare(database_url, options)
    return measure(database_url, options.runs)


def postgres_bench(options: argparse.Namespace) -> dict[str, tuple[float, float]]:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{BENCH_DATABASE}"
    try:
        return bench(url, options)
    finally:
        session_factory(url).kw["bind"].dispose()
        if not options.keep:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


def table(columns: dict[str, dict[str, tuple[float, float]]]) -> str:
    names = list(columns)
    header = "| query | " + " | ".join(f"{n} median ms | {n} p95 ms" for n in names) + " |"
    rule = "|---|" + "---:|---:|" * len(names)
    lines = [header, rule]
    labels = list(next(iter(columns.values())))
    for label in labels:
        cells = []
        for name in names:
            median, p95 = columns[name][label]
            flag = " (over)" if p95 > TARGET_MS else ""
            cells += [f"{median:.1f}", f"{p95:.1f}{flag}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", help="measure this database only (seeded if it has no conversations)"
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each query")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--revision", default="head", help="migrate only this far (to compare indexes)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL bench database")
    options = parser.parse_args(argv)
    if options.runs < 1:
        parser.error("--runs must be 1 or more")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    columns: dict[str, dict[str, tuple[float, float]]] = {}
    load_before = os.getloadavg()[0]
    if options.database_url:
        print(f"Measuring {options.database_url.split('://')[0]}...", file=sys.stderr)
        columns[options.database_url.split(":")[0].split("+")[0]] = bench(
            options.database_url, options
        )
    else:
        with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
            print("Measuring SQLite...", file=sys.stderr)
            url = f"sqlite:///{Path(folder) / 'console.db'}"
            columns["sqlite"] = bench(url, options)
            session_factory(url).kw["bind"].dispose()
        print("Measuring PostgreSQL...", file=sys.stderr)
        columns["postgresql"] = postgres_bench(options)
    print(
        f"\nCase list, search, reports and whole pages on {options.conversations} conversations / "
        f"{options.messages} messages, {options.runs} runs each, {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after "
        f"(target: under {TARGET_MS} ms)\n"
    )
    print(table(columns))
    slow = [
        label
        for results in columns.values()
        for label, (_, p95) in results.items()
        if p95 > TARGET_MS
    ]
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
