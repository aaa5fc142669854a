"""Operator alerts: listing them and acknowledging them (raised by ``incident_notices``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.db.models import OperatorAlert
from redress.records import iso_time


class UnknownAlert(LookupError):
    def __init__(self, alert_id: object) -> None:
        super().__init__(f"there is no alert {alert_id!r}")
        self.alert_id = alert_id


def list_alerts(session: Session, *, open_only: bool = True) -> list[OperatorAlert]:
    """Newest first; ``open_only`` leaves out the acknowledged ones."""
    query = select(OperatorAlert).order_by(OperatorAlert.created_at.desc(), OperatorAlert.id.desc())
    if open_only:
        query = query.where(OperatorAlert.acknowledged_at.is_(None))
    return list(session.scalars(query))


def acknowledge(session: Session, alert_id: int, now: datetime) -> OperatorAlert:
    """Marks the alert seen; acknowledging again keeps the first time."""
    alert = session.get(OperatorAlert, alert_id)
    if alert is None:
        raise UnknownAlert(alert_id)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
    return alert


def alert_json(alert: OperatorAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "summary": alert.summary,
        "detail": alert.detail,
        "incident_id": alert.incident_id,
        "created_at": iso_time(alert.created_at),
        "acknowledged_at": iso_time(alert.acknowledged_at),
    }
