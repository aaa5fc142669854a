"""Every console route, under /console. Each section of the console adds its own list."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from bot.console import sign_in


def console_routes() -> list[BaseRoute]:
    post = ["POST"]
    found: list[BaseRoute] = [
        Route("/console", sign_in.home),
        Route("/console/sign-in", sign_in.sign_in_page),
        Route("/console/sign-in", sign_in.sign_in, methods=post),
        Route("/console/sign-out", sign_in.sign_out, methods=post),
    ]
    return found
