"""The console's cases: the list (filters, search, pages, sort), the case page (transcript,
timeline, actions) and the CSV exports of cases, their messages and their grants.

Finding cases is ``redress.console.queries``; acting on one goes through the console desk
(``bot.console.desk.ConsoleDesk``), which calls the same domain functions as the Slack desk
and the APIs, each of which records itself in the audit log. An export is recorded in the
audit log too (action ``export``, with the filter), and streamed in batches, so no export
holds a whole table in memory."""

from __future__ import annotations

import csv
import functools
import io
import urllib.parse
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bot.console.desk import ConsoleDesk, ConsoleRefused, Done
from bot.console.web import Refused, actor, db, form, page, problem, redirect, render
from redress import audit
from redress.business import Business
from redress.cases import desk as case_desk
from redress.clock import utcnow
from redress.console import queries
from redress.console.queries import BadFilter, CaseFilter
from redress.conversations.views import conversation_record
from redress.db.models import Complaint, Conversation
from redress.db.session import session_factory
from redress.privacy.config import visible_kinds
from redress.privacy.shown import for_agents, record_for_agents
from redress.reports.csv_out import safe_cell

# What each export holds: its rows (from the batch iterators) and its columns.
EXPORTS = {
    "cases": (queries.iter_cases, queries.CASE_COLUMNS),
    "messages": (queries.iter_messages, queries.MESSAGE_COLUMNS),
    "grants": (queries.iter_grants, queries.GRANT_COLUMNS),
}
# Rows written into one chunk of the streamed CSV.
CHUNK_ROWS = 200

ROLE_NAMES = {"customer": "Customer", "bot": "Assistant", "agent": "Agent"}
STATUS_NAMES = {
    "open": "Open",
    "resolved": "Resolved",
    "waiting_on_us": "Waiting on us",
    "waiting_on_customer": "Waiting on customer",
}
SORT_NAMES = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "severity": "Most severe first",
    "due": "Promise due soonest",
}
CHANNEL_NAMES = {"web": "Web chat", "telegram": "Telegram"}
ACTIONS = ("reply", "note", "claim", "reassign", "status", "resolve")


# The list -------------------------------------------------------------------------------------


@page("agent")
async def case_list(request: Request) -> Response:
    params = request.query_params
    error = ""
    found: CaseFilter | None
    try:
        found = CaseFilter.from_query(params)
    except BadFilter as bad:
        found, error = None, _sentence(str(bad))
    now = utcnow()

    def load(session: Session) -> tuple[queries.FilterChoices, queries.CasePage | None]:
        choices = queries.distinct_values(session)
        return choices, queries.list_cases(session, found, now) if found else None

    choices, listing = await db(request, load)
    business: Business = request.app.state.business
    export_query = _export_query(found) if found else ""
    return render(
        request,
        "cases/list.html",
        400 if error else 200,
        section="cases",
        error=error,
        values={key: params.get(key, "") for key in _FORM_FIELDS},
        choices=choices,
        listing=listing,
        team_names={key: business.team(key).name for key in choices.teams},
        team_choices=[(key, business.team(key).name) for key in choices.teams],
        category_choices=[(c, c.replace("_", " ")) for c in choices.categories],
        severity_choices=[(s, s) for s in choices.severities],
        channel_choices=[(c, CHANNEL_NAMES.get(c, c)) for c in choices.channels],
        incident_choices=[(i, f"{i}: {title}") for i, title in choices.incidents],
        owner_choices=[(queries.UNCLAIMED, "Nobody (unclaimed)"), *choices.owners],
        statuses=STATUS_NAMES,
        sorts=SORT_NAMES,
        channel_names=CHANNEL_NAMES,
        previous_url=_page_url(found, -1) if found and listing and found.page > 1 else "",
        next_url=_page_url(found, 1) if found and listing and found.page < listing.pages else "",
        export_query=export_query,
    )


_FORM_FIELDS = (
    "q",
    "status",
    "team",
    "category",
    "severity",
    "channel",
    "incident_id",
    "owner",
    "overdue",
    "date_from",
    "date_to",
    "sort",
)


def _page_url(f: CaseFilter, step: int) -> str:
    query = f.to_query()
    query["page"] = str(f.page + step)
    if query["page"] == "1":
        del query["page"]
    return "/console/cases" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def _export_query(f: CaseFilter) -> str:
    """The filter's query string for an export (the page and sort are the list's own)."""
    query = {k: v for k, v in f.to_query().items() if k not in ("page", "per_page", "sort")}
    return f"?{urllib.parse.urlencode(query)}" if query else ""


