"""Every console route, under /console. Each section of the console adds its own list."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from bot.console import (
    alerts,
    approvals,
    cases,
    desk_pages,
    incidents,
    operators,
    privacy,
    reports,
    sign_in,
)


def console_routes() -> list[BaseRoute]:
    post = ["POST"]
    found: list[BaseRoute] = [
        Route("/console", sign_in.home),
        Route("/console/sign-in", sign_in.sign_in_page),
        Route("/console/sign-in", sign_in.sign_in, methods=post),
        Route("/console/sign-out", sign_in.sign_out, methods=post),
        Route("/console/cases", cases.case_list),
        Route("/console/cases/{complaint_id:int}", cases.case_page),
        Route("/console/cases/{complaint_id:int}/{action}", cases.case_action, methods=post),
        Route("/console/export/{kind}.csv", cases.export),
        Route("/console/incidents", incidents.list_page),
        Route("/console/incidents/new", incidents.new_page),
        Route("/console/incidents/new", incidents.create, methods=post),
        Route("/console/incidents/check", incidents.check, methods=["GET", "POST"]),
        Route("/console/incidents/{incident_id}", incidents.incident_page),
        Route("/console/incidents/{incident_id}/update", incidents.update, methods=post),
        Route("/console/incidents/{incident_id}/resolve", incidents.resolve, methods=post),
        Route("/console/alerts", alerts.alerts_page),
        Route("/console/alerts/{alert_id}/acknowledge", alerts.acknowledge, methods=post),
        Route("/console/approvals", approvals.approvals_page),
        Route("/console/approvals/{reference}/approve", approvals.approve, methods=post),
        Route("/console/approvals/{reference}/reject", approvals.reject, methods=post),
        Route("/console/operators", operators.operators_page),
        Route("/console/operators", operators.add_operator, methods=post),
        Route("/console/operators/{username}/reset", operators.reset_operator, methods=post),
        Route("/console/operators/{username}/remove", operators.remove_operator, methods=post),
        Route("/console/audit", operators.audit_page),
        Route("/console/reports", reports.reports_page),
        Route("/console/reports/recovery", reports.recovery_page),
        Route("/console/reports/{key}.csv", reports.section_csv),
        Route("/console/desk", desk_pages.queue),
        Route("/console/desk/conversations/{conversation_id}", desk_pages.conversation),
        Route("/console/desk/take-over", desk_pages.take_over, methods=post),
        Route("/console/desk/reply", desk_pages.reply, methods=post),
        Route("/console/desk/note", desk_pages.note, methods=post),
        Route("/console/desk/hand-back", desk_pages.hand_back, methods=post),
        Route("/console/desk/resolve", desk_pages.resolve, methods=post),
        WebSocketRoute("/console/live", desk_pages.live),
        Route("/console/privacy", privacy.privacy_page),
        Route("/console/privacy/export", privacy.export_customer),
        Route("/console/privacy/erase", privacy.erase_customer, methods=post),
    ]
    return found
