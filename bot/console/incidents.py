"""Incidents in the console: the list, creating one (also from a possible-incident alert),
updating and resolving it, the customers it affects and what they were told.

Agents read; admins write. Writes go through ``redress.incidents.records`` and the audit log
as ``bot/api/incidents.py`` does. The customer-facing texts are checked as the operator
types (``check``, called by /static/console-incidents.js) and again when the form is sent,
with the same messages; a refused form comes back with what was typed.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.console.web import Refused, actor, db, form, page, redirect, render, signed_in
from redress import alerts, audit
from redress.clock import utcnow
from redress.complaints.categories import Category
from redress.db.models import Complaint, Conversation, IncidentSubscription, OutboxMessage
from redress.db.models import Incident as IncidentRow
from redress.incidents import model as incidents
from redress.incidents import promote
from redress.incidents import records as incidents_records
from redress.incidents.model import Change, IncidentClosed, IncidentError, parse_time
from redress.plain_language import MIN_WORDS_FOR_SCORE, check_text, reading_ease, words

# The fields a customer reads, as the forms name them, with the words operators see.
CUSTOMER_FIELDS = {
    "what_is_wrong": "What is wrong",
    "why": "Why it happened",
    "what_we_are_doing": "What we are doing",
    "expected_fix": "When we expect it fixed",
}
FORM_FIELDS = (
    "id", "title", "services", "categories", "areas", "accounts", "start", "status",
    *CUSTOMER_FIELDS, "expected_fix_at", "next_update_by",
)  # fmt: skip
UPDATE_FIELDS = ("status", *CUSTOMER_FIELDS, "expected_fix_at", "next_update_by", "note")
# The domain's names for a field, as the forms name it.
_FORM_NAME = {
    "expected_fix.text": "expected_fix",
    "expected_fix_text": "expected_fix",
    "expected_fix.at": "expected_fix_at",
}
_NAIVE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
NOTICES_SHOWN = 200


@dataclass
class Refusal:
    """Why a form was refused: the message, and the field it is about (for the page)."""

    message: str
    field: str = ""
    fields: dict[str, str] = dataclasses.field(default_factory=dict)


# Reading -------------------------------------------------------------------------------------


@page(audit.AGENT)
async def list_page(request: Request) -> Response:
    def work(session: Session) -> dict[str, Any]:
        counts = dict(
            session.execute(
                select(Complaint.incident_id, func.count(Complaint.id))
                .where(Complaint.incident_id.is_not(None))
                .group_by(Complaint.incident_id)
            ).all()
        )
        rows = incidents_records.list_incidents(session, active_only=False)
        listed = [{"row": row, "complaints": counts.get(row.id, 0)} for row in rows]
        return {
            "active": [i for i in listed if i["row"].status != incidents.RESOLVED],
            "resolved": [i for i in listed if i["row"].status == incidents.RESOLVED],
        }

    found = await db(request, work)
    return render(request, "incidents/list.html", section="incidents", **found)


@page(audit.AGENT)
async def incident_page(request: Request) -> Response:
    return await _incident(request)


async def _incident(
    request: Request, refusal: Refusal | None = None, which: str = "", status: int = 200
) -> Response:
    incident_id = request.path_params["incident_id"]

    def work(session: Session) -> dict[str, Any]:
        row = incidents_records.get_row(session, incident_id)
        affected = session.execute(
            select(Complaint, Conversation.channel, IncidentSubscription.status)
            .join(Conversation, Conversation.id == Complaint.conversation_id)
            .outerjoin(
                IncidentSubscription,
                (IncidentSubscription.conversation_id == Complaint.conversation_id)
                & (IncidentSubscription.incident_id == row.id),
            )
            .where(Complaint.incident_id == row.id)
            .order_by(Complaint.created_at, Complaint.id)
        ).all()
        told = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.incident_id == row.id)
                .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                .limit(NOTICES_SHOWN)
            )
        )
        return {
            "incident": row,
            "updates": list(reversed(row.updates)),
            "affected": [
                {"complaint": c, "channel": channel, "updates": sub or "not offered"}
                for c, channel, sub in affected
            ],
            "told": told,
        }

    try:
        found = await db(request, work)
    except incidents_records.UnknownIncident:
        raise Refused("There is no incident with that id.", 404) from None
    row = found["incident"]
    typed = refusal.fields if refusal is not None else {}
    return render(
        request,
        "incidents/incident.html",
        status,
        section="incidents",
        may_write=signed_in(request).actor.may(audit.ADMIN) and row.status != incidents.RESOLVED,
        statuses=incidents.STATUSES,
        refusal=refusal,
        which=which,
        update=typed if which == "update" else _update_values(row),
        resolve_note=typed.get("note", "") if which == "resolve" else "",
        labels=CUSTOMER_FIELDS,
        **found,
    )


def _update_values(row: IncidentRow) -> dict[str, str]:
    return {
        "status": row.status,
        "what_is_wrong": row.what_is_wrong,
        "why": row.why,
        "what_we_are_doing": row.what_we_are_doing,
        "expected_fix": row.expected_fix_text,
        "expected_fix_at": "",
        "next_update_by": "",
        "note": "",
    }


# The checks as the operator types -----------------------------------------------------------


def checks_for(values: dict[str, str]) -> dict[str, Any]:
    """The plain-language and blame checks for each customer-facing field given, with the
    same messages the server refuses a form with."""
    result = {}
    for name, label in CUSTOMER_FIELDS.items():
        if name not in values:
            continue
        text = " ".join(values[name].split())
        problems = [p.problem for p in check_text(text)] if text else []
        if not text:
            problems = ["is missing; write it for the customer in plain words"]
        elif len(text) > incidents.MAX_TEXT_CHARS:
            problems.append(f"is {len(text)} characters; keep it under {incidents.MAX_TEXT_CHARS}")
        scored = len(words(text)) >= MIN_WORDS_FOR_SCORE
        result[name] = {
            "label": label,
            "ok": not problems,
            "problems": problems,
            "reading_ease": round(reading_ease(text)) if scored else None,
        }
    return {"checks": result}


@page(audit.AGENT)
async def check(request: Request) -> Response:
    values = dict(await form(request)) if request.method == "POST" else dict(request.query_params)
    response = JSONResponse(checks_for({k: v[:4000] for k, v in values.items()}))
    response.headers["cache-control"] = "no-store"
    return response


# Creating -----------------------------------------------------------------------------------


@page(audit.ADMIN)
async def new_page(request: Request) -> Response:
    alert_id = request.query_params.get("from_alert", "")
    fields = dict.fromkeys((*FORM_FIELDS, "from_alert"), "")
    fields |= {"status": "investigating", "next_update_by": "+2h"}
    draft = None
    if alert_id:
        cluster, draft = await _draft(request, alert_id)
        fields |= {
            "title": draft.title,
            "categories": draft.categories,
            "areas": draft.areas,
            "services": draft.services,
            "what_is_wrong": draft.what_is_wrong,
            "from_alert": str(cluster.alert_id),
        }
    return _new_form(request, fields, None, draft)


async def _draft(request: Request, alert_id: str) -> tuple[promote.Cluster, promote.Draft]:
    business = request.app.state.business

    def work(session: Session) -> tuple[promote.Cluster, promote.Draft] | None:
        alert = alerts.get_alert(session, int(alert_id)) if alert_id.isdigit() else None
        cluster = promote.cluster_of(alert) if alert is not None else None
        if cluster is None:
            return None
        try:
            label = business.category_text(Category(cluster.category)).label
        except ValueError:
            label = cluster.category
        complaints = promote.cluster_complaints(session, cluster)
        return cluster, promote.draft_from(cluster, complaints, label, business.products)

    found = await db(request, work)
    if found is None:
        raise Refused("There is no possible-incident alert with that id.", 404)
    return found


def _new_form(
    request: Request,
    fields: dict[str, str],
    refusal: Refusal | None,
    draft: promote.Draft | None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "incidents/new.html",
        status,
        section="incidents",
        fields=fields,
        refusal=refusal,
        draft=draft,
        statuses=incidents.STATUSES,
        labels=CUSTOMER_FIELDS,
        categories=[c.value for c in Category],
    )


@page(audit.ADMIN)
async def create(request: Request) -> Response:
    submitted = await form(request)
    typed = {name: submitted.get(name, "") for name in (*FORM_FIELDS, "from_alert")}
    business = request.app.state.business
    zone = _zone(request)
    who = actor(request)
    alert_id = typed["from_alert"]

    def work(session: Session) -> tuple[str, promote.Linked | None]:
        now = utcnow()
        incident = incidents.incident_from_mapping(_mapping(typed, zone), now, business.regions)
        incidents_records.create_incident(session, incident, now)
        audit.record(session, who, "incident_create", "incident", incident.id, now)
        linked = None
        if alert_id:
            linked = _promote(session, alert_id, incident, now, zone, who)
        return incident.id, linked

    try:
        incident_id, linked = await db(request, work)
    except incidents_records.IncidentExists as exists:
        refusal = Refusal(f"An incident {exists.incident_id} already exists.", "id", typed)
        return await _refused_new(request, typed, refusal, alert_id)
    except IncidentError as problem:
        return await _refused_new(request, typed, _refusal(problem, typed), alert_id)
    request.app.state.scheduler.wake()
    notice = f"Incident {incident_id} created."
    if linked is not None:
        notice += (
            f" {len(linked.linked)} complaints linked; {linked.told} customers sent the "
            "explanation. The alert is acknowledged."
        )
    return redirect(f"/console/incidents/{incident_id}", notice)


def _promote(
    session: Session,
    alert_id: str,
    incident: incidents.Incident,
    now: datetime,
    zone: str,
    who: audit.Actor,
) -> promote.Linked:
    alert = alerts.get_alert(session, int(alert_id)) if alert_id.isdigit() else None
    cluster = promote.cluster_of(alert) if alert is not None else None
    if cluster is None:
        raise IncidentError("from_alert", "there is no possible-incident alert with that id")
    complaints = promote.cluster_complaints(session, cluster)
    linked = promote.link_cluster(session, incident, complaints, now, zone)
    audit.record(
        session,
        who,
        "incident_link",
        "incident",
        incident.id,
        now,
        alert=cluster.alert_id,
        complaints=list(linked.linked),
        told=linked.told,
    )
    _, first = alerts.acknowledge_once(session, cluster.alert_id, now, by=who.label)
    if first:
        audit.record(session, who, "alert_acknowledge", "alert", str(cluster.alert_id), now)
    return linked


async def _refused_new(
    request: Request, typed: dict[str, str], refusal: Refusal, alert_id: str
) -> Response:
    draft = (await _draft(request, alert_id))[1] if alert_id else None
    return _new_form(request, typed, refusal, draft, status=400)


def _mapping(typed: dict[str, str], zone: str) -> dict[str, Any]:
    """The form as the API's JSON would give it."""
    data: dict[str, Any] = {
        "title": typed["title"],
        "services": _list(typed["services"]),
        "categories": _list(typed["categories"]),
        "areas": _list(typed["areas"]),
        "accounts": _list(typed["accounts"]),
        "status": typed["status"] or "investigating",
        "what_is_wrong": typed["what_is_wrong"],
        "why": typed["why"],
        "what_we_are_doing": typed["what_we_are_doing"],
        "expected_fix": {
            "text": typed["expected_fix"],
            "at": _time(typed["expected_fix_at"], zone),
        },
        "next_update_by": _time(typed["next_update_by"], zone),
    }
    if typed["id"].strip():
        data["id"] = typed["id"]
    if typed["start"].strip():
        data["start"] = _time(typed["start"], zone)
    return data


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _time(text: str, zone: str) -> str | None:
    """A time as typed: '+2h', an ISO time with its zone, or a local time in the business's
    zone ('2026-12-07 14:00', as a date-time field sends it)."""
    text = text.strip()
    if not text:
        return None
    if _NAIVE_TIME.match(text):
        try:
            local = datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError:
            return text  # the domain says what is wrong with it
        return local.replace(tzinfo=ZoneInfo(zone)).isoformat()
    return text


