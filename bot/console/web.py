"""What every console page shares: who is signed in (a session cookie checked against the
records), the role a page needs, CSRF protection on every form, bounded form bodies, the
templates and the HTML error pages.

A page is an async function ``(request) -> Response`` wrapped in ``page(role)``. Inside it,
``signed_in(request)`` is the session (its ``actor`` is who acts, recorded in the audit log)
and ``await form(request)`` the submitted form, already checked for its CSRF token. Writes
go through the same domain functions as the APIs and Slack.

Cookies are ``Secure``, ``HttpOnly`` and ``SameSite=Lax`` and live under ``/console`` only.
A browser treats http://127.0.0.1 and http://localhost as secure, so ``make run`` signs in
over plain HTTP on this machine; anywhere else the console must be served over HTTPS."""

from __future__ import annotations

import functools
import hmac
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.api._http import BadInput, bounded_body
from bot.transactions import in_transaction
from redress.audit import ROLES, Actor
from redress.clock import utcnow
from redress.compensation.policy import show_money
from redress.operators import accounts
from redress.privacy.config import visible_kinds
from redress.privacy.shown import for_agents

COOKIE = "redress_console"
NOTICE_COOKIE = "redress_console_notice"
PREFIX = "/console"
MAX_FORM_BYTES = 64 * 1024
TEMPLATES = Path(__file__).parent / "templates"

T = TypeVar("T")
Page = Callable[[Request], Awaitable[Response]]

# The sections every page links to, with the least role that may open each.
NAV = (
    ("desk", "Desk", "/console/desk", "agent"),
    ("cases", "Cases", "/console/cases", "agent"),
    ("incidents", "Incidents", "/console/incidents", "agent"),
    ("approvals", "Approvals", "/console/approvals", "approver"),
    ("alerts", "Alerts", "/console/alerts", "agent"),
    ("reports", "Reports", "/console/reports", "agent"),
    ("operators", "Operators", "/console/operators", "admin"),
    ("privacy", "Privacy", "/console/privacy", "admin"),
)


class Refused(Exception):
    """An action the console refuses, with the reason shown to the operator (status 400
    unless given)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda pence: "" if pence is None else show_money(int(pence))
    return env


templates = _environment()


def signed_in(request: Request) -> accounts.SignedIn:
    """The session of the operator on this page (set by ``page``)."""
    found: accounts.SignedIn = request.state.signed_in
    return found


def actor(request: Request) -> Actor:
    return signed_in(request).actor


def local_time(request: Request, moment: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """A moment in the business's own time zone, as operators read it."""
    if moment is None:
        return ""
    zone = ZoneInfo(request.app.state.business.hours.timezone)
    return moment.astimezone(zone).strftime(fmt)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``templates/``, with the signed-in operator, the CSRF token, the
    navigation and any notice left by the action before."""
    found = getattr(request.state, "signed_in", None)
    business = request.app.state.business
    notice = request.cookies.get(NOTICE_COOKIE, "")
    body = templates.get_template(template).render(
        request=request,
        operator=found.actor if found is not None else None,
        csrf=found.csrf_token if found is not None else "",
        nav=[item for item in NAV if found is not None and found.actor.may(item[3])],
        notice=urllib.parse.unquote(notice)[:300] if notice else "",
        when=lambda moment, fmt="%d %b %Y %H:%M": local_time(request, moment, fmt),
        # What customers wrote, masked as agents see it at any desk (privacy.yml agents_see).
        masked=lambda text: for_agents(str(text or ""), visible_kinds(business)),
        business=business,
        **context,
    )
    response = HTMLResponse(body, status)
    response.headers["cache-control"] = "no-store"
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path=PREFIX)
    return response


def redirect(to: str, notice: str = "") -> RedirectResponse:
    """After a form: back to a page (303, so a reload does not post again), with a notice
    shown once at the top of it."""
    response = RedirectResponse(to, status_code=303)
    if notice:
        response.set_cookie(
            NOTICE_COOKIE,
            urllib.parse.quote(notice[:300]),
            max_age=60,
            path=PREFIX,
            secure=True,
            httponly=True,
            samesite="lax",
        )
    return response


def problem(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "problem.html", status, title=title, message=message)


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if raw and raw.startswith(PREFIX) and not raw.startswith("//") and "\\" not in raw:
        parsed = urllib.parse.urlsplit(raw)
        if not parsed.scheme and not parsed.netloc:
            return raw
    return f"{PREFIX}/desk"


async def db(request: Request, work: Callable[[Session], T]) -> T:
    """``work`` in one transaction off the event loop."""
    return await in_transaction(request.app.state.settings.database_url, work)


async def form(request: Request) -> dict[str, str]:
    """The submitted form (URL-encoded, at most 64 KB, one value per field), after its CSRF
    token was checked by ``page``."""
    cached: dict[str, str] | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused("Send the form as the page does (URL-encoded).", 415)
    raw = await bounded_body(request, MAX_FORM_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("The form was not valid UTF-8.") from None
    fields: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=200):
        if "\x00" in value:
            raise Refused(f"The field {key!r} holds a character that cannot be stored.")
        fields.setdefault(key, value)
    request.state.form = fields
    return fields


def same_origin(request: HTTPConnection) -> bool:
    """A browser sends Origin with every POST; one from another site is refused even with a
    token (defence in depth beside the CSRF token and SameSite)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urllib.parse.urlsplit(origin).netloc == host


