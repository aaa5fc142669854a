"""Server-drawn SVG charts: well-formed, labelled for screen readers, free of inline styles
(the console's CSP forbids them), colours people tell apart with enough contrast, every
label escaped, and an empty period said in words."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from markupsafe import Markup

from redress.reports.charts import (
    EMPTY,
    PALETTE,
    bar_chart,
    line_chart,
    render_chart,
    render_charts,
    stacked_bar_chart,
)
from redress.reports.figures import ChartSpec, Section, Series

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ("2026-12-01", "2026-12-02", "2026-12-03")
SERIES = (Series("Service not working", (3, 0, 5)), Series("Billing problem", (1, 2, 0)))
DRAW = (bar_chart, stacked_bar_chart, line_chart)


def parsed(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))


@pytest.mark.parametrize("draw", DRAW)
def test_a_chart_is_an_image_named_by_its_title_and_description(
    draw: Callable[..., Markup],
) -> None:
    svg = draw("Complaints per day", LABELS, SERIES, description="Three days.", x_label="Day",
               y_label="Complaints")  # fmt: skip
    assert isinstance(svg, Markup)
    root = parsed(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.text == "Complaints per day"
    assert desc is not None and desc.text == "Three days."
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Day" in texts and "Complaints" in texts  # both axes labelled
    assert "Service not working" in texts and "Billing problem" in texts  # the legend


@pytest.mark.parametrize("draw", DRAW)
def test_no_inline_styles_anywhere(draw: Callable[..., Markup]) -> None:
    root = parsed(draw("T", LABELS, SERIES, description="D"))
    for element in root.iter():
        assert "style" not in element.attrib
        assert element.tag != f"{SVG}style"
        assert not any(name.startswith("on") for name in element.attrib)


def test_two_charts_on_one_page_have_their_own_ids() -> None:
    first, second = parsed(bar_chart("A", LABELS, SERIES)), parsed(bar_chart("B", LABELS, SERIES))
    assert first.get("aria-labelledby") != second.get("aria-labelledby")


@pytest.mark.parametrize("draw", DRAW)
def test_every_label_is_escaped(draw: Callable[..., Markup]) -> None:
    evil = '<script>alert("x")</script> & "quotes"'
    svg = draw(evil, (evil, "b"), (Series(evil, (1, 2)),), description=evil, x_label=evil,
               y_label=evil)  # fmt: skip
    assert "<script>" not in str(svg)
    root = parsed(svg)  # still well-formed
    assert root.find(f"{SVG}title").text == evil  # type: ignore[union-attr]
    assert not list(root.iter(f"{SVG}script"))


@pytest.mark.parametrize("draw", DRAW)
def test_no_data_says_so_in_words(draw: Callable[..., Markup]) -> None:
    for labels, series in (((), ()), (LABELS, (Series("x", (0, 0, 0)),))):
        root = parsed(draw("Complaints per day", labels, series, description="D"))
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert texts == [EMPTY]
        assert root.find(f"{SVG}desc").text == f"{EMPTY}."  # type: ignore[union-attr]
        assert not list(root.iter(f"{SVG}rect"))


def test_stacked_bars_are_as_tall_as_their_total() -> None:
    root = parsed(stacked_bar_chart("T", ("a",), (Series("x", (3,)), Series("y", (1,)))))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]
    heights = [float(r.get("height", "0")) for r in bars]
    assert len(bars) == 2
    assert heights[0] == pytest.approx(3 * heights[1], rel=0.02)
    # The bars sit on each other: the second starts where the first ends.
    first, second = bars
    assert float(second.get("y", "0")) + heights[1] == pytest.approx(float(first.get("y", "0")))


def test_bar_titles_give_the_exact_value_for_screen_readers_and_hover() -> None:
    root = parsed(bar_chart("T", ("Mon",), (Series("Ratings", (2.5,)),)))
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "Mon, Ratings: 2.5" in titles


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_every_colour_stands_out_from_the_white_page() -> None:
    white = 1.0
    for colour in PALETTE:
        ratio = (white + 0.05) / (_luminance(colour) + 0.05)
        assert ratio >= 3.0, colour
    assert len(set(PALETTE)) == len(PALETTE)


def test_a_section_renders_its_charts_or_none() -> None:
    spec = ChartSpec("line", "By severity", "D", "Day", "Complaints", LABELS, SERIES)
    with_chart = Section("k", "K", ["a"], [], spec, "note", more_charts=(spec,))
    drawn = render_chart(with_chart)
    assert drawn is not None and "polyline" in drawn
    assert len(render_charts(with_chart)) == 2
    without = Section("k", "K", ["a"], [], None, "note")
    assert render_chart(without) is None
    assert render_charts(without) == []


def test_a_chart_with_nothing_to_draw_says_what_is_missing() -> None:
    spec = ChartSpec("bar", "Handoffs by reason", "D", "Reason", "Handoffs", (), (),
                     empty_text="No handoffs in this period")  # fmt: skip
    root = parsed(render_chart(Section("k", "K", [], [], spec, "")))  # type: ignore[arg-type]
    assert [t.text for t in root.iter(f"{SVG}text")] == ["No handoffs in this period"]


def test_the_legend_sits_below_the_axis_title() -> None:
    root = parsed(bar_chart("T", LABELS, SERIES, x_label="Day"))
    texts = {t.text: float(t.get("y", "0")) for t in root.iter(f"{SVG}text")}
    assert texts["Service not working"] > texts["Day"] + 10
    assert float(root.get("viewBox", "").split()[3]) > texts["Service not working"]
