"""Console accounts: the people who sign in to the console, their roles and their sessions.

Passwords are hashed with argon2id (argon2-cffi, its current recommended parameters); a hash
made with older parameters is upgraded the next time its owner signs in. After
``LOCK_AFTER`` wrong passwords in a row an account is locked for ``LOCKED_FOR``: the right
password is refused too until then, and the message says until when. An unknown username
costs the same hashing work as a known one, so timing does not tell which names exist.

A session is a random secret in a cookie; only its SHA-256 is kept, with the CSRF token its
forms carry. Removing an account or resetting its password ends its sessions at once."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redress import audit
from redress.db.models import ConsoleSession, OperatorAccount
from redress.operators.tokens import TokenError, checked_role, limit_pence

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,79}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 200
LOCK_AFTER = 5
LOCKED_FOR = timedelta(minutes=15)
# A session ends after this long without use, and after MAX_SESSION whatever happens.
IDLE_SESSION = timedelta(hours=8)
MAX_SESSION = timedelta(days=7)
# ``last_seen_at`` is written at most this often, not on every page.
SEEN_EVERY = timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against for unknown usernames, so they cost what a real check costs.
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about accounts that is refused, with the reason for the operator."""


class SignInRefused(PermissionError):
    """Wrong username or password, or a locked account: the message is safe to show. Returned
    by ``sign_in`` rather than raised."""


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, and what its cookie and forms carry."""

    operator_id: int
    actor: audit.Actor
    csrf_token: str
    session_id: int


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def checked_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise AccountError(
            "a username is 1 to 80 lower-case letters, digits or . _ @ - and starts with a "
            f"letter or digit, like priya or priya@example.com; not {username!r}"
        )
    return name


def checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password may have at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise AccountError("a password cannot be only spaces")
    return password


def add(
    session: Session,
    username: str,
    display_name: str,
    role: str,
    approve_up_to: str | None,
    password: str,
    now: datetime,
) -> OperatorAccount:
    """A new account. Refused (AccountError) for a taken username, a bad role or limit, or a
    short password."""
    name = checked_username(username)
    try:
        role = checked_role(role)
        pence = limit_pence(role, approve_up_to)
    except TokenError as refused:
        raise AccountError(str(refused).replace("a token", "an account")) from None
    shown = " ".join(display_name.split())[:120] or name
    checked_password(password)
    if _find(session, name) is not None:
        raise AccountError(_taken(name))
    row = OperatorAccount(
        username=name,
        display_name=shown,
        role=role,
        approve_up_to_pence=pence,
        password_hash=_hasher.hash(password),
        failed_sign_ins=0,
        created_at=now,
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same name added at the same moment elsewhere
        raise AccountError(_taken(name)) from None
    return row


def _taken(name: str) -> str:
    return f"an account named {name!r} already exists (removed accounts keep their names)"


def _find(session: Session, username: str) -> OperatorAccount | None:
    return session.scalar(
        select(OperatorAccount).where(OperatorAccount.username == username).with_for_update()
    )


def existing(session: Session, username: str) -> OperatorAccount:
    row = _find(session, username.strip().lower())
    if row is None or row.removed_at is not None:
        raise AccountError(
            f"there is no account named {username.strip()!r}; `python -m redress operators list`"
        )
    return row


def remove(session: Session, username: str, now: datetime) -> OperatorAccount:
    """The account can no longer sign in; its sessions end now."""
    row = existing(session, username)
    row.removed_at = now
    end_sessions(session, row.id, now)
    return row


def reset(session: Session, username: str, password: str, now: datetime) -> OperatorAccount:
    """A new password; the lock and the count of wrong passwords are cleared, and every
    session signed in with the old password ends."""
    row = existing(session, username)
    checked_password(password)
    row.password_hash = _hasher.hash(password)
    row.failed_sign_ins = 0
    row.locked_until = None
    end_sessions(session, row.id, now)
    return row


def all_accounts(session: Session) -> list[OperatorAccount]:
    return list(session.scalars(select(OperatorAccount).order_by(OperatorAccount.username)))


def any_active(session: Session) -> bool:
    """Whether anyone can sign in to the console (the console desk has someone to answer)."""
    return bool(session.scalar(select(exists().where(OperatorAccount.removed_at.is_(None)))))


def actor_of(row: OperatorAccount) -> audit.Actor:
    return audit.Actor(
        name=row.display_name,
        via=audit.CONSOLE,
        role=row.role,
        approve_up_to_pence=row.approve_up_to_pence,
        id=f"console:{row.username}"[:40],
    )


def sign_in(
    session: Session, username: str, password: str, now: datetime
) -> tuple[str, SignedIn] | SignInRefused:
    """Checks the password; on success starts a session and returns its cookie secret. A
    refusal is returned, not raised, so the count of wrong passwords it wrote is kept: its
    message does not say which of the two was wrong; a locked account says until when."""
    refused = SignInRefused("That username and password do not match an account.")
    name = username.strip().lower()
    row = _find(session, name) if USERNAME.match(name) and len(password) <= MAX_PASSWORD else None
    if row is None or row.removed_at is not None:
        _verify(_NOBODY, password)
        return refused
    if row.locked_until is not None and row.locked_until > now:
        _verify(_NOBODY, password)
        return SignInRefused(_locked_message(row.locked_until, now))
    if not _verify(row.password_hash, password):
        row.failed_sign_ins += 1
        if row.failed_sign_ins >= LOCK_AFTER:
            row.locked_until = now + LOCKED_FOR
            row.failed_sign_ins = 0
            return SignInRefused(_locked_message(row.locked_until, now))
        return refused
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    row.failed_sign_ins = 0
    row.locked_until = None
    row.last_sign_in_at = now
    secret = secrets.token_urlsafe(32)
    kept = ConsoleSession(
        token_hash=hash_secret(secret),
        operator_id=row.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + MAX_SESSION,
    )
    session.add(kept)
    session.flush()
    return secret, SignedIn(row.id, actor_of(row), kept.csrf_token, kept.id)


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, -(-int((until - now).total_seconds()) // 60))
    return (
        f"This account is locked for {minutes} more minute{'s' if minutes != 1 else ''} "
        "after too many wrong passwords. An administrator can unlock it now with "
        "`python -m redress operators reset`."
    )


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def session_for(session: Session, secret: str, now: datetime) -> SignedIn | None:
    """The live session a cookie secret names, or None (unknown, ended, idle too long,
    expired, or its account removed)."""
    if not secret or len(secret) > 100:
        return None
    kept = session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == hash_secret(secret))
    )
    if kept is None or kept.ended_at is not None or kept.expires_at <= now:
        return None
    if now - kept.last_seen_at > IDLE_SESSION:
        kept.ended_at = now
        return None
    account = kept.operator
    if account.removed_at is not None:
        return None
    if now - kept.last_seen_at >= SEEN_EVERY:
        kept.last_seen_at = now
    return SignedIn(account.id, actor_of(account), kept.csrf_token, kept.id)


def sign_out(session: Session, secret: str, now: datetime) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == hash_secret(secret), ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_sessions(session: Session, operator_id: int, now: datetime) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.operator_id == operator_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )
