"""Rasa's tracker store fails closed.

Rasa 3.6 wraps the tracker store in a ``FailSafeTrackerStore``: when the database cannot be
read, it starts a new, empty conversation; when it cannot be written, it keeps the
conversation in this process's memory. Either way the customer is answered as if nothing
were wrong while the conversation silently forgets itself (a complaint half-collected is
asked for again; nothing said during the outage survives a restart). And at start-up, a
database it cannot reach only logs "Could not create tables".

Here, any tracker store error fails the turn instead: Rasa answers with an error, the gateway
keeps the customer's message and answers it when the store is back (docs/operations.md).
At start-up, a store that cannot be reached stops Rasa with one clear line.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.agent import Agent
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from rasa.shared.exceptions import ConnectionException

logger = logging.getLogger("redress.rasa.tracker_guard")

_installed = False


class TrackerStoreUnavailable(ConnectionException):
    """The tracker store could not be read or written: the turn is not answered."""


def install() -> None:
    """Makes the tracker store fail closed in this process (once)."""
    global _installed
    if _installed:
        return
    _check_at_start()
    _refuse_in_memory_fallback()
    _installed = True


def _refuse(error: Exception) -> None:
    logger.error(
        "The tracker store failed (%s): this message is not answered, rather than answered "
        "from memory and forgotten.",
        type(error).__name__,
    )
    raise TrackerStoreUnavailable(f"tracker store unavailable: {type(error).__name__}") from error


def _refuse_in_memory_fallback() -> None:
    rasas_own = Agent._create_tracker_store

    def create(store: Any, domain: Any) -> Any:
        tracker_store = rasas_own(store, domain)
        if isinstance(tracker_store, FailSafeTrackerStore):
            tracker_store._on_tracker_store_error = _refuse
        return tracker_store

    Agent._create_tracker_store = staticmethod(create)  # type: ignore[method-assign,assignment]

    rasas_factory = TrackerStore.create

    def from_endpoint(obj: Any, *args: Any, **kwargs: Any) -> TrackerStore:
        tracker_store = rasas_factory(obj, *args, **kwargs)
        _refuse_memory_for_a_named_store(obj, tracker_store)
        return tracker_store

    TrackerStore.create = staticmethod(from_endpoint)  # type: ignore[method-assign,assignment]


def _refuse_memory_for_a_named_store(store: Any, tracker_store: Any) -> None:
    """Rasa replaces a tracker store ``type`` it cannot import with one in memory, with
    only a warning; here Rasa does not start."""
    named = getattr(store, "type", None)
    if isinstance(tracker_store, InMemoryTrackerStore) and named not in (None, "in_memory"):
        raise TrackerStoreUnavailable(
            f"The tracker store type {named!r} (endpoints.yml) could not be loaded. Rasa will "
            "not start with a tracker store in memory instead."
        )


def _check_at_start() -> None:
    rasas_init = SQLTrackerStore.__init__

    def __init__(self: SQLTrackerStore, *args: Any, **kwargs: Any) -> None:
        import sqlalchemy as sa

        rasas_init(self, *args, **kwargs)
        # A database error then never quotes the values it was writing (the events hold
        # what customers wrote), so a logged failure holds no personal data.
        self.engine.hide_parameters = True
        try:
            with self.engine.connect():
                pass
            if not sa.inspect(self.engine).has_table(self.Base.metadata.sorted_tables[0].name):
                self.Base.metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as error:
            raise TrackerStoreUnavailable(
                "Rasa cannot reach its tracker store (RASA_TRACKER_URL, "
                f"{self.engine.url.render_as_string(hide_password=True)}): "
                f"{type(error).__name__}. It will not start without it, so no conversation is "
                "kept only in memory."
            ) from error

    SQLTrackerStore.__init__ = __init__  # type: ignore[method-assign]
