"""The scaling curve and the cost of a turn against the length of the conversation:
``scripts/bench.py curve`` and ``scripts/bench.py length`` (``make bench-curve``).

``curve`` starts the whole assistant once (as ``make bench`` does: scripts/stack.py, a
throwaway database, the run's copy of the business folder), then for each number of
simulated customers (1, 10, 20, 50, 100 by default) drives the web chat API for
``--seconds``, first with customers who send their next message the moment the answer
arrives (closed loop, ``--think 0``), then with customers who pause about ``--think``
seconds between messages (paced). Each point gives turns a second, p50/p95/p99 latency,
errors, the conversations whose record or Rasa tracker lost, doubled or reordered a
message, and the CPU each process used per turn.

``length`` drives one conversation for ``--turns`` turns and more (the complaint flow again
and again, one message at a time, nothing else running), and reports, around turns 1, 10,
20, 40 and 60, the median time a turn takes, how many events Rasa's tracker already held,
and the CPU each process used per turn (psutil CPU times before and after each turn).

Each writes <out>/curve.md and .json and .png, or <out>/length.md and .json and .png
(``--out``, default reports/bench; ``--name`` changes the file names).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from scripts import bench
from scripts.stack import MODEL, RASA_API_TOKEN, Stack

DEFAULT_CUSTOMERS = (1, 10, 20, 50, 100)
DEFAULT_THINK = (0.0, 5.0)
DEFAULT_LENGTH_POINTS = (1, 10, 20, 40, 60)
# One conversation sends a message the moment the last is answered: the gateway's limit per
# conversation (12 a minute by default) is raised to the most it allows for ``length``.
LENGTH_ENV = {
    "WEBCHAT_MESSAGES_PER_MINUTE_PER_CONVERSATION": "600",
    "REDRESS_LOOKUPS_PER_HOUR_PER_CONVERSATION": "1000",
}
# Targets the curve is read against (from the performance issue; never asserted).
TARGET_CLOSED_TURNS_PER_SECOND = (20, 30.0)  # customers, turns a second
TARGET_PACED_P95_MS = (50, 150.0)  # customers, p95 ms
TARGET_LENGTH_GROWTH = 0.20  # turn 60 within 20% of turn 1


# ---------------------------------------------------------------------------------------
# Options


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers separated by commas, e.g. 1,10,20"
        ) from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every number must be 1 or more")
    return sorted(set(values))


def _think_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of seconds separated by commas, e.g. 0,5"
        ) from None
    if not values or any(v < 0 or not math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every pause must be 0 seconds or more")
    return sorted(set(values))


@dataclass
class CurveOptions:
    customers: list[int] = field(default_factory=lambda: list(DEFAULT_CUSTOMERS))
    think: list[float] = field(default_factory=lambda: list(DEFAULT_THINK))
    seconds: float = 60.0
    warmup: float = 5.0
    check_limit: int = 200
    database_url: str | None = None
    seed: int = 1
    name: str = "curve"
    out: Path = bench.REPORTS
    keep: bool = False
    workdir: Path | None = None


@dataclass
class LengthOptions:
    turns: int = 60
    points: list[int] = field(default_factory=lambda: list(DEFAULT_LENGTH_POINTS))
    window: int = 2
    warmup_turns: int = 6
    database_url: str | None = None
    seed: int = 1
    name: str = "length"
    out: Path = bench.REPORTS
    keep: bool = False
    workdir: Path | None = None


def _common(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+psycopg://...): a throwaway database is created "
        "there and dropped (default: a SQLite file)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for who says what")
    parser.add_argument(
        "--name", default=name, help=f"file name of the report, without suffix (default {name})"
    )
    parser.add_argument(
        "--out", type=Path, default=bench.REPORTS, help="report folder, default reports/bench"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    parser.add_argument("--workdir", type=Path, help="the run's folder, kept")


def _check_database_url(parser: argparse.ArgumentParser, url: str | None) -> None:
    if url and not url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL (SQLite is the default)")


def parse_curve_args(argv: Sequence[str]) -> CurveOptions:
    parser = argparse.ArgumentParser(
        prog="scripts/bench.py curve",
        description="Turns a second and latency against the number of customers at once, "
        "closed loop and paced. See scripts/bench_curve.py.",
    )
    parser.add_argument(
        "--customers",
        type=_positive_ints,
        default=list(DEFAULT_CUSTOMERS),
        help="customers at once, one point each (default 1,10,20,50,100)",
    )
    parser.add_argument(
        "--think",
        type=_think_list,
        default=list(DEFAULT_THINK),
        help="mean seconds a customer pauses between messages, one line each: 0 is closed "
        "loop (default 0,5)",
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="seconds measured per point (default 60)"
    )
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds before the first point (default 5)"
    )
    parser.add_argument(
        "--check-limit",
        type=int,
        default=200,
        help="conversations per point compared with their record and tracker (default 200)",
    )
    _common(parser, "curve")
    args = parser.parse_args(list(argv))
    if args.seconds <= 0 or args.warmup < 0 or args.check_limit < 0:
        parser.error("--seconds must be positive; --warmup and --check-limit 0 or more")
    _check_database_url(parser, args.database_url)
    return CurveOptions(
        customers=args.customers, think=args.think, seconds=args.seconds, warmup=args.warmup,
        check_limit=args.check_limit, database_url=args.database_url, seed=args.seed,
        name=args.name, out=args.out, keep=args.keep, workdir=args.workdir,
    )  # fmt: skip


def parse_length_args(argv: Sequence[str]) -> LengthOptions:
    parser = argparse.ArgumentParser(
        prog="scripts/bench.py length",
        description="The cost of a turn against how long the conversation already is: one "
        "conversation, one message at a time. See scripts/bench_curve.py.",
    )
    parser.add_argument(
        "--turns", type=int, default=60, help="the last turn measured around (default 60)"
    )
    parser.add_argument(
        "--points",
        type=_positive_ints,
        help="turns measured around (default 1,10,20,40,60, those up to --turns)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=2,
        help="turns either side of each point whose median is taken (default 2: 5 samples)",
    )
    parser.add_argument(
        "--warmup-turns",
        type=int,
        default=6,
        help="turns of another conversation first, not measured, so turn 1 is not the "
        "first a freshly started Rasa serves (default 6)",
    )
    _common(parser, "length")
    args = parser.parse_args(list(argv))
    if args.turns < 2:
        parser.error("--turns must be 2 or more")
    if args.window < 0 or args.warmup_turns < 0:
        parser.error("--window and --warmup-turns must be 0 or more")
    points = args.points or [p for p in DEFAULT_LENGTH_POINTS if p <= args.turns]
    if args.turns not in points:
        points = sorted({*points, args.turns})
    if points[-1] > args.turns:
        parser.error(f"--points go beyond --turns ({args.turns})")
    _check_database_url(parser, args.database_url)
    return LengthOptions(
        turns=args.turns, points=points, window=args.window, warmup_turns=args.warmup_turns,
        database_url=args.database_url,
        seed=args.seed, name=args.name, out=args.out, keep=args.keep, workdir=args.workdir,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# Figures


def curve_point(phase: bench.Phase, think: float, customers: int) -> dict[str, Any]:
    """One point of the curve from a measured phase: the bench's figures for it, keyed by
    its pacing and its number of customers."""
    return {
        "think_s": think,
        "customers": customers,
        "figures": bench.mode_figures([phase]),
    }


@dataclass
class Sample:
    """One turn of the long conversation: its number (1 is the first), the events Rasa's
    tracker held before it (when read), its latency and the CPU each process used."""

    turn: int
    step: str
    latency_ms: float
    cpu_ms: dict[str, float]
    error: str | None = None
    events_before: int | None = None


def length_points(samples: Sequence[Sample], points: Sequence[int], window: int) -> list[dict]:
    """For each point, over the answered turns from ``point - window`` to ``point + window``:
    the median latency, the median latency of those turns that are the same step as the
    first turn (the complaint), and the mean CPU per turn of each process (the mean, as the
    kernel counts CPU time in ticks of 10 ms); the events before the point's turn, and both
    latencies against the first point's."""
    by_turn = {s.turn: s for s in samples}
    first_step = samples[0].step if samples else None
    rows: list[dict[str, Any]] = []
    for point in points:
        around = [
            by_turn[n]
            for n in range(point - window, point + window + 1)
            if n in by_turn and by_turn[n].error is None
        ]
        if not around:
            rows.append({"turn": point, "samples": 0})
            continue
        processes = sorted({name for s in around for name in s.cpu_ms})
        same = [s.latency_ms for s in around if s.step == first_step]
        rows.append(
            {
                "turn": point,
                "turns": [s.turn for s in around],
                "samples": len(around),
                "steps": sorted({s.step for s in around}),
                "events_before": by_turn[point].events_before if point in by_turn else None,
                "median_ms": round(statistics.median(s.latency_ms for s in around), 1),
                "same_step_ms": round(statistics.median(same), 1) if same else None,
                "cpu_ms_per_turn": {
                    name: round(statistics.fmean(s.cpu_ms.get(name, 0.0) for s in around), 1)
                    for name in processes
                },
            }
        )
    first = next((r for r in rows if r.get("samples")), None)
    for row in rows:
        if row.get("samples") and first:
            row["vs_first"] = round(row["median_ms"] / first["median_ms"], 2)
            if row["same_step_ms"] and first["same_step_ms"]:
                row["same_step_vs_first"] = round(row["same_step_ms"] / first["same_step_ms"], 2)
    return rows


