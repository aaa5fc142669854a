"""Every HTTP route the gateway serves, in one list: the page, the web chat, the records,
incidents, alerts, compensation, privacy, audit and reports APIs. Channel webhooks are added
by the app when on."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from bot.api import alerts, audit, compensation, incidents, privacy, records, reports, webchat
from bot.api.site import STATIC, health, index, ready

CONVERSATION = "/api/conversations/{conversation_id}"
INCIDENT = "/api/incidents/{incident_id}"
OFFER = "/api/compensation/offers/{reference}"


def routes() -> list[BaseRoute]:
    post = ["POST"]
    return [
        Route("/", index),
        Route("/health", health),
        Route("/ready", ready),
        Route("/api/messages", webchat.post_message, methods=post),
        Route(CONVERSATION, records.get_conversation),
        Route(f"{CONVERSATION}/messages", webchat.post_agent_message, methods=post),
        WebSocketRoute(f"{CONVERSATION}/live", webchat.live),
        Route("/api/incidents", incidents.list_incidents),
        Route("/api/incidents", incidents.create_incident, methods=post),
        Route(INCIDENT, incidents.get_incident),
        Route(INCIDENT, incidents.update_incident, methods=["PATCH"]),
        Route(f"{INCIDENT}/resolve", incidents.resolve_incident, methods=post),
        Route("/api/alerts", alerts.list_alerts),
        Route("/api/alerts/{alert_id}/acknowledge", alerts.acknowledge_alert, methods=post),
        Route("/api/compensation/offers", compensation.list_offers),
        Route(f"{OFFER}/approve", compensation.approve, methods=post),
        Route(f"{OFFER}/reject", compensation.reject, methods=post),
        Route("/api/compensation/grants", compensation.list_grants),
        Route("/api/compensation/spend", compensation.spend),
        Route("/api/privacy/erasures", privacy.erase_customer, methods=post),
        Route("/api/privacy/export", privacy.export_customer),
        Route("/api/audit", audit.list_entries),
        Route("/api/reports", reports.get_report),
        Route("/api/reports/{key}.csv", reports.get_section_csv),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
