"""Runs the action server on loopback: ``python -m actions``.

rasa_sdk's own runner listens on every interface; the action server must only be reachable
by the Rasa server on the same machine. In a private container network (docker-compose.yml)
``ACTION_SERVER_HOST=0.0.0.0`` lets the Rasa containers reach it; never expose it publicly.

Whatever can reach it, it runs actions only for the Rasa server: every request but
``/health`` must carry the internal secret (redress/internal_secret.py) as ``Authorization:
Bearer <secret>``, which endpoints.yml has Rasa send. Without it a forged tracker could make
an action grant compensation.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from redress import memory_trace
from redress.business import configuration_or_exit
from redress.internal_secret import internal_secret, is_bearer_of
from redress.settings import SettingsError

logger = logging.getLogger("redress.actions")

OPEN_PATHS = {"/health"}


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    configuration_or_exit(logger)  # refuse to start on a configuration mistake
    try:
        memory_trace.start_if_asked("actions")
    except memory_trace.TraceSettingError as problem:
        logger.error("%s", problem)
        return 2
    try:
        secret = internal_secret()
    except (SettingsError, OSError) as problem:
        logger.error("%s", problem)
        return 2
    port = int(os.environ.get("ACTION_SERVER_PORT", "5055"))
    host = os.environ.get("ACTION_SERVER_HOST", "127.0.0.1")
    app = action_server(secret)
    logger.info("action server listening on http://%s:%d/webhook", host, port)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)
    return 0


def action_server(secret: str) -> Sanic:
    """rasa_sdk's action server, answering only requests that carry ``secret``."""
    app = create_app("actions.actions", cors_origins=None)
    app.register_middleware(only_the_rasa_server(secret), "request")
    return app


def only_the_rasa_server(secret: str) -> Callable[[Request], Awaitable[HTTPResponse | None]]:
    async def refuse_strangers(request: Request) -> HTTPResponse | None:
        """None for the Rasa server (the request goes on); a 401 for anyone else."""
        if request.path in OPEN_PATHS or is_bearer_of(request.headers.get("authorization"), secret):
            return None
        logger.warning(
            "Refused %s %s from %s: without the internal secret only the Rasa server may run "
            "actions",
            request.method,
            request.path,
            request.ip,
        )
        return response.json(
            {
                "error": {
                    "code": "unauthorised",
                    "message": "Only the Rasa server may run actions here.",
                }
            },
            status=401,
        )

    return refuse_strangers


if __name__ == "__main__":
    sys.exit(main())
