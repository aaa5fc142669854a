"""Personal data as agents see it: masked unless the business made that kind visible
(``agents_see`` in business/privacy.yml; card details and passwords never are). The records
keep what the complaint needs; what is shown at the desk is masked here."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from redress.privacy.detect import ALL, Kind, mask

# Where a conversation record (``conversation_record``) holds what someone wrote or gave.
_CUSTOMER_FIELDS = ("email", "phone", "postcode")


def for_agents(text: str, visible: Collection[str]) -> str:
    """``text`` with every kind of personal data an agent may not see masked."""
    return mask(text, hidden_kinds(visible)).text


def hidden_kinds(visible: Collection[str]) -> frozenset[Kind]:
    return frozenset(kind for kind in ALL if kind.value not in visible)


def record_for_agents(record: Mapping[str, Any], visible: Collection[str]) -> dict[str, Any]:
    """A copy of a conversation record with what agents may not see masked: the messages'
    words, each complaint's summary and facts, and the customer's contact details."""
    hidden = hidden_kinds(visible)

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return mask(value, hidden).text
        if isinstance(value, Mapping):
            return {key: masked(item) for key, item in value.items()}
        if isinstance(value, list):
            return [masked(item) for item in value]
        return value

    shown = dict(record)
    shown["messages"] = [
        {**m, "text": masked(m.get("text"))} if isinstance(m, Mapping) else m
        for m in record.get("messages") or []
    ]
    shown["complaints"] = [
        {**c, "summary": masked(c.get("summary")), "facts": masked(c.get("facts"))}
        if isinstance(c, Mapping)
        else c
        for c in record.get("complaints") or []
    ]
    conversation = record.get("conversation")
    if isinstance(conversation, Mapping) and isinstance(conversation.get("customer"), Mapping):
        customer = dict(conversation["customer"])
        for field in _CUSTOMER_FIELDS:
            if isinstance(customer.get(field), str):
                customer[field] = masked(customer[field])
        shown["conversation"] = {**conversation, "customer": customer}
    return shown
