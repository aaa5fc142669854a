"""The context card that opens a conversation's thread at the Slack agent desk.

When a customer needs a person, the agent must not have to ask them anything twice
(PRINCIPLES 7): the card says why a person is needed, who the customer is, each complaint
with its category, severity and the facts collected, the linked incident, what the assistant
offered and granted, the last messages, and how long the customer has waited. Buttons let the
agent take over, approve or reject a pending offer, hand back to the assistant or resolve.

Pure functions over the conversation record (``records.conversation_record``): no Slack
client, no database. Every piece of text that did not come from this module goes through
``escape_for_slack`` and stays on one line, so a customer can neither ping the channel nor
fake a line of the card. Block Kit's limits are respected whatever the record holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.text import escape_for_slack, one_line
from redress.business import Business
from redress.compensation.policy import NON_MONEY, offer_words, show_money
from redress.complaints.categories import Category

Block = dict[str, Any]

# Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 400

# What the card shows, at most.
TRANSCRIPT_MESSAGES = 8
MESSAGE_CHARS = 300
MAX_COMPLAINTS = 10
MAX_OFFERS = 5
FACT_CHARS = 200

# Action ids the agent desk listens for.
TAKE_OVER = "handoff_take_over"
HAND_BACK = "handoff_hand_back"
RESOLVE = "handoff_resolve"
APPROVE = "offer_approve"
REJECT = "offer_reject"

# Why a person is needed, as ``request_handoff`` records it, in the agent's words.
REASONS = {
    "customer_asked": "Customer asked for a person",
    "misunderstood_twice": "Misunderstood twice",
    "abuse": "Abusive messages",
    "critical_severity": "Critical severity",
    "high_severity": "High severity",
    "medium_severity": "Medium severity",
    "low_severity": "Low severity",
    "critical": "Critical severity",
    "compensation_needs_approval": "Compensation needs approval",
    "compensation_approval": "Compensation needs approval",
    "needs_approval": "Compensation needs approval",
    "repeat_complaint": "Repeat complaint",
    "still_broken_after_fix": "Still broken after a fix",
    "compensation_review": "Compensation review",
    "compensation_alternative": "Declined the offer, wants another remedy",
    "compensation_rejected": "Offer rejected: follow up with the customer",
}
DEFAULT_REASON = "Needs a person"

CHANNELS = {"web": "Web chat", "telegram": "Telegram", "rasa": "Assistant test (no channel)"}
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
}
FACT_NAMES = {
    "account_ref": "Account (as given)",
    "postcode": "Postcode",
    "since": "When it started",
}
# Facts that are bookkeeping, or shown elsewhere on the card.
HIDDEN_FACTS = {"logged", "more"}
STATUS_LINES = {
    "taken_over": "Taken over by {who}",
    "handed_back": "Handed back to the assistant by {who}",
    "resolved": "Resolved by {who}",
    "offer_approved": "Offer approved by {who}",
    "offer_rejected": "Offer rejected by {who}",
}


# Small helpers -------------------------------------------------------------------------------


def reason_words(reason: str) -> str:
    """The header for a handoff reason; an unknown one reads "Needs a person (its name)"."""
    if reason in REASONS:
        return REASONS[reason]
    name = " ".join(re.sub(r"[^A-Za-z0-9 -]+", " ", reason.replace("_", " ")).split())[:60]
    return f"{DEFAULT_REASON} ({name})" if name else DEFAULT_REASON


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut; never half an ``&amp;``."""
    if len(text) <= limit:
        return text
    cut = re.sub(r"&[a-z]*$", "", text[: limit - 1])
    return cut.rstrip() + "…"


def quote(text: Any, limit: int) -> str:
    """Text from outside this module, made safe for a mrkdwn card line: cut to ``limit``
    characters as typed, on one line, escaped."""
    return escape_for_slack(one_line(clip(str(text if text is not None else ""), limit)))


