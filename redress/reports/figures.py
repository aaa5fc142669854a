"""The figures behind the reports, for a period of days, one team and one category at most.

The period picks the **complaints filed in it** (UTC days, both ends included); every figure
is about those complaints, their conversations, cases, promises, resolutions, offers and
grants, whenever those happened (a complaint filed on the last day and resolved a week later
counts as resolved). Handoffs are the exception: they are counted when they were asked for in
the period. docs/reports.md says what each section means and exactly how it is computed.

Every query groups in the database; Python only folds days into weeks, adds up totals and
checks the wording of first replies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from redress.business import Business
from redress.cases.records import CANCELLED, KEPT, OPEN, PROMISE_KINDS, REPLY_BY
from redress.cases.resolutions import VIA
from redress.complaints.apology import describe_problem
from redress.complaints.categories import Category, Severity
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Handoff,
    Incident,
    Message,
    Promise,
    Resolution,
)

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Longer periods are counted by week, so a chart keeps a readable number of bars.
WEEKLY_AFTER_DAYS = 60
TOP_INCIDENTS = 20
# Recovery quality lists this many conversations, the longest waits first; its summary is
# over every conversation.
RECOVERY_ROWS = 200
# An offer that was not one: the same problem had been put right already.
NOT_AN_OFFER = "already_compensated"
# What makes a reply an apology (the assistant's is "I'm sorry <the problem>").
APOLOGY = re.compile(r"\b(sorry|apologi[sz]e)", re.IGNORECASE)
ALL = "All"
# Where the assistant puts the phrase naming the problem (utter_complaint_apology and
# utter_complaint_another).
NONE3: tuple[None, None, None] = (None, None, None)
NAMING = re.compile(r"sorry|noted that", re.IGNORECASE)

Cell = str | int | float | None

SECTION_KEYS = (
    "complaints_over_time",
    "reply_and_resolution_times",
    "reopen_rate",
    "satisfaction",
    "handoff_reasons",
    "compensation",
    "top_incidents",
    "recovery_quality",
)


class BadReport(ValueError):
    """A report that cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class ChartSpec:
    """What to draw: ``kind`` is bar (grouped when several series), stacked_bar or line;
    ``labels`` name the x-axis points and each series has a value for each."""

    kind: str
    title: str
    description: str
    x_label: str
    y_label: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    # What the chart says instead when there is nothing to draw.
    empty_text: str = "No complaints in this period"

    @property
    def empty(self) -> bool:
        return not self.labels or not any(v for s in self.series for v in s.values)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: ChartSpec | None
    note: str
    # A second chart where one does not show everything (severity beside category).
    more_charts: tuple[ChartSpec, ...] = ()
    # Figures for the whole period, as (label, value), where the rows are a sample.
    summary: list[tuple[str, Cell]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "note": self.note,
            "summary": [{"label": label, "value": value} for label, value in self.summary],
        }


@dataclass(frozen=True)
class ReportQuery:
    start: date
    end: date
    team: str | None = None
    category: str | None = None

    @classmethod
    def from_params(
        cls, params: Mapping[str, str], today: date, business: Business | None = None
    ) -> ReportQuery:
        """From query parameters ``start``, ``end`` (YYYY-MM-DD), ``team``, ``category``;
        the last 30 days up to ``today`` by default. With ``business``, the team must be one
        of teams.yml's. Raises BadReport with a message for the person asking."""
        end = _date(params.get("end"), "end") or today
        start = _date(params.get("start"), "start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            raise BadReport(f"The end date ({end}) is before the start date ({start}).")
        days = (end - start).days + 1
        if days > MAX_DAYS:
            raise BadReport(f"The period is {days} days; a report covers at most {MAX_DAYS} days.")
        team = (params.get("team") or "").strip() or None
        category = (params.get("category") or "").strip() or None
        if category is not None and category not in {c.value for c in Category}:
            raise BadReport(
                f"There is no category {category[:40]!r}. Use one of: "
                f"{', '.join(c.value for c in Category)}."
            )
        if team is not None:
            known = sorted(business.team_file.teams) if business is not None else None
            if known is not None and team not in known:
                raise BadReport(f"There is no team {team[:40]!r}. Use one of: {', '.join(known)}.")
            if known is None and not re.match(r"^[a-z][a-z0-9_]{0,39}$", team):
                raise BadReport(f"There is no team {team[:40]!r}.")
        return cls(start, end, team, category)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def weekly(self) -> bool:
        return self.days > WEEKLY_AFTER_DAYS

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=timezone.utc)

    @property
    def ends_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=timezone.utc)

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "team": self.team,
            "category": self.category,
        }


