"""Retention: what is older than business/privacy.yml keeps is anonymised or deleted, store
by store (docs/privacy.md, "Retention").

- Transcripts of conversations with no activity for ``transcripts_days`` keep who wrote
  and when, but not the words: each message's text becomes ``REMOVED``, its buttons go,
  and only the flags in its details stay; events lose the text they quoted.
- Resolved complaints lose their summary and the facts collected for them
  ``closed_complaints_days`` after they were resolved; reference, category, severity,
  dates and status stay. Compensation offers and grants are never touched.
- Sent outbox rows, confirmed fulfilment deliveries, Telegram update records, desk event
  ids and verification codes are deleted.
- Rasa's tracker events of conversations with no activity for ``tracker_events_days`` are
  deleted, whole conversations at a time (Rasa starts afresh with one it has no events for).

Each run does at most ``batch`` items per store, so it never holds the records for long;
what is left is done by the next run. What has been done is not selected again, so a
second run changes nothing. A dry run only counts. A real run writes a ``privacy_audit``
row with what it changed. On PostgreSQL one run at a time holds an advisory lock, so
several gateways never do the same work twice.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from redress.clock import utcnow
from redress.complaints.status import REPLY_DUE
from redress.db.models import (
    Complaint,
    Conversation,
    ConversationEvent,
    DeskEvent,
    FulfilmentDelivery,
    Message,
    OutboxMessage,
    PrivacyAudit,
    TelegramUpdate,
    VerificationCode,
)
from redress.db.session import unit_of_work
from redress.privacy import tracker
from redress.privacy.config import Retention

if TYPE_CHECKING:
    from redress.business import Business
    from redress.settings import Settings

logger = logging.getLogger("redress.privacy.retention")

# What an anonymised message or complaint summary says instead of the words.
REMOVED = "[removed after the retention period]"
DEFAULT_BATCH = 500
ACTION = "retention"
# pg_try_advisory_xact_lock key: one retention run at a time across gateways.
_LOCK_KEY = 0x52_45_54_45_4E_54  # "RETENT"

# Summaries already without words: anonymised here, or erased at the customer's request
# (redress/privacy/erasure.py), which is left saying so.
_GONE = (REMOVED, "[erased]")
# Message details that say what kind of message it was, not what anyone wrote.
_KEPT_DETAILS = frozenset(
    {"asks", "kind", "attachment", "command", "author", "agent_id", "incident_id", "promised"}
)
# Complaint facts that are about handling it, not about the customer.
_KEPT_FACTS = frozenset({"logged", REPLY_DUE, "service_back_after_fix"})
# Event details that quote what someone wrote.
_EVENT_WORDS = frozenset({"text"})
# What the report counts for a store, and what its rows are, where not just rows.
_UNITS = {
    "transcripts": ("conversation", "message"),
    "closed_complaints": ("complaint", "complaint"),
    "tracker_events": ("conversation", "event"),
}
# Finished outbox rows: sent, or given up on.
_OUTBOX_DONE = ("sent", "failed", "undeliverable")


@dataclass(frozen=True)
class StoreResult:
    """One store after a run: ``due`` items were past their time before it, ``done`` of them
    were anonymised or deleted by it (none in a dry run), touching ``rows`` rows."""

    store: str
    action: str  # anonymised | deleted
    unit: str
    days: int
    due: int
    done: int = 0
    rows: int = 0
    note: str = ""

    @property
    def left(self) -> int:
        return self.due - self.done


@dataclass(frozen=True)
class RetentionReport:
    ran_at: datetime
    dry_run: bool
    stores: tuple[StoreResult, ...] = ()
    # Another run held the lock, so this one did nothing.
    skipped: bool = False
    audit_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def changed(self) -> int:
        return sum(result.rows for result in self.stores)

    def text(self) -> str:
        """The report as an operator reads it."""
        when = f"{self.ran_at:%Y-%m-%d %H:%M}Z"
        if self.skipped:
            return f"Retention {when}: another run is in progress; nothing done."
        heading = "dry run, nothing changed" if self.dry_run else "done"
        lines = [f"Retention {when} ({heading}):"]
        lines += [f"  {r.store:<22} {_line(r, self.dry_run)}" for r in self.stores]
        return "\n".join(lines)


def _line(r: StoreResult, dry_run: bool) -> str:
    unit, row_unit = _UNITS.get(r.store, ("row", "row"))
    if r.note:
        return r.note
    if not (r.due if dry_run else r.done):
        return f"nothing past {r.days} days"
    if dry_run:
        return f"{_many(r.due, unit)} past {r.days} days, to be {r.action}"
    rows = f" ({_many(r.rows, row_unit)})" if row_unit != unit else ""
    more = f"; {r.left} more next run" if r.left else ""
    return f"{_many(r.done, unit)} {r.action}{rows}{more}"


def _many(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def run(
    database_url: str,
    tracker_url: str | None,
    retention: Retention,
    now: datetime,
    *,
    dry_run: bool = False,
    batch: int = DEFAULT_BATCH,
    performed_by: str = "scheduler",
) -> RetentionReport:
    """One retention run over the records and Rasa's tracker store (``tracker_url``; None
    leaves it alone). Returns what was due and what was done per store."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    with unit_of_work(database_url) as session:
        if not _only_run(session):
            return RetentionReport(now, dry_run, skipped=True)
        stores = records(session, retention, now, dry_run=dry_run, batch=batch)
        if tracker_url is not None:
            stores.append(
                tracker_events(
                    tracker_url, retention.tracker_events_days, now, dry_run=dry_run, batch=batch
                )
            )
        counts = _counts(stores)
        audit_id = None
        if not dry_run:
            audit = PrivacyAudit(
                action=ACTION,
                performed_by=performed_by[:120],
                performed_at=now,
                dry_run=False,
                counts=counts,
            )
            session.add(audit)
            session.flush()
            audit_id = audit.id
    return RetentionReport(now, dry_run, tuple(stores), audit_id=audit_id, counts=counts)


