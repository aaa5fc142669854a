"""The scaling curve and the turn-cost-by-length figures (scripts/bench_curve.py), on samples
made up here (no stack): the percentiles, turns a second and errors of each point, the
medians around each turn of a long conversation, the Markdown tables and the PNG charts
people read, and a clear error for a bad option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scripts import bench
from scripts import bench_curve as curve


def _phase(latencies: list[float], seconds: float, errors: int = 0) -> bench.Phase:
    """A measured phase: one conversation per latency, plus ``errors`` turns not answered,
    with Rasa using 50 ms of CPU per turn."""
    conversations = []
    for index, latency in enumerate([*latencies, *([None] * errors)]):
        conversation = bench.Conversation("full", "p", "incident-outage", "BL-1", id=f"c{index}")
        conversation.turns = [
            bench.Turn(
                "complaint", "hi", "hi", 0, 0.0, latency or 60000.0, 200 if latency else None,
                None if latency else "ReadTimeout: timed out",
            )
        ]  # fmt: skip
        conversations.append(conversation)
    turns = len(conversations)

    def snapshot(cpu: float, client: float) -> dict[str, Any]:
        return {"cpu": {"rasa": cpu}, "client_cpu": client, "machine": (cpu + client, 100.0)}

    return bench.Phase(
        "closed-10", "full", 0.0, seconds, conversations,
        snapshot(1.0, 0.0), snapshot(1.0 + 0.05 * turns, 0.0),
    )  # fmt: skip


def test_a_point_has_the_percentiles_throughput_and_errors_of_its_turns() -> None:
    point = curve.curve_point(_phase([float(v) for v in range(1, 101)], 10.0, errors=2), 0, 10)
    figures = point["figures"]
    assert (point["think_s"], point["customers"]) == (0, 10)
    assert figures["latency"]["p50_ms"] == 50.0
    assert figures["latency"]["p95_ms"] == 95.0
    assert figures["latency"]["p99_ms"] == 99.0
    assert figures["turns"] == 102
    assert figures["turns_per_second"] == 10.2
    assert figures["errors"] == 2
    assert figures["cpu_ms_per_turn"]["rasa"] == 50.0


def _report() -> dict[str, Any]:
    points = []
    for think, rates in ((0.0, (12.0, 17.0)), (5.0, (0.2, 3.9))):
        for customers, rate in zip((1, 20), rates, strict=True):
            point = curve.curve_point(_phase([100.0 * customers + think], 10.0), think, customers)
            point["figures"]["turns_per_second"] = rate
            point["checks"] = {"with_problems": 0, "checked": 1}
            points.append(point)
    return {
        "name": "curve-test",
        "started_at": "2026-12-07T12:00:00+00:00",
        "finished_at": "2026-12-07T12:05:00+00:00",
        "machine": {"cpu_count": 2, "loadavg_before": [0.1], "loadavg_after": [0.2]},
        "settings": {"database": "sqlite", "seconds_per_point": 10.0},
        "points": points,
    }


def test_the_curve_table_has_a_row_per_pacing_and_number_of_customers() -> None:
    markdown = curve.render_curve(_report())
    rows = [line for line in markdown.splitlines() if line.startswith("| closed loop")]
    assert len(rows) == 2
    assert rows[1].startswith("| closed loop | 20 | 1 | 17.0 | 2000.0 | 2000.0 | 2000.0 | 0 |")
    assert "| paced (5 s) | 20 | 1 | 3.9 | 2005.0 |" in markdown
    assert "| >= 30 turns/s with 20 closed-loop customers | 17.0 |" in markdown
    # No point was measured with 50 paced customers.
    assert "| p95 <= 150 ms with 50 paced customers | not measured |" in markdown


def _colours(path: Path) -> set[tuple[int, int, int]]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 20)}


def test_the_curve_chart_draws_both_lines_in_two_panels(tmp_path: Path) -> None:
    report = _report()
    paths = curve.write_report(
        report, tmp_path / "out", "curve", curve.render_curve(report), curve.curve_panels(report)
    )
    assert [p.name for p in paths] == ["curve.json", "curve.md", "curve.png"]
    with Image.open(paths[2]) as image:
        assert image.size == (1120, 400)
    colours = _colours(paths[2])
    assert curve.COLOURS[0] in colours and curve.COLOURS[1] in colours  # closed, paced
    panels = curve.curve_panels(report)
    assert panels[0].series == {"closed loop": [(1, 12.0), (20, 17.0)],
                                "paced (5 s)": [(1, 0.2), (20, 3.9)]}  # fmt: skip


def _samples() -> list[curve.Sample]:
    """Turns 1 to 14: a complaint (odd turns), then thanks; turn n takes 100 + n ms, turn 2
    is far slower, turn 12 failed."""
    samples = []
    for n in range(1, 15):
        latency = 5000.0 if n == 2 else 100.0 + n
        error = "HTTP 503" if n == 12 else None
        samples.append(
            curve.Sample(n, "complaint" if n % 2 else "thanks", latency, {"rasa": float(n)},
                         error, events_before=10 * (n - 1))
        )  # fmt: skip
    return samples


def test_each_length_point_is_the_median_of_the_answered_turns_around_it() -> None:
    rows = curve.length_points(_samples(), [1, 10, 12, 20], window=2)
    first, tenth, twelfth, missing = rows
    # Turn 1: turns 1 to 3; the slow turn 2 is the median's neighbour, not the median.
    assert first["turns"] == [1, 2, 3] and first["median_ms"] == 103.0
    assert first["same_step_ms"] == 102.0  # the complaints, turns 1 and 3
    assert first["events_before"] == 0 and first["vs_first"] == 1.0
    assert tenth["turns"] == [8, 9, 10, 11] and tenth["median_ms"] == 109.5
    assert tenth["same_step_ms"] == 110.0 and tenth["same_step_vs_first"] == 1.08
    assert tenth["cpu_ms_per_turn"] == {"rasa": 9.5}  # the mean of 8, 9, 10 and 11
    assert tenth["events_before"] == 90 and tenth["vs_first"] == round(109.5 / 103.0, 2)
    assert 12 not in twelfth["turns"]  # the failed turn is left out
    assert missing == {"turn": 20, "samples": 0}


def test_the_length_table_and_chart(tmp_path: Path) -> None:
    report = {
        "name": "length-test",
        "started_at": "2026-12-07T12:00:00+00:00",
        "finished_at": "2026-12-07T12:05:00+00:00",
        "machine": {"cpu_count": 2, "loadavg_before": [0.1], "loadavg_after": [0.2]},
        "settings": {"database": "sqlite", "window": 2},
        "turns_sent": 14,
        "first_step": "complaint",
        "errors": ["turn 12: HTTP 503"],
        "checks": {"with_problems": 0, "problem_kinds": {}},
        "points": curve.length_points(_samples(), [1, 10], window=2),
    }
    markdown = curve.render_length(report)
    assert (
        "| turn | events before | samples | steps | ms per turn | vs turn 1 | same step ms "
        "| vs turn 1 | rasa CPU ms |"
    ) in markdown
    assert "| 10 | 90 | 4 | complaint, thanks | 109.5 | 1.06 | 110.0 | 1.08 | 9.5 |" in markdown
    assert "turn 10 within 20% of turn 1: 1.06x (same step: 1.08x)" in markdown
    assert "turn 12: HTTP 503" in markdown
    paths = curve.write_report(report, tmp_path, "length", markdown, curve.length_panels(report))
    colours = _colours(paths[2])
    assert all(colour in colours for colour in curve.COLOURS[:3])  # latency, same step, Rasa


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--customers", "1,ten"], "is not a list of whole numbers"),
        (["--customers", "0,5"], "every number must be 1 or more"),
        (["--think", "-1"], "every pause must be 0 seconds or more"),
        (["--seconds", "0"], "--seconds must be positive"),
        (["--database-url", "sqlite:///x.db"], "must be a PostgreSQL URL"),
    ],
)
def test_a_bad_curve_option_is_refused_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        curve.parse_curve_args(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_the_length_points_stop_at_the_last_turn() -> None:
    assert curve.parse_length_args(["--turns", "30"]).points == [1, 10, 20, 30]
    assert curve.parse_length_args([]).points == [1, 10, 20, 40, 60]
    with pytest.raises(SystemExit):
        curve.parse_length_args(["--turns", "10", "--points", "1,20"])


def test_the_plain_bench_still_takes_its_own_options() -> None:
    options = bench.parse_args(["--duration", "40", "--concurrency", "5"])
    assert (options.duration, options.concurrency) == (40.0, 5)
