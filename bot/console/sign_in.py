"""Signing in and out of the console.

The sign-in form carries its own CSRF token (a random value in a short-lived cookie and in
the form, which must match), so nobody can sign a browser in to their own account from
another site. Each address may try ``CONSOLE_SIGN_INS_PER_MINUTE_PER_ADDRESS`` times a minute
(10); an account is locked after five wrong passwords in a row (redress/operators/accounts.py)."""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.web import (
    COOKIE,
    PREFIX,
    Refused,
    db,
    form,
    page,
    problem,
    redirect,
    render,
    safe_next,
    same_origin,
)
from redress import audit
from redress.clock import utcnow
from redress.operators import accounts

PRE_COOKIE = "redress_console_signin"


async def sign_in_page(request: Request) -> Response:
    return _form(request, safe_next(request.query_params.get("next")), "", "")


def _form(
    request: Request, next_page: str, username: str, refusal: str, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        status,
        next_page=next_page,
        username=username,
        refusal=refusal,
        sign_in_token=token,
    )
    response.set_cookie(
        PRE_COOKIE, token, max_age=3600, path=PREFIX, secure=True, httponly=True, samesite="strict"
    )
    return response


async def sign_in(request: Request) -> Response:
    try:
        fields = await form(request)
    except Refused as refused:
        return problem(request, refused.status, "That was not done", refused.message)
    next_page = safe_next(fields.get("next"))
    username = fields.get("username", "")[:80]
    expected = request.cookies.get(PRE_COOKIE, "")
    given = fields.get("sign_in_token", "")
    if (
        not same_origin(request)
        or not expected
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        return _form(
            request,
            next_page,
            username,
            "This sign-in form had expired. Please enter your details again.",
            403,
        )
    limits = request.app.state.rate_limits
    address = request.client.host if request.client else "unknown"
    wait = await limits["sign_in"].check(address)
    if wait is not None:
        return _form(
            request,
            next_page,
            username,
            f"Too many sign-in attempts from here. Please wait {wait} seconds and try again.",
            429,
        )
    password = fields.get("password", "")
    now = utcnow()
    try:
        outcome = await db(request, lambda s: accounts.sign_in(s, username, password, now))
    except SQLAlchemyError:
        return _form(
            request,
            next_page,
            username,
            "The records cannot be reached just now, so you cannot sign in. Please try again "
            "in a minute.",
            503,
        )
    if isinstance(outcome, accounts.SignInRefused):
        return _form(request, next_page, username, str(outcome), 401)
    secret, _ = outcome
    response = RedirectResponse(next_page, status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(accounts.MAX_SESSION.total_seconds()),
        path=PREFIX,
        secure=True,
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(PRE_COOKIE, path=PREFIX)
    return response


@page(audit.AGENT)
async def sign_out(request: Request) -> Response:
    secret = request.cookies.get(COOKIE, "")
    await db(request, lambda s: accounts.sign_out(s, secret, utcnow()))
    response = redirect(f"{PREFIX}/sign-in", "You are signed out.")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@page(audit.AGENT)
async def home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/desk", status_code=303)