# The case page ----------------------------------------------------------------------------


@page("agent")
async def case_page(request: Request) -> Response:
    complaint_id = int(request.path_params["complaint_id"])
    business: Business = request.app.state.business
    view = await db(request, lambda session: case_view(session, complaint_id, business))
    if view is None:
        return problem(request, 404, "No such case", f"There is no case {complaint_id}.")
    me = actor(request)
    return render(
        request,
        "cases/case.html",
        section="cases",
        **view,
        teams=[(key, team.name) for key, team in business.team_file.teams.items()],
        mine=view["case"]["owner_id"] == (me.id or me.name)[:40],
        statuses=STATUS_NAMES,
        channel_names=CHANNEL_NAMES,
    )


def case_view(session: Session, complaint_id: int, business: Business) -> dict[str, Any] | None:
    """What the case page shows: the case, its customer and channel, the transcript (with
    notes for colleagues marked as such), its promises and its timeline."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or complaint.team is None:
        return None
    found = conversation_record(session, complaint.conversation_id, business)
    assert found is not None  # a foreign key
    # Masked as at the Slack desk: what agents need to see, and no more (privacy.yml).
    record = record_for_agents(found, visible_kinds(business))
    conversation = session.get(Conversation, complaint.conversation_id)
    assert conversation is not None
    customer = complaint.customer or conversation.customer
    this = next(c for c in record["complaints"] if c["reference"] == complaint.reference)
    repeat_of = None
    if complaint.repeat_of_id is not None:
        earlier = session.get(Complaint, complaint.repeat_of_id)
        if earlier is not None:
            repeat_of = (earlier.id, earlier.reference)
    return {
        "case": case_desk.case_json(session, complaint, business),
        "complaint": this,
        "summary": for_agents(complaint.summary, visible_kinds(business)),
        "created_at": complaint.created_at,
        "customer": customer,
        "channel": conversation.channel,
        "reachable": conversation.reachable,
        "repeat_of": repeat_of,
        "transcript": transcript(record),
        "timeline": _timeline(record, complaint.reference),
        "promises": [
            {**p, "due_at": _moment(p["due_at"]), "kept_at": _moment(p.get("kept_at"))}
            for p in this["promises"]
        ],
        "rating": record["conversation"]["rating"],
        "fixed": record["conversation"]["fixed"],
    }


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def transcript(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages and the notes for colleagues, in the order they were written."""
    lines: list[dict[str, Any]] = []
    for message in record["messages"]:
        details = message["details"] or {}
        role = message["role"]
        kind = role
        who = ROLE_NAMES.get(role, role.title())
        if role == "bot" and details.get("incident_id"):
            kind, who = "incident", f"Incident update ({details['incident_id']})"
        elif role == "agent" and details.get("author"):
            who = f"{details['author']} (agent)"
        lines.append(
            {
                "kind": kind,
                "who": who,
                "text": message["text"],
                "at": _moment(message["created_at"]),
                "buttons": [b["title"] for b in message["buttons"]],
            }
        )
    for note in record["agent_notes"]:
        lines.append(
            {
                "kind": "note",
                "who": f"Note by {note['author'] or 'an agent'} (not shown to the customer)",
                "text": note["text"],
                "at": _moment(note["created_at"]),
                "buttons": [],
            }
        )
    lines.sort(key=lambda line: line["at"])
    return lines


_EVENT_WORDS = {
    "case_claimed": "Claimed by {by}",
    "case_status": "{by} set it to {status}",
    "case_resolved": "Resolved by {by}",
    "case_promise": "{by} promised a {kind}",
    "case_promise_kept": "{by} kept their promise ({kind})",
}