@dataclass(frozen=True)
class Report:
    query: ReportQuery
    generated_at: datetime
    sections: list[Section]

    def section(self, key: str) -> Section:
        for found in self.sections:
            if found.key == key:
                return found
        raise BadReport(
            f"There is no report section {key!r}. Use one of: {', '.join(SECTION_KEYS)}."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.query.as_json(),
            "generated_at": self.generated_at.isoformat(),
            "sections": [section.as_json() for section in self.sections],
        }


def _date(raw: str | None, name: str) -> date | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadReport(f"{name} must be a date like 2026-11-30, not {text[:40]!r}.") from None


# Building ----------------------------------------------------------------------------------


def build_report(
    session: Session,
    business: Business,
    q: ReportQuery,
    now: datetime,
    keys: Iterable[str] | None = None,
) -> Report:
    """Every section (or only ``keys``), in SECTION_KEYS order, for ``q`` as of ``now``."""
    wanted = tuple(keys) if keys is not None else SECTION_KEYS
    for key in wanted:
        if key not in SECTION_KEYS:
            raise BadReport(
                f"There is no report section {key!r}. Use one of: {', '.join(SECTION_KEYS)}."
            )
    if session.get_bind().dialect.name == "postgresql":
        # For this transaction only: the report sorts tens of thousands of messages, in
        # memory rather than on disk; its statements, run again and again, are planned for
        # their own dates each time; and it joins whole sets by hashing them, never row by
        # row (the planner misjudges how many rows a grouped step yields and would compare
        # millions of pairs one by one: a plan made once for any dates took a minute, and a
        # team's report most of a second, instead of a fraction of one).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        session.execute(text("SET LOCAL enable_nestloop = off"))
    figures = _Figures(session, business, q, now)
    sections = [getattr(figures, key)() for key in SECTION_KEYS if key in wanted]
    return Report(q, now, sections)


def _epoch(column: Any, dialect: str) -> ColumnElement[float]:
    """Seconds since 1970 of a stored time, in SQL, so differences are taken in the database."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", column), Float)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _day(column: Any, dialect: str) -> ColumnElement[str]:
    """The UTC day of a stored time as YYYY-MM-DD."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600, 1)


def _pct(part: float | None, whole: float | None) -> float | None:
    if not whole:
        return None
    return round(100 * float(part or 0) / float(whole), 1)


def _mean(total: float, count: int) -> float | None:
    return None if not count else total / count


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


