"""Making a possible incident a real one: the cluster of complaints behind a "possible
incident" alert, a draft incident from it for an operator to finish, and, once the incident
is created, each of those complaints linked to it so its customer is told what is wrong and
kept updated (docs/principles.md: 3, 4).

Linking uses ``notices.link_complaint`` as a complaint filed under a known incident does,
and the explanation goes through the outbox (``notices.enqueue``) as every incident update
does, so "stop messaging me" withdraws it like the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.cases import promises
from redress.db.models import Complaint, IncidentSubscription, OperatorAlert
from redress.incidents import model as incidents
from redress.incidents import notices, wording

POSSIBLE_INCIDENT = "possible_incident"
# How many of the cluster's own words an operator sees while writing the incident.
SAMPLES = 5


@dataclass(frozen=True)
class Cluster:
    """The complaints a possible-incident alert counted: of one category, from one district."""

    alert_id: int
    category: str
    district: str
    references: tuple[str, ...]
    window_minutes: int


@dataclass(frozen=True)
class Draft:
    """A starting point for the incident form: operators check and finish every field."""

    title: str
    categories: str
    areas: str
    services: str
    what_is_wrong: str
    samples: tuple[str, ...]


@dataclass(frozen=True)
class Linked:
    """What linking the cluster did: complaints linked, and customers sent the explanation."""

    linked: tuple[str, ...]
    told: int


def cluster_of(alert: OperatorAlert) -> Cluster | None:
    """The cluster behind a possible-incident alert; None for any other alert."""
    detail = alert.detail or {}
    references = detail.get("complaints")
    if alert.kind != POSSIBLE_INCIDENT or not isinstance(references, list):
        return None
    return Cluster(
        alert_id=alert.id,
        category=str(detail.get("category", "")),
        district=str(detail.get("district", "")),
        references=tuple(str(r) for r in references),
        window_minutes=int(detail.get("window_minutes") or 0),
    )


def cluster_complaints(session: Session, cluster: Cluster) -> list[Complaint]:
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.reference.in_(cluster.references))
            .order_by(Complaint.id)
        )
    )


def draft_from(
    cluster: Cluster,
    complaints: Iterable[Complaint],
    label: str,
    products: Mapping[str, Iterable[str]],
) -> Draft:
    """A draft from the cluster: its category and district, the services its customers
    named (by the words in products.yml) and a few of their own summaries to read."""
    summaries = [c.summary for c in complaints if c.summary]
    said = " ".join(summaries).lower()
    services = [
        _service_name(name)
        for name, words in products.items()
        if any(re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", said) for w in words)
    ]
    return Draft(
        title=f"{label} in {cluster.district}"[: incidents.MAX_TITLE_CHARS],
        categories=cluster.category,
        areas=cluster.district,
        services=", ".join(services),
        what_is_wrong=f"Some customers in {cluster.district} have a problem: {label.lower()}.",
        samples=tuple(summaries[:SAMPLES]),
    )


def _service_name(name: str) -> str:
    return name.upper() if len(name) <= 2 else name[:1].upper() + name[1:]


def explained_text(incident: incidents.Incident, reference: str, now: datetime, zone: str) -> str:
    """What a customer of the cluster is told once we know the problem behind theirs."""
    explanation = wording.explain(incident, now, zone).text()
    return (
        f"About the problem you told us about (reference {reference}): we now know what is "
        f"behind it. {explanation} We'll message you here when there's news."
    )


def link_cluster(
    session: Session,
    incident: incidents.Incident,
    complaints: Iterable[Complaint],
    now: datetime,
    zone: str,
) -> Linked:
    """Links each complaint not yet explained by an incident to ``incident`` and tells its
    customer, once per conversation, what is wrong and that updates will follow. A customer
    who said no to updates, asked us to stop messaging or cannot be reached is linked but
    not messaged."""
    linked: list[str] = []
    told = 0
    for complaint in complaints:
        if complaint.incident_id is not None and complaint.incident_id != incident.id:
            continue  # another incident explains it already
        subscription = notices.link_complaint(session, complaint, incident.id, now)
        linked.append(complaint.reference)
        if subscription.status != notices.OFFERED or _may_not_message(session, complaint):
            continue
        notices.answer_offer(session, subscription, True, now)
        told += notices.enqueue(
            session,
            conversation_id=complaint.conversation_id,
            kind=notices.UPDATE,
            text=explained_text(incident, complaint.reference, now, zone),
            details={"incident_id": incident.id, "linked": complaint.reference},
            dedupe_key=f"{notices.UPDATE}:{incident.id}:linked:{complaint.conversation_id}",
            incident_id=incident.id,
            now=now,
        )
    return Linked(tuple(linked), told)


def _may_not_message(session: Session, complaint: Complaint) -> bool:
    """Whether this customer said no to incident updates, asked us to stop messaging them
    (as a missed promise's apology checks), or can no longer be reached."""
    declined = session.scalar(
        select(IncidentSubscription.id).where(
            IncidentSubscription.conversation_id == complaint.conversation_id,
            IncidentSubscription.status == notices.DECLINED,
        )
    )
    return declined is not None or promises.cannot_message(session, complaint) is not None


def summary_json(cluster: Cluster) -> dict[str, Any]:
    return {
        "alert_id": cluster.alert_id,
        "category": cluster.category,
        "district": cluster.district,
        "complaints": list(cluster.references),
    }