def describe_wait(waited: timedelta) -> str:
    """'waiting less than a minute', 'waiting 12 min', 'waiting 1 h 5 min', 'waiting 2 days 3 h'."""
    minutes = max(0, int(waited.total_seconds() // 60))
    if minutes < 1:
        return "waiting less than a minute"
    if minutes < 60:
        return f"waiting {minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"waiting {hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"waiting {days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")


def parse_time(value: Any) -> datetime | None:
    """A record's ISO time as an aware datetime (a naive one is UTC); None when absent."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def local_clock(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """'14:05' today, 'yesterday 14:05', else 'Mon 3 Mar 14:05', in the business's zone."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if local.date() == today - timedelta(days=1):
        return f"yesterday {local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def build_status_line(
    event: str, who: str, at: datetime, business: Business, *, now: datetime | None = None
) -> str:
    """A line for the thread when the handoff changes, e.g. "Taken over by Jo at 14:05".
    ``event`` is one of ``STATUS_LINES``; ``who`` (a Slack display name) is escaped."""
    template = STATUS_LINES.get(event, "Updated by {who}")
    zone = ZoneInfo(business.hours.timezone)
    when = local_clock(at, now or at, zone)
    return template.format(who=quote(who or "someone", 80)) + f" at {when}"


def status_block(line: str) -> Block:
    """A status line (from ``build_status_line``) as a context block."""
    return _context(line, block_id="handoff_status")


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "section",
        # verbatim: Slack links and mentions nothing by itself; all markup is ours.
        "text": {"type": "mrkdwn", "text": clip(text or " ", MAX_SECTION_TEXT), "verbatim": True},
    }
    if block_id:
        block["block_id"] = block_id
    return block


def _context(text: str, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": clip(text or " ", MAX_CONTEXT_TEXT), "verbatim": True}
        ],
    }
    if block_id:
        block["block_id"] = block_id
    return block


def _button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT), "emoji": True},
    }
    if value:  # Slack refuses an empty value
        button["value"] = value[:MAX_BUTTON_VALUE]
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _confirm(title: str, text: str, yes: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": clip(title, 100)},
        "text": {"type": "plain_text", "text": clip(text, 300)},
        "confirm": {"type": "plain_text", "text": clip(yes, 30)},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def _category_label(value: Any, business: Business) -> str:
    try:
        return escape_for_slack(business.category_text(Category(value)).label)
    except (ValueError, KeyError):
        return quote(str(value or "unknown category").replace("_", " "), 60)


def _remedy(offer: Mapping[str, Any]) -> str:
    """'£12.50 account credit', 'priority repair'."""
    remedy = str(offer.get("remedy") or "")
    name = REMEDY_NAMES.get(remedy) or quote(remedy.replace("_", " ") or "remedy", 40)
    pence = int(offer.get("amount_pence") or 0)
    if remedy in NON_MONEY or pence <= 0:
        return name
    return f"{show_money(pence)} {name}"


def _offer_words(offer: Mapping[str, Any]) -> str | None:
    try:
        return offer_words(str(offer.get("remedy")), int(offer.get("amount_pence") or 0))
    except (KeyError, ValueError, TypeError):
        return None


def _waiting_since(record: Mapping[str, Any]) -> datetime | None:
    """When the open handoff request was made (the latest if several)."""
    handoffs = [h for h in record.get("handoffs") or [] if isinstance(h, Mapping)]
    waiting = [h for h in handoffs if h.get("status", "requested") == "requested"]
    return parse_time(waiting[-1].get("requested_at")) if waiting else None


# The card ------------------------------------------------------------------------------------


def build_card(
    record: Mapping[str, Any],
    business: Business,
    now: datetime,
    *,
    reason: str,
    pending_offer: Mapping[str, Any] | None = None,
) -> tuple[str, list[Block]]:
    """The first message of a conversation's thread at the agent desk: (fallback text for
    notifications, Block Kit blocks). ``record`` is ``records.conversation_record``;
    ``pending_offer`` (an offer from it awaiting approval or a review) adds Approve and
    Reject buttons."""
    zone = ZoneInfo(business.hours.timezone)
    conversation: Mapping[str, Any] = record.get("conversation") or {}
    conversation_id = str(conversation.get("id") or "")
    customer: Mapping[str, Any] | None = conversation.get("customer")
    complaints = [c for c in record.get("complaints") or [] if isinstance(c, Mapping)]
    since = _waiting_since(record)
    waiting = describe_wait(now - since) if since else None
    headline = reason_words(reason)

    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": "handoff_header",
            "text": {"type": "plain_text", "text": clip(headline, MAX_HEADER_TEXT), "emoji": True},
        },
        _context(_about_line(record, conversation, reason, waiting, since, now, zone)),
        _section(_customer_text(customer, complaints), "handoff_customer"),
        {"type": "divider"},
    ]
    blocks += _complaint_blocks(complaints, record, business)
    blocks.append({"type": "divider"})
    blocks += _offer_blocks(record, pending_offer, now, zone)
    blocks.append({"type": "divider"})
    blocks += _transcript_blocks(record, now, zone)
    if pending_offer is not None:
        blocks.append(_section(_pending_text(pending_offer), "handoff_pending_offer"))
    actions = _actions(conversation_id, pending_offer)
    if len(blocks) + 1 > MAX_BLOCKS:  # cannot happen with the caps above; kept as a guard
        blocks = blocks[: MAX_BLOCKS - 1]
    blocks.append(actions)
    return _fallback(headline, customer, complaints, business, waiting), blocks


