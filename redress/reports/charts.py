"""Charts drawn on the server as SVG: no JavaScript, no inline styles (the console's
Content-Security-Policy is ``style-src 'self'``), only presentation attributes and classes.

Each chart is an image with a title and a description for screen readers
(``role="img"``, ``aria-labelledby``), labelled axes and a legend. The palette is Okabe and
Ito's, which people with the common colour-vision differences tell apart; each colour keeps
at least 3:1 contrast against the white background (WCAG's figure for graphics), and
every text is near-black on white. The table behind each chart is on the page as well.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from redress.reports.figures import ChartSpec, Section, Series

# Okabe-Ito, darkened where the original is under 3:1 on white (yellow, sky blue, orange).
PALETTE = (
    "#0072B2",  # blue
    "#B35C00",  # dark orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple (3.0:1)
    "#D55E00",  # vermilion
    "#2B7FA8",  # dark sky blue
    "#8A7A00",  # dark yellow
    "#000000",  # black
    "#6B6B6B",  # grey
    "#5A3E8C",  # purple
)
TEXT = "#1a1a1a"
AXIS = "#595959"
GRID = "#d9d9d9"
EMPTY = "No complaints in this period"

WIDTH = 720
HEIGHT = 360
LEFT = 64
RIGHT = 16
TOP = 16
BOTTOM = 72
LEGEND_ROW = 20
LEGEND_COLUMNS = 3
# Below the x-axis title, where the legend begins.
LEGEND_TOP = HEIGHT + 30
_ids = itertools.count(1)


def render_chart(section: Section) -> Markup | None:
    """The section's chart as SVG, or None when it has none."""
    return render_spec(section.chart) if section.chart is not None else None


def render_charts(section: Section) -> list[Markup]:
    """Every chart of the section (its main one first)."""
    specs = [section.chart, *section.more_charts] if section.chart else list(section.more_charts)
    return [render_spec(spec) for spec in specs]


def render_spec(spec: ChartSpec) -> Markup:
    draw = {"bar": bar_chart, "stacked_bar": stacked_bar_chart, "line": line_chart}[spec.kind]
    return draw(
        spec.title,
        spec.labels,
        spec.series,
        description=spec.description,
        x_label=spec.x_label,
        y_label=spec.y_label,
        empty_text=spec.empty_text,
    )


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    description: str = "",
    x_label: str = "",
    y_label: str = "",
    empty_text: str = EMPTY,
) -> Markup:
    """Bars for each label, side by side when there are several series."""
    return _chart("bar", title, labels, series, description, x_label, y_label, empty_text)


def stacked_bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    description: str = "",
    x_label: str = "",
    y_label: str = "",
    empty_text: str = EMPTY,
) -> Markup:
    """One bar for each label, the series stacked in it."""
    return _chart("stacked_bar", title, labels, series, description, x_label, y_label, empty_text)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    description: str = "",
    x_label: str = "",
    y_label: str = "",
    empty_text: str = EMPTY,
) -> Markup:
    """A line for each series across the labels, with a marker at each point."""
    return _chart("line", title, labels, series, description, x_label, y_label, empty_text)


