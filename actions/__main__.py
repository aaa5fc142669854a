"""Runs the action server on loopback: ``python -m actions``.

rasa_sdk's own runner listens on every interface; the action server must only be reachable
by the Rasa server on the same machine. In a private container network (docker-compose.yml)
``ACTION_SERVER_HOST=0.0.0.0`` lets the Rasa containers reach it; never expose it publicly.
"""

from __future__ import annotations

import logging
import os
import sys

from rasa_sdk.endpoint import create_app

from redress.business import configuration_or_exit

logger = logging.getLogger("redress.actions")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    configuration_or_exit(logger)  # refuse to start on a configuration mistake
    port = int(os.environ.get("ACTION_SERVER_PORT", "5055"))
    host = os.environ.get("ACTION_SERVER_HOST", "127.0.0.1")
    app = create_app("actions.actions", cors_origins=None)
    logger.info("action server listening on http://%s:%d/webhook", host, port)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
