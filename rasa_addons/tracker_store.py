"""Rasa's SQL tracker store, keeping each conversation's tracker between its turns.

Rasa 3.6's ``SQLTrackerStore`` reads every event of the conversation's session from the
database on every turn, parses each one's JSON, rebuilds each event (looking its class up
among all of Rasa's event classes) and replays them all into a new tracker; then, to save,
it counts the stored events again to know which are new. A turn's cost grows with the
conversation: turn 60 of a long complaint paid for the 500 events before it.

``KeptSQLTrackerStore`` keeps the trackers of the conversations it served last (``keep``,
default 256), each with how many events of its session the database held and the id of the
last one. A turn then asks the database one question (how many events, the last id, and how
many of them are the ones kept) and reads only the events written since, which is none
unless another Rasa server took a turn of this conversation meanwhile. Whatever it cannot
account for, it reads whole, as Rasa does:

- events deleted (a conversation erased or expired by retention: the database is the
  truth, so it has no tracker and neither has the store);
- a new session started (the session's events are read from its start, as Rasa reads them);
- a turn that was handed its tracker but never saved (a failed turn, rasa_addons/turns_once):
  the kept tracker is a copy, never the one the turn changed, so nothing unsaved survives.

Every caller gets its own tracker: a copy that shares the kept tracker's events (Rasa never
changes an event once it is in a tracker) but not its slots or state, so what one turn does
reaches the kept tracker only when it is saved. Several Rasa servers share the database
and the Redis lock store (one turn of a conversation at a time): each reads what the others
wrote since its own last turn, and the multi-instance tests check it.

Configured in endpoints.yml::

    tracker_store:
      type: rasa_addons.tracker_store.KeptSQLTrackerStore
      keep: 256
"""

from __future__ import annotations

import copy
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger("redress.rasa.tracker_store")

DEFAULT_KEEP = 256


@dataclass
class _Kept:
    """A conversation's tracker as the database holds it: its session's ``count`` events,
    the last of them with id ``last_id``."""

    tracker: DialogueStateTracker
    count: int
    last_id: int


def fork(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A tracker in the same state as ``tracker`` that can be changed without changing it:
    the events are shared (Rasa does not change an event once it is in a tracker), the
    event list, slots and state are the copy's own. Unlike ``tracker.copy()``, nothing is
    replayed, so it costs a few microseconds whatever the conversation's length."""
    copied = copy.copy(tracker)
    copied.events = deque(tracker.events, maxlen=tracker.events.maxlen)
    copied.slots = type(tracker.slots)()
    copied.slots.update({name: copy.copy(slot) for name, slot in tracker.slots.items()})
    copied.active_loop = copy.copy(tracker.active_loop)
    copied.latest_action = copy.copy(tracker.latest_action)
    return copied


class KeptSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose turns read and write only the events that are new."""

    def __init__(self, *args: Any, keep: int | str = DEFAULT_KEEP, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            self.keep = int(keep)
        except (TypeError, ValueError):
            raise ValueError(
                f"tracker_store keep must be a whole number of conversations, not {keep!r}"
            ) from None
        if self.keep < 0:
            raise ValueError(f"tracker_store keep must be 0 or more, not {self.keep}")
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    # -- reading ---------------------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the conversation's latest session (as Rasa's own), reading only the
        events written since this store last read or wrote it."""
        if not self.domain or not self.keep:
            return await super().retrieve(sender_id)
        event = self.SQLEvent
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            kept = self._kept.get(sender_id)
            last_kept = kept.last_id if kept is not None else -1
            count, last_id, up_to_kept = (
                query.order_by(None)
                .with_entities(
                    sa.func.count(event.id),
                    sa.func.max(event.id),
                    sa.func.coalesce(sa.func.sum(sa.case((event.id <= last_kept, 1), else_=0)), 0),
                )
                .one()
            )
            if not count:
                self._forget(sender_id)
                return None
            if kept is not None and up_to_kept == kept.count:
                rows = []
                if last_id != kept.last_id:
                    rows = query.filter(event.id > kept.last_id).all()
                if kept.count + len(rows) == count:
                    # The kept tracker is the store's own (callers only ever get copies), so
                    # the new events go straight into it.
                    for new in deserialise_events([json.loads(row.data) for row in rows]):
                        kept.tracker.update(new)
                    self._keep(sender_id, kept.tracker, count, last_id)
                    return fork(kept.tracker)
            rows = query.all()
        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(row.data) for row in rows], self.domain.slots
        )
        self._keep(sender_id, tracker, len(rows), rows[-1].id)
        return fork(tracker)

    # -- writing ---------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the tracker's new events (as Rasa's own), knowing which are new from the
        kept tracker it was handed out from instead of counting the stored ones."""
        if not self.keep:
            await super().save(tracker)
            return
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        kept = self._kept.get(sender_id)
        with self.session_scope() as session:
            if kept is not None and _descends_from(tracker, kept):
                stored = kept.count
            else:
                stored = self._event_query(
                    session, sender_id, fetch_events_from_all_sessions=False
                ).count()
            new_events = list(tracker.events)[stored:]
            rows = [self._row(sender_id, event) for event in new_events]
            session.add_all(rows)
            session.flush()  # the new rows' ids, read before the commit expires them
            last_id = rows[-1].id if rows else (kept.last_id if kept is not None else None)
            session.commit()
        if (
            last_id is None
            or stored > len(tracker.events)  # the database is ahead of this tracker
            or any(isinstance(event, SessionStarted) for event in new_events)
        ):
            # A new session is read from its start next time, as Rasa reads it.
            self._forget(sender_id)
        else:
            self._keep(sender_id, fork(tracker), len(tracker.events), last_id)
        logger.debug("Tracker with sender_id '%s' stored to database", sender_id)

    def _row(self, sender_id: str, event: Event) -> Any:
        data = event.as_dict()
        parse_data = data.get("parse_data")
        intent = parse_data.get("intent", {}).get("name") if isinstance(parse_data, dict) else None
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=intent,
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    # -- the kept trackers -----------------------------------------------------------

    def _keep(self, sender_id: str, tracker: DialogueStateTracker, count: int, last: int) -> None:
        self._kept[sender_id] = _Kept(tracker, count, last)
        self._kept.move_to_end(sender_id)
        while len(self._kept) > self.keep:
            self._kept.popitem(last=False)

    def _forget(self, sender_id: str) -> None:
        self._kept.pop(sender_id, None)

    def kept_conversations(self) -> Iterable[str]:
        """The conversations whose trackers are kept, least recently used first."""
        return list(self._kept)


def _descends_from(tracker: DialogueStateTracker, kept: _Kept) -> bool:
    """Whether ``tracker`` is the kept tracker with events added after it (a copy handed out
    by ``retrieve``): its first events are the kept tracker's own event objects."""
    if len(tracker.events) < kept.count:
        return False
    if kept.count == 0:
        return True
    return tracker.events[kept.count - 1] is kept.tracker.events[-1]