# ---------------------------------------------------------------------------------------
# Markdown


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def _pacing(think: float) -> str:
    return "closed loop" if not think else f"paced ({think:g} s)"


def render_curve(report: dict[str, Any]) -> str:
    m, s = report["machine"], report["settings"]
    lines = [
        f"# Scaling curve {report['name']}",
        "",
        f"{report['started_at']} to {report['finished_at']} (UTC) on {m['cpu_count']} CPUs. "
        f"Load average (1, 5, 15 min): {m['loadavg_before']} before, {m['loadavg_after']} "
        f"after. 1 instance, {s['database']}, {s['seconds_per_point']:g} s per point, "
        "the full stack (web chat API).",
        "",
        'Latency is per turn (one customer message to its answer). "problems" counts the '
        "conversations whose record or Rasa tracker lost, doubled, changed or reordered a "
        'message. "other cores": CPU that processes outside the bench used meanwhile; more '
        "than a few tenths means the machine was busy and the figures are inflated.",
        "",
    ]
    rows = []
    for point in report["points"]:
        f, checks = point["figures"], point.get("checks") or {}
        latency, cpu = f["latency"], f["cpu_ms_per_turn"]
        rows.append(
            [
                _pacing(point["think_s"]), point["customers"], f["turns"],
                f["turns_per_second"], latency["p50_ms"], latency["p95_ms"],
                latency["p99_ms"], f["errors"],
                f"{checks.get('with_problems', '–')} of {checks.get('checked', '–')}",
                cpu.get("rasa"), cpu.get("gateway"), cpu.get("actions"),
                f["other_processes_cores"],
            ]
        )  # fmt: skip
    lines += bench._table(
        ["pacing", "customers", "turns", "turns/s", "p50 ms", "p95 ms", "p99 ms", "errors",
         "problems", "Rasa CPU ms/turn", "gateway", "actions", "other cores"],
        rows,
    )  # fmt: skip
    lines += ["", "## Targets (read, never asserted)", ""]
    lines += bench._table(
        ["target", "value"], [[t["target"], t["value"]] for t in curve_targets(report)]
    )
    return "\n".join(lines) + "\n"


def _find(report: dict[str, Any], closed: bool, customers: int) -> dict[str, Any] | None:
    for point in report["points"]:
        if bool(point["think_s"]) != closed and point["customers"] == customers:
            return point["figures"]
    return None


def curve_targets(report: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    customers, goal = TARGET_CLOSED_TURNS_PER_SECOND
    figures = _find(report, True, customers)
    rows.append(
        {
            "target": f">= {goal:g} turns/s with {customers} closed-loop customers",
            "value": "not measured" if figures is None else f"{figures['turns_per_second']}",
        }
    )
    customers, goal = TARGET_PACED_P95_MS
    figures = _find(report, False, customers)
    rows.append(
        {
            "target": f"p95 <= {goal:g} ms with {customers} paced customers",
            "value": "not measured" if figures is None else f"{figures['latency']['p95_ms']} ms",
        }
    )
    return rows


def render_length(report: dict[str, Any]) -> str:
    m, s = report["machine"], report["settings"]
    lines = [
        f"# Cost of a turn against conversation length {report['name']}",
        "",
        f"{report['started_at']} to {report['finished_at']} (UTC) on {m['cpu_count']} CPUs. "
        f"Load average (1, 5, 15 min): {m['loadavg_before']} before, {m['loadavg_after']} "
        f"after. {s['database']}; one conversation through the web chat API, one message at "
        f"a time, {report['turns_sent']} turns; each row is the median of the turns "
        f"{s['window']} either side of it.",
        "",
        '"events before": the events Rasa\'s tracker held before that turn. "ms per turn": '
        'the median of those turns, whatever the customer said; "same step": the median of '
        f"those that were the same step as turn 1 ({report.get('first_step')}), which "
        "compares like with like. CPU is the mean each process used per turn, during the turn "
        "(psutil, all threads and child processes; the kernel counts it in ticks of 10 ms).",
        "",
    ]
    processes = sorted({n for r in report["points"] for n in r.get("cpu_ms_per_turn", {})})
    rows = [
        [
            r["turn"], r.get("events_before"), r["samples"], ", ".join(r.get("steps", [])),
            r.get("median_ms"), r.get("vs_first"), r.get("same_step_ms"),
            r.get("same_step_vs_first"),
            *(r.get("cpu_ms_per_turn", {}).get(p) for p in processes),
        ]
        for r in report["points"]
    ]  # fmt: skip
    lines += bench._table(
        ["turn", "events before", "samples", "steps", "ms per turn", "vs turn 1",
         "same step ms", "vs turn 1", *(f"{p} CPU ms" for p in processes)],
        rows,
    )  # fmt: skip
    answered = [r for r in report["points"] if r.get("samples")]
    if len(answered) >= 2 and answered[-1].get("vs_first") is not None:
        last = answered[-1]
        lines += [
            "",
            f"Target (read, never asserted): turn {last['turn']} within "
            f"{TARGET_LENGTH_GROWTH:.0%} of turn {answered[0]['turn']}: "
            f"{last['vs_first']}x (same step: {_cell(last.get('same_step_vs_first'))}x).",
        ]
    if report.get("errors"):
        lines += ["", f"Errors: {report['errors']}"]
    checks = report.get("checks") or {}
    if checks:
        lines += [
            "",
            f"The conversation against its record and Rasa's tracker: "
            f"{checks['with_problems']} with problems {checks['problem_kinds'] or ''}".rstrip(),
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Charts (PNG, drawn with Pillow)

COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189))


