"""Rasa's event classes looked up by name from a table, not a walk of the class tree.

Rasa 3.6 rebuilds an event from its stored JSON with ``Event.resolve_by_type``, which walks
every subclass of ``Event`` (recursively, checking each for abstract methods) to find the
one with that ``type_name``, for every event it reads: every event of a conversation's
session on every turn with Rasa's own tracker store, and the events each action returns.
The table here answers the same question with the same answer (the first class in Rasa's
own order); a name it does not know makes it look again, so an event class imported later
is found, and a name no class has is answered exactly as Rasa answers it.
"""

from __future__ import annotations

from typing import Any

import rasa.shared.utils.common
from rasa.shared.core.events import Event

_installed = False
_by_name: dict[str, type[Event]] = {}


def _table() -> dict[str, type[Event]]:
    table: dict[str, type[Event]] = {}
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        table.setdefault(cls.type_name, cls)
    return table


def install() -> None:
    """Replaces ``Event.resolve_by_type`` with the table lookup (once)."""
    global _installed
    if _installed:
        return
    rasas_resolve = Event.resolve_by_type

    def resolve_by_type(type_name: str, default: Any = None) -> type[Event] | None:
        found = _by_name.get(type_name)
        if found is None:
            _by_name.clear()
            _by_name.update(_table())
            found = _by_name.get(type_name)
        return found if found is not None else rasas_resolve(type_name, default)

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]
    _installed = True
