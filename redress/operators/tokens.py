"""Operator tokens for the admin APIs: one per person or script, each with a role (agent <
approver < admin) that limits what it may do, and for approvers the most one offer may be for
them to approve it.

A token is shown once, when it is made; only its SHA-256 is kept. A request's token is found
by that hash through the unique index, so nothing is compared a character at a time and a
copy of the database holds nothing that opens the API. A revoked token is refused at once."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redress import audit
from redress.business import pounds_to_pence
from redress.compensation.policy import show_money
from redress.db.models import OperatorToken

# Every token starts with this, so one found in a log or a chat is recognisable for what it is.
PREFIX = "rdo_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@'-]{0,79}$")
# ``last_used_at`` is written at most this often per token, not on every request.
USED_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """A request about tokens that is refused, with the reason for the operator."""


class UnknownToken(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"there is no token named {name!r}; `python -m redress tokens list`")
        self.name = name


class RevokedToken(PermissionError):
    """A token that was revoked: refused, with when."""

    def __init__(self, name: str, revoked_at: datetime) -> None:
        super().__init__(f"this token ({name}) was revoked at {revoked_at:%Y-%m-%d %H:%M} UTC")
        self.name = name
        self.revoked_at = revoked_at


def hash_token(token: str) -> str:
    """The SHA-256 of a token, as kept in ``OperatorToken.token_hash``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def checked_name(name: str) -> str:
    name = name.strip()
    if not NAME.match(name):
        raise TokenError(
            "a token's name is 1 to 80 letters, digits, spaces or . _ @ ' - and starts with "
            f"a letter or digit, like priya or billing-script; not {name!r}"
        )
    return name


def checked_role(role: str) -> str:
    if role not in audit.ROLES:
        raise TokenError(f"unknown role {role!r}: choose one of {', '.join(audit.ROLES)}")
    return role


def limit_pence(role: str, approve_up_to: str | None) -> int | None:
    """An approver's limit in pence from pounds ("50.00", "£50"); the other roles have none:
    an agent approves nothing and an administrator anything."""
    if role != audit.APPROVER:
        if approve_up_to is not None:
            raise TokenError(
                f"only an approver has an approval limit; a token with role {role!r} "
                + ("approves nothing" if role == audit.AGENT else "approves any amount")
            )
        return None
    if approve_up_to is None:
        raise TokenError("an approver needs a limit: --approve-up-to 50.00 (in pounds)")
    raw = approve_up_to.strip().removeprefix("£").replace(",", "")
    try:
        pence = pounds_to_pence(raw)
    except ValueError:
        raise TokenError(
            f"{approve_up_to!r} is not an amount in pounds like 50.00 (at most 100000)"
        ) from None
    if pence <= 0:
        raise TokenError("an approval limit must be more than £0")
    return pence


def create(
    session: Session, name: str, role: str, approve_up_to: str | None, now: datetime
) -> tuple[OperatorToken, str]:
    """A new token: its row (holding only the hash) and the token itself, to show once."""
    name = checked_name(name)
    role = checked_role(role)
    pence = limit_pence(role, approve_up_to)
    if session.scalar(select(OperatorToken).where(OperatorToken.name == name)) is not None:
        raise TokenError(_taken(name))
    token = PREFIX + secrets.token_urlsafe(32)
    row = OperatorToken(
        name=name,
        role=role,
        approve_up_to_pence=pence,
        token_hash=hash_token(token),
        created_at=now,
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same name made at the same moment elsewhere
        raise TokenError(_taken(name)) from None
    return row, token


def _taken(name: str) -> str:
    return (
        f"a token named {name!r} already exists (revoked tokens keep their names); "
        "choose another name"
    )


def all_tokens(session: Session) -> list[OperatorToken]:
    return list(session.scalars(select(OperatorToken).order_by(OperatorToken.name)))


def revoke(session: Session, name: str, now: datetime) -> tuple[OperatorToken, bool]:
    """Revokes the token with this name; says whether this call revoked it (False: it already
    was, and the first time stands)."""
    row = session.scalar(
        select(OperatorToken).where(OperatorToken.name == name.strip()).with_for_update()
    )
    if row is None:
        raise UnknownToken(name.strip())
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = now
    return row, True


def any_active(session: Session) -> bool:
    """Whether any operator token is unrevoked (the admin APIs are on for it)."""
    return bool(session.scalar(select(exists().where(OperatorToken.revoked_at.is_(None)))))


def actor_for(session: Session, token: str, now: datetime) -> audit.Actor | None:
    """The operator a token belongs to, or None when it is no operator's token. Raises
    RevokedToken for a revoked one. Notes when it was used, at most once a minute."""
    if not token.startswith(PREFIX):
        return None
    row = session.scalar(select(OperatorToken).where(OperatorToken.token_hash == hash_token(token)))
    if row is None:
        return None
    if row.revoked_at is not None:
        raise RevokedToken(row.name, row.revoked_at)
    if row.last_used_at is None or now - row.last_used_at >= USED_EVERY:
        row.last_used_at = now
    return audit.Actor(
        name=row.name,
        via=audit.OPERATOR_TOKEN,
        role=row.role,
        approve_up_to_pence=row.approve_up_to_pence,
        id=str(row.id),
    )


def token_json(row: OperatorToken) -> dict[str, Any]:
    """A token as listed: never the token, never its hash."""
    pence = row.approve_up_to_pence
    return {
        "name": row.name,
        "role": row.role,
        "approve_up_to_pence": pence,
        "approve_up_to": None if pence is None else show_money(pence),
        "created_at": row.created_at.isoformat(),
        "last_used_at": None if row.last_used_at is None else row.last_used_at.isoformat(),
        "revoked_at": None if row.revoked_at is None else row.revoked_at.isoformat(),
    }