def _chart(
    kind: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    description: str,
    x_label: str,
    y_label: str,
    empty_text: str = EMPTY,
) -> Markup:
    uid = f"chart-{next(_ids)}"
    empty = not labels or not any(v for s in series for v in s.values)
    legend_rows = 0 if empty else math.ceil(len(series) / LEGEND_COLUMNS)
    height = LEGEND_TOP + legend_rows * LEGEND_ROW if legend_rows else HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'aria-labelledby="{uid}-title {uid}-desc" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" font-family="sans-serif" font-size="12" fill="{TEXT}">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(description if not empty else empty_text + ".")}</desc>',
    ]
    if empty:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" font-size="16" '
            f'class="chart-empty">{escape(empty_text)}</text>'
        )
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 (every value in it was escaped)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top_value = _top(kind, labels, series)
    # Counts are drawn on whole-number gridlines: no "0.5 complaints".
    whole = all(float(v).is_integer() for one in series for v in one.values)
    ticks = _ticks(top_value, whole=whole)
    scale = plot_h / ticks[-1]

    def y_of(value: float) -> float:
        return TOP + plot_h - value * scale

    parts.append('<g class="chart-grid">')
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>'
        )
    parts.append("</g>")
    slot = plot_w / len(labels)
    parts.append('<g class="chart-data">')
    if kind == "line":
        parts += _lines(labels, series, slot, y_of)
    else:
        parts += _bars(kind, labels, series, slot, y_of, scale)
    parts.append("</g>")
    # Axes, the labels under each slot (thinned out when there are many), the axis titles.
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="{AXIS}"/>'
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        f'stroke="{AXIS}"/>'
    )
    every = max(1, math.ceil(len(labels) / 12))
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        y = TOP + plot_h + 14
        parts.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="end" '
            f'transform="rotate(-30 {x:.1f} {y})">{escape(_short(label))}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'class="chart-axis-label">{escape(x_label)}</text>'
        f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2})" class="chart-axis-label">'
        f"{escape(y_label)}</text>"
    )
    parts.append('<g class="chart-legend">')
    for i, one in enumerate(series):
        row, col = divmod(i, LEGEND_COLUMNS)
        x = LEFT + col * (plot_w / LEGEND_COLUMNS)
        y = LEGEND_TOP + row * LEGEND_ROW
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 18:.1f}" y="{y}">{escape(_short(one.name, 30))}</text>'
        )
    parts.append("</g></svg>")
    return Markup("".join(parts))  # noqa: S704 (every value in it was escaped)


def _bars(
    kind: str,
    labels: Sequence[str],
    series: Sequence[Series],
    slot: float,
    y_of: Callable[[float], float],
    scale: float,
) -> list[str]:
    out: list[str] = []
    inner = slot * 0.8
    for i, label in enumerate(labels):
        x0 = LEFT + slot * i + slot * 0.1
        base = 0.0
        for s, one in enumerate(series):
            value = float(one.values[i]) if i < len(one.values) else 0.0
            colour = PALETTE[s % len(PALETTE)]
            if kind == "stacked_bar":
                x, width, bottom = x0, inner, base
                base += value
            else:
                width = inner / len(series)
                x, bottom = x0 + width * s, 0.0
            if value <= 0:
                continue
            height = value * scale
            out.append(
                f'<rect x="{x:.1f}" y="{y_of(bottom + value):.1f}" width="{max(width, 1):.1f}" '
                f'height="{height:.1f}" fill="{colour}" class="chart-bar">'
                f"<title>{escape(label)}, {escape(one.name)}: {_number(value)}</title></rect>"
            )
    return out


def _lines(
    labels: Sequence[str], series: Sequence[Series], slot: float, y_of: Callable[[float], float]
) -> list[str]:
    out: list[str] = []
    for s, one in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        points = [
            (LEFT + slot * (i + 0.5), y_of(float(v)))
            for i, v in enumerate(one.values[: len(labels)])
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        # Dashes as well as colours, so lines are told apart without colour too.
        dash = (
            "",
            ' stroke-dasharray="6 3"',
            ' stroke-dasharray="2 3"',
            ' stroke-dasharray="8 3 2 3"',
        )[s % 4]
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash} '
            f'class="chart-line"/>'
        )
        for (x, y), label, value in zip(points, labels, one.values, strict=False):
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(label)}, {escape(one.name)}: {_number(float(value))}</title>"
                "</circle>"
            )
    return out


def _top(kind: str, labels: Sequence[str], series: Sequence[Series]) -> float:
    if kind == "stacked_bar":
        return max(
            sum(float(s.values[i]) for s in series if i < len(s.values)) for i in range(len(labels))
        )
    return max(float(v) for s in series for v in s.values)


def _ticks(top: float, *, whole: bool = False) -> list[float]:
    """Round gridline values from 0 to at least ``top``: 1, 2 or 5 times a power of ten
    (whole numbers only, when every value is one)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, float(step))
    count = math.ceil(top / step)
    return [step * i for i in range(count + 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