def page(role: str) -> Callable[[Page], Page]:
    """A console page for operators whose role includes ``role``. Others are sent to sign
    in (no session) or shown why not (a lesser role). A POST must carry the session's CSRF
    token in the ``csrf`` field and come from this site."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def guard(endpoint: Page) -> Page:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            secret = request.cookies.get(COOKIE, "")
            now = utcnow()
            try:
                found = await db(request, lambda s: accounts.session_for(s, secret, now))
            except SQLAlchemyError:
                return problem(
                    request,
                    503,
                    "The records cannot be reached",
                    "The records cannot be reached just now, so the console cannot check who "
                    "you are. Nothing was changed. Please try again in a minute.",
                )
            if found is None:
                back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":
                    back = request.url.path
                query = urllib.parse.urlencode({"next": back})
                return RedirectResponse(f"{PREFIX}/sign-in?{query}", status_code=303)
            request.state.signed_in = found
            if not found.actor.may(role):
                return problem(
                    request,
                    403,
                    "Not for your role",
                    f"This page needs the {role} role; your account has the "
                    f"{found.actor.role} role. An administrator can change that.",
                )
            try:
                if request.method == "POST":
                    await _check_csrf(request, found)
                return await endpoint(request)
            except Refused as refused:
                return problem(request, refused.status, "That was not done", refused.message)
            except BadInput as bad:
                return problem(request, bad.status, "That was not done", bad.message)
            except SQLAlchemyError:
                return problem(
                    request,
                    503,
                    "The records cannot be reached",
                    "The records cannot be reached just now. Nothing was changed. Please try "
                    "again in a minute.",
                )

        return guarded

    return guard


async def _check_csrf(request: Request, found: accounts.SignedIn) -> None:
    if not same_origin(request):
        raise Refused("This form was sent from another site, so it was refused.", 403)
    given = (await form(request)).get("csrf", "")
    if not given or not hmac.compare_digest(given.encode(), found.csrf_token.encode()):
        raise Refused(
            "This form has expired (or came from somewhere else). Go back, reload the page "
            "and try again.",
            403,
        )


def query(request: Request) -> Mapping[str, str]:
    return request.query_params


def csrf_field(request: Request) -> Markup:
    token = signed_in(request).csrf_token
    return Markup('<input type="hidden" name="csrf" value="{}">').format(token)