def _timeline(record: dict[str, Any], reference: str) -> list[dict[str, Any]]:
    """What happened to the case, oldest first: its logging, offers and grants, requests for
    a person, what agents did, resolutions and what the customer said after."""
    this = next(c for c in record["complaints"] if c["reference"] == reference)
    entries: list[dict[str, Any]] = [
        {
            "at": _moment(this["created_at"]),
            "text": f"Complaint logged: {this['category']}, severity {this['severity']}",
            "details": list(this["severity_reasons"] or []),
        }
    ]
    offers = [o for o in record["offers"] if o["complaint"] == reference]
    offered = {o["reference"] for o in offers}
    for offer in offers:
        entries.append(
            {
                "at": _moment(offer["created_at"]),
                "text": f"Offer {offer['reference']}: {offer['remedy']}, {offer['status']}",
                "pence": offer["amount_pence"],
                "details": [offer["explanation"]] if offer["explanation"] else [],
            }
        )
    for grant in record["grants"]:
        if grant["offer"] in offered:
            entries.append(
                {
                    "at": _moment(grant["created_at"]),
                    "text": f"Granted {grant['reference']}: {grant['remedy']}, approved by "
                    f"{grant['approved_by']}",
                    "pence": grant["amount_pence"],
                    "details": [],
                }
            )
    for handoff in record["handoffs"]:
        entries.append(
            {
                "at": _moment(handoff["requested_at"]),
                "text": f"Asked for a person ({handoff['reason']})",
                "details": [f"Now {handoff['status'].replace('_', ' ')}"],
            }
        )
        if handoff["taken_over_at"]:
            entries.append(
                {
                    "at": _moment(handoff["taken_over_at"]),
                    "text": f"{handoff['agent_name'] or 'An agent'} took the conversation over",
                    "details": [],
                }
            )
        if handoff["ended_at"]:
            entries.append(
                {
                    "at": _moment(handoff["ended_at"]),
                    "text": f"The request for a person ended ({handoff['status']})",
                    "details": [],
                }
            )
    for event in record["events"]:
        detail = event["detail"] or {}
        if detail.get("complaint") != reference:
            continue
        words = _EVENT_WORDS.get(event["kind"])
        if event["kind"] == "case_reassigned":
            text = (
                f"{detail.get('by')} reassigned it from {detail.get('from_team')} to "
                f"{detail.get('to_team')}"
            )
        elif words is not None:
            status = STATUS_NAMES.get(str(detail.get("status")), detail.get("status"))
            text = words.format(
                by=detail.get("by") or "someone",
                status=str(status).lower(),
                kind=detail.get("kind", "promise"),
            )
        else:
            continue
        entries.append({"at": _moment(event["created_at"]), "text": text, "details": []})
    for resolution in this["resolutions"]:
        details = []
        if resolution["fixed"] is not None:
            details.append(
                "The customer said it is fixed"
                if resolution["fixed"]
                else "The customer said it is not fixed"
            )
        if resolution["rating"] is not None:
            details.append(f"Rated {resolution['rating']} out of 5")
        entries.append(
            {
                "at": _moment(resolution["resolved_at"]),
                "text": f"Resolved by {resolution['by']} ({resolution['via']})",
                "details": details,
            }
        )
        if resolution["reopened_at"]:
            entries.append(
                {"at": _moment(resolution["reopened_at"]), "text": "Reopened", "details": []}
            )
    entries.sort(key=lambda entry: entry["at"])
    return entries


# Actions ----------------------------------------------------------------------------------


@page("agent")
async def case_action(request: Request) -> Response:
    complaint_id = int(request.path_params["complaint_id"])
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise Refused(f"There is no action {action!r} on a case.", 404)
    fields = await form(request)
    desk: ConsoleDesk | None = getattr(request.app.state, "console_desk", None)
    if desk is None:
        raise Refused("The console desk is not running, so nothing was done.", 503)
    who = actor(request)
    business: Business = request.app.state.business

    def state(session: Session) -> tuple[str, str, str, str] | None:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None or complaint.team is None:
            return None
        return complaint.reference, complaint.status, complaint.conversation_id, complaint.team

    found = await db(request, state)
    if found is None:
        raise Refused(f"There is no case {complaint_id}.", 404)
    reference, status, conversation_id, _team = found
    if status != case_desk.OPEN and action != "note":
        raise Refused(
            f"Case {reference} is already resolved, so nothing was done. A note can still "
            "be added.",
            409,
        )
    try:
        notice = await _act(desk, action, complaint_id, conversation_id, fields, who, business)
    except ConsoleRefused as refused:
        raise Refused(str(refused), 409) from None
    return redirect(f"/console/cases/{complaint_id}", notice=notice)


