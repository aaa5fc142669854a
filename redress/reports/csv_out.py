"""CSV of report sections (and of any rows): a spreadsheet never runs what a customer typed.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before reading a formula) gets a leading apostrophe, so a complaint that
says ``=HYPERLINK(...)`` stays text. Numbers are written as numbers (a negative number is a
number, not a formula)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from redress.reports.figures import Section

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str | int | float:
    """A value ready for a CSV cell: None is empty, text that could be read as a formula is
    made plain text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header and each row as one CSV line (CRLF-terminated), one at a time, so a long
    export is streamed rather than built in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in _with_header(header, rows):
        writer.writerow([safe_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _with_header(
    header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Iterator[Sequence[object]]:
    yield header
    yield from rows


def section_csv_lines(section: Section) -> Iterator[str]:
    return csv_lines(section.columns, section.rows)


def section_csv(section: Section) -> str:
    """The section's table as CSV text: its columns, then its rows."""
    return "".join(section_csv_lines(section))


def filename(section: Section, start: str, end: str) -> str:
    return f"redress-{section.key}-{start}-to-{end}.csv"
