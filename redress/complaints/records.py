"""Complaint records: opening one with a reference a customer can read out, the open ones
in a conversation, how often a customer has complained about the same thing, and the
earlier complaint a new one repeats."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redress.db.models import (
    Complaint,
    Conversation,
)

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_complaint_reference() -> str:
    return "RD-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def open_complaint(
    session: Session,
    conversation: Conversation,
    *,
    category: str,
    severity: str,
    severity_reasons: list[str],
    summary: str,
    facts: dict[str, Any],
) -> Complaint:
    reference = new_complaint_reference()
    while session.scalar(select(Complaint.id).where(Complaint.reference == reference)):
        reference = new_complaint_reference()
    complaint = Complaint(
        reference=reference,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        category=category,
        severity=severity,
        severity_reasons=severity_reasons,
        summary=summary,
        facts=facts,
    )
    session.add(complaint)
    session.flush()
    return complaint


def open_complaints(session: Session, conversation_id: str) -> list[Complaint]:
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.conversation_id == conversation_id, Complaint.status == "open")
            .order_by(Complaint.id)
        )
    )


def earlier_complaints(
    session: Session,
    customer_id: int,
    category: str,
    now: datetime,
    *,
    exclude: int | None = None,
    within_days: int = 30,
) -> int:
    """How many complaints of this category the customer made in the last ``within_days``."""
    query = select(func.count(Complaint.id)).where(
        Complaint.customer_id == customer_id,
        Complaint.category == category,
        Complaint.created_at >= now - timedelta(days=within_days),
    )
    if exclude is not None:
        query = query.where(Complaint.id != exclude)
    return session.scalar(query) or 0


def repeated(
    session: Session, complaint: Complaint, now: datetime, *, within_days: int
) -> Complaint | None:
    """The latest complaint of the same category the same customer told before this one
    (in any conversation) in the last ``within_days``; None without a customer or a window.
    "Before" is by the order they were told, so a complaint never repeats itself or one told
    after it."""
    if complaint.customer_id is None or within_days <= 0:
        return None
    return session.scalar(
        select(Complaint)
        .where(
            Complaint.customer_id == complaint.customer_id,
            Complaint.category == complaint.category,
            Complaint.id < complaint.id,
            Complaint.created_at >= now - timedelta(days=within_days),
        )
        .order_by(Complaint.id.desc())
        .limit(1)
    )
