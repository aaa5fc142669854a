"""Allocation tracing for soaks (redress/memory_trace.py): off unless asked, a wrong interval
refused with the variable's name, and a summary that names the line holding memory that grew."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from redress import memory_trace

HELD: list[bytes] = []


def _hold(blocks: int) -> None:
    for _ in range(blocks):
        HELD.append(bytes(10_000))  # the line the summary should name


def test_nothing_is_traced_unless_a_folder_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(memory_trace.FOLDER_VARIABLE, raising=False)
    assert memory_trace.start_if_asked("gateway") is False
    assert not tracemalloc.is_tracing()


@pytest.mark.parametrize("every", ["0", "often", "7200"])
def test_a_wrong_interval_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, every: str
) -> None:
    monkeypatch.setenv(memory_trace.FOLDER_VARIABLE, str(tmp_path))
    monkeypatch.setenv(memory_trace.EVERY_VARIABLE, every)
    with pytest.raises(memory_trace.TraceSettingError, match=memory_trace.EVERY_VARIABLE):
        memory_trace.start_if_asked("gateway")
    assert not tracemalloc.is_tracing()


def test_the_growth_between_two_summaries_names_the_line_that_holds_it(tmp_path: Path) -> None:
    tracemalloc.start(memory_trace.FRAMES)
    try:
        memory_trace.write_summary(tmp_path / "gateway-0001.json")
        _hold(200)  # about 2 MB kept
        memory_trace.write_summary(tmp_path / "gateway-0002.json")
    finally:
        tracemalloc.stop()
        HELD.clear()
    import json

    first, last = (json.loads((tmp_path / f"gateway-000{n}.json").read_text()) for n in (1, 2))
    grown = memory_trace.growth(first, last)

    assert grown["traced_mb"][1] - grown["traced_mb"][0] > 1.5
    top = grown["top"][0]
    assert top["where"].endswith("test_memory_trace.py:" + str(_hold.__code__.co_firstlineno + 2))
    assert top["blocks"] >= 200
    assert any("_hold" not in call and "test_memory_trace.py" in call for call in top["calls"])
    assert not list(tmp_path.glob("*.part"))  # each summary written whole
