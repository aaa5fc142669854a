"""Every console route, under /console. Each section of the console adds its own list."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from bot.console import approvals, operators, sign_in


def console_routes() -> list[BaseRoute]:
    post = ["POST"]
    found: list[BaseRoute] = [
        Route("/console", sign_in.home),
        Route("/console/sign-in", sign_in.sign_in_page),
        Route("/console/sign-in", sign_in.sign_in, methods=post),
        Route("/console/sign-out", sign_in.sign_out, methods=post),
        Route("/console/approvals", approvals.approvals_page),
        Route("/console/approvals/{reference}/approve", approvals.approve, methods=post),
        Route("/console/approvals/{reference}/reject", approvals.reject, methods=post),
        Route("/console/operators", operators.operators_page),
        Route("/console/operators", operators.add_operator, methods=post),
        Route("/console/operators/{username}/reset", operators.reset_operator, methods=post),
        Route("/console/operators/{username}/remove", operators.remove_operator, methods=post),
        Route("/console/audit", operators.audit_page),
    ]
    return found
