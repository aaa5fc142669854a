"""Loads the demo customers from the business folder, so account look-ups are real."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.business import DemoCustomer
from redress.db.models import Customer


def load_demo_customers(session: Session, customers: tuple[DemoCustomer, ...]) -> int:
    """Inserts or updates each demo customer by account number; returns how many changed."""
    changed = 0
    for entry in customers:
        customer = session.scalar(
            select(Customer).where(Customer.account_number == entry.account_number)
        )
        if customer is None:
            customer = Customer(account_number=entry.account_number)
            session.add(customer)
        values = {
            "name": entry.name,
            "email": entry.email,
            "postcode": entry.postcode.upper(),
            "plan": entry.plan,
            "monthly_fee_pence": entry.monthly_fee_pence,
        }
        if any(getattr(customer, key, None) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(customer, key, value)
            changed += 1
    session.flush()
    return changed
