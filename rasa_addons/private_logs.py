"""Customers' words stay out of Rasa's logs.

Rasa writes some structured log events with the customer's text in them at ERROR: its REST
channel logs ``rest.message.received.failure`` (with the text and a traceback) when a turn
raises, as it does here when the tracker store is unreachable, and
``rest.message.received.timeout`` when a turn is cancelled. Other events carry the tracker's
states, slots or events at DEBUG. Rasa passes every structured event through one function,
``rasa.utils.log_utils._anonymizer``, which rewrites a known list of keys (``text``,
``user_message``, ``slot_values``, ``rasa_events``…) only when an anonymization pipeline is
configured. Here those values are always withheld, whatever the log level: the event is still
logged, with the length of what was withheld.

Rasa also renders an error's traceback with every frame's local variables (structlog's
``dict_tracebacks``), and those hold the request and its text; here tracebacks keep their
frames but not the locals.
"""

from __future__ import annotations

from typing import Any

# The keys Rasa 3.6's own _anonymizer treats as holding what customers said or what the
# conversation holds, and a few more of the same kind.
WITHHELD_KEYS = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
        "tracker",
        "events",
        "metadata",
        "value",
    }
)

_installed = False


def withhold(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: each value under a withheld key becomes a note of its size."""
    for key in WITHHELD_KEYS.intersection(event_dict):
        value = event_dict[key]
        if value is None:
            continue
        size = len(value) if isinstance(value, str | list | dict | tuple) else 1
        event_dict[key] = f"[withheld: {size}]"
    return event_dict


def install() -> None:
    """Puts ``withhold`` in place of Rasa's anonymizer, before Rasa configures its logging."""
    global _installed
    if _installed:
        return
    import rasa.utils.log_utils as log_utils
    import structlog
    from structlog.tracebacks import ExceptionDictTransformer

    log_utils._anonymizer = withhold  # type: ignore[assignment]
    structlog.processors.dict_tracebacks = structlog.processors.ExceptionRenderer(
        ExceptionDictTransformer(show_locals=False)
    )
    _installed = True
