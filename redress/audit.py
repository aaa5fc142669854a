"""The audit log: every operator action (approve, reject, incident changes, resolve, reassign,
claim, erase...) with who did it, how they were known, and when, written in the same
transaction as the action so the log and the records never disagree.

An ``Actor`` is whoever acts: the built-in administrator (``REDRESS_ADMIN_TOKEN``), an
operator's own token, a Slack user, a console operator or the command line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.db.models import AuditEntry

# How an actor was known.
ADMIN_TOKEN = "admin_token"  # noqa: S105 (how an actor was known, not a secret)
OPERATOR_TOKEN = "operator_token"  # noqa: S105
SLACK = "slack"
CONSOLE = "console"
CLI = "cli"
SYSTEM = "system"

AGENT = "agent"
APPROVER = "approver"
ADMIN = "admin"
# Each role may do what the roles before it may.
ROLES = (AGENT, APPROVER, ADMIN)


@dataclass(frozen=True)
class Actor:
    """Who is acting: their name as shown in records, how they were known, their role and,
    for approvers, the most one offer may be for them to approve it (None: no limit)."""

    name: str
    via: str
    role: str = ADMIN
    approve_up_to_pence: int | None = None
    # The id behind the name (a Slack user id, a token's row id), when there is one.
    id: str | None = None

    def may(self, role: str) -> bool:
        """Whether this actor's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def label(self) -> str:
        """The name as written in the audit log: who, and how they were known."""
        if self.via == ADMIN_TOKEN:
            return f"{self.name} (REDRESS_ADMIN_TOKEN)"
        if self.via == SLACK and self.id:
            return f"{self.name} (Slack {self.id})"
        if self.via == OPERATOR_TOKEN:
            return f"{self.name} (token)"
        return f"{self.name} ({self.via})"


# The built-in administrator: whoever holds REDRESS_ADMIN_TOKEN.
BUILT_IN_ADMIN = Actor("administrator", ADMIN_TOKEN, ADMIN)


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject_kind: str,
    subject: str,
    now: datetime,
    **detail: Any,
) -> AuditEntry:
    """Adds one entry for an action done in this transaction."""
    entry = AuditEntry(
        actor=actor.label[:160],
        via=actor.via,
        action=action[:40],
        subject_kind=subject_kind[:20],
        subject=str(subject)[:80],
        detail=detail,
        created_at=now,
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    *,
    subject: str | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The latest entries, newest first, for a subject or an action if given."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor": entry.actor,
        "via": entry.via,
        "action": entry.action,
        "subject_kind": entry.subject_kind,
        "subject": entry.subject,
        "detail": entry.detail,
        "created_at": entry.created_at.isoformat(),
    }