def _refusal(problem: IncidentError, typed: dict[str, str]) -> Refusal:
    name = _FORM_NAME.get(problem.field, problem.field)
    label = CUSTOMER_FIELDS.get(name, name.replace("_", " ").capitalize())
    return Refusal(f"{label}: {problem.message}", name, typed)


# Updating and resolving ---------------------------------------------------------------------


@page(audit.ADMIN)
async def update(request: Request) -> Response:
    incident_id = request.path_params["incident_id"]
    submitted = await form(request)
    typed = {name: submitted.get(name, "") for name in UPDATE_FIELDS}
    zone = _zone(request)
    who = actor(request)

    def work(session: Session) -> None:
        now = utcnow()
        before = incidents_records.to_domain(incidents_records.get_row(session, incident_id))
        change = _change(typed, set(submitted), now, zone)
        row = incidents_records.update_incident(session, incident_id, change, now, zone)
        changed = [
            name
            for name in ("status", *incidents.CUSTOMER_FIELDS, "expected_fix_at", "next_update_by")
            if getattr(before, name) != getattr(incidents_records.to_domain(row), name)
        ]
        audit.record(
            session,
            who,
            "incident_update",
            "incident",
            row.id,
            now,
            changed=changed + (["note"] if typed["note"].strip() else []),
            note=row.updates[-1].note,
        )

    return await _write(request, work, typed, "update", "Update saved.")


