"""The console's reports page on the hand-built records of tests/integration/reports/, on
SQLite and PostgreSQL: every section with its charts, note, table and CSV link; a team
narrows the figures; bad dates are explained on the form; each CSV download holds the rows
of the table on the page and of the API's JSON; nobody unsigned sees any of it."""

from __future__ import annotations

import csv
import html
import io
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from redress.business import Business
from redress.reports.figures import SECTION_KEYS
from tests.integration.conftest import ADMIN_TOKEN
from tests.integration.console.signing_in import add_operator, console_client, sign_in
from tests.integration.reports.records import seed

PERIOD = {"start": "2026-11-08", "end": "2026-12-07"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class ShownSection:
    heading: str = ""
    charts: list[str] = field(default_factory=list)  # each SVG's <title>
    rows: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    csv_href: str = ""
    collapsed: bool = False


class ReportPage(HTMLParser):
    """What a person (or a screen reader) finds in each section of the page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, ShownSection] = {}
        self.contents: list[str] = []
        self._section: ShownSection | None = None
        self._capture: list[str] | None = None
        self._where = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_thead = False
        self._in_nav_contents = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "nav" and a.get("class") == "report-contents":
            self._in_nav_contents = True
        if tag == "a" and self._in_nav_contents:
            self.contents.append(str(a.get("href")))
        if tag == "section" and a.get("class") == "report-section":
            self._section = self.sections.setdefault(str(a["aria-labelledby"]), ShownSection())
        if self._section is None:
            return
        if tag == "h2":
            self._capture, self._where = [], "heading"
        elif tag == "title" and self._where != "svg-title-done":
            self._capture, self._where = [], "title"
        elif tag == "svg":
            self._where = "svg"
        elif tag == "details":
            self._section.collapsed = True
        elif tag == "thead":
            self._in_thead = True
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td") and self._row is not None:
            self._cell = []
        elif tag == "a" and a.get("class") == "report-csv":
            self._section.csv_href = html.unescape(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav_contents = False
        if self._section is None:
            return
        if tag == "h2" and self._capture is not None:
            self._section.heading = "".join(self._capture).strip()
            self._capture = None
        elif tag == "title" and self._capture is not None and self._where == "title":
            self._section.charts.append("".join(self._capture).strip())
            self._capture, self._where = None, "svg-title-done"
        elif tag == "svg":
            self._where = ""
        elif tag == "thead":
            self._in_thead = False
        elif tag in ("th", "td") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_thead:
                self._section.header = self._row
            else:
                self._section.rows.append(self._row)
            self._row = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._capture.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def client(database_url: str, business: Business) -> Iterator[TestClient]:
    seed(database_url)
    add_operator(database_url, "rita", "agent", name="Rita Agent")
    with console_client(database_url, business) as found:
        yield found


def signed_in(client: TestClient) -> TestClient:
    sign_in(client, "rita")
    return client


def _same_waits(columns: list[str], rows: list[list[str]]) -> list[list[str]]:
    """A wait still open grows between two requests; the rest of a row stays the same."""
    if "wait_still_open" not in columns:
        return rows
    wait = columns.index("longest_wait_minutes")
    still = columns.index("wait_still_open")
    return [
        [("still open" if i == wait and row[still] == "yes" else v) for i, v in enumerate(row)]
        for row in rows
    ]


def _both_pages(client: TestClient, params: dict[str, str]) -> dict[str, ShownSection]:
    """Every section, from the service page and the recovery-quality page together."""
    found: dict[str, ShownSection] = {}
    for path in ("/console/reports", "/console/reports/recovery"):
        found |= ReportPage(client.get(path, params=params).text).sections
    return found


def test_the_pages_show_every_section_with_its_charts_table_and_download(
    client: TestClient,
) -> None:
    signed_in(client)
    answer = client.get("/console/reports", params=PERIOD)
    assert answer.status_code == 200
    page = ReportPage(answer.text)
    service = [key for key in SECTION_KEYS if key != "recovery_quality"]
    assert page.contents == [f"#{key}" for key in service]
    assert list(page.sections) == service
    recovery_answer = client.get("/console/reports/recovery", params=PERIOD)
    assert recovery_answer.status_code == 200
    recovery_page = ReportPage(recovery_answer.text)
    assert list(recovery_page.sections) == ["recovery_quality"]
    for key, shown in (page.sections | recovery_page.sections).items():
        assert shown.heading, key
        assert shown.charts, f"{key} has no chart"
        assert shown.rows, f"{key} has no table"
        assert shown.csv_href == (f"/console/reports/{key}.csv?start=2026-11-08&end=2026-12-07")
    over_time = page.sections["complaints_over_time"]
    assert over_time.charts == [
        "Complaints per day by category",
        "Complaints per day by severity",
    ]
    assert over_time.header[:2] == ["Period start", "Complaints"]
    # Thirty days: the first ten in view, the other twenty behind "Show".
    assert len(over_time.rows) == 30 and over_time.collapsed
    assert "Show the other 20 rows" in answer.text
    assert sum(int(row[1]) for row in over_time.rows) == 3
    reopen = page.sections["reopen_rate"]
    assert reopen.rows[-1] == ["All", "All", "2", "1", "50.0"]
    assert '<td class="number">50.0</td>' in answer.text
    assert "Reopen rate %" in reopen.header
    recovery = recovery_page.sections["recovery_quality"]
    assert {row[1] for row in recovery.rows} == {"RD-AAAAAA", "RD-BBBBBB", "RD-CCCCCC"}
    # The summary over every conversation.
    assert "Apology in first reply %" in recovery_answer.text
    # Charts are drawn on the page: no script draws them, nothing styled inline.
    for text in (answer.text, recovery_answer.text):
        assert 'role="img"' in text and "style=" not in text
        assert "<script>" not in text


def test_a_team_narrows_every_figure(client: TestClient, business: Business) -> None:
    signed_in(client)
    everyone = _both_pages(client, PERIOD)
    network = _both_pages(client, {**PERIOD, "team": "network"})
    assert sum(int(row[1]) for row in everyone["complaints_over_time"].rows) == 3
    assert sum(int(row[1]) for row in network["complaints_over_time"].rows) == 1
    reasons = {row[0] for row in network["handoff_reasons"].rows}
    assert "asked_for_person" in reasons and "angry" not in reasons
    assert {row[1] for row in network["recovery_quality"].rows} == {"RD-AAAAAA"}
    # The download links keep the team.
    assert network["satisfaction"].csv_href.endswith("&team=network")
    page = client.get("/console/reports", params={**PERIOD, "team": "network"}).text
    assert '<option value="network" selected>' in page
    assert f"team {business.team('network').name}." in html.unescape(page)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start": "30/11/2026"}, "start must be a date like 2026-11-30, not '30/11/2026'."),
        (
            {"start": "2026-12-07", "end": "2026-12-01"},
            "The end date (2026-12-01) is before the start date (2026-12-07).",
        ),
        ({**PERIOD, "team": "nobody"}, "There is no team 'nobody'."),
    ],
)
def test_bad_parameters_are_explained_on_the_form(
    client: TestClient, params: dict[str, str], says: str
) -> None:
    signed_in(client)
    answer = client.get("/console/reports", params=params)
    assert answer.status_code == 400
    text = html.unescape(answer.text)
    assert f"This report cannot be made: {says}" in text
    assert 'name="start"' in answer.text  # the form again, to put it right
    assert ReportPage(answer.text).sections == {}
    download = client.get("/console/reports/satisfaction.csv", params=params)
    assert download.status_code == 400
    assert says in html.unescape(download.text)
    assert download.headers["content-type"].startswith("text/html")


def test_an_unknown_section_has_no_download(client: TestClient) -> None:
    signed_in(client)
    answer = client.get("/console/reports/everything.csv", params=PERIOD)
    assert answer.status_code == 404
    assert "There is no report section 'everything'" in html.unescape(answer.text)


@pytest.mark.parametrize("key", SECTION_KEYS)
def test_each_download_holds_the_rows_of_its_table_and_of_the_api(
    client: TestClient, key: str
) -> None:
    signed_in(client)
    shown = _both_pages(client, PERIOD)[key]
    download = client.get(shown.csv_href)
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="redress-{key}-2026-11-08-to-2026-12-07.csv"'
    )
    table = list(csv.reader(io.StringIO(download.text)))
    columns, rows = table[0], table[1:]
    api = next(
        s
        for s in client.get("/api/reports", params=PERIOD, headers=ADMIN).json()["sections"]
        if s["key"] == key
    )
    assert columns == api["columns"]
    from_api = [["" if v is None else str(v) for v in row] for row in api["rows"]]
    assert _same_waits(columns, rows) == _same_waits(columns, shown.rows)
    assert _same_waits(columns, rows) == _same_waits(columns, from_api)


def test_nobody_unsigned_sees_a_report(client: TestClient) -> None:
    for path in ("/console/reports", "/console/reports/satisfaction.csv"):
        answer = client.get(path, params=PERIOD, follow_redirects=False)
        assert answer.status_code == 303
        where = urllib.parse.urlsplit(answer.headers["location"])
        assert where.path == "/console/sign-in"
        assert urllib.parse.parse_qs(where.query)["next"] == [
            f"{path}?start=2026-11-08&end=2026-12-07"
        ]