def _about_line(
    record: Mapping[str, Any],
    conversation: Mapping[str, Any],
    reason: str,
    waiting: str | None,
    since: datetime | None,
    now: datetime,
    zone: tzinfo,
) -> str:
    channel = str(conversation.get("channel") or "")
    parts = [f"*{CHANNELS.get(channel) or quote(channel or 'unknown channel', 40)}*"]
    if conversation.get("reachable") is False:
        parts.append("customer not reachable on this channel right now")
    if waiting and since:
        parts.append(f"*{waiting}* (asked {local_clock(since, now, zone)})")
    elif taken := _taken_over(record):
        who = quote(taken.get("agent_name") or taken.get("agent_id") or "an agent", 80)
        line = f"*with {who}*"
        if when := parse_time(taken.get("taken_over_at")):
            line += f" since {local_clock(when, now, zone)}"
        parts.append(line)
    if waiting and _wants_follow_up(record):
        parts.append("*asked for a follow-up* (may have left the chat)")
    parts.append(f"conversation {quote(conversation.get('id') or 'unknown', 80)}")
    if others := _other_reasons(record, reason):
        parts.append("also: " + ", ".join(escape_for_slack(w) for w in others))
    return " · ".join(parts)


def _wants_follow_up(record: Mapping[str, Any]) -> bool:
    """Whether the customer's latest answer to the offer of a follow-up was yes."""
    answers = [
        str(e.get("kind"))
        for e in record.get("events") or []
        if e.get("kind") in ("follow_up_wanted", "follow_up_declined")
    ]
    return bool(answers) and answers[-1] == "follow_up_wanted"


def _taken_over(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The handoff an agent has taken over, when the card is drawn again after that."""
    handoffs = [h for h in record.get("handoffs") or [] if isinstance(h, Mapping)]
    return next((h for h in reversed(handoffs) if h.get("status") == "taken_over"), None)


def _other_reasons(record: Mapping[str, Any], reason: str) -> list[str]:
    """Other reasons a person was asked for in this conversation, in the agent's words."""
    names = [str(h.get("reason") or "") for h in record.get("handoffs") or []]
    names += [
        str(e["detail"].get("reason") or "")
        for e in record.get("events") or []
        if e.get("kind") == "handoff_requested" and isinstance(e.get("detail"), Mapping)
    ]
    headline = reason_words(reason)
    words: list[str] = []
    for name in names:
        if name and reason_words(name) not in (headline, *words):
            words.append(reason_words(name))
    return words[:5]


def _customer_text(
    customer: Mapping[str, Any] | None,
    complaints: Sequence[Mapping[str, Any]],
) -> str:
    facts = [c.get("facts") for c in complaints if isinstance(c.get("facts"), Mapping)]

    def latest(key: str) -> Any:
        return next((f[key] for f in reversed(facts) if f.get(key) not in (None, "")), None)

    if customer:
        name = quote(customer.get("name") or "Name not on file", 120)
        account = quote(customer.get("account_number") or "no account number", 40)
        lines = [f"*Customer:* {name} · {account} (verified)"]
        details = []
        if customer.get("email"):
            details.append(f"Email {quote(customer['email'], 254)}")
        if customer.get("postcode"):
            details.append(f"Postcode {quote(customer['postcode'], 20)}")
        if customer.get("plan"):
            plan = quote(customer["plan"], 80)
            fee = customer.get("monthly_fee_pence")
            if isinstance(fee, int) and fee > 0:
                plan += f" ({show_money(fee)} a month)"
            details.append(f"Plan {plan}")
        if details:
            lines.append(" · ".join(details))
        return "\n".join(lines)
    line = "*Customer:* Not verified"
    if postcode := latest("postcode"):
        line += f" · postcode {quote(postcode, 20)} (as given)"
    if account := latest("account_ref"):
        line += f" · says account {quote(account, 40)}"
    return line


def _fact_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _complaint_blocks(
    complaints: Sequence[Mapping[str, Any]], record: Mapping[str, Any], business: Business
) -> list[Block]:
    if not complaints:
        return [_section("*Complaints:* none logged yet", "handoff_complaints")]
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
        _section(
            _complaint_text(number, complaints[index], business, updates),
            f"handoff_complaint_{index}",
        )
        for number, index in enumerate(shown, start=1)
    ]
    if len(complaints) > len(shown):
        more = len(complaints) - len(shown)
        blocks.append(
            _context(
                f"…and {more} more complaint{'s' if more != 1 else ''} in this conversation "
                "(closed or older); see the full record."
            )
        )
    return blocks


