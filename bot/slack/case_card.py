"""The case card: what a team sees of each new case in its channel at the agent desk.

It is the handoff's context card (``bot/slack/card.py``: the customer, the complaint with its
severity reasons and facts, the incident, the offer, the last messages, masked as agents see
them) for one case, plus the team, the owner, who the case is waiting on, the reply the
customer was promised and by when (in the team's local time), the other promises, the case
it repeats, and a clear mark when the customer needs a person in the conversation now (an
open handoff: its Take over and Hand back buttons are on this card, and the handoff shares
the card's thread). Buttons: Claim, Waiting on customer, Waiting on us, Done (an agent's
promise kept), Resolve, and a Reassign menu of the other teams.

Pure functions over the conversation record and ``redress.cases.desk.case_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from bot.slack.card import (
    APPROVE,
    CHANNELS,
    HAND_BACK,
    REJECT,
    TAKE_OVER,
    _customer_text,
    _pending_text,
    handoff_reference,
    reason_words,
)
from bot.slack.card_sections import (
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

# Action ids the desk listens for on a case card.
CLAIM = "case_claim"
WAITING_ON_CUSTOMER = "case_waiting_on_customer"
WAITING_ON_US = "case_waiting_on_us"
RESOLVE_CASE = "case_resolve"
PROMISE_DONE = "case_promise_done"
REASSIGN = "case_reassign"
CASE_BUTTONS = (CLAIM, WAITING_ON_CUSTOMER, WAITING_ON_US, RESOLVE_CASE, PROMISE_DONE)

DESK_STATUS_WORDS = {
    None: "new",
    "waiting_on_us": "waiting on us",
    "waiting_on_customer": "waiting on the customer",
}
PROMISE_KIND_WORDS = {
    "reply_by": "Reply",
    "callback": "Call back",
    "visit": "Visit",
    "other": "Promise",
}
PROMISE_STATUS_WORDS = {
    "open": "open",
    "kept": "kept",
    "missed": "*missed*",
    "cancelled": "cancelled",
}
STATUS_LINES = {
    "claimed": "Claimed by {who}",
    "taken_from": "Claimed by {who}, taking it from {other}",
    "waiting_on_us": "Set to waiting on us by {who}",
    "waiting_on_customer": "Set to waiting on the customer by {who}",
    "reassigned": "Reassigned to the {other} by {who}",
    "resolved": "Resolved by {who}",
    "promised": "{who} promised (at {when}) to {other}",
    "promise_kept": "Promise marked done by {who}: {other}",
}


def case_reference(complaint_id: int) -> str:
    """What a case card's buttons carry: the case's row id (never the conversation's)."""
    return f"case-{complaint_id}"


def case_id_from(reference: str) -> int | None:
    """The case a button (or a Reassign option, ``case-12:billing``) names, if any."""
    number = reference.removeprefix("case-").split(":", 1)[0]
    if reference == number or not number.isascii() or not number.isdigit() or len(number) > 10:
        return None
    return int(number) if 0 < int(number) < 2**31 else None


def team_from(reference: str) -> str | None:
    """The team key a Reassign option names (``case-12:billing``)."""
    _, _, team = reference.partition(":")
    return team or None


def case_status_line(
    event: str, who: str, at: datetime, business: Business, *, other: str = ""
) -> str:
    """A line for the thread and the card when the case changes: "Claimed by Jo at 14:05"."""
    template = STATUS_LINES.get(event, "Updated by {who}")
    when = local_clock(at, at, ZoneInfo(business.hours.timezone))
    text = template.format(who=quote(who or "someone", 80), other=quote(other, 200), when=when)
    # A line that says when it was said inside it (a promise has its own due time).
    return text if "{when}" in template else f"{text} at {when}"


def build_case_card(
    record: Mapping[str, Any],
    case: Mapping[str, Any],
    business: Business,
    now: datetime,
    *,
    handoff: Mapping[str, Any] | None = None,
    pending_offer: Mapping[str, Any] | None = None,
    status_line: str | None = None,
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) of the card for ``case`` (``case_json``) in its conversation's
    ``record``. ``handoff`` (``id``, ``reason``, ``status``, ``requested_at``) marks that the
    customer needs a person in the conversation now."""
    zone = ZoneInfo(business.team_hours(case.get("team")).timezone)
    record = record_for_agents(record, visible_kinds(business))
    conversation: Mapping[str, Any] = record.get("conversation") or {}
    customer: Mapping[str, Any] | None = conversation.get("customer")
    complaints = [c for c in record.get("complaints") or [] if isinstance(c, Mapping)]
    mine = [c for c in complaints if c.get("reference") == case.get("reference")]
    others = [str(c.get("reference")) for c in complaints if c not in mine and c.get("reference")]
    team = str(case.get("team_name") or "team")
    category = category_label(mine[0].get("category"), business) if mine else "Complaint"
    needs_person = handoff is not None and handoff.get("status") in ("requested", "taken_over")
    headline = f"{'🙋 ' if needs_person else ''}Case {case.get('reference')} · {team}"

    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": "case_header",
            "text": {"type": "plain_text", "text": clip(headline, MAX_HEADER_TEXT), "emoji": True},
        },
        context(_about_line(conversation, case, category)),
    ]
    if needs_person and handoff is not None:
        blocks.append(section(_person_text(handoff, now, zone), "case_needs_person"))
    blocks += [
        section(_case_text(case, now, zone), "case_desk"),
        section(_customer_text(customer, mine or complaints), "case_customer"),
        {"type": "divider"},
    ]
    blocks += complaint_blocks(mine, record, business)
    if others:
        blocks.append(
            context("Also in this conversation: " + ", ".join(quote(r, 20) for r in others[:10]))
        )
    blocks.append({"type": "divider"})
    blocks += offer_blocks(record, pending_offer, now, zone)
    blocks.append({"type": "divider"})
    blocks += transcript_blocks(record, now, zone)
    if pending_offer is not None:
        blocks.append(
            section(_pending_text(pending_offer, complaints, business), "case_pending_offer")
        )
    if status_line:
        blocks.append(context(status_line, "case_status"))
    actions = _actions(case, business, handoff if needs_person else None, pending_offer)
    blocks = blocks[: MAX_BLOCKS - len(actions)] + actions
    return _fallback(headline, category, case, needs_person), blocks


def _about_line(conversation: Mapping[str, Any], case: Mapping[str, Any], category: str) -> str:
    channel = str(conversation.get("channel") or "")
    parts = [f"*{CHANNELS.get(channel) or quote(channel or 'unknown channel', 40)}*", category]
    if conversation.get("reachable") is False:
        parts.append("customer not reachable on this channel right now")
    parts.append(f"case {quote(case.get('reference'), 20)}")
    return " · ".join(parts)


def _person_text(handoff: Mapping[str, Any], now: datetime, zone: ZoneInfo) -> str:
    line = (
        "*Needs a person in the conversation now:* "
        f"{escape_for_slack(reason_words(str(handoff.get('reason') or '')))}"
    )
    if handoff.get("status") == "taken_over":
        line += f" · with {quote(handoff.get('agent_name') or 'an agent', 80)}"
    elif since := parse_time(handoff.get("requested_at")):
        line += f" · {describe_wait(now - since)} (asked {local_clock(since, now, zone)})"
    return line + f" · handoff {handoff.get('id')}"


def _case_text(case: Mapping[str, Any], now: datetime, zone: ZoneInfo) -> str:
    owner = case.get("owner")
    if owner:
        who = f"*Owner:* {quote(owner, 80)}"
        if claimed := parse_time(case.get("claimed_at")):
            who += f" (since {local_clock(claimed, now, zone)})"
    else:
        who = "*Owner:* nobody yet: press *Claim*"
    status = DESK_STATUS_WORDS.get(case.get("desk_status"), quote(case.get("desk_status"), 30))
    if case.get("status") == "resolved":
        status = f"resolved by {quote(case.get('resolved_by') or 'someone', 80)}"
        if resolved := parse_time(case.get("resolved_at")):
            status += f" at {local_clock(resolved, now, zone)}"
    lines = [
        f"*Team:* {quote(case.get('team_name'), 60)} · {who} · *Status:* {status}",
    ]
    lines += _promise_lines(case.get("promises") or [], now, zone)
    if case.get("repeat_of"):
        lines.append(f"*Repeat of* {quote(case['repeat_of'], 20)}")
    return "\n".join(lines)


def _promise_lines(promises: list[Mapping[str, Any]], now: datetime, zone: ZoneInfo) -> list[str]:
    """What is still owed (open or missed), one line each; what is settled (kept or
    cancelled) folded into one short "Kept: …" line, so a reply-by kept before a reopening
    and the new one do not read as the same promise twice."""
    owed = [p for p in promises if p.get("status") in ("open", "missed")]
    settled = [p for p in promises if p not in owed]
    lines = [_promise_line(p, now, zone) for p in owed]
    if settled:
        words = []
        for p in settled:
            label = PROMISE_KIND_WORDS.get(str(p.get("kind") or ""), "Promise").lower()
            if p.get("kind") != "reply_by" and p.get("what"):
                label = f"“{quote(p.get('what'), 80)}”"
            if p.get("status") == "cancelled":
                words.append(f"{label} (cancelled)")
            elif kept := parse_time(p.get("kept_at")):
                words.append(f"{label} at {local_clock(kept, now, zone)}")
            else:
                words.append(label)
        lines.append("_Kept:_ " + "; ".join(words))
    return lines


def _promise_line(promise: Mapping[str, Any], now: datetime, zone: ZoneInfo) -> str:
    kind = str(promise.get("kind") or "")
    label = PROMISE_KIND_WORDS.get(kind, "Promise")
    status = str(promise.get("status") or "open")
    due = parse_time(promise.get("due_at"))
    when = local_clock(due, now, zone) if due else "?"
    line = f"*{label} due by {when}*"
    if kind != "reply_by":
        line = f"*{label}:* “{quote(promise.get('what'), 200)}” by {when}"
        if promise.get("made_by"):
            line += f" ({quote(promise['made_by'], 80)})"
    words = PROMISE_STATUS_WORDS.get(status, quote(status, 20))
    if status == "open" and due is not None and due <= now:
        words = "*overdue*"
    return f"{line} · {words}"


def _actions(
    case: Mapping[str, Any],
    business: Business,
    handoff: Mapping[str, Any] | None,
    pending_offer: Mapping[str, Any] | None,
) -> list[Block]:
    elements: list[Block] = []
    if handoff is not None:
        reference = handoff_reference(int(handoff["id"]))
        elements.append(button("Take over", TAKE_OVER, reference, style="primary"))
    if pending_offer is not None:
        elements += _offer_buttons(pending_offer)
    if case.get("status") != "open":
        return [_block(elements)] if elements else []
    value = case_reference(int(case["id"]))
    elements.append(button("Claim", CLAIM, value, style=None if case.get("owner") else "primary"))
    if case.get("desk_status") != "waiting_on_customer":
        elements.append(button("Waiting on customer", WAITING_ON_CUSTOMER, value))
    if case.get("desk_status") != "waiting_on_us":
        elements.append(button("Waiting on us", WAITING_ON_US, value))
    if any(
        p.get("status") in ("open", "missed") and p.get("kind") != "reply_by"
        for p in case.get("promises") or []
    ):
        elements.append(button("Promise done", PROMISE_DONE, value))
    elements.append(
        button(
            "Resolve",
            RESOLVE_CASE,
            value,
            confirm=confirm(
                "Resolve this case?",
                "The customer will be asked whether it is fixed.",
                "Resolve",
            ),
        )
    )
    if handoff is not None:
        elements.append(
            button("Hand back to bot", HAND_BACK, handoff_reference(int(handoff["id"])))
        )
    others = [(k, t.name) for k, t in business.team_file.teams.items() if k != case.get("team")]
    if others:
        elements.append(
            {
                "type": "static_select",
                "action_id": REASSIGN,
                "placeholder": {"type": "plain_text", "text": "Reassign to…"},
                "options": [
                    {
                        "text": {"type": "plain_text", "text": clip(name, 75)},
                        "value": f"{value}:{key}",
                    }
                    for key, name in others[:100]
                ],
                "confirm": confirm(
                    "Reassign this case?",
                    "It leaves this channel and goes to the other team as a new case, "
                    "with nobody owning it.",
                    "Reassign",
                ),
            }
        )
    return [_block(elements)]


def _block(elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": "case_actions", "elements": elements[:25]}


def _offer_buttons(offer: Mapping[str, Any]) -> list[Block]:
    """Approve and Reject, with the handoff card's action ids, so the same checks apply."""
    reference = str(offer.get("reference") or "")
    remedy = remedy_name(offer)
    pence = int(offer.get("amount_pence") or 0)
    what = show_money(pence) if pence > 0 else remedy
    return [
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


def _fallback(headline: str, category: str, case: Mapping[str, Any], needs_person: bool) -> str:
    parts = [escape_for_slack(headline), category]
    reply = next((p for p in case.get("promises") or [] if p.get("kind") == "reply_by"), None)
    if needs_person:
        parts.append("needs a person now")
    if reply and reply.get("status") == "open":
        parts.append("reply promised")
    return clip(" · ".join(parts), MAX_FALLBACK_TEXT)