@page(audit.ADMIN)
async def resolve(request: Request) -> Response:
    incident_id = request.path_params["incident_id"]
    note = (await form(request)).get("note", "")
    zone = _zone(request)
    who = actor(request)

    def work(session: Session) -> None:
        now = utcnow()
        row = incidents_records.resolve_incident(session, incident_id, note, now, zone)
        audit.record(session, who, "incident_resolve", "incident", row.id, now, note=note[:300])

    return await _write(request, work, {"note": note}, "resolve", "Incident resolved.")


async def _write(
    request: Request, work: Any, typed: dict[str, str], which: str, notice: str
) -> Response:
    incident_id = request.path_params["incident_id"]
    try:
        await db(request, work)
    except incidents_records.UnknownIncident:
        raise Refused("There is no incident with that id.", 404) from None
    except IncidentClosed as closed:
        return await _incident(request, Refusal(closed.message, "status", typed), which, 409)
    except IncidentError as problem:
        return await _incident(request, _refusal(problem, typed), which, 400)
    request.app.state.scheduler.wake()
    return redirect(f"/console/incidents/{incident_id.strip().upper()}", notice)


def _change(typed: dict[str, str], sent: set[str], now: datetime, zone: str) -> Change:
    """The update form as a Change. A customer text sent blank is refused as missing; one not
    sent, like a blank status, time or note, leaves that part as it is."""

    def text(name: str) -> str | None:
        if name in CUSTOMER_FIELDS and name in sent:
            return typed[name]
        return typed[name] if typed[name].strip() else None

    fix_at = _time(typed["expected_fix_at"], zone)
    next_update = _time(typed["next_update_by"], zone)
    return Change(
        status=text("status"),
        what_is_wrong=text("what_is_wrong"),
        why=text("why"),
        what_we_are_doing=text("what_we_are_doing"),
        expected_fix_text=text("expected_fix"),
        expected_fix_at=None if fix_at is None else parse_time(fix_at, "expected_fix_at", now),
        next_update_by=(
            None if next_update is None else parse_time(next_update, "next_update_by", now)
        ),
        note=text("note"),
    )


def _zone(request: Request) -> str:
    return str(request.app.state.business.hours.timezone)