async def _act(
    desk: ConsoleDesk,
    action: str,
    complaint_id: int,
    conversation_id: str,
    fields: dict[str, str],
    who: audit.Actor,
    business: Business,
) -> str:
    if action == "reply":
        done: Done = await desk.reply(conversation_id, fields.get("text", ""), who)
        if not done.reachable:
            return (
                "Reply saved, but the customer's channel cannot reach them just now; they "
                "will see it in the conversation."
            )
        return "Reply sent to the customer."
    if action == "note":
        await desk.note(fields.get("text", ""), who, complaint_id=complaint_id)
        return "Note added (not shown to the customer)."
    if action == "claim":
        await desk.claim(complaint_id, who)
        return "You own this case now; the customer was told who looks after it."
    if action == "reassign":
        team = fields.get("team", "")
        if team not in business.team_file.teams:
            raise Refused("Choose a team to give the case to.")
        await desk.reassign(complaint_id, team, who)
        return f"Reassigned to {business.team(team).name}; the customer was told."
    if action == "status":
        status = fields.get("status", "")
        if status not in case_desk.DESK_STATUSES:
            raise Refused("Choose who the case waits on: us or the customer.")
        await desk.set_status(complaint_id, status, who)
        return f"Marked as {STATUS_NAMES[status].lower()}."
    await desk.resolve(who, complaint_id=complaint_id)
    return "Resolved; the customer was asked whether it is fixed."


# Exports ----------------------------------------------------------------------------------


@page("agent")
async def export(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in EXPORTS:
        return problem(
            request, 404, "No such export", "The exports are cases, messages and grants."
        )
    try:
        found = CaseFilter.from_query(request.query_params)
    except BadFilter as bad:
        raise Refused(f"The export was not made: {_sentence(str(bad))}") from None
    who = actor(request)
    now = utcnow()
    filter_query = {
        k: v for k, v in found.to_query().items() if k not in ("page", "per_page", "sort")
    }

    def note_export(session: Session) -> None:
        audit.record(session, who, "export", "export", f"{kind}.csv", now, filter=filter_query)

    await db(request, note_export)
    rows, columns = EXPORTS[kind]
    database_url = request.app.state.settings.database_url
    visible = visible_kinds(request.app.state.business)
    filename = f"redress-{kind}-{now.date().isoformat()}.csv"
    return StreamingResponse(
        csv_chunks(database_url, rows, columns, found, now, visible),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
        },
    )


# The columns holding what customers wrote, masked in exports as at the desk.
WRITTEN_COLUMNS = frozenset({"text", "summary"})


def _shown(column: str, value: Any, visible: frozenset[str]) -> Any:
    if column in WRITTEN_COLUMNS and isinstance(value, str):
        return for_agents(value, visible)
    return value


def csv_chunks(
    database_url: str,
    rows: Any,
    columns: tuple[str, ...],
    f: CaseFilter,
    now: datetime,
    visible: frozenset[str] = frozenset(),
) -> Iterator[bytes]:
    """The CSV a few hundred rows at a time, read in batches by ``rows`` (one of the
    ``redress.console.queries`` iterators) and written as they come. What customers wrote
    (messages, summaries) is masked as agents see it (privacy.yml ``agents_see``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    session = _reading_session(database_url)
    try:
        for written, row in enumerate(rows(session, f, now, queries.BATCH_SIZE), start=1):
            writer.writerow([csv_cell(_shown(column, row[column], visible)) for column in columns])
            if written % CHUNK_ROWS == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
    finally:
        session.rollback()  # it only read
        session.close()


def _reading_session(database_url: str) -> Session:
    """A session for a long read. On SQLite its reads take no lock (the gateway's own
    sessions take the write lock when they begin, which would stop every other writer for
    as long as a download lasts); on PostgreSQL it is one ordinary transaction."""
    if not database_url.startswith("sqlite"):
        return session_factory(database_url)()
    return _sqlite_readers(database_url)()


@functools.lru_cache(maxsize=4)
def _sqlite_readers(database_url: str) -> sessionmaker[Session]:
    engine = create_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)

    @sqlalchemy_event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return sessionmaker(engine)


def csv_cell(value: Any) -> str | int | float:
    """A value as a CSV cell (times in ISO 8601); text a spreadsheet would run as a formula
    gets a leading apostrophe, so it shows as the text it is."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return safe_cell(value)


FIELD_LABELS = {
    "date_from": "Logged from",
    "date_to": "Logged to",
    "incident_id": "Incident",
    "per_page": "Cases per page",
    "q": "Search",
    "overdue": "Promise overdue",
}


def _sentence(text: str) -> str:
    """A filter's message as a sentence naming the field as the form labels it."""
    text = text.strip()
    name, _, rest = text.partition(" ")
    if rest:
        label = FIELD_LABELS.get(name, name.capitalize() if name.isidentifier() else "")
        if label and name.islower():
            text = f"{label} {rest}"
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


__all__ = ["case_action", "case_list", "case_page", "case_view", "csv_cell", "export"]
