"""Allocation tracing for a long run (a soak): which lines of code hold the memory a process
gains over time.

Off unless ``REDRESS_TRACE_ALLOCATIONS`` names a folder. Then the process traces its
allocations with ``tracemalloc`` (a few times slower, and more memory: for finding a leak,
never in production) and every ``REDRESS_TRACE_ALLOCATIONS_EVERY`` seconds (60 by default)
writes ``<process>-<n>.json`` there: the memory traced in all, and the lines of code holding
the most, each with the calls that led to it. ``growth(first, last)`` compares two of them
(``scripts/bench.py --soak 900 --trace-allocations`` does, for the gateway and the action
server; docs/performance.md).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

logger = logging.getLogger("redress.memory_trace")

FOLDER_VARIABLE = "REDRESS_TRACE_ALLOCATIONS"
EVERY_VARIABLE = "REDRESS_TRACE_ALLOCATIONS_EVERY"
FRAMES = 8  # calls kept for each allocation
LINES_KEPT = 400  # lines written per summary, the largest first


class TraceSettingError(ValueError):
    """REDRESS_TRACE_ALLOCATIONS_EVERY is not a number of seconds from 1 to 3600."""


def start_if_asked(process: str) -> bool:
    """Starts tracing and the summaries when REDRESS_TRACE_ALLOCATIONS is set; False if not."""
    folder_text = os.environ.get(FOLDER_VARIABLE, "").strip()
    if not folder_text:
        return False
    raw = os.environ.get(EVERY_VARIABLE, "").strip() or "60"
    try:
        every = float(raw)
    except ValueError:
        every = -1.0
    if not 1 <= every <= 3600:
        raise TraceSettingError(
            f"{EVERY_VARIABLE} must be a number of seconds from 1 to 3600, not {raw!r}."
        )
    folder = Path(folder_text)
    folder.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(FRAMES)
    logger.warning(
        "Tracing allocations (%s): slower and larger; summaries every %g s in %s",
        FOLDER_VARIABLE,
        every,
        folder,
    )
    thread = threading.Thread(
        target=_summarise_every, args=(process, folder, every), name="memory-trace", daemon=True
    )
    thread.start()
    return True


def _summarise_every(process: str, folder: Path, every: float) -> None:
    number = 0
    while True:
        time.sleep(every)
        number += 1
        try:
            write_summary(folder / f"{process}-{number:04d}.json")
        except OSError as error:  # a full disk ends the tracing, not the process
            logger.error("Allocation summary not written (%s); tracing stops", error)
            tracemalloc.stop()
            return


def write_summary(path: Path) -> None:
    """The memory traced now, and the lines holding the most, written to ``path``."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    lines = snapshot.statistics("traceback")[:LINES_KEPT]
    summary = {
        "at": time.time(),
        "traced_bytes": tracemalloc.get_traced_memory()[0],
        "lines": [
            {
                # tracemalloc lists the oldest call first: here the allocating line comes first.
                "where": _where(statistic.traceback[-1]),
                "calls": [_where(frame) for frame in reversed(statistic.traceback)],
                "bytes": statistic.size,
                "blocks": statistic.count,
            }
            for statistic in lines
        ],
    }
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(summary), encoding="utf-8")
    partial.replace(path)


def _where(frame: tracemalloc.Frame) -> str:
    return f"{frame.filename}:{frame.lineno}"


def growth(first: dict[str, Any], last: dict[str, Any], top: int = 12) -> dict[str, Any]:
    """What grew from summary ``first`` to ``last``: the traced total, and the allocation
    sites (a line and the calls that led to it) that gained the most bytes."""
    before = {tuple(line["calls"]): line for line in first["lines"]}
    gained = []
    for line in last["lines"]:
        earlier = before.get(tuple(line["calls"]), {"bytes": 0, "blocks": 0})
        gained.append(
            {
                "where": line["where"],
                "calls": line["calls"],
                "bytes": line["bytes"] - earlier["bytes"],
                "blocks": line["blocks"] - earlier["blocks"],
                "bytes_now": line["bytes"],
            }
        )
    gained.sort(key=lambda line: line["bytes"], reverse=True)
    minutes = max((last["at"] - first["at"]) / 60, 1e-9)
    return {
        "minutes": round(minutes, 1),
        "traced_mb": [
            round(first["traced_bytes"] / 2**20, 2),
            round(last["traced_bytes"] / 2**20, 2),
        ],
        "traced_mb_per_minute": round(
            (last["traced_bytes"] - first["traced_bytes"]) / 2**20 / minutes, 3
        ),
        "top": [line for line in gained[:top] if line["bytes"] > 0],
    }
