"""What has been spent against the compensation limits, for operators (the admin API and
``python -m redress compensation spend``): on each incident against its budget, in total over
the policy's window, the customers who had the most, and what waits for approval. Money is
integer pence, always with a display string next to it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redress.compensation.ledger import PENDING_APPROVAL
from redress.compensation.operators import money
from redress.compensation.policy import Limits, Policy
from redress.db.models import CompensationGrant, CompensationOffer, Customer, Incident

TOP_SPENDERS = 10


def spend(
    session: Session, policy: Policy | None, now: datetime, *, top: int = TOP_SPENDERS
) -> dict[str, Any]:
    """What was granted: on each incident (all time, against its budget, as the ledger counts
    it), in total over the policy's window, and the customers who had the most in the window
    (against the per-customer limit)."""
    window_days = policy.limits.window_days if policy else 365
    since = now - timedelta(days=window_days)
    limits = policy.limits if policy else None
    total, count, customers = session.execute(
        select(
            func.coalesce(func.sum(CompensationGrant.amount_pence), 0),
            func.count(),
            func.count(func.distinct(CompensationGrant.customer_id)),
        ).where(CompensationGrant.created_at >= since)
    ).one()
    waiting, waiting_pence = session.execute(
        select(func.count(), func.coalesce(func.sum(CompensationOffer.amount_pence), 0)).where(
            CompensationOffer.status == PENDING_APPROVAL
        )
    ).one()
    return {
        "window_days": window_days,
        "since": since.isoformat(),
        "totals": {
            **money(int(total), "granted"),
            "grants": int(count),
            "customers": int(customers),
        },
        "incidents": _by_incident(session, limits),
        "top_customers": _top_customers(session, limits, since, top),
        "pending_approval": {"offers": int(waiting), **money(int(waiting_pence))},
    }


def _by_incident(session: Session, limits: Limits | None) -> list[dict[str, Any]]:
    found = []
    rows = session.execute(
        select(
            CompensationGrant.incident_id,
            Incident.title,
            func.sum(CompensationGrant.amount_pence),
            func.count(),
        )
        .join(Incident, Incident.id == CompensationGrant.incident_id)
        .group_by(CompensationGrant.incident_id, Incident.title)
        .order_by(func.sum(CompensationGrant.amount_pence).desc(), CompensationGrant.incident_id)
    ).all()
    for incident_id, title, spent, count in rows:
        budget = limits.budget_for(incident_id) if limits else None
        found.append(
            {
                "incident": incident_id,
                "title": title,
                "grants": int(count),
                **money(int(spent), "spent"),
                **(money(budget, "budget") if budget is not None else {"budget_pence": None}),
                **(
                    money(max(budget - int(spent), 0), "left")
                    if budget is not None
                    else {"left_pence": None}
                ),
            }
        )
    return found


def _top_customers(
    session: Session, limits: Limits | None, since: datetime, top: int
) -> list[dict[str, Any]]:
    spent_sum = func.sum(CompensationGrant.amount_pence)
    spenders = []
    for number, name, spent, grants in session.execute(
        select(Customer.account_number, Customer.name, spent_sum, func.count())
        .join(Customer, Customer.id == CompensationGrant.customer_id)
        .where(CompensationGrant.created_at >= since)
        .group_by(Customer.id, Customer.account_number, Customer.name)
        .order_by(spent_sum.desc(), Customer.account_number)
        .limit(top)
    ).all():
        entry: dict[str, Any] = {
            "account_number": number,
            "customer_name": name,
            "grants": int(grants),
            **money(int(spent), "granted"),
        }
        if limits is not None:
            entry.update(money(limits.per_customer_pence, "limit"))
            entry.update(money(max(limits.per_customer_pence - int(spent), 0), "left"))
            entry["remedies_left"] = max(limits.per_customer_count - int(grants), 0)
        spenders.append(entry)
    return spenders
