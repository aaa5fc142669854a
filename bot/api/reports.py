"""The reports API, for every operator role (agent and up):

GET /api/reports?start=YYYY-MM-DD&end=YYYY-MM-DD&team=&category= — every section's table as
JSON: ``{"period": {...}, "sections": [{"key", "title", "columns", "rows", "note",
"summary"}]}``.

GET /api/reports/{key}.csv (same parameters) — one section's table as CSV, to download.

docs/reports.md says what each figure means and how it is computed.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bot.api._http import BadInput, in_transaction, requires
from redress import audit
from redress.clock import utcnow
from redress.reports import csv_out
from redress.reports.figures import SECTION_KEYS, BadReport, Report, ReportQuery, build_report


@requires(audit.AGENT)
async def get_report(request: Request) -> Response:
    """Every section of the report for the period, team and category asked for."""
    report = await _report(request, None)
    return JSONResponse(report.as_json())


@requires(audit.AGENT)
async def get_section_csv(request: Request) -> Response:
    """One section's table as a CSV download."""
    key = request.path_params["key"]
    if key not in SECTION_KEYS:
        raise BadInput(
            404,
            "unknown_section",
            f"There is no report section {key[:40]!r}. Use one of: {', '.join(SECTION_KEYS)}.",
        )
    report = await _report(request, key)
    section = report.section(key)
    name = csv_out.filename(section, report.query.start.isoformat(), report.query.end.isoformat())
    return StreamingResponse(
        csv_out.section_csv_lines(section),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _report(request: Request, key: str | None) -> Report:
    business = request.app.state.business
    now = utcnow()
    params: dict[str, str] = dict(request.query_params)
    try:
        query = ReportQuery.from_params(params, now.date(), business)
    except BadReport as bad:
        raise BadInput(400, "invalid_report", str(bad)) from None

    def work(session: Session) -> Report:
        return build_report(session, business, query, now, None if key is None else [key])

    return await in_transaction(request, work)
