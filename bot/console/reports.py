"""Reports in the console: every section of the report for a chosen period, team and
category, each with its charts (SVG drawn on the server by ``redress.reports.charts``), how it
is computed, the table behind it and a CSV download of that table.

The figures are ``redress.reports.figures`` — the same ones the admin API gives as JSON and
the command line prints — so a chart, its table, its CSV and the API never disagree.
docs/reports.md says what each figure means."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bot.console.web import Refused, db, page, problem, render
from redress import audit
from redress.business import Business
from redress.clock import utcnow
from redress.complaints.categories import Category
from redress.reports import csv_out
from redress.reports.charts import render_charts
from redress.reports.figures import (
    SECTION_KEYS,
    BadReport,
    Cell,
    Report,
    ReportQuery,
    Section,
    build_report,
)

# A table longer than this shows its first rows and keeps the rest behind "Show all".
SHOWN_ROWS = 10
COLLAPSE_AFTER = 15
QUICK_DAYS = (7, 30, 90)
_FIELDS = ("start", "end", "team", "category")


@dataclass(frozen=True)
class ShownCell:
    text: str
    number: bool


@dataclass(frozen=True)
class ShownSection:
    section: Section
    charts: list[Markup]
    headings: list[str]
    first_rows: list[list[ShownCell]]
    more_rows: list[list[ShownCell]]
    summary: list[tuple[str, str]]
    csv_url: str


def cell(value: Cell) -> ShownCell:
    """A table cell as the CSV writes it (an empty cell for no value), numbers marked."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return ShownCell("" if value is None else str(value), number)


def heading(column: str) -> str:
    """A column's name for people: ``reopen_rate_pct`` is "Reopen rate %"."""
    words = column.replace("_pct", " %").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _query_string(params: Mapping[str, str]) -> str:
    kept = {key: params[key] for key in _FIELDS if params.get(key)}
    return f"?{urllib.parse.urlencode(kept)}" if kept else ""


def shown(section: Section, params: Mapping[str, str]) -> ShownSection:
    rows = [[cell(v) for v in row] for row in section.rows]
    split = SHOWN_ROWS if len(rows) > COLLAPSE_AFTER else len(rows)
    return ShownSection(
        section=section,
        charts=render_charts(section),
        headings=[heading(c) for c in section.columns],
        first_rows=rows[:split],
        more_rows=rows[split:],
        summary=[(heading(label), cell(value).text) for label, value in section.summary],
        csv_url=f"/console/reports/{section.key}.csv{_query_string(params)}",
    )


def quick_links(
    today: date, q: ReportQuery | None, path: str = "/console/reports"
) -> list[tuple[str, str]]:
    """Links to the last 7, 30 and 90 days up to today, keeping the team and category."""
    links = []
    for days in QUICK_DAYS:
        params = {
            "start": (today - timedelta(days=days - 1)).isoformat(),
            "end": today.isoformat(),
            "team": (q.team or "") if q else "",
            "category": (q.category or "") if q else "",
        }
        links.append((f"Last {days} days", f"{path}{_query_string(params)}"))
    return links


def _query(params: Mapping[str, str], today: date, business: Business) -> ReportQuery:
    try:
        return ReportQuery.from_params(params, today, business)
    except BadReport as bad:
        raise Refused(str(bad), 400) from None


# The report comes in two pages, each its own query: how the service is doing, and the
# recovery quality of each conversation (which reads every message of the period's
# conversations, so it is its own page and the first loads fast).
RECOVERY = "recovery_quality"
SERVICE_KEYS = tuple(key for key in SECTION_KEYS if key != RECOVERY)
VIEWS = (
    ("service", "Service", "/console/reports", SERVICE_KEYS),
    ("recovery", "Recovery quality", "/console/reports/recovery", (RECOVERY,)),
)


@page(audit.AGENT)
async def reports_page(request: Request) -> Response:
    return await _report_page(request, "service")


@page(audit.AGENT)
async def recovery_page(request: Request) -> Response:
    return await _report_page(request, "recovery")


async def _report_page(request: Request, view: str) -> Response:
    keys = next(found for name, _, _, found in VIEWS if name == view)
    business: Business = request.app.state.business
    now = utcnow()
    raw = {key: request.query_params.get(key, "") for key in _FIELDS}
    error = ""
    q: ReportQuery | None
    try:
        q = ReportQuery.from_params(raw, now.date(), business)
    except BadReport as bad:
        q, error = None, str(bad)
    report: Report | None = None
    if q is not None:
        query = q

        def work(session: Session) -> Report:
            return build_report(session, business, query, now, keys)

        report = await db(request, work)
    values = dict(raw)
    if q is not None:
        values |= {"start": q.start.isoformat(), "end": q.end.isoformat()}
    context: dict[str, Any] = {
        "error": error,
        "values": values,
        "report": report,
        "sections": [shown(s, values) for s in report.sections] if report else [],
        "team_choices": [(key, team.name) for key, team in business.team_file.teams.items()],
        "category_choices": [(c.value, business.category_text(c).label) for c in Category],
        "quick": quick_links(now.date(), q, next(p for n, _, p, _ in VIEWS if n == view)),
        "view": view,
        "views": [(name, label, path + _query_string(raw)) for name, label, path, _ in VIEWS],
        "team_name": business.team(q.team).name if q and q.team else "",
        "category_name": (business.category_text(Category(q.category)).label)
        if q and q.category
        else "",
    }
    return render(
        request, "reports/index.html", 400 if error else 200, section="reports", **context
    )


@page(audit.AGENT)
async def section_csv(request: Request) -> Response:
    """One section's table as a CSV download, for the same query as the page."""
    key = request.path_params["key"]
    if key not in SECTION_KEYS:
        return problem(
            request,
            404,
            "No such report",
            f"There is no report section {key[:40]!r}. Use one of: {', '.join(SECTION_KEYS)}.",
        )
    business: Business = request.app.state.business
    now = utcnow()
    q = _query(request.query_params, now.date(), business)

    def work(session: Session) -> Report:
        return build_report(session, business, q, now, [key])

    report = await db(request, work)
    section = report.section(key)
    name = csv_out.filename(section, q.start.isoformat(), q.end.isoformat())
    return StreamingResponse(
        csv_out.section_csv_lines(section),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )
