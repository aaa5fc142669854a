"""Finding cases for the console: the filters and search of the case list, one page of it,
the values the filter menus offer, and the streamed exports of cases, their messages and
their grants.

A case is a complaint its team works (``Complaint.team`` is set). Every query is paged
(LIMIT/OFFSET with a COUNT for the list, keyset batches for the exports), so nothing loads a
whole table, and all of it runs the same on SQLite and PostgreSQL.

Search (``q``) finds a case by its reference (exactly, in any case), by the customer's
account number however it was typed, by part of the customer's name or e-mail, or by part of
the text of any message in its conversation. Each of these is its own index-friendly
subquery, joined by UNION, rather than one OR across the joined tables that no index serves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    exists,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session

from redress.cases.promises import OWED
from redress.conversations.customers import normalise_account_number
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Customer,
    Incident,
    Message,
    Promise,
)

# What the status filter accepts: the case's own status, or where the team is with an open one.
CASE_STATUSES = ("open", "resolved")
DESK_STATUSES = ("waiting_on_us", "waiting_on_customer")
STATUSES = CASE_STATUSES + DESK_STATUSES
SEVERITIES = ("critical", "high", "medium", "low")  # most severe first
CHANNELS = ("web", "telegram")
SORTS = ("newest", "oldest", "severity", "due")
PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
MAX_QUERY_LENGTH = 200
# Rows fetched per round trip by the exports.
BATCH_SIZE = 500
# The owner filter's value for cases nobody has claimed.
UNCLAIMED = "none"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class BadFilter(ValueError):
    """A filter value the case list cannot use; the message says which and why."""


@dataclass(frozen=True)
class CaseFilter:
    """What the operator asked the case list for. Empty means "any"."""

    status: str | None = None
    team: str | None = None
    category: str | None = None
    severity: str | None = None
    channel: str | None = None
    incident_id: str | None = None
    owner: str | None = None
    overdue: bool | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    sort: str = "newest"
    page: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        _one_of("status", self.status, STATUSES)
        _one_of("severity", self.severity, SEVERITIES)
        _one_of("channel", self.channel, CHANNELS)
        _one_of("sort", self.sort, SORTS)
        if not 1 <= self.page <= MAX_PAGE:
            raise BadFilter(f"page must be from 1 to {MAX_PAGE}, not {self.page}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise BadFilter(f"per_page must be from 1 to {MAX_PER_PAGE}, not {self.per_page}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise BadFilter(
                f"date_from ({self.date_from.isoformat()}) is after "
                f"date_to ({self.date_to.isoformat()})"
            )
        if self.q is not None and len(self.q) > MAX_QUERY_LENGTH:
            raise BadFilter(f"the search text is longer than {MAX_QUERY_LENGTH} characters")

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> CaseFilter:
        """Reads a query string's values (others, like a CSRF token, are ignored); an empty
        value is the same as none. Raises BadFilter naming the value it cannot use."""
        values: dict[str, Any] = {}
        for name in ("status", "team", "category", "severity", "channel", "incident_id"):
            values[name] = _text(params, name)
        values["owner"] = _text(params, "owner")
        values["q"] = _text(params, "q")
        values["sort"] = _text(params, "sort") or "newest"
        values["overdue"] = _flag(params, "overdue")
        values["date_from"] = _date(params, "date_from")
        values["date_to"] = _date(params, "date_to")
        values["page"] = _number(params, "page", 1)
        values["per_page"] = _number(params, "per_page", PER_PAGE)
        return cls(**values)

    def to_query(self) -> dict[str, str]:
        """The query-string values that give this filter back through ``from_query``; values
        left at their defaults are left out, so links stay short."""
        query: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or value == item.default:
                continue
            if isinstance(value, bool):
                query[item.name] = "true" if value else "false"
            elif isinstance(value, date):
                query[item.name] = value.isoformat()
            else:
                query[item.name] = str(value)
        return query


@dataclass(frozen=True)
class CaseRow:
    """One line of the case list."""

    complaint_id: int
    reference: str
    conversation_id: str
    created_at: datetime
    category: str
    severity: str
    status: str
    desk_status: str | None
    team: str | None
    owner_name: str | None
    channel: str
    customer_name: str | None
    account_number: str | None
    incident_id: str | None
    summary: str
    # The earliest promise still owed (open, or missed and not yet kept).
    next_due_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class FilterChoices:
    """What the filter menus offer: the values present in the records."""

    teams: list[str]
    categories: list[str]
    severities: list[str]
    channels: list[str]
    # (incident id, title), newest first.
    incidents: list[tuple[str, str]]
    # (owner id, owner name) of everyone who has claimed a case.
    owners: list[tuple[str, str]]


def count_cases(session: Session, f: CaseFilter, now: datetime) -> int:
    """How many cases match (all pages)."""
    matching = _matching(f, now, _dialect(session))
    return session.scalar(select(func.count()).select_from(matching.subquery())) or 0


def list_cases(session: Session, f: CaseFilter, now: datetime) -> CasePage:
    """One page of the cases that match, with how many match in all."""
    matching = _matching(f, now, _dialect(session))
    total = count_cases(session, f, now)
    pages = max(1, math.ceil(total / f.per_page))
    next_due = _next_due()
    order = _order(f.sort, next_due)
    # The page's ids first, from the complaints alone, then their columns: a deep page does
    # not join, and work out the next promise of, every case it skips.
    page_ids = matching.add_columns(next_due) if f.sort == "due" else matching
    page_ids = page_ids.order_by(*order).limit(f.per_page).offset((f.page - 1) * f.per_page)
    on_page = page_ids.subquery()
    query = _with_row_columns(
        select(Complaint.id)
        .join(on_page, on_page.c.id == Complaint.id)
        .join(Conversation, Conversation.id == Complaint.conversation_id),
        next_due,
    ).order_by(*order)
    rows = [_case_row(row, now) for row in session.execute(query)]
    return CasePage(rows=rows, total=total, page=f.page, pages=pages)


CASE_COLUMNS = (
    "reference",
    "created_at",
    "status",
    "desk_status",
    "team",
    "owner",
    "category",
    "severity",
    "channel",
    "conversation_id",
    "account_number",
    "customer_name",
    "incident_id",
    "summary",
    "next_due_at",
    "overdue",
    "resolved_at",
    "resolved_via",
)
MESSAGE_COLUMNS = ("message_id", "conversation_id", "created_at", "role", "channel", "text")
GRANT_COLUMNS = (
    "grant_reference",
    "created_at",
    "case_reference",
    "offer_reference",
    "account_number",
    "incident_id",
    "remedy",
    "amount_pence",
    "approved_by",
)


def iter_cases(
    session: Session, f: CaseFilter, now: datetime, batch_size: int = BATCH_SIZE
) -> Iterator[dict[str, Any]]:
    """Every matching case (ignoring the page), oldest record first, as CASE_COLUMNS."""
    next_due = _next_due()
    base = _with_row_columns(_matching(f, now, _dialect(session)), next_due).add_columns(
        Complaint.resolved_at, Complaint.resolved_via
    )
    last = 0
    while True:
        batch = session.execute(
            base.where(Complaint.id > last).order_by(Complaint.id).limit(batch_size)
        ).all()
        for row in batch:
            yield {
                "reference": row.reference,
                "created_at": row.created_at,
                "status": row.status,
                "desk_status": row.desk_status,
                "team": row.team,
                "owner": row.owner_name,
                "category": row.category,
                "severity": row.severity,
                "channel": row.channel,
                "conversation_id": row.conversation_id,
                "account_number": row.account_number,
                "customer_name": row.customer_name,
                "incident_id": row.incident_id,
                "summary": row.summary,
                "next_due_at": row.next_due_at,
                "overdue": _overdue(row.next_due_at, now),
                "resolved_at": row.resolved_at,
                "resolved_via": row.resolved_via,
            }
        if len(batch) < batch_size:
            return
        last = batch[-1].id


def iter_messages(
    session: Session, f: CaseFilter, now: datetime, batch_size: int = BATCH_SIZE
) -> Iterator[dict[str, Any]]:
    """Every message of the matching cases' conversations, as MESSAGE_COLUMNS: conversation
    by conversation (in the order of their ids), each in the order its messages were
    written. A conversation with two matching cases gives its messages once."""
    # A batch of conversations at a time, then their messages through the index on
    # (conversation_id, id): one pass over the matching cases and over their messages.
    # Keyset over all messages with the matching conversations as IN (...) built that list
    # again for every batch; a per-message EXISTS was slower still for a narrow filter.
    conversations = (
        _matching(f, now, _dialect(session))
        .with_only_columns(Complaint.conversation_id)
        .distinct()
        .order_by(Complaint.conversation_id)
    )
    per_batch = max(1, batch_size // 10)
    last = ""
    while True:
        ids = list(
            session.scalars(conversations.where(Complaint.conversation_id > last).limit(per_batch))
        )
        if not ids:
            return
        messages = session.execute(
            select(
                Message.id,
                Message.conversation_id,
                Message.created_at,
                Message.role,
                Message.channel,
                Message.text,
            )
            .where(Message.conversation_id.in_(ids))
            .order_by(Message.conversation_id, Message.id)
            .execution_options(yield_per=batch_size)
        )
        for row in messages:
            yield {
                "message_id": row.id,
                "conversation_id": row.conversation_id,
                "created_at": row.created_at,
                "role": row.role,
                "channel": row.channel,
                "text": row.text,
            }
        if len(ids) < per_batch:
            return
        last = ids[-1]


def iter_grants(
    session: Session, f: CaseFilter, now: datetime, batch_size: int = BATCH_SIZE
) -> Iterator[dict[str, Any]]:
    """Every compensation grant of the matching cases, oldest first, as GRANT_COLUMNS."""
    complaint_ids = _matching(f, now, _dialect(session)).with_only_columns(Complaint.id)
    base = (
        select(
            CompensationGrant.id,
            CompensationGrant.reference,
            CompensationGrant.created_at,
            Complaint.reference.label("case_reference"),
            CompensationOffer.reference.label("offer_reference"),
            Customer.account_number,
            CompensationGrant.incident_id,
            CompensationGrant.remedy,
            CompensationGrant.amount_pence,
            CompensationGrant.approved_by,
        )
        .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
        .join(Complaint, Complaint.id == CompensationOffer.complaint_id)
        .join(Customer, Customer.id == CompensationGrant.customer_id)
        .where(CompensationOffer.complaint_id.in_(complaint_ids))
    )
    last = 0
    while True:
        batch = session.execute(
            base.where(CompensationGrant.id > last).order_by(CompensationGrant.id).limit(batch_size)
        ).all()
        for row in batch:
            yield {
                "grant_reference": row.reference,
                "created_at": row.created_at,
                "case_reference": row.case_reference,
                "offer_reference": row.offer_reference,
                "account_number": row.account_number,
                "incident_id": row.incident_id,
                "remedy": row.remedy,
                "amount_pence": row.amount_pence,
                "approved_by": row.approved_by,
            }
        if len(batch) < batch_size:
            return
        last = batch[-1].id


def distinct_values(session: Session) -> FilterChoices:
    """The values the filter menus offer, each from one small query."""
    cases = Complaint.team.is_not(None)
    teams = session.scalars(select(Complaint.team).where(cases).distinct().order_by(Complaint.team))
    categories = session.scalars(
        select(Complaint.category).where(cases).distinct().order_by(Complaint.category)
    )
    present = set(session.scalars(select(Complaint.severity).where(cases).distinct()))
    channels = session.scalars(
        select(Conversation.channel).distinct().order_by(Conversation.channel)
    )
    incidents = session.execute(
        select(Incident.id, Incident.title).order_by(Incident.started_at.desc(), Incident.id)
    )
    owners = session.execute(
        select(Complaint.owner_id, func.max(Complaint.owner_name))
        .where(cases, Complaint.owner_id.is_not(None))
        .group_by(Complaint.owner_id)
    )
    return FilterChoices(
        teams=[team for team in teams if team],
        categories=list(categories),
        severities=[severity for severity in SEVERITIES if severity in present],
        channels=list(channels),
        incidents=[(row[0], row[1]) for row in incidents],
        owners=sorted(((row[0], row[1] or row[0]) for row in owners), key=lambda o: o[1]),
    )


# --- Building the queries ---------------------------------------------------------------


def _matching(f: CaseFilter, now: datetime, dialect: str) -> Select[Any]:
    """The ids of the cases that match, joined to what the filters look at."""
    query = (
        select(Complaint.id)
        .join(Conversation, Conversation.id == Complaint.conversation_id)
        .where(Complaint.team.is_not(None))
    )
    conditions: list[ColumnElement[bool]] = []
    if f.status in CASE_STATUSES:
        conditions.append(Complaint.status == f.status)
    elif f.status in DESK_STATUSES:
        conditions += [Complaint.status == "open", Complaint.desk_status == f.status]
    for column, value in (
        (Complaint.team, f.team),
        (Complaint.category, f.category),
        (Complaint.severity, f.severity),
        (Complaint.incident_id, f.incident_id),
        (Conversation.channel, f.channel),
    ):
        if value is not None:
            conditions.append(column == value)
    if f.owner is not None:
        conditions.append(_owner_is(f.owner))
    if f.overdue is not None:
        late = exists().where(
            Promise.complaint_id == Complaint.id,
            Promise.status.in_(OWED),
            Promise.due_at < now,
        )
        conditions.append(late if f.overdue else ~late)
    if f.date_from is not None:
        conditions.append(Complaint.created_at >= _midnight(f.date_from))
    if f.date_to is not None:
        conditions.append(Complaint.created_at < _midnight(f.date_to + timedelta(days=1)))
    if f.q and f.q.strip():
        conditions.append(Complaint.id.in_(_search(f.q, dialect)))
    return query.where(*conditions)


def _owner_is(owner: str) -> ColumnElement[bool]:
    if owner.lower() == UNCLAIMED:
        return Complaint.owner_id.is_(None)
    return or_(Complaint.owner_id == owner, func.lower(Complaint.owner_name) == owner.lower())


def _search(q: str, dialect: str) -> Any:
    """The ids of the complaints the search text finds, by each route a case can be found."""
    text = q.strip()
    pattern = "%" + _escape_like(text) + "%"

    def contains(column: Any) -> ColumnElement[bool]:
        # SQLite's LIKE already ignores case (of ASCII letters, as its lower() does); the
        # lower() on both sides that ILIKE becomes there made reading the messages twice
        # as slow. PostgreSQL's ILIKE can use the trigram indexes.
        if dialect == "sqlite":
            return column.like(pattern, escape="\\")
        return column.ilike(pattern, escape="\\")

    routes: list[Select[Any]] = [
        select(Complaint.id).where(Complaint.reference == text.upper()),
        select(Complaint.id).where(
            Complaint.customer_id.in_(
                select(Customer.id).where(
                    or_(
                        contains(Customer.name),
                        contains(Customer.email),
                    )
                )
            )
        ),
        select(Complaint.id).where(
            Complaint.conversation_id.in_(
                select(Message.conversation_id).where(contains(Message.text))
            )
        ),
    ]
    if account := normalise_account_number(text):
        routes.append(
            select(Complaint.id)
            .join(Customer, Customer.id == Complaint.customer_id)
            .where(Customer.account_number == account)
        )
    return union(*routes)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _next_due() -> Any:
    return (
        select(func.min(Promise.due_at))
        .where(Promise.complaint_id == Complaint.id, Promise.status.in_(OWED))
        .correlate(Complaint)
        .scalar_subquery()
        .label("next_due_at")
    )


def _with_row_columns(matching: Select[Any], next_due: Any) -> Select[Any]:
    """The case list's columns for the matching cases."""
    return matching.add_columns(
        Complaint.reference,
        Complaint.conversation_id,
        Complaint.created_at,
        Complaint.category,
        Complaint.severity,
        Complaint.status,
        Complaint.desk_status,
        Complaint.team,
        Complaint.owner_name,
        Conversation.channel,
        Customer.name.label("customer_name"),
        Customer.account_number,
        Complaint.incident_id,
        Complaint.summary,
        next_due,
    ).outerjoin(Customer, Customer.id == Complaint.customer_id)


def _order(sort: str, next_due: Any) -> list[Any]:
    newest = [Complaint.created_at.desc(), Complaint.id.desc()]
    if sort == "oldest":
        return [Complaint.created_at.asc(), Complaint.id.asc()]
    if sort == "severity":
        rank = case(
            *((Complaint.severity == name, index) for index, name in enumerate(SEVERITIES)),
            else_=len(SEVERITIES),
        )
        return [rank, *newest]
    if sort == "due":
        # Cases with a promise owed first, the soonest due (or longest overdue) at the top.
        # Ordered by the column's name, so the subquery is not run again for the sort.
        return [next_due.asc().nulls_last(), *newest]
    return newest


def _case_row(row: Any, now: datetime) -> CaseRow:
    return CaseRow(
        complaint_id=row.id,
        reference=row.reference,
        conversation_id=row.conversation_id,
        created_at=row.created_at,
        category=row.category,
        severity=row.severity,
        status=row.status,
        desk_status=row.desk_status,
        team=row.team,
        owner_name=row.owner_name,
        channel=row.channel,
        customer_name=row.customer_name,
        account_number=row.account_number,
        incident_id=row.incident_id,
        summary=row.summary,
        next_due_at=row.next_due_at,
        overdue=_overdue(row.next_due_at, now),
    )


def _overdue(next_due_at: datetime | None, now: datetime) -> bool:
    return next_due_at is not None and next_due_at < now


# --- Reading the query string -----------------------------------------------------------


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _one_of(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise BadFilter(f"{name} must be one of {', '.join(allowed)}; {value!r} is not")


def _flag(params: Mapping[str, str], name: str) -> bool | None:
    value = _text(params, name)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise BadFilter(f"{name} must be true or false, not {value!r}")


def _date(params: Mapping[str, str], name: str) -> date | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name} must be a date like 2026-12-31, not {value!r}") from None


def _number(params: Mapping[str, str], name: str, default: int) -> int:
    value = _text(params, name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise BadFilter(f"{name} must be a whole number, not {value!r}")
    return int(value)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


__all__ = [
    "CASE_COLUMNS",
    "GRANT_COLUMNS",
    "MESSAGE_COLUMNS",
    "SORTS",
    "BadFilter",
    "CaseFilter",
    "CasePage",
    "CaseRow",
    "FilterChoices",
    "count_cases",
    "distinct_values",
    "iter_cases",
    "iter_grants",
    "iter_messages",
    "list_cases",
]
