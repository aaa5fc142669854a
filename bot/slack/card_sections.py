"""The context card's sections: each complaint with its category, severity and facts, the
offers and grants, and the last messages of the conversation. Everything from the record is
quoted (clipped, one line, escaped) before it goes in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from bot.slack.blocks import (
    Block,
    context,
    local_clock,
    parse_time,
    quote,
    section,
)
from bot.slack.text import escape_for_slack
from redress.business import Business
from redress.compensation.policy import NON_MONEY, offer_words, show_money
from redress.complaints.categories import Category

# What the card shows, at most.
TRANSCRIPT_MESSAGES = 8


MESSAGE_CHARS = 300


MAX_COMPLAINTS = 10


MAX_OFFERS = 5


FACT_CHARS = 200


ROLES = {"customer": "Customer", "bot": "Assistant", "agent": "Agent"}


SEVERITY_MARKS = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪"}


REMEDY_NAMES = {
    "account_credit": "account credit",
    "refund": "refund",
    "voucher": "voucher",
    "free_month": "free month",
    "priority_repair": "priority repair",
}


OFFER_STATUSES = {
    "offered": "offered, waiting for the customer's answer",
    "pending_approval": "needs approval",
    "granted": "granted",
    "declined": "declined by the customer",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
    "already_compensated": "nothing offered: the same problem was already compensated",
}


FACT_NAMES = {
    "account_ref": "Account (as given)",
    "postcode": "Postcode",
    "since": "When it started",
}


# Facts that are bookkeeping, or shown elsewhere on the card (the reply due time is the
# case's reply-by promise, shown in the team's local time).
HIDDEN_FACTS = {"logged", "more", "reply_due"}
# What the assistant records as the account when the customer gave none it could find
# ("i don't have my account number"): not something the customer said.
NO_ACCOUNT = "unverified"


def category_label(value: Any, business: Business) -> str:
    try:
        return escape_for_slack(business.category_text(Category(value)).label)
    except (ValueError, KeyError):
        return quote(str(value or "unknown category").replace("_", " "), 60)


def remedy_name(offer: Mapping[str, Any]) -> str:
    """'£12.50 account credit', 'priority repair'."""
    remedy = str(offer.get("remedy") or "")
    name = REMEDY_NAMES.get(remedy) or quote(remedy.replace("_", " ") or "remedy", 40)
    pence = int(offer.get("amount_pence") or 0)
    if remedy in NON_MONEY or pence <= 0:
        return name
    return f"{show_money(pence)} {name}"


def offer_summary(offer: Mapping[str, Any]) -> str | None:
    try:
        return offer_words(str(offer.get("remedy")), int(offer.get("amount_pence") or 0))
    except (KeyError, ValueError, TypeError):
        return None


def fact_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def complaint_blocks(
    complaints: Sequence[Mapping[str, Any]], record: Mapping[str, Any], business: Business
) -> list[Block]:
    if not complaints:
        return [section("*Complaints:* none logged yet", "handoff_complaints")]
    # Open complaints first, then the most recent; shown in the order they were made.
    ranked = sorted(
        range(len(complaints)), key=lambda i: (complaints[i].get("status") != "open", -i)
    )
    shown = sorted(ranked[:MAX_COMPLAINTS])
    updates = {
        str(u.get("incident")): u
        for u in record.get("incident_updates") or []
        if isinstance(u, Mapping)
    }
    blocks = [
        section(
            complaint_text(number, complaints[index], business, updates),
            f"handoff_complaint_{index}",
        )
        for number, index in enumerate(shown, start=1)
    ]
    if len(complaints) > len(shown):
        more = len(complaints) - len(shown)
        blocks.append(
            context(
                f"…and {more} more complaint{'s' if more != 1 else ''} in this conversation "
                "(closed or older); see the full record."
            )
        )
    return blocks


def complaint_text(
    number: int,
    complaint: Mapping[str, Any],
    business: Business,
    updates: Mapping[str, Mapping[str, Any]],
) -> str:
    severity = str(complaint.get("severity") or "unknown")
    mark = SEVERITY_MARKS.get(severity, "▫️")
    title = (
        f"*{number}. {category_label(complaint.get('category'), business)}* · "
        f"{mark} {quote(severity, 20)} severity · {quote(complaint.get('status') or 'open', 20)}"
    )
    if complaint.get("reference"):
        title += f" · {quote(complaint['reference'], 20)}"
    lines = [title]
    reasons = [str(r) for r in complaint.get("severity_reasons") or []]
    if reasons:
        lines.append("_Why:_ " + quote("; ".join(reasons), 400))
    if complaint.get("summary"):
        lines.append(f"*Said:* “{quote(complaint['summary'], MESSAGE_CHARS)}”")
    facts: Mapping[str, Any] = complaint.get("facts") or {}
    shown = [
        f"{FACT_NAMES.get(key) or quote(str(key).replace('_', ' ').capitalize(), 40)}: "
        f"{quote(fact_value(value), FACT_CHARS)}"
        for key, value in facts.items()
        if key not in HIDDEN_FACTS
        and value not in (None, "", [], {})
        and not (key == "account_ref" and value == NO_ACCOUNT)
    ]
    lines.append("*Facts:* " + (" · ".join(shown) if shown else "none collected yet"))
    more = facts.get("more")
    if isinstance(more, list) and more:
        said = " ".join(f"“{quote(m, FACT_CHARS)}”" for m in more[-3:])
        lines.append(f"*Also said:* {said}")
    if incident := complaint.get("incident"):
        line = f"*Incident:* {quote(incident, 40)}"
        if update := updates.get(str(incident)):
            line += f" · updates {quote(update.get('status') or 'offered', 20)}"
            if update.get("service_back") is not None:
                line += " · says service is back" if update["service_back"] else " · still down"
        lines.append(line)
    else:
        lines.append("*Incident:* none linked")
    return "\n".join(lines)


def offer_blocks(
    record: Mapping[str, Any],
    pending_offer: Mapping[str, Any] | None,
    now: datetime,
    zone: tzinfo,
) -> list[Block]:
    offers = [o for o in record.get("offers") or [] if isinstance(o, Mapping)]
    grants = [g for g in record.get("grants") or [] if isinstance(g, Mapping)]
    if not offers and not grants:
        return [section("*Compensation:* nothing offered yet", "handoff_offers")]
    pending_reference = pending_offer.get("reference") if pending_offer else None
    shown = offers[-MAX_OFFERS:]
    blocks = []
    for index, offer in enumerate(shown):
        lines = [offer_line(offer, offer.get("reference") == pending_reference)]
        if words := offer_summary(offer):
            lines.append(f"_Offer:_ “{escape_for_slack(words)}”")
        if offer.get("explanation"):
            lines.append("_Why:_ " + quote(offer["explanation"], 1200))
        if requested := parse_time(offer.get("review_requested_at")):
            lines.append(f"_Review requested_ {local_clock(requested, now, zone)}")
        if offer.get("decided_by"):
            lines.append(f"_Decided by_ {quote(offer['decided_by'], 120)}")
        for grant in grants:
            if grant.get("offer") == offer.get("reference"):
                lines.append(grant_line(grant, now, zone))
        blocks.append(section("\n".join(lines), f"handoff_offer_{index}"))
    shown_references = {o.get("reference") for o in shown}
    loose = [g for g in grants if g.get("offer") not in shown_references]
    if loose:
        lines = ["*Earlier grants:*", *(grant_line(g, now, zone) for g in loose[-MAX_OFFERS:])]
        blocks.append(section("\n".join(lines), "handoff_grants"))
    if len(offers) > len(shown):
        more = len(offers) - len(shown)
        blocks.append(
            context(f"…and {more} earlier offer{'s' if more != 1 else ''}; see the full record.")
        )
    return blocks


def offer_line(offer: Mapping[str, Any], pending: bool) -> str:
    status = str(offer.get("status") or "")
    status_words = OFFER_STATUSES.get(status) or quote(status or "unknown", 30)
    line = f"*Offered {remedy_name(offer)}* · {status_words}"
    if pending:
        line = "⏳ " + line + " (waiting for an approver)"
    if offer.get("reference"):
        line += f" · {quote(offer['reference'], 20)}"
    if offer.get("complaint"):
        line += f" for {quote(offer['complaint'], 20)}"
    if offer.get("rule"):
        line += f" · rule {quote(offer['rule'], 60)}"
    return line


def grant_line(grant: Mapping[str, Any], now: datetime, zone: tzinfo) -> str:
    line = f"✅ *Granted {remedy_name(grant)}*"
    if grant.get("reference"):
        line += f" · {quote(grant['reference'], 20)}"
    if grant.get("approved_by"):
        line += f" · by {quote(grant['approved_by'], 120)}"
    if granted := parse_time(grant.get("created_at")):
        line += f" · {local_clock(granted, now, zone)}"
    return line


def transcript_blocks(record: Mapping[str, Any], now: datetime, zone: tzinfo) -> list[Block]:
    messages = [m for m in record.get("messages") or [] if isinstance(m, Mapping)]
    if not messages:
        return [section("*Transcript:* no messages yet", "handoff_transcript")]
    shown = messages[-TRANSCRIPT_MESSAGES:]
    heading = f"*Last {len(shown)} of {len(messages)} messages*"
    if len(shown) == len(messages):
        heading = f"*All {len(messages)} message{'s' if len(messages) != 1 else ''}*"
    blocks = [context(heading, "handoff_transcript")]
    for index, message in enumerate(shown):
        role = str(message.get("role") or "")
        label = ROLES.get(role) or quote(role.capitalize() or "Unknown", 20)
        when = parse_time(message.get("created_at"))
        head = f"*{label}*" + (f" · {local_clock(when, now, zone)}" if when else "")
        text = quote(message.get("text"), MESSAGE_CHARS) or "_(no text)_"
        buttons = [
            str(b.get("title"))
            for b in message.get("buttons") or []
            if isinstance(b, Mapping) and b.get("title")
        ]
        if buttons:
            text += " _[buttons: " + quote(" | ".join(buttons), 120) + "]_"
        blocks.append(section(f"{head}\n{text}", f"handoff_message_{index}"))
    return blocks
