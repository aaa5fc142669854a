"""What the desk's parts share: a handoff as the desk sees it outside the session, the
offer the card shows buttons for, and text cut to Slack's section size."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from redress.compensation import ledger

SECTION_CHARS = 2900
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def pending_offer_for_card(record: dict[str, Any]) -> dict[str, Any] | None:
    """The offer whose Approve and Reject buttons the card shows: the latest one in the
    conversation waiting for a person's decision."""
    waiting = [
        offer
        for offer in record.get("offers") or []
        if offer.get("status") == ledger.PENDING_APPROVAL
    ]
    return waiting[-1] if waiting else None


@dataclass(frozen=True)
class HandoffView:
    """What the desk needs of a handoff, outside the session."""

    id: int
    conversation_id: str
    status: str
    agent_id: str | None
    agent_name: str | None
    channel: str
    thread: str


def handoff_view(handoff: Any) -> HandoffView | None:
    if handoff is None:
        return None
    return HandoffView(
        id=handoff.id,
        conversation_id=handoff.conversation_id,
        status=handoff.status,
        agent_id=handoff.agent_id,
        agent_name=handoff.agent_name,
        channel=handoff.desk_channel or "",
        thread=handoff.desk_thread or "",
    )


def sections(text: str) -> list[str]:
    """Text cut into section-sized parts (at line ends when it can be)."""
    parts = []
    while len(text) > SECTION_CHARS:
        cut = text.rfind("\n", 0, SECTION_CHARS)
        cut = cut if cut > SECTION_CHARS // 2 else SECTION_CHARS
        cut = re.sub(r"&[a-z]*$", "", text[:cut])
        parts.append(text[: len(cut)])
        text = text[len(cut) :].lstrip("\n")
    return [*parts, text or " "]
