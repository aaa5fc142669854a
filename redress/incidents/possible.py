"""Possible incidents: several complaints of a kind from one area in a short time look like
an incident nobody has declared yet, so operators get an alert (one per cluster) to look."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.db.models import (
    Complaint,
    OperatorAlert,
)
from redress.incidents import model as incidents
from redress.incidents.notices import raise_alert


@dataclass(frozen=True)
class Thresholds:
    """When complaints look like an incident nobody has opened yet."""

    complaints: int = 3
    within: timedelta = timedelta(minutes=60)


def check_possible_incident(
    session: Session,
    complaint: Complaint,
    district: str | None,
    now: datetime,
    thresholds: Thresholds,
) -> bool:
    """Raises a "possible incident" alert when this complaint makes ``thresholds.complaints``
    of its category from its postcode district within ``thresholds.within``, none of them
    explained by an incident. One alert per category and district per window."""
    if not district or complaint.incident_id is not None:
        return False
    since = now - thresholds.within
    recent = session.scalars(
        select(Complaint)
        .where(
            Complaint.category == complaint.category,
            Complaint.created_at >= since,
            Complaint.incident_id.is_(None),
        )
        .order_by(Complaint.id)
    )
    cluster = [c for c in recent if c.id == complaint.id or complaint_district(c) == district]
    if len(cluster) < thresholds.complaints:
        return False
    earlier = session.scalars(
        select(OperatorAlert).where(
            OperatorAlert.kind == "possible_incident", OperatorAlert.created_at >= since
        )
    )
    if any(
        a.detail.get("category") == complaint.category and a.detail.get("district") == district
        for a in earlier
    ):
        return False
    minutes = int(thresholds.within.total_seconds() // 60)
    return raise_alert(
        session,
        kind="possible_incident",
        dedupe_key=f"possible_incident:{complaint.category}:{district}:{now.isoformat()}",
        summary=(
            f"Possible incident: {len(cluster)} {complaint.category} complaints from {district} "
            f"in the last {minutes} minutes, and no incident covers them."
        ),
        detail={
            "category": complaint.category,
            "district": district,
            "complaints": [c.reference for c in cluster],
            "window_minutes": minutes,
        },
        now=now,
    )


def complaint_district(complaint: Complaint) -> str | None:
    """The postcode district a complaint came from, from the facts collected for it."""
    postcode = complaint.facts.get("postcode")
    if not isinstance(postcode, str) or not incidents.is_postcode_district(
        incidents.outward_code(postcode)
    ):
        return None
    return incidents.outward_code(postcode)
