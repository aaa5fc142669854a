"""Runs the gateway: ``python -m bot``. Refuses to start on invalid settings or business
configuration, with a message saying what to fix."""

from __future__ import annotations

import logging
import sys

import uvicorn

from bot.api.webchat import hide_tokens_in_server_logs
from bot.app import create_app
from redress import memory_trace
from redress.business import configuration_or_exit

logger = logging.getLogger("redress.gateway")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # The scheduler would log every run of every job (every few seconds); its warnings and
    # errors (a job that failed or fell behind) still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    hide_tokens_in_server_logs()
    try:
        memory_trace.start_if_asked("gateway")
    except memory_trace.TraceSettingError as problem:
        logger.error("%s", problem)
        return 2
    settings, business = configuration_or_exit(logger)
    if settings.admin_token is None:
        logger.warning(
            "REDRESS_ADMIN_TOKEN is not set: the admin APIs take only operator tokens "
            "(python -m redress tokens create) and refuse every request until one exists"
        )
    app = create_app(settings, business)
    url = f"http://{settings.gateway_host}:{settings.gateway_port}"
    logger.info("Chat with %s's assistant at %s", business.brand.business_name, url)
    uvicorn.run(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level="info",
        # Behind a load balancer, its X-Forwarded-For names the customer's address (for
        # the per-address limit); from anyone else it is ignored.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        server_header=False,
        ws="wsproto",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