@dataclass
class Panel:
    title: str
    x_label: str
    y_label: str
    series: dict[str, list[tuple[float, float]]]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering low..high, about ``count`` of them."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def draw_chart(
    path: Path, panels: Sequence[Panel], panel_size: tuple[int, int] = (560, 400)
) -> None:
    """Line charts side by side, one per panel, each series a coloured line with points and
    a legend; y from 0."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = panel_size
    image = Image.new("RGB", (width * len(panels), height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    left, right, top, bottom = 70, 20, 40, 50
    for index, panel in enumerate(panels):
        x0 = index * width + left
        x1 = (index + 1) * width - right
        y0, y1 = top, height - bottom
        points = [p for values in panel.series.values() for p in values]
        xs = sorted({x for x, _ in points}) or [0.0, 1.0]
        x_ticks = xs if len(xs) <= 10 else nice_ticks(min(xs), max(xs))
        x_low, x_high = min(x_ticks), max(x_ticks)
        if x_high == x_low:
            x_low, x_high = x_low - 1, x_high + 1
        y_ticks = nice_ticks(0.0, max((y for _, y in points), default=1.0) or 1.0)
        y_high = y_ticks[-1]

        def at(x: float, y: float) -> tuple[float, float]:
            return (
                x0 + (x - x_low) / (x_high - x_low) * (x1 - x0),  # noqa: B023
                y1 - y / y_high * (y1 - y0),  # noqa: B023
            )

        draw.text(((x0 + x1) / 2, 12), panel.title, fill="black", font=font, anchor="mt")
        for tick in y_ticks:
            _, y = at(x_low, tick)
            draw.line([(x0, y), (x1, y)], fill=(225, 225, 225))
            draw.text((x0 - 6, y), f"{tick:g}", fill="black", font=small, anchor="rm")
        for tick in x_ticks:
            x, _ = at(tick, 0)
            draw.line([(x, y1), (x, y1 + 4)], fill="black")
            draw.text((x, y1 + 6), f"{tick:g}", fill="black", font=small, anchor="mt")
        draw.line([(x0, y0), (x0, y1), (x1, y1)], fill="black")
        draw.text(((x0 + x1) / 2, height - 14), panel.x_label, fill="black", font=font, anchor="mm")
        label = Image.new("RGB", (y1 - y0, 18), "white")
        ImageDraw.Draw(label).text(
            ((y1 - y0) / 2, 9), panel.y_label, fill="black", font=font, anchor="mm"
        )
        image.paste(label.rotate(90, expand=True), (index * width + 6, y0))
        for number, (name, values) in enumerate(panel.series.items()):
            colour = COLOURS[number % len(COLOURS)]
            line = [at(x, y) for x, y in sorted(values)]
            if len(line) > 1:
                draw.line(line, fill=colour, width=2)
            for x, y in line:
                draw.ellipse([(x - 3, y - 3), (x + 3, y + 3)], fill=colour)
            legend_y = y0 + 6 + 16 * number
            draw.line([(x0 + 10, legend_y), (x0 + 30, legend_y)], fill=colour, width=2)
            draw.text((x0 + 36, legend_y), name, fill="black", font=small, anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG")


def curve_panels(report: dict[str, Any]) -> list[Panel]:
    throughput: dict[str, list[tuple[float, float]]] = {}
    p95: dict[str, list[tuple[float, float]]] = {}
    for point in report["points"]:
        name = _pacing(point["think_s"])
        figures = point["figures"]
        if figures["turns_per_second"] is not None:
            throughput.setdefault(name, []).append(
                (point["customers"], figures["turns_per_second"])
            )
        if figures["latency"]["p95_ms"] is not None:
            p95.setdefault(name, []).append((point["customers"], figures["latency"]["p95_ms"]))
    return [
        Panel("Turns per second", "customers at once", "turns/s", throughput),
        Panel("p95 latency", "customers at once", "ms per turn (p95)", p95),
    ]


def length_panels(report: dict[str, Any]) -> list[Panel]:
    series: dict[str, list[tuple[float, float]]] = {"ms per turn (median)": []}
    same: list[tuple[float, float]] = []
    rasa: list[tuple[float, float]] = []
    for row in report["points"]:
        if row.get("samples"):
            series["ms per turn (median)"].append((row["turn"], row["median_ms"]))
            if row.get("same_step_ms") is not None:
                same.append((row["turn"], row["same_step_ms"]))
            if "rasa" in row.get("cpu_ms_per_turn", {}):
                rasa.append((row["turn"], row["cpu_ms_per_turn"]["rasa"]))
    if same:
        series[f"same step as turn 1 ({report.get('first_step')}), median"] = same
    if rasa:
        series["Rasa CPU ms per turn (mean)"] = rasa
    return [Panel("Cost of a turn against conversation length", "turn", "ms", series)]


def write_report(
    report: dict[str, Any], out: Path, name: str, markdown: str, panels: Sequence[Panel]
) -> list[Path]:
    """<out>/<name>.json, .md and .png; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.json", out / f"{name}.md", out / f"{name}.png"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(markdown, encoding="utf-8")
    draw_chart(paths[2], panels)
    return paths


