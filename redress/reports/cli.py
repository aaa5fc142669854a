"""``python -m redress reports``: the report's tables for a period, as text, JSON or CSV."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from redress.business import Business
from redress.clock import utcnow
from redress.db.session import unit_of_work
from redress.reports import csv_out
from redress.reports.figures import (
    SECTION_KEYS,
    BadReport,
    ReportQuery,
    build_report,
    table_text,
)
from redress.settings import Settings

logger = logging.getLogger("redress")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "reports",
        help="complaints, reply times, reopens, ratings, handoffs, compensation, incidents "
        "and recovery quality for a period (the last 30 days by default)",
    )
    parser.add_argument("--start", help="the first day, like 2026-11-01")
    parser.add_argument("--end", help="the last day, like 2026-11-30 (default: today, UTC)")
    parser.add_argument("--team", help="one team of business/teams.yml")
    parser.add_argument("--category", help="one complaint category")
    parser.add_argument("--section", choices=SECTION_KEYS, help="only this section")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="CSV (needs --section)")
    shape.add_argument("--json", action="store_true", help="JSON, as GET /api/reports gives it")


def run(args: argparse.Namespace, settings: Settings, business: Business) -> int:
    if args.csv and args.section is None:
        logger.error("Refused: --csv writes one table; choose it with --section.")
        return 2
    now = utcnow()
    params = {
        name: value
        for name in ("start", "end", "team", "category")
        if (value := getattr(args, name)) is not None
    }
    try:
        query = ReportQuery.from_params(params, now.date(), business)
        with unit_of_work(settings.database_url) as session:
            report = build_report(
                session, business, query, now, None if args.section is None else [args.section]
            )
    except BadReport as bad:
        logger.error("Refused: %s", bad)
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
    elif args.csv:
        for line in csv_out.section_csv_lines(report.sections[0]):
            sys.stdout.write(line)
    else:
        period = f"{query.start} to {query.end}"
        scope = ", ".join(
            f"{name} {value}"
            for name, value in (("team", query.team), ("category", query.category))
            if value
        )
        out = [f"Report for {period}{f' ({scope})' if scope else ''}"]
        out += [table_text(section) for section in report.sections]
        sys.stdout.write("\n\n".join(out) + "\n")
    return 0
