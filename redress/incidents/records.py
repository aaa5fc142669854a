"""Incidents in the database: create, update, resolve, list, and the history of each.

Functions take a session from ``unit_of_work`` so the caller decides what one transaction is.
Every change is checked by the domain code in ``incidents.py`` before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from redress.conversations.views import iso_time
from redress.db.models import Incident, IncidentUpdate
from redress.incidents import model as incidents
from redress.incidents import notices as incident_notices
from redress.incidents.model import Change, IncidentError


class UnknownIncident(LookupError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"there is no incident {incident_id!r}")
        self.incident_id = incident_id


class IncidentExists(ValueError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"an incident {incident_id!r} already exists")
        self.incident_id = incident_id


def to_domain(row: Incident) -> incidents.Incident:
    return incidents.Incident(
        id=row.id,
        title=row.title,
        services=tuple(row.services),
        categories=tuple(row.categories),
        areas=tuple(row.areas),
        accounts=tuple(row.accounts or ()),
        start=row.started_at,
        end=row.ended_at,
        status=row.status,
        what_is_wrong=row.what_is_wrong,
        why=row.why,
        what_we_are_doing=row.what_we_are_doing,
        expected_fix_text=row.expected_fix_text,
        expected_fix_at=row.expected_fix_at,
        next_update_by=row.next_update_by,
    )


def update_to_domain(row: IncidentUpdate) -> incidents.IncidentUpdate:
    return incidents.IncidentUpdate(
        at=row.created_at,
        status=row.status,
        what_is_wrong=row.what_is_wrong,
        why=row.why,
        what_we_are_doing=row.what_we_are_doing,
        expected_fix_text=row.expected_fix_text,
        expected_fix_at=row.expected_fix_at,
        next_update_by=row.next_update_by,
        note=row.note,
    )


def _write(row: Incident, incident: incidents.Incident) -> None:
    row.title = incident.title
    row.services = list(incident.services)
    row.categories = list(incident.categories)
    row.areas = list(incident.areas)
    row.accounts = list(incident.accounts)
    row.status = incident.status
    row.started_at = incident.start
    row.ended_at = incident.end
    row.what_is_wrong = incident.what_is_wrong
    row.why = incident.why
    row.what_we_are_doing = incident.what_we_are_doing
    row.expected_fix_text = incident.expected_fix_text
    row.expected_fix_at = incident.expected_fix_at
    row.next_update_by = incident.next_update_by


def _record_update(session: Session, row: Incident, note: str, now: datetime) -> IncidentUpdate:
    update = IncidentUpdate(
        incident_id=row.id,
        status=row.status,
        what_is_wrong=row.what_is_wrong,
        why=row.why,
        what_we_are_doing=row.what_we_are_doing,
        expected_fix_text=row.expected_fix_text,
        expected_fix_at=row.expected_fix_at,
        next_update_by=row.next_update_by,
        note=note[: incidents.MAX_NOTE_CHARS],
        created_at=now,
    )
    session.add(update)
    row.updated_at = now
    session.flush()
    return update


def _change(
    session: Session,
    row: Incident,
    before: incidents.Incident,
    after: incidents.Incident,
    note: str,
    now: datetime,
    zone: str,
) -> None:
    """Writes a change, keeps it in the history and, in the same transaction, queues what
    subscribed customers should hear about it."""
    _write(row, after)
    update = _record_update(session, row, note, now)
    incident_notices.on_change(session, before, after, update.id, now, zone)


def get_row(session: Session, incident_id: str) -> Incident:
    row = session.get(Incident, incident_id.strip().upper())
    if row is None:
        raise UnknownIncident(incident_id)
    return row


def create_incident(
    session: Session, incident: incidents.Incident, now: datetime, note: str = "Incident opened"
) -> Incident:
    """Stores a checked incident and its first update. Refuses an id already in use."""
    if session.get(Incident, incident.id) is not None:
        raise IncidentExists(incident.id)
    row = Incident(id=incident.id, created_at=now)
    _write(row, incident)
    session.add(row)
    session.flush()
    _record_update(session, row, note, now)
    return row


def update_incident(
    session: Session,
    incident_id: str,
    change: Change,
    now: datetime,
    zone: str = incidents.DEFAULT_ZONE,
) -> Incident:
    """Applies a change (checked by the domain rules) and records it as an update."""
    row = get_row(session, incident_id)
    before = to_domain(row)
    updated, note = incidents.apply_change(before, change, now)
    _change(session, row, before, updated, note, now, zone)
    return row


def resolve_incident(
    session: Session,
    incident_id: str,
    note: str,
    now: datetime,
    zone: str = incidents.DEFAULT_ZONE,
) -> Incident:
    row = get_row(session, incident_id)
    before = to_domain(row)
    resolved, note = incidents.resolve(before, note, now)
    _change(session, row, before, resolved, note, now, zone)
    return row


def list_incidents(session: Session, *, active_only: bool = True) -> list[Incident]:
    query = select(Incident).order_by(Incident.started_at.desc(), Incident.id)
    if active_only:
        query = query.where(Incident.status != incidents.RESOLVED)
    return list(session.scalars(query))


def active_incidents(session: Session) -> list[incidents.Incident]:
    """The active incidents as domain objects, ready for ``incidents.matching_incidents``."""
    return [to_domain(row) for row in list_incidents(session, active_only=True)]


def incident_json(row: Incident) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "services": row.services,
        "categories": row.categories,
        "areas": row.areas,
        "accounts": row.accounts or [],
        "start": iso_time(row.started_at),
        "end": iso_time(row.ended_at),
        "what_is_wrong": row.what_is_wrong,
        "why": row.why,
        "what_we_are_doing": row.what_we_are_doing,
        "expected_fix": {"at": iso_time(row.expected_fix_at), "text": row.expected_fix_text},
        "next_update_by": iso_time(row.next_update_by),
        "updated_at": iso_time(row.updated_at),
    }


def incident_with_history(session: Session, incident_id: str) -> dict[str, Any]:
    """The incident as JSON with every update, oldest first."""
    row = session.scalar(
        select(Incident)
        .where(Incident.id == incident_id.strip().upper())
        .options(selectinload(Incident.updates))
    )
    if row is None:
        raise UnknownIncident(incident_id)
    return {
        **incident_json(row),
        "history": [
            {
                "at": iso_time(u.created_at),
                "status": u.status,
                "note": u.note,
                "what_is_wrong": u.what_is_wrong,
                "why": u.why,
                "what_we_are_doing": u.what_we_are_doing,
                "expected_fix": {"at": iso_time(u.expected_fix_at), "text": u.expected_fix_text},
                "next_update_by": iso_time(u.next_update_by),
            }
            for u in row.updates
        ],
    }


def read_incidents_file(
    path: Path, now: datetime, regions: Mapping[str, Iterable[str]]
) -> list[incidents.Incident]:
    """The incidents in a YAML file (``incidents:`` list, or one incident), all checked.
    Raises IncidentError naming the incident and field of the first problem."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise IncidentError(path.name, f"cannot be read ({problem.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as problem:
        raise IncidentError(path.name, f"is not valid YAML ({problem})") from None
    entries = raw.get("incidents") if isinstance(raw, dict) and "incidents" in raw else [raw]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise IncidentError(path.name, "expected `incidents:` followed by a list of incidents")
    found = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        label = str(entry.get("id") or f"incident {number}")
        try:
            incident = incidents.incident_from_mapping(entry, now, regions)
        except IncidentError as problem:
            raise IncidentError(f"{path.name}: {label}: {problem.field}", problem.message) from None
        if incident.id in seen:
            raise IncidentError(f"{path.name}: {incident.id}", "appears twice")
        seen.add(incident.id)
        found.append(incident)
    return found


def load_incidents(
    session: Session,
    loaded: Iterable[incidents.Incident],
    now: datetime,
    zone: str = incidents.DEFAULT_ZONE,
) -> tuple[int, int]:
    """Inserts or refreshes each incident by id; returns (added, updated). Loading the same
    file again changes nothing, except that a promised time which has passed is moved to the
    file's new relative time, so a demo stays live. A resolved incident is left as it is."""
    added = updated = 0
    for incident in loaded:
        row = session.get(Incident, incident.id)
        if row is None:
            create_incident(session, incident, now, note="Loaded from the incidents file")
            added += 1
            continue
        current = to_domain(row)
        if not current.active:
            continue  # resolved is final, whatever the file says
        comparable = incident
        if current.next_update_by is not None and current.next_update_by > now:
            comparable = replace(comparable, next_update_by=current.next_update_by)
        if current.expected_fix_at is not None and current.expected_fix_at > now:
            comparable = replace(comparable, expected_fix_at=current.expected_fix_at)
        if comparable != current:
            note = "Refreshed from the incidents file"
            _change(session, row, current, comparable, note, now, zone)
            updated += 1
    return added, updated