# ---------------------------------------------------------------------------------------
# Running


@contextlib.contextmanager
def _stack(database_url: str | None, workdir: Path | None, keep: bool, env: dict[str, str]) -> Any:
    if not MODEL.exists():
        raise SystemExit("No trained model: run `make train` first.")
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    folder = workdir or Path(tempfile.mkdtemp(prefix="redress-bench-"))
    failed = True
    try:
        with contextlib.ExitStack() as cleanup:
            url = None
            if database_url:
                url = cleanup.enter_context(bench.throwaway_postgres(database_url))
            print(f"starting Rasa, the action server and the gateway in {folder} ...")
            began = time.monotonic()
            stack = bench.start_stack(folder, bench.Options(), url, env)
            cleanup.callback(stack.close)
            print(f"ready in {time.monotonic() - began:.0f} s")
            yield stack
            failed = False
    finally:
        if failed or keep or workdir is not None:
            print(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _limits(customers: int) -> httpx.Limits:
    return httpx.Limits(
        max_connections=customers * 2 + 16, max_keepalive_connections=customers * 2 + 16
    )


async def drive_curve(stack: Stack, options: CurveOptions) -> list[dict[str, Any]]:
    rng = random.Random(options.seed)  # noqa: S311 (who says what, not a secret)
    clock = bench.Clock()
    scenarios = bench.build_scenarios(Path(stack.env["REDRESS_BUSINESS_DIR"]))
    target = bench.Target("full", [stack.gateway], stack.database_url)
    names = list(stack.processes)
    monitor = bench.Monitor({n: stack.pid(n) for n in names}, clock, 1.0)
    monitor.start()
    points: list[dict[str, Any]] = []
    try:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(120.0, connect=5.0), limits=_limits(max(options.customers))
        ) as client:
            if options.warmup > 0:
                await bench.run_phase(
                    "warmup", client, target, scenarios, options.warmup,
                    min(10, max(options.customers)), rng, clock, monitor,
                )  # fmt: skip
            for think in options.think:
                for customers in options.customers:
                    print(f"  {_pacing(think)}, {customers} customers ...", flush=True)
                    phase = await bench.run_phase(
                        f"{'paced' if think else 'closed'}-{customers}", client, target,
                        scenarios, options.seconds, customers, rng, clock, monitor, think,
                    )  # fmt: skip
                    point = curve_point(phase, think, customers)
                    point["checks"] = await bench.check_conversations(
                        client, stack.gateway, stack.rasa, phase.conversations, [],
                        options.check_limit, rng,
                    )  # fmt: skip
                    point["loadavg_1m_at_end"] = round(phase.snapshot_after["loadavg"][0], 2)
                    points.append(point)
    finally:
        await monitor.stop()
    return points