def _complaint_text(
    number: int,
    complaint: Mapping[str, Any],
    business: Business,
    updates: Mapping[str, Mapping[str, Any]],
) -> str:
    severity = str(complaint.get("severity") or "unknown")
    mark = SEVERITY_MARKS.get(severity, "▫️")
    title = (
        f"*{number}. {_category_label(complaint.get('category'), business)}* · "
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
        f"{quote(_fact_value(value), FACT_CHARS)}"
        for key, value in facts.items()
        if key not in HIDDEN_FACTS and value not in (None, "", [], {})
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


def _offer_blocks(
    record: Mapping[str, Any],
    pending_offer: Mapping[str, Any] | None,
    now: datetime,
    zone: tzinfo,
) -> list[Block]:
    offers = [o for o in record.get("offers") or [] if isinstance(o, Mapping)]
    grants = [g for g in record.get("grants") or [] if isinstance(g, Mapping)]
    if not offers and not grants:
        return [_section("*Compensation:* nothing offered yet", "handoff_offers")]
    pending_reference = pending_offer.get("reference") if pending_offer else None
    shown = offers[-MAX_OFFERS:]
    blocks = []
    for index, offer in enumerate(shown):
        lines = [_offer_line(offer, offer.get("reference") == pending_reference)]
        if words := _offer_words(offer):
            lines.append(f"_Offer:_ “{escape_for_slack(words)}”")
        if offer.get("explanation"):
            lines.append("_Why:_ " + quote(offer["explanation"], 1200))
        if requested := parse_time(offer.get("review_requested_at")):
            lines.append(f"_Review requested_ {local_clock(requested, now, zone)}")
        if offer.get("decided_by"):
            lines.append(f"_Decided by_ {quote(offer['decided_by'], 120)}")
        for grant in grants:
            if grant.get("offer") == offer.get("reference"):
                lines.append(_grant_line(grant, now, zone))
        blocks.append(_section("\n".join(lines), f"handoff_offer_{index}"))
    shown_references = {o.get("reference") for o in shown}
    loose = [g for g in grants if g.get("offer") not in shown_references]
    if loose:
        lines = ["*Earlier grants:*", *(_grant_line(g, now, zone) for g in loose[-MAX_OFFERS:])]
        blocks.append(_section("\n".join(lines), "handoff_grants"))
    if len(offers) > len(shown):
        more = len(offers) - len(shown)
        blocks.append(
            _context(f"…and {more} earlier offer{'s' if more != 1 else ''}; see the full record.")
        )
    return blocks


def _offer_line(offer: Mapping[str, Any], pending: bool) -> str:
    status = str(offer.get("status") or "")
    status_words = OFFER_STATUSES.get(status) or quote(status or "unknown", 30)
    line = f"*Offered {_remedy(offer)}* · {status_words}"
    if pending:
        line = "⏳ " + line + " (waiting for you)"
    if offer.get("reference"):
        line += f" · {quote(offer['reference'], 20)}"
    if offer.get("complaint"):
        line += f" for {quote(offer['complaint'], 20)}"
    if offer.get("rule"):
        line += f" · rule {quote(offer['rule'], 60)}"
    return line


def _grant_line(grant: Mapping[str, Any], now: datetime, zone: tzinfo) -> str:
    line = f"✅ *Granted {_remedy(grant)}*"
    if grant.get("reference"):
        line += f" · {quote(grant['reference'], 20)}"
    if grant.get("approved_by"):
        line += f" · by {quote(grant['approved_by'], 120)}"
    if granted := parse_time(grant.get("created_at")):
        line += f" · {local_clock(granted, now, zone)}"
    return line


def _transcript_blocks(record: Mapping[str, Any], now: datetime, zone: tzinfo) -> list[Block]:
    messages = [m for m in record.get("messages") or [] if isinstance(m, Mapping)]
    if not messages:
        return [_section("*Transcript:* no messages yet", "handoff_transcript")]
    shown = messages[-TRANSCRIPT_MESSAGES:]
    heading = f"*Last {len(shown)} of {len(messages)} messages*"
    if len(shown) == len(messages):
        heading = f"*All {len(messages)} message{'s' if len(messages) != 1 else ''}*"
    blocks = [_context(heading, "handoff_transcript")]
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
        blocks.append(_section(f"{head}\n{text}", f"handoff_message_{index}"))
    return blocks


def _pending_text(offer: Mapping[str, Any]) -> str:
    line = f"*Waiting for your decision:* {_remedy(offer)}"
    if offer.get("complaint"):
        line += f" for {quote(offer['complaint'], 20)}"
    if offer.get("reference"):
        line += f" ({quote(offer['reference'], 20)})"
    if offer.get("explanation"):
        line += "\n_Why:_ " + quote(offer["explanation"], 1200)
    return line


def _actions(conversation_id: str, pending_offer: Mapping[str, Any] | None) -> Block:
    elements = [_button("Take over", TAKE_OVER, conversation_id, style="primary")]
    if pending_offer is not None:
        reference = str(pending_offer.get("reference") or "")
        remedy = _remedy(pending_offer)
        pence = int(pending_offer.get("amount_pence") or 0)
        what = show_money(pence) if pence > 0 else remedy
        elements += [
            _button(
                f"Approve {what}",
                APPROVE,
                reference,
                confirm=_confirm("Approve this offer?", f"Give the customer {remedy}.", "Approve"),
            ),
            _button(
                "Reject",
                REJECT,
                reference,
                style="danger",
                confirm=_confirm(
                    "Reject this offer?",
                    f"The customer will not get {remedy}. Tell them why in the thread.",
                    "Reject",
                ),
            ),
        ]
    elements += [
        _button("Hand back to bot", HAND_BACK, conversation_id),
        _button("Resolve", RESOLVE, conversation_id),
    ]
    return {"type": "actions", "block_id": "handoff_actions", "elements": elements}


def _main_complaint(complaints: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The open complaint of the highest severity (the latest of equals), else the latest."""
    ranks = {name: rank for rank, name in enumerate(SEVERITY_MARKS)}  # critical first
    open_ones = [c for c in complaints if c.get("status", "open") == "open"] or complaints
    return min(reversed(open_ones), key=lambda c: ranks.get(str(c.get("severity")), len(ranks)))


def _fallback(
    headline: str,
    customer: Mapping[str, Any] | None,
    complaints: Sequence[Mapping[str, Any]],
    business: Business,
    waiting: str | None,
) -> str:
    """The notification text: Slack shows it where blocks cannot be shown, and parses it as
    mrkdwn, so it is escaped like the rest."""
    who = quote(customer.get("name") or "Verified customer", 80) if customer else "Not verified"
    parts = [escape_for_slack(headline), who]
    if complaints:
        main = _main_complaint(complaints)
        parts.append(
            f"{_category_label(main.get('category'), business)}, "
            f"{quote(main.get('severity') or 'unknown', 20)} severity"
        )
    if waiting:
        parts.append(waiting)
    return clip(" · ".join(parts), MAX_FALLBACK_TEXT)
