"""Database work from the gateway's async code: one unit of work (one transaction), run in a
worker thread so the event loop never waits on the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from redress.db.session import unit_of_work

T = TypeVar("T")


async def in_transaction(database_url: str, work: Callable[..., T], *args: Any) -> T:
    """``work(session, *args)`` in one transaction off the event loop; what it raises is
    raised here, after the transaction is rolled back."""

    def run() -> T:
        with unit_of_work(database_url) as session:
            return work(session, *args)

    return await run_in_threadpool(run)