async def _events(client: httpx.AsyncClient, rasa: str, conversation_id: str | None) -> int | None:
    if not conversation_id:
        return 0
    tracker, _ = await bench.fetch_json(
        client,
        f"{rasa}/conversations/{conversation_id}/tracker",
        params={"token": RASA_API_TOKEN, "include_events": "ALL"},
    )
    return None if tracker is None else len(tracker.get("events") or [])


async def drive_length(
    stack: Stack, options: LengthOptions
) -> tuple[list[Sample], dict[str, Any], int]:
    """One conversation, the complaint flow again and again (a new complaint in the same
    conversation each time the last one is settled), one message at a time."""
    rng = random.Random(options.seed)  # noqa: S311 (who says what, not a secret)
    clock = bench.Clock()
    scenarios = bench.build_scenarios(Path(stack.env["REDRESS_BUSINESS_DIR"]))
    scenario = scenarios[0]  # the most common: an outage a demo incident explains
    customer = rng.choice(scenario.customers)
    target = bench.Target("full", [stack.gateway], stack.database_url)
    pids = {n: stack.pid(n) for n in stack.processes}
    if options.warmup_turns:
        warmup = bench.Target("full", [stack.gateway], stack.database_url)
        async with httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0)) as client:
            done = 0
            while done < options.warmup_turns:
                spoken = await bench.converse(
                    client, warmup, scenario, "warmup", math.inf, rng, clock
                )
                done += len(spoken.turns)
                if spoken.errors():
                    break
    last = options.points[-1] + options.window
    wanted = set(options.points)
    samples: list[Sample] = []
    whole = bench.Conversation("full", "length", scenario.name, customer.account)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0)) as client:
        cycle = bench.Conversation("full", "length", scenario.name, customer.account)
        opening = rng.choice(scenario.openings)
        move: tuple[str, str, str] | None = ("complaint", opening, opening)
        for number in range(1, last + 1):
            if move is None:  # settled: the customer brings the next complaint
                cycle = bench.Conversation("full", "length", scenario.name, customer.account)
                opening = rng.choice(scenario.openings)
                move = ("complaint", opening, opening)
            events = await _events(client, stack.rasa, whole.id) if number in wanted else None
            step, text, shown = move
            before = {n: bench.process_usage(p) for n, p in pids.items()}
            sent_at = clock.now()
            began = time.perf_counter()
            status, whole.id, message_id, replies, error = await target.send(
                client, whole.id, text, 0, customer
            )
            latency = (time.perf_counter() - began) * 1000
            after = {n: bench.process_usage(p) for n, p in pids.items()}
            cpu = {
                n: round((after[n][1] - before[n][1]) * 1000, 2)
                for n in pids
                if before[n] is not None and after[n] is not None
            }
            turn = bench.Turn(
                step, text, shown, 0, sent_at, latency, status, error, message_id, replies
            )
            whole.turns.append(turn)
            cycle.turns.append(turn)
            samples.append(Sample(number, step, latency, cpu, error, events))
            if error is not None:
                print(f"  turn {number} failed: {error}; stopping")
                break
            move = bench.next_move(replies, cycle, customer, rng)
            if number in wanted:
                print(f"  turn {number}: {latency:.0f} ms, {events} events before", flush=True)
        checks = await bench.check_conversations(
            client, stack.gateway, stack.rasa, [whole], [], 1, rng
        )
    return samples, checks, len(whole.turns)