def _counts(stores: list[StoreResult]) -> dict[str, int]:
    """Rows changed per store, and conversations or complaints where those are the unit."""
    counts: dict[str, int] = {}
    for r in stores:
        if r.note:
            continue
        counts[r.store] = r.rows
        if r.unit != "rows":
            counts[f"{r.store}_{r.unit}"] = r.done
    return counts


def _only_run(session: Session) -> bool:
    """Takes the run's lock on PostgreSQL (held until the transaction ends); SQLite writes
    one transaction at a time anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK_KEY}))


def records(
    session: Session, retention: Retention, now: datetime, *, dry_run: bool, batch: int
) -> list[StoreResult]:
    """Every store in the records database, in the caller's transaction."""
    days = retention
    return [
        _transcripts(session, days.transcripts_days, now, dry_run, batch),
        _complaints(session, days.closed_complaints_days, now, dry_run, batch),
        _deleted(session, _outbox(now - timedelta(days=days.delivered_outbox_days)),
                 "outbox", days.delivered_outbox_days, dry_run, batch),
        _deleted(session, _fulfilment(now - timedelta(days=days.fulfilment_deliveries_days)),
                 "fulfilment_deliveries", days.fulfilment_deliveries_days, dry_run, batch),
        _deleted(session, _older(TelegramUpdate, TelegramUpdate.received_at, now,
                                 days.telegram_updates_days),
                 "telegram_updates", days.telegram_updates_days, dry_run, batch),
        _deleted(session, _older(DeskEvent, DeskEvent.received_at, now, days.desk_events_days),
                 "desk_events", days.desk_events_days, dry_run, batch),
        _deleted(session, _older(VerificationCode, VerificationCode.created_at, now,
                                 days.verification_codes_days),
                 "verification_codes", days.verification_codes_days, dry_run, batch),
    ]  # fmt: skip


