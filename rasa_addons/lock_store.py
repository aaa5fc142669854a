"""A Redis lock store for several Rasa servers whose every change is atomic.

Rasa's own ``RedisLockStore`` changes a conversation's ticket lock by reading it, changing it
in the server's memory and writing it back. When messages for one conversation reach two
Rasa servers at the same moment, both can read the same lock: one ticket overwrites the
other and both messages are handled at once, or a lock that still has someone waiting is
deleted. Either way a turn is lost from the tracker (seen with two servers and eight
simultaneous messages: two of the eight were missing).

Here each read-change-write runs in a Redis transaction (``WATCH``/``MULTI``/``EXEC``): if
another server changed the lock in between, the change is retried on the fresh lock. The
tickets, their order and their lifetimes are Rasa's own, so everything else about the lock
store behaves as Rasa documents it.

Used by ``scripts/run-rasa`` when ``REDIS_URL`` is set (``lock_store: type:
rasa_addons.lock_store.AtomicRedisLockStore``). Runs in the Rasa environment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

Change = Callable[[TicketLock | None], tuple[T, TicketLock | None]]


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's ticket locks in Redis, changed atomically across servers."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: Change[T]) -> T:
        """Applies ``change`` to the stored lock (``None`` when there is none) and stores
        what it returns (deleting the lock for ``None``), all or nothing; returns the
        change's result."""
        key = self.key_prefix + conversation_id

        def attempt(pipe: Any) -> T:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            result, changed = change(lock)
            pipe.multi()
            if changed is None:
                pipe.delete(key)
            else:
                pipe.set(key, changed.dumps())
            return result

        value: T = self.red.transaction(attempt, key, value_from_callable=True)
        return value

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[int, TicketLock]:
            lock = lock or self.create_lock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            return self._change(conversation_id, issue)
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return None, lock

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._finish(conversation_id, ticket_number, delete_when_empty=False)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Rasa's cleanup removes the ticket, then asks whether anyone is waiting, then
        # deletes: a ticket issued by another server in between was deleted with the lock.
        self._finish(conversation_id, ticket_number, delete_when_empty=True)

    def _finish(self, conversation_id: str, ticket_number: int, delete_when_empty: bool) -> None:
        def finish(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            if delete_when_empty and not lock.is_someone_waiting():
                logger.debug(f"Deleted lock for conversation '{conversation_id}'.")
                return None, None
            return None, lock

        self._change(conversation_id, finish)