class _Figures:
    def __init__(self, session: Session, business: Business, q: ReportQuery, now: datetime) -> None:
        self.session = session
        self.business = business
        self.q = q
        self.now = now
        bind = session.get_bind()
        self.dialect = bind.dialect.name

    # The complaints the report is about.
    def scope(self) -> list[ColumnElement[bool]]:
        where = [
            Complaint.created_at >= self.q.starts_at,
            Complaint.created_at < self.q.ends_before,
        ]
        if self.q.team is not None:
            where.append(Complaint.team == self.q.team)
        if self.q.category is not None:
            where.append(Complaint.category == self.q.category)
        return where

    def epoch(self, column: Any) -> ColumnElement[float]:
        return _epoch(column, self.dialect)

    def joined(self, column: Any) -> ColumnElement[str]:
        """The texts of a group joined by newlines (in no particular order)."""
        if self.dialect == "postgresql":
            return func.string_agg(column, literal("\n"))
        return func.group_concat(column, literal("\n"))

    def categories(self) -> list[str]:
        if self.q.category is not None:
            return [self.q.category]
        return [c.value for c in Category]

    def label(self, category: str) -> str:
        try:
            return self.business.category_text(Category(category)).label
        except ValueError:
            return category

    def team_name(self, key: str | None) -> str:
        return self.business.team(key).name if key else "No team"

    # complaints_over_time ------------------------------------------------------------------

    def complaints_over_time(self) -> Section:
        day = _day(Complaint.created_at, self.dialect).label("day")
        counted = self.session.execute(
            select(day, Complaint.category, Complaint.severity, func.count())
            .where(*self.scope())
            .group_by(day, Complaint.category, Complaint.severity)
        ).all()
        step = 7 if self.q.weekly else 1
        buckets = [self.q.start + timedelta(days=offset) for offset in range(0, self.q.days, step)]
        categories = self.categories()
        severities = [s.value for s in Severity]
        table: dict[date, dict[str, int]] = {bucket: {} for bucket in buckets}
        for day_text, category, severity, count in counted:
            offset = (date.fromisoformat(day_text) - self.q.start).days
            cells = table[buckets[offset // step]]
            cells[category] = cells.get(category, 0) + count
            cells[f"severity_{severity}"] = cells.get(f"severity_{severity}", 0) + count
            cells["total"] = cells.get("total", 0) + count
        columns = [
            "period_start",
            "complaints",
            *categories,
            *(f"severity_{s}" for s in severities),
        ]
        rows: list[list[Cell]] = [
            [bucket.isoformat(), cells.get("total", 0)]
            + [cells.get(c, 0) for c in categories]
            + [cells.get(f"severity_{s}", 0) for s in severities]
            for bucket, cells in table.items()
        ]
        unit = "week" if self.q.weekly else "day"
        labels = tuple(row[0] for row in rows)  # type: ignore[misc]
        by_category = tuple(
            Series(self.label(c), tuple(float(row[2 + i] or 0) for row in rows))  # type: ignore[arg-type]
            for i, c in enumerate(categories)
            if any(row[2 + i] for row in rows)
        )
        first_severity = 2 + len(categories)
        by_severity = tuple(
            Series(s, tuple(float(row[first_severity + i] or 0) for row in rows))  # type: ignore[arg-type]
            for i, s in enumerate(severities)
        )
        total = sum(int(row[1] or 0) for row in rows)
        chart = ChartSpec(
            "stacked_bar",
            f"Complaints per {unit} by category",
            f"{total} complaints from {self.q.start} to {self.q.end}, per {unit}, "
            "stacked by category.",
            f"{unit.capitalize()} starting",
            "Complaints",
            labels,
            by_category,
        )
        severity_chart = ChartSpec(
            "line",
            f"Complaints per {unit} by severity",
            f"{total} complaints from {self.q.start} to {self.q.end}, per {unit}, one line "
            "per severity.",
            f"{unit.capitalize()} starting",
            "Complaints",
            labels,
            by_severity if total else (),
        )
        return Section(
            "complaints_over_time",
            "Complaints over time",
            columns,
            rows,
            chart,
            (
                f"Complaints filed in each {unit} (UTC days; weeks are 7-day blocks from the "
                f"start date, used when the period is over {WEEKLY_AFTER_DAYS} days), by "
                "category and by severity at filing."
            ),
            more_charts=(severity_chart,),
        )

    # reply_and_resolution_times ------------------------------------------------------------

    def reply_and_resolution_times(self) -> Section:
        scoped = select(Complaint.id).where(*self.scope())
        first_reply = (
            select(
                Complaint.id.label("complaint_id"),
                func.min(Message.created_at).label("at"),
            )
            .join(
                Message,
                and_(
                    Message.conversation_id == Complaint.conversation_id,
                    Message.role == "agent",
                    Message.created_at >= Complaint.created_at,
                ),
            )
            .where(*self.scope())
            .group_by(Complaint.id)
            .subquery()
        )
        promised = (
            select(Promise.complaint_id, func.min(Promise.due_at).label("at"))
            .where(
                Promise.complaint_id.in_(scoped),
                Promise.kind == REPLY_BY,
                Promise.status != CANCELLED,
            )
            .group_by(Promise.complaint_id)
            .subquery()
        )
        resolved = (
            select(Resolution.complaint_id, func.min(Resolution.resolved_at).label("at"))
            .where(Resolution.complaint_id.in_(scoped))
            .group_by(Resolution.complaint_id)
            .subquery()
        )
        per = (
            select(
                Complaint.team.label("team"),
                self.epoch(Complaint.created_at).label("filed"),
                self.epoch(first_reply.c.at).label("replied"),
                self.epoch(promised.c.at).label("promised"),
                self.epoch(resolved.c.at).label("resolved"),
            )
            .outerjoin(first_reply, first_reply.c.complaint_id == Complaint.id)
            .outerjoin(promised, promised.c.complaint_id == Complaint.id)
            .outerjoin(resolved, resolved.c.complaint_id == Complaint.id)
            .where(*self.scope())
            .subquery()
        )
        now = self.now.timestamp()
        due_or_replied = and_(
            per.c.promised.is_not(None),
            or_(per.c.replied.is_not(None), per.c.promised <= now),
        )
        times = self.session.execute(
            select(
                per.c.team,
                func.count(),
                func.count(per.c.replied),
                func.sum(per.c.replied - per.c.filed),
                func.count(per.c.promised),
                func.sum(per.c.promised - per.c.filed),
                _count_if(due_or_replied),
                _count_if(and_(due_or_replied, per.c.replied <= per.c.promised)),
                func.count(per.c.resolved),
                func.sum(per.c.resolved - per.c.filed),
            ).group_by(per.c.team)
        ).all()
        kept = self.session.execute(
            select(
                Complaint.team,
                Promise.kind,
                _count_if(or_(Promise.status != OPEN, Promise.due_at <= self.now)),
                _count_if(and_(Promise.status == KEPT, Promise.kept_at <= Promise.due_at)),
            )
            .join(Complaint, Complaint.id == Promise.complaint_id)
            .where(*self.scope(), Promise.status != CANCELLED)
            .group_by(Complaint.team, Promise.kind)
        ).all()
        promises: dict[str | None, dict[str, list[int]]] = {}
        for team, kind, due, on_time in kept:
            for key in (team, ALL):
                got = promises.setdefault(key, {}).setdefault(kind, [0, 0])
                got[0] += int(due or 0)
                got[1] += int(on_time or 0)
        sums: dict[str | None, list[float]] = {}
        for team, *figures in times:
            for key in (team, ALL):
                into = sums.setdefault(key, [0.0] * 9)
                for i, value in enumerate(figures):
                    into[i] += float(value or 0)
        columns = [
            "team",
            "cases",
            "replied_by_a_person",
            "mean_first_reply_hours",
            "mean_promised_reply_hours",
            "replied_within_promise_pct",
            "resolved",
            "mean_resolution_hours",
            "promises_due",
            "promises_kept_on_time",
            "promises_kept_pct",
            *(f"{kind}_kept_pct" for kind in PROMISE_KINDS),
        ]
        rows: list[list[Cell]] = []
        order = sorted((k for k in sums if k != ALL), key=lambda k: (k is None, k or ""))
        for key in [*order, ALL] if sums else []:
            cases, replied, reply_s, promised_n, promised_s, due, within, done, done_s = sums[key]
            kinds = promises.get(key, {})
            due_all = sum(v[0] for v in kinds.values())
            kept_all = sum(v[1] for v in kinds.values())
            rows.append(
                [
                    key if key is not None else "none",
                    int(cases),
                    int(replied),
                    _hours(_mean(reply_s, int(replied))),
                    _hours(_mean(promised_s, int(promised_n))),
                    _pct(within, due),
                    int(done),
                    _hours(_mean(done_s, int(done))),
                    due_all,
                    kept_all,
                    _pct(kept_all, due_all),
                    *(
                        _pct(kinds.get(k, [0, 0])[1], kinds.get(k, [0, 0])[0])
                        for k in PROMISE_KINDS
                    ),
                ]
            )
        teams = [r for r in rows if r[0] != ALL]
        chart = ChartSpec(
            "bar",
            "First reply against the promised reply time, by team",
            "Mean hours to a person's first reply and the mean reply time promised, per team.",
            "Team",
            "Hours",
            tuple(str(r[0]) for r in teams),
            (
                Series("First reply", tuple(float(r[3] or 0) for r in teams)),
                Series("Promised", tuple(float(r[4] or 0) for r in teams)),
            ),
            empty_text="No replies or promises in this period",
        )
        return Section(
            "reply_and_resolution_times",
            "Reply and resolution times",
            columns,
            rows,
            chart,
            (
                "First reply: the first message a person (an agent, in Slack or the console) "
                "sent in the conversation at or after the complaint was filed. The "
                "assistant's own replies do not count: the reply-by promise is a promise "
                "that a person will reply, and is kept by the first agent message. Promised: "
                "the case's earliest reply-by time (a reopened case is promised another, "
                "later one). Within promise: replied by then, out of "
                "cases replied to or whose promise is past. Resolution: the first time the "
                "case was resolved, by anyone. All times are clock hours since filing. "
                "Promises kept on time: kept no later than due, out of every promise of these "
                "cases that is due (cancelled ones left out)."
            ),
        )

    # reopen_rate ---------------------------------------------------------------------------

    def reopen_rate(self) -> Section:
        counted = self.session.execute(
            select(
                Complaint.team,
                Complaint.category,
                func.count(Resolution.id),
                func.count(Resolution.reopened_at),
            )
            .join(Resolution, Resolution.complaint_id == Complaint.id)
            .where(*self.scope())
            .group_by(Complaint.team, Complaint.category)
            .order_by(Complaint.team, Complaint.category)
        ).all()
        rows: list[list[Cell]] = [
            [team or "none", category, int(n), int(again), _pct(again, n)]
            for team, category, n, again in counted
        ]
        if rows:
            n = sum(int(r[2] or 0) for r in rows)
            again = sum(int(r[3] or 0) for r in rows)
            rows.append([ALL, ALL, n, again, _pct(again, n)])
        parts = [r for r in rows if r[0] != ALL]
        chart = ChartSpec(
            "bar",
            "Reopen rate by category",
            "Share of resolutions later reopened, per team and category, in per cent.",
            "Category",
            "Reopened (%)",
            tuple(self.label(str(r[1])) for r in parts),
            (Series("Reopened", tuple(float(r[4] or 0) for r in parts)),),
            empty_text="No resolution in this period was reopened",
        )
        return Section(
            "reopen_rate",
            "Reopen rate",
            ["team", "category", "resolutions", "reopened", "reopen_rate_pct"],
            rows,
            chart,
            (
                "Every resolution of these cases (a case resolved twice counts twice) and how "
                "many were reopened later: the customer said it was not fixed, or not still "
                "working at the follow-up."
            ),
        )

    # satisfaction ----------------------------------------------------------------------------

    def satisfaction(self) -> Section:
        # A rating given once for several cases resolved together is one answer.
        answers = (
            select(
                Resolution.conversation_id,
                Resolution.via.label("via"),
                Resolution.rated_at,
                Resolution.rating.label("rating"),
            )
            .join(Complaint, Complaint.id == Resolution.complaint_id)
            .where(*self.scope(), Resolution.rating.is_not(None))
            .distinct()
            .subquery()
        )
        rated = {
            via: (n, total, *by_rating)
            for via, n, total, *by_rating in self.session.execute(
                select(
                    answers.c.via,
                    func.count(),
                    func.sum(answers.c.rating),
                    *(_count_if(answers.c.rating == r) for r in range(1, 6)),
                ).group_by(answers.c.via)
            )
        }
        resolved = dict(
            self.session.execute(
                select(Resolution.via, func.count(Resolution.id))
                .join(Complaint, Complaint.id == Resolution.complaint_id)
                .where(*self.scope())
                .group_by(Resolution.via)
            ).all()
        )
        rows: list[list[Cell]] = []
        for via in [*VIA, *sorted(set(resolved) - set(VIA))]:
            n, total, *by_rating = rated.get(via, (0, 0, 0, 0, 0, 0, 0))
            counts = [int(c or 0) for c in by_rating]
            rows.append(
                [
                    via,
                    int(resolved.get(via, 0)),
                    int(n),
                    round(float(total) / n, 2) if n else None,
                    _pct(counts[3] + counts[4], n),
                    *counts,
                ]
            )
        chart = ChartSpec(
            "stacked_bar",
            "Ratings by who resolved the case",
            "How many customers gave each rating from 1 to 5, for cases resolved by the "
            "assistant, by an agent and by an incident being fixed.",
            "Resolved by",
            "Ratings",
            tuple(str(r[0]) for r in rows),
            tuple(
                Series(f"{score} of 5", tuple(float(r[4 + score] or 0) for r in rows))
                for score in range(1, 6)
            ),
            empty_text="No ratings in this period",
        )
        return Section(
            "satisfaction",
            "Satisfaction",
            [
                "resolved_via",
                "resolutions",
                "ratings",
                "mean_rating",
                "rated_4_or_5_pct",
                "rated_1",
                "rated_2",
                "rated_3",
                "rated_4",
                "rated_5",
            ],
            rows,
            chart,
            (
                "Ratings from 1 to 5 the customer gave after a resolution of these cases, apart "
                "by who resolved it: the assistant (the customer said it was fixed), an agent, "
                "or an incident being fixed. One rating given for several cases resolved "
                "together counts once."
            ),
        )

    # handoff_reasons -------------------------------------------------------------------------

    def handoff_reasons(self) -> Section:
        where: list[ColumnElement[bool]] = [
            Handoff.created_at >= self.q.starts_at,
            Handoff.created_at < self.q.ends_before,
        ]
        if self.q.team is not None or self.q.category is not None:
            matching = select(Complaint.conversation_id).where(*self.scope()[2:])
            where.append(Handoff.conversation_id.in_(matching))
        counted = self.session.execute(
            select(Handoff.reason, func.count(), func.count(Handoff.taken_over_at))
            .where(*where)
            .group_by(Handoff.reason)
            .order_by(func.count().desc(), Handoff.reason)
        ).all()
        total = sum(int(n) for _, n, _ in counted)
        rows: list[list[Cell]] = [
            [reason, int(n), int(taken), _pct(n, total)] for reason, n, taken in counted
        ]
        chart = ChartSpec(
            "bar",
            "Handoffs by reason",
            f"{total} requests for a person, by why the conversation was handed over.",
            "Reason",
            "Handoffs",
            tuple(str(r[0]) for r in rows),
            (Series("Handoffs", tuple(float(r[1] or 0) for r in rows)),),
            empty_text="No handoffs in this period",
        )
        return Section(
            "handoff_reasons",
            "Handoff reasons",
            ["reason", "handoffs", "taken_over", "share_pct"],
            rows,
            chart,
            (
                "Handoffs asked for in the period (by their own time, not the complaint's), "
                "with a team or category chosen only in conversations with such a complaint; "
                "taken over: a person took the conversation."
            ),
        )

    # compensation ----------------------------------------------------------------------------

    def compensation(self) -> Section:
        granted = (
            select(CompensationGrant.id, CompensationGrant.amount_pence)
            .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
            .join(Complaint, Complaint.id == CompensationOffer.complaint_id)
            .where(*self.scope())
        )
        by_incident = self.session.execute(
            granted.with_only_columns(
                CompensationGrant.incident_id,
                func.count(CompensationGrant.id),
                func.sum(CompensationGrant.amount_pence),
            )
            .where(CompensationGrant.incident_id.is_not(None))
            .group_by(CompensationGrant.incident_id)
            .order_by(func.sum(CompensationGrant.amount_pence).desc())
        ).all()
        ids = [row[0] for row in by_incident]
        all_time = dict(
            self.session.execute(
                select(CompensationGrant.incident_id, func.sum(CompensationGrant.amount_pence))
                .where(CompensationGrant.incident_id.in_(ids))
                .group_by(CompensationGrant.incident_id)
            ).all()
        )
        titles = dict(
            self.session.execute(
                select(Incident.id, Incident.title).where(Incident.id.in_(ids))
            ).all()
        )
        limits = self.business.compensation.limits if self.business.compensation else None
        rows: list[list[Cell]] = []
        for incident_id, n, pence in by_incident:
            budget = limits.budget_for(incident_id) if limits is not None else None
            spent = int(all_time.get(incident_id) or 0)
            rows.append(
                [
                    "incident",
                    incident_id,
                    titles.get(incident_id, ""),
                    int(n),
                    int(pence or 0),
                    spent,
                    budget,
                    _pct(spent, budget),
                ]
            )
        by_category = self.session.execute(
            granted.with_only_columns(
                Complaint.category,
                func.count(CompensationGrant.id),
                func.sum(CompensationGrant.amount_pence),
            )
            .group_by(Complaint.category)
            .order_by(func.sum(CompensationGrant.amount_pence).desc(), Complaint.category)
        ).all()
        for category, n, pence in by_category:
            rows.append(
                ["category", category, self.label(category), int(n), int(pence or 0), *NONE3]
            )
        incidents = [r for r in rows if r[0] == "incident"]
        chart = ChartSpec(
            "bar",
            "Compensation granted against each incident's budget",
            "Pounds granted for each incident, all time, beside its budget.",
            "Incident",
            "Pounds",
            tuple(str(r[1]) for r in incidents),
            (
                Series("Granted", tuple(int(r[5] or 0) / 100 for r in incidents)),
                Series("Budget", tuple(int(r[6] or 0) / 100 for r in incidents)),
            ),
            empty_text="No compensation for incidents in this period",
        )
        return Section(
            "compensation",
            "Compensation",
            [
                "by",
                "name",
                "title",
                "grants",
                "granted_pence",
                "incident_granted_all_time_pence",
                "incident_budget_pence",
                "budget_used_pct",
            ],
            rows,
            chart,
            (
                "Remedies granted for these complaints (in pence), per incident and per "
                "category. An incident's budget (compensation.yml, limits.per_incident) is for "
                "its whole life, so beside it is everything granted for that incident, "
                "whenever its complaints were filed."
            ),
        )

    # top_incidents ---------------------------------------------------------------------------

    def top_incidents(self) -> Section:
        counted = self.session.execute(
            select(
                Complaint.incident_id,
                func.count(Complaint.id),
                func.count(distinct(Complaint.conversation_id)),
            )
            .where(*self.scope(), Complaint.incident_id.is_not(None))
            .group_by(Complaint.incident_id)
            .order_by(func.count(Complaint.id).desc(), Complaint.incident_id)
            .limit(TOP_INCIDENTS)
        ).all()
        ids = [row[0] for row in counted]
        found = {
            row.id: row
            for row in self.session.execute(
                select(Incident.id, Incident.title, Incident.status, Incident.started_at).where(
                    Incident.id.in_(ids)
                )
            )
        }
        rows: list[list[Cell]] = []
        for incident_id, n, conversations in counted:
            incident = found.get(incident_id)
            rows.append(
                [
                    incident_id,
                    incident.title if incident else "",
                    incident.status if incident else "",
                    int(n),
                    int(conversations),
                    incident.started_at.isoformat() if incident else None,
                ]
            )
        chart = ChartSpec(
            "bar",
            "Incidents by number of complaints",
            f"The {len(rows)} incidents with the most complaints in the period.",
            "Incident",
            "Complaints",
            tuple(str(r[0]) for r in rows),
            (Series("Complaints", tuple(float(r[3] or 0) for r in rows)),),
            empty_text="No complaints linked to an incident in this period",
        )
        return Section(
            "top_incidents",
            "Top incidents",
            ["incident", "title", "status", "complaints", "conversations", "started_at"],
            rows,
            chart,
            (
                f"The {TOP_INCIDENTS} incidents (at most) that explain the most of these "
                "complaints: those linked to a known incident."
            ),
        )

    # recovery_quality ------------------------------------------------------------------------

    def recovery_quality(self) -> Section:
        first = (
            select(
                Complaint.conversation_id.label("cid"),
                func.min(Complaint.id).label("complaint_id"),
            )
            .where(*self.scope())
            .group_by(Complaint.conversation_id)
            .cte("first_complaint")
        )
        theirs = case((Message.role == "customer", 1), else_=0)
        window = {"partition_by": Message.conversation_id, "order_by": Message.id}
        numbered = (
            select(
                Message.conversation_id.label("cid"),
                Message.id.label("id"),
                Message.role.label("role"),
                self.epoch(Message.created_at).label("t"),
                func.sum(theirs).over(**window, rows=(None, 0)).label("turn"),
                # The time of our next message from here on (a running minimum, read backwards).
                func.min(case((Message.role != "customer", self.epoch(Message.created_at))))
                .over(
                    partition_by=Message.conversation_id,
                    order_by=Message.id.desc(),
                    rows=(None, 0),
                )
                .label("next_ours"),
            )
            .where(Message.conversation_id.in_(select(first.c.cid)))
            .cte("numbered")
        )
        # Each customer message waits until our next message (the soonest of ours at or after
        # it), or until now; a run of customer messages with no reply between waits longest
        # from its first message, so the longest wait is the largest of these.
        now = self.now.timestamp()
        waits = (
            select(
                numbered.c.cid,
                func.max(func.coalesce(numbered.c.next_ours, literal(now)) - numbered.c.t).label(
                    "longest"
                ),
                func.max(case((numbered.c.next_ours.is_(None), 1), else_=0)).label("still_open"),
            )
            .where(numbered.c.role == "customer")
            .group_by(numbered.c.cid)
            .subquery()
        )
        # The first reply to the complaint: the assistant's first messages after the customer
        # message that carried it (the last customer message at or before it was filed).
        carried = (
            select(first.c.cid, func.max(numbered.c.turn).label("turn"))
            .join(Complaint, Complaint.id == first.c.complaint_id)
            .join(numbered, numbered.c.cid == first.c.cid)
            .where(numbered.c.role == "customer", numbered.c.t <= self.epoch(Complaint.created_at))
            .group_by(first.c.cid)
            .subquery()
        )
        first_turn = (
            select(carried.c.cid, func.min(numbered.c.turn).label("turn"))
            .join(numbered, numbered.c.cid == carried.c.cid)
            .where(numbered.c.role == "bot", numbered.c.turn >= carried.c.turn)
            .group_by(carried.c.cid)
            .subquery()
        )
        reply = (
            select(first_turn.c.cid, self.joined(Message.text).label("said"))
            .join(
                numbered,
                and_(numbered.c.cid == first_turn.c.cid, numbered.c.turn == first_turn.c.turn),
            )
            .join(Message, Message.id == numbered.c.id)
            .where(numbered.c.role == "bot")
            .group_by(first_turn.c.cid)
            .subquery()
        )
        complaints = self.session.execute(
            select(
                first.c.cid,
                Complaint.reference,
                Complaint.category,
                Complaint.summary,
                Complaint.created_at,
                waits.c.longest,
                waits.c.still_open,
                reply.c.said,
            )
            .join(Complaint, Complaint.id == first.c.complaint_id)
            .outerjoin(waits, waits.c.cid == first.c.cid)
            .outerjoin(reply, reply.c.cid == first.c.cid)
        ).all()
        first_offer = (
            select(
                CompensationOffer.conversation_id.label("cid"),
                func.min(CompensationOffer.created_at).label("at"),
            )
            .join(first, first.c.cid == CompensationOffer.conversation_id)
            .where(CompensationOffer.status != NOT_AN_OFFER)
            .group_by(CompensationOffer.conversation_id)
            .subquery()
        )
        turns = dict(
            self.session.execute(
                select(first_offer.c.cid, func.count(Message.id))
                .join(Message, Message.conversation_id == first_offer.c.cid)
                .where(Message.role == "customer", Message.created_at <= first_offer.c.at)
                .group_by(first_offer.c.cid)
            ).all()
        )
        offered = {cid for (cid,) in self.session.execute(select(first_offer.c.cid))}
        promised = {
            cid: (int(kept or 0), int(due or 0))
            for cid, kept, due in self.session.execute(
                select(
                    Promise.conversation_id,
                    _count_if(and_(Promise.status == KEPT, Promise.kept_at <= Promise.due_at)),
                    func.count(Promise.id),
                )
                .join(Complaint, Complaint.id == Promise.complaint_id)
                .where(
                    *self.scope(),
                    Promise.status != CANCELLED,
                    or_(Promise.status != OPEN, Promise.due_at <= self.now),
                )
                .group_by(Promise.conversation_id)
            )
        }
        rows: list[list[Cell]] = []
        apologised = named = 0
        for complaint in complaints:
            cid = complaint.cid
            said = complaint.said or ""
            sorry = bool(APOLOGY.search(said))
            names = bool(said) and _names(
                complaint.category, complaint.summary, complaint.created_at, said
            )
            apologised += sorry
            named += names
            kept, due = promised.get(cid, (0, 0))
            rows.append(
                [
                    cid,
                    complaint.reference,
                    complaint.category,
                    "yes" if sorry else "no",
                    "yes" if names else "no",
                    (int(turns.get(cid, 0)) or None) if cid in offered else None,
                    round(float(complaint.longest or 0) / 60, 1),
                    "yes" if complaint.still_open else "no",
                    kept,
                    due,
                ]
            )
        n = len(rows)
        with_offer = [int(r[5]) for r in rows if r[5] is not None]  # type: ignore[arg-type]
        longest_waits = [float(r[6] or 0) for r in rows]  # type: ignore[arg-type]
        kept_all = sum(int(r[8] or 0) for r in rows)
        due_all = sum(int(r[9] or 0) for r in rows)
        summary: list[tuple[str, Cell]] = [
            ("conversations", n),
            ("apology_in_first_reply_pct", _pct(apologised, n)),
            ("problem_named_pct", _pct(named, n)),
            ("conversations_with_an_offer", len(with_offer)),
            (
                "mean_turns_to_first_offer",
                round(sum(with_offer) / len(with_offer), 1) if with_offer else None,
            ),
            (
                "mean_longest_wait_minutes",
                round(sum(longest_waits) / n, 1) if n else None,
            ),
            ("max_longest_wait_minutes", max(longest_waits) if longest_waits else None),
            ("waits_still_open", sum(1 for r in rows if r[7] == "yes")),
            ("promises_kept", kept_all),
            ("promises_due", due_all),
            ("promises_kept_pct", _pct(kept_all, due_all)),
        ]
        rows.sort(key=lambda r: (-float(r[6] or 0), str(r[0])))
        shown = rows[:RECOVERY_ROWS]
        chart = ChartSpec(
            "bar",
            "Recovery quality",
            f"Of {n} conversations with a complaint in the period: the share whose first "
            "reply apologised, named the problem, and the share of promises kept on time.",
            "Measure",
            "Per cent",
            ("Apology in first reply", "Problem named", "Promises kept on time"),
            (
                Series(
                    "Per cent",
                    tuple(float(v or 0) for v in (summary[1][1], summary[2][1], summary[10][1])),
                ),
            ),
        )
        return Section(
            "recovery_quality",
            "Recovery quality",
            [
                "conversation_id",
                "complaint",
                "category",
                "apology_in_first_reply",
                "problem_named",
                "turns_to_first_offer",
                "longest_wait_minutes",
                "wait_still_open",
                "promises_kept",
                "promises_due",
            ],
            shown,
            chart if n else None,
            (
                "One row per conversation with a complaint in the period, about its first such "
                "complaint; the longest waits first, at most "
                f"{RECOVERY_ROWS} rows (the summary is over all {n}). First reply: the "
                "assistant's messages answering the customer message that carried the "
                "complaint (the last customer message at or before it was filed). Apology: "
                "that reply says sorry or apologises (a word match, so it cannot judge "
                "sincerity). Problem named: it contains the phrase the assistant builds for "
                "the complaint from the customer's own words (redress/complaints/apology.py), "
                "worked out again from the complaint's summary; a reply naming the problem in "
                "other words is not counted. Turns to first offer: customer messages up to "
                "the one the first compensation offer answered (none when no offer). Longest "
                "wait: the longest time from a customer message with no reply yet to our "
                "next message (assistant, agent or incident update), in minutes, counting a "
                "wait still open at the time of the report. Promises: kept on time out of "
                "those due."
            ),
            summary=summary,
        )


def _names(category: str, summary: str, filed: datetime, said: str) -> bool:
    """Whether the reply holds the phrase the assistant builds for this complaint. The
    assistant says that phrase only after "I'm sorry" or "I've noted that" (domain/
    complaints.yml), so a reply with neither does not name it, and is not worked out."""
    if not NAMING.search(said):
        return False
    return describe_problem(_category(category), summary, filed).lower() in said.lower()


def _category(value: str) -> Category:
    try:
        return Category(value)
    except ValueError:
        return Category.OTHER


def table_text(section: Section) -> str:
    """A section as a plain-text table, for the command line."""
    header = [str(c) for c in section.columns]
    body = [["" if v is None else str(v) for v in row] for row in section.rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    lines = [f"{section.title}", ""]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    if not body:
        lines.append("(nothing in this period)")
    for label, value in section.summary:
        lines.append(f"{label}: {'' if value is None else value}")
    return "\n".join(line.rstrip() for line in lines)