def _header(name: str) -> dict[str, Any]:
    before = bench.machine()
    print(f"{name}: load average {before['loadavg']} on {before['cpu_count']} CPUs")
    before["loadavg_before"] = before.pop("loadavg")
    return {
        "name": name,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": before,
    }


def _footer(report: dict[str, Any]) -> None:
    report["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["machine"]["loadavg_after"] = bench.machine()["loadavg"]


def run_curve(options: CurveOptions) -> int:
    report = _header(options.name)
    report["settings"] = {
        "customers": options.customers,
        "think_s": options.think,
        "seconds_per_point": options.seconds,
        "warmup_s": options.warmup,
        "database": "postgresql" if options.database_url else "sqlite",
        "seed": options.seed,
    }
    with _stack(options.database_url, options.workdir, options.keep, {}) as stack:
        report["points"] = asyncio.run(drive_curve(stack, options))
    _footer(report)
    report["targets"] = curve_targets(report)
    markdown = render_curve(report)
    paths = write_report(report, options.out, options.name, markdown, curve_panels(report))
    print(markdown)
    print("written " + ", ".join(str(p) for p in paths))
    return 0


def run_length(options: LengthOptions) -> int:
    report = _header(options.name)
    report["settings"] = {
        "turns": options.turns,
        "points": options.points,
        "window": options.window,
        "warmup_turns": options.warmup_turns,
        "database": "postgresql" if options.database_url else "sqlite",
        "seed": options.seed,
    }
    with _stack(options.database_url, options.workdir, options.keep, LENGTH_ENV) as stack:
        samples, checks, sent = asyncio.run(drive_length(stack, options))
    _footer(report)
    report["turns_sent"] = sent
    report["first_step"] = samples[0].step if samples else None
    report["errors"] = [f"turn {s.turn}: {s.error}" for s in samples if s.error]
    report["checks"] = checks
    report["points"] = length_points(samples, options.points, options.window)
    report["samples"] = [
        {"turn": s.turn, "step": s.step, "latency_ms": round(s.latency_ms, 1),
         "cpu_ms": s.cpu_ms, "error": s.error, "events_before": s.events_before}
        for s in samples
    ]  # fmt: skip
    markdown = render_length(report)
    paths = write_report(report, options.out, options.name, markdown, length_panels(report))
    print(markdown)
    print("written " + ", ".join(str(p) for p in paths))
    return 1 if report["errors"] else 0


def main(argv: Sequence[str]) -> int:
    """``argv`` starts with the mode: curve or length."""
    mode, rest = argv[0], argv[1:]
    if mode == "curve":
        return run_curve(parse_curve_args(rest))
    if mode == "length":
        return run_length(parse_length_args(rest))
    raise SystemExit(f"unknown mode {mode!r}: curve or length")