# Transcripts -------------------------------------------------------------------------------


def _idle_with_words(cutoff: datetime) -> ColumnElement[bool]:
    """Conversations with no message and no change since ``cutoff`` that still have words."""
    last_message = (
        select(func.max(Message.created_at))
        .where(Message.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    words = exists().where(Message.conversation_id == Conversation.id, Message.text != REMOVED)
    return and_(Conversation.updated_at < cutoff, last_message < cutoff, words)


def _transcripts(
    session: Session, days: int, now: datetime, dry_run: bool, batch: int
) -> StoreResult:
    due_where = _idle_with_words(now - timedelta(days=days))
    due = session.scalar(select(func.count()).select_from(Conversation).where(due_where)) or 0
    result = StoreResult("transcripts", "anonymised", "conversations", days, due)
    if dry_run or not due:
        return result
    ids = list(
        session.scalars(
            select(Conversation.id).where(due_where).order_by(Conversation.id).limit(batch)
        )
    )
    rows = 0
    for message in session.scalars(select(Message).where(Message.conversation_id.in_(ids))):
        if message.text == REMOVED:
            continue
        message.text = REMOVED
        message.buttons = None
        message.details = _kept(message.details, lambda key, value: key in _KEPT_DETAILS)
        rows += 1
    events = select(ConversationEvent).where(ConversationEvent.conversation_id.in_(ids))
    for event in session.scalars(events):
        if _EVENT_WORDS & set(event.detail or {}):
            event.detail = {k: v for k, v in event.detail.items() if k not in _EVENT_WORDS}
    session.flush()
    return StoreResult("transcripts", "anonymised", "conversations", days, due, len(ids), rows)


def _kept(values: dict[str, Any] | None, keep: Callable[[str, Any], bool]) -> dict[str, Any] | None:
    """The entries that are flags and numbers, or named by ``keep``; None when none are."""
    if not values:
        return None
    kept = {
        key: value
        for key, value in values.items()
        if isinstance(value, bool | int | float) or value is None or keep(key, value)
    }
    return kept or None


# Complaints --------------------------------------------------------------------------------


def _complaints(
    session: Session, days: int, now: datetime, dry_run: bool, batch: int
) -> StoreResult:
    due_where = and_(
        Complaint.status == "resolved",
        Complaint.updated_at < now - timedelta(days=days),
        Complaint.summary.not_in(_GONE),
    )
    due = session.scalar(select(func.count()).select_from(Complaint).where(due_where)) or 0
    result = StoreResult("closed_complaints", "anonymised", "complaints", days, due)
    if dry_run or not due:
        return result
    rows = session.execute(
        select(Complaint.id, Complaint.facts).where(due_where).order_by(Complaint.id).limit(batch)
    ).all()
    for complaint_id, facts in rows:
        kept = {k: v for k, v in (facts or {}).items() if k in _KEPT_FACTS}
        session.execute(
            update(Complaint)
            .where(Complaint.id == complaint_id)
            # updated_at is given so it keeps saying when the complaint was resolved.
            .values(summary=REMOVED, facts=kept, updated_at=Complaint.updated_at)
            .execution_options(synchronize_session=False)
        )
    return StoreResult(
        "closed_complaints", "anonymised", "complaints", days, due, len(rows), len(rows)
    )


# Rows deleted ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Doomed:
    """Rows of one table to delete: its primary key column and which rows."""

    key: Any
    where: ColumnElement[bool]


def _older(model: Any, column: Any, now: datetime, days: int) -> _Doomed:
    key = inspect(model).primary_key[0]
    return _Doomed(key, column < now - timedelta(days=days))


def _newest_kept(key: Any) -> ColumnElement[bool]:
    """Never the newest row: SQLite gives a new row the highest id + 1, and operator alerts
    name outbox rows by id, so an id must not come back after its row is deleted."""
    return key < select(func.max(key)).scalar_subquery()


def _outbox(cutoff: datetime) -> _Doomed:
    finished = func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)
    return _Doomed(
        OutboxMessage.id,
        and_(
            OutboxMessage.status.in_(_OUTBOX_DONE),
            finished < cutoff,
            _newest_kept(OutboxMessage.id),
        ),
    )


def _fulfilment(cutoff: datetime) -> _Doomed:
    # A failed delivery waits for an operator's retry (python -m redress compensation
    # retry-fulfilment), so only confirmed ones go.
    finished = func.coalesce(FulfilmentDelivery.sent_at, FulfilmentDelivery.created_at)
    return _Doomed(
        FulfilmentDelivery.id,
        and_(
            FulfilmentDelivery.status == "sent",
            finished < cutoff,
            _newest_kept(FulfilmentDelivery.id),
        ),
    )


def _deleted(
    session: Session, doomed: _Doomed, store: str, days: int, dry_run: bool, batch: int
) -> StoreResult:
    table = doomed.key.table
    due = session.scalar(select(func.count()).select_from(table).where(doomed.where)) or 0
    if dry_run or not due:
        return StoreResult(store, "deleted", "rows", days, due)
    ids: Select[Any] = select(doomed.key).where(doomed.where).order_by(doomed.key).limit(batch)
    chosen = list(session.scalars(ids))
    session.execute(
        delete(table).where(doomed.key.in_(chosen)).execution_options(synchronize_session=False)
    )
    return StoreResult(store, "deleted", "rows", days, due, len(chosen), len(chosen))


# Rasa's tracker store ---------------------------------------------------------------------


def tracker_events(
    tracker_url: str, days: int, now: datetime, *, dry_run: bool, batch: int
) -> StoreResult:
    """Deletes every event of the conversations Rasa has had nothing from for ``days``,
    up to ``batch`` conversations: a conversation goes whole, or Rasa would find half of it."""
    empty = StoreResult("tracker_events", "deleted", "conversations", days, 0)
    engine = tracker.engine_for(tracker_url)
    if engine is None:
        return replace(empty, note="no tracker store yet")  # Rasa makes it; never made here
    try:
        if not tracker.has_events(engine):
            return replace(empty, note="no tracker store yet")
        cutoff = (now - timedelta(days=days)).timestamp()
        sender = tracker.EVENTS.c.sender_id
        idle = select(sender).group_by(sender).having(func.max(tracker.EVENTS.c.timestamp) < cutoff)
        with engine.begin() as connection:
            due = connection.scalar(select(func.count()).select_from(idle.subquery())) or 0
            if dry_run or not due:
                return replace(empty, due=due)
            senders = list(connection.scalars(idle.order_by(sender).limit(batch)))
            deleted = 0
            for start in range(0, len(senders), 100):
                chunk = senders[start : start + 100]
                outcome = connection.execute(delete(tracker.EVENTS).where(sender.in_(chunk)))
                deleted += outcome.rowcount
        return replace(empty, due=due, done=len(senders), rows=deleted)
    except SQLAlchemyError as error:
        logger.warning("retention: Rasa's tracker store could not be read: %s", error)
        return replace(empty, note="tracker store unreachable; see the log")
    finally:
        engine.dispose()


# Command line ------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    """``python -m redress retention [--dry-run] [--batch N]``."""
    parser = sub.add_parser(
        "retention",
        help="anonymise or delete what is older than business/privacy.yml keeps",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what is past its time; change nothing"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"most items per store in this run (default {DEFAULT_BATCH})",
    )


def command(args: argparse.Namespace, settings: Settings, business: Business) -> RetentionReport:
    """One run from the command line, recorded as done by the command line."""
    return run(
        settings.database_url,
        settings.tracker_url,
        business.privacy.retention,
        utcnow().replace(microsecond=0),
        dry_run=args.dry_run,
        batch=args.batch,
        performed_by="command line",
    )
