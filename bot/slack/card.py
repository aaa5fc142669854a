"""The context card that opens a conversation's thread at the Slack agent desk.

When a customer needs a person, the agent must not have to ask them anything twice
(docs/principles.md: 7): the card says why a person is needed, who the customer is, each complaint
with its category, severity and the facts collected, the linked incident, what the assistant
offered and granted, the last messages, and how long the customer has waited. Buttons let the
agent take over, approve or reject a pending offer, hand back to the assistant or resolve.

Pure functions over the conversation record (``conversation_record`` in
``redress/conversations/views.py``): no Slack client, no database. Every piece of text that
did not come from this module goes through
``escape_for_slack`` and stays on one line, so a customer can neither ping the channel nor
fake a line of the card. Block Kit's limits are respected whatever the record holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.approvers import who_decides
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    Block,
    button,
    clip,
    confirm,
    context,
    describe_wait,
    local_clock,
    parse_time,
    quote,
    section,
)
from bot.slack.card_sections import (
    NO_ACCOUNT,
    SEVERITY_MARKS,
    category_label,
    complaint_blocks,
    offer_blocks,
    remedy_name,
    transcript_blocks,
)
from bot.slack.text import escape_for_slack
from redress.business import Business
from redress.compensation.policy import show_money
from redress.privacy.config import visible_kinds
from redress.privacy.shown import record_for_agents

# Action ids the agent desk listens for.
TAKE_OVER = "handoff_take_over"
HAND_BACK = "handoff_hand_back"
RESOLVE = "handoff_resolve"
APPROVE = "offer_approve"
REJECT = "offer_reject"

# Why a person is needed, as ``request_handoff`` records it, in the agent's words.
REASONS = {
    "customer_asked": "Customer asked for a person",
    "data_request_identity": "Data request: confirm who the customer is",
    "misunderstood_twice": "Misunderstood twice",
    "abuse": "Abusive messages",
    "critical_severity": "Critical severity",
    "vulnerable_customer": "Vulnerable customer",
    "details_disclosed": "Personal details seen by someone else",
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
    "reply_overdue": "Reply promise missed: the customer asked for an update",
}
DEFAULT_REASON = "Needs a person"

CHANNELS = {"web": "Web chat", "telegram": "Telegram", "rasa": "Assistant test (no channel)"}
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
    return context(line, block_id="handoff_status")


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
    handoff_id: int,
    pending_offer: Mapping[str, Any] | None = None,
) -> tuple[str, list[Block]]:
    """The first message of a conversation's thread at the agent desk: (fallback text for
    notifications, Block Kit blocks). ``record`` is a conversation record (``conversation_record``);
    ``handoff_id`` is the handoff the card is for, which its buttons name (never the
    conversation id, which Slack's payloads would carry to everyone in the workspace);
    ``pending_offer`` (an offer from it awaiting approval or a review) adds Approve and
    Reject buttons."""
    zone = ZoneInfo(business.hours.timezone)
    # What agents may not see (business/privacy.yml) is masked before anything is shown.
    record = record_for_agents(record, visible_kinds(business))
    conversation: Mapping[str, Any] = record.get("conversation") or {}
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
        context(_about_line(record, conversation, handoff_id, reason, waiting, since, now, zone)),
        section(_customer_text(customer, complaints), "handoff_customer"),
        {"type": "divider"},
    ]
    blocks += complaint_blocks(complaints, record, business)
    blocks.append({"type": "divider"})
    blocks += offer_blocks(record, pending_offer, now, zone)
    blocks.append({"type": "divider"})
    blocks += transcript_blocks(record, now, zone)
    if pending_offer is not None:
        pending = _pending_text(pending_offer, complaints, business)
        blocks.append(section(pending, "handoff_pending_offer"))
    actions = _actions(handoff_reference(handoff_id), pending_offer)
    if len(blocks) + 1 > MAX_BLOCKS:  # cannot happen with the caps above; kept as a guard
        blocks = blocks[: MAX_BLOCKS - 1]
    blocks.append(actions)
    return _fallback(headline, customer, complaints, business, waiting), blocks


def _about_line(
    record: Mapping[str, Any],
    conversation: Mapping[str, Any],
    handoff_id: int,
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
    parts.append(f"handoff {handoff_id}")  # a reference to quote; never the conversation id
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
    account = latest("account_ref")
    if account == NO_ACCOUNT:
        # The customer was told "our team will match it to your account".
        line += " · No account number given: match them by name and postcode"
    elif account:
        line += f" · says account {quote(account, 40)}"
    return line


def _pending_text(
    offer: Mapping[str, Any], complaints: list[Mapping[str, Any]], business: Business
) -> str:
    line = f"*Waiting for an approver's decision:* {remedy_name(offer)}"
    if offer.get("complaint"):
        line += f" for {quote(offer['complaint'], 20)}"
    if offer.get("reference"):
        line += f" ({quote(offer['reference'], 20)})"
    if offer.get("explanation"):
        line += "\n_Why:_ " + quote(offer["explanation"], 1200)
    # Only the approvers teams.yml names for the case's team decide it (no team yet: the
    # default team's).
    team = next(
        (c.get("team") for c in complaints if c.get("reference") == offer.get("complaint")), None
    )
    return line + "\n" + who_decides(business.team(team), int(offer.get("amount_pence") or 0))


def handoff_reference(handoff_id: int) -> str:
    """What the card's Take over, Hand back and Resolve buttons carry: the handoff's id."""
    return f"handoff-{handoff_id}"


def handoff_id_from(reference: str) -> int | None:
    """The handoff id a button carries, or None when it names none."""
    number = reference.removeprefix("handoff-")
    if reference == number or not number.isascii() or not number.isdigit() or len(number) > 10:
        return None
    return int(number) if 0 < int(number) < 2**31 else None  # row ids are 32-bit


def _actions(handoff: str, pending_offer: Mapping[str, Any] | None) -> Block:
    elements = [button("Take over", TAKE_OVER, handoff, style="primary")]
    if pending_offer is not None:
        reference = str(pending_offer.get("reference") or "")
        remedy = remedy_name(pending_offer)
        pence = int(pending_offer.get("amount_pence") or 0)
        what = show_money(pence) if pence > 0 else remedy
        elements += [
            button(
                f"Approve {what}",
                APPROVE,
                reference,
                confirm=confirm("Approve this offer?", f"Give the customer {remedy}.", "Approve"),
            ),
            button(
                "Reject",
                REJECT,
                reference,
                style="danger",
                confirm=confirm(
                    "Reject this offer?",
                    f"The customer will not get {remedy}. Tell them why in the thread.",
                    "Reject",
                ),
            ),
        ]
    elements += [
        button("Hand back to bot", HAND_BACK, handoff),
        button("Resolve", RESOLVE, handoff),
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
            f"{category_label(main.get('category'), business)}, "
            f"{quote(main.get('severity') or 'unknown', 20)} severity"
        )
    if waiting:
        parts.append(waiting)
    return clip(" · ".join(parts), MAX_FALLBACK_TEXT)
