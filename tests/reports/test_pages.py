"""The reports page: agents only, visible tickets only, CSV equal to the screen, SVG well formed."""

import csv
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db

URL = "/staff/reports/"
FEB = "period=custom&start=2026-02-09&end=2026-02-22"
SVG = "{http://www.w3.org/2000/svg}"


class Tables(HTMLParser):
    """The text of every <table data-table=…> cell, by table slug."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-table" in attrs:
            self.current = self.tables.setdefault(attrs["data-table"], [])
        elif tag == "tr" and self.current is not None:
            self.current.append([])
        elif tag in ("td", "th") and self.current is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.current = None
        elif tag in ("td", "th") and self.cell is not None:
            self.current[-1].append(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def page_tables(html: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(html)
    # The page shows an empty figure as a dash; the CSV leaves the cell empty.
    return {k: [[c.replace("—", "") for c in row] for row in v] for k, v in parser.tables.items()}


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def test_requesters_and_anonymous_visitors_are_sent_to_sign_in(client, karen, password):
    assert client.get(URL).status_code == 302
    client.force_login(karen)
    response = client.get(URL)
    assert response.status_code == 302 and "/staff/login/" in response["Location"]
    assert client.get(URL + "export/volume.csv").status_code == 302


def test_the_page_shows_figures_charts_and_definitions(client, february, admin_user):
    client.force_login(admin_user)
    response = client.get(f"{URL}?{FEB}&group=department")
    assert response.status_code == 200
    html = response.content.decode()
    tables = page_tables(html)
    volume = {row[0]: row[1:] for row in tables["volume"][1:]}
    assert volume["Support"] == ["3", "3", "1", "0", "0", "1"]
    assert volume["All"] == ["5", "3", "1", "1", "1", "3"]
    sla = {row[0]: row[1:] for row in tables["sla"][1:]}
    assert sla["Support"] == ["3", "1", "33.3", "3", "1", "33.3"]
    times = {row[0]: row[1:] for row in tables["times"][1:]}
    # Medians and p90 in hours: first response business 1.5 / 2.7, wall 1.5 / 72.3 …
    assert times["Support"] == ["1.50", "2.70", "1.50", "72.30", "6.00", "10.00", "6.00", "94.00"]
    assert "How the figures are counted" in html

    charts = svgs(html)
    assert len(charts) == 5
    for svg in charts:
        assert svg.get("role") == "img"
        assert svg.find(f"{SVG}title").text and svg.find(f"{SVG}desc").text
    by_group = charts[0]
    assert "Support" in ET.tostring(by_group, encoding="unicode")
    bar_titles = [t.text for t in charts[1].iter(f"{SVG}title")]
    assert "17 Feb: Resolved 2" in bar_titles


@pytest.mark.parametrize("table", ["volume", "sla", "times", "satisfaction", "daily",
                                   "distribution"])  # fmt: skip
def test_csv_has_the_numbers_of_the_screen(client, february, admin_user, table):
    client.force_login(admin_user)
    shown = page_tables(client.get(f"{URL}?{FEB}&group=department").content.decode())[table]
    response = client.get(f"{URL}export/{table}.csv?{FEB}&group=department")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    exported = list(csv.reader(io.StringIO(response.content.decode())))
    assert exported == shown


def test_john_cannot_see_sysadmins_figures(client, february, john):
    client.force_login(john)
    html = client.get(f"{URL}?{FEB}&group=department").content.decode()
    volume = page_tables(html)["volume"]
    assert [row[0] for row in volume[1:]] == ["Support", "All"]
    assert "SysAdmins" not in html and "Online Banking" not in html
    exported = client.get(f"{URL}export/volume.csv?{FEB}&group=department").content.decode()
    assert "SysAdmins" not in exported
    assert exported.splitlines()[-1] == "All,3,3,1,0,0,1"


@pytest.mark.parametrize(
    "query",
    [
        "period=custom&start=2026-03-01&end=2026-02-01",
        "period=custom&start=nonsense&end=2026-02-01",
        "period=custom",
        "period=custom&start=2020-01-01&end=2026-01-01",
        "period=forever&group=planet",
    ],
)
def test_bad_input_gets_a_form_error_not_a_crash(client, john, query):
    client.force_login(john)
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert b'role="alert"' in response.content or b"errorlist" in response.content
    # The export of a bad query falls back to this week instead of failing.
    assert client.get(f"{URL}export/volume.csv?{query}").status_code == 200


def test_presets_and_groupings_render(client, february, admin_user):
    client.force_login(admin_user)
    for period in ("today", "week", "7d", "30d", "90d"):
        for group in ("department", "team", "agent", "help_topic", "priority", "source"):
            response = client.get(f"{URL}?period={period}&group={group}")
            assert response.status_code == 200, (period, group)
    assert client.get(f"{URL}export/nothing.csv").status_code == 404


def test_csv_defuses_formulas_in_comments(client, february, admin_user):
    from helpline.reports import csat
    from helpline.reports.models import CsatSurvey

    survey = CsatSurvey.objects.get(ticket=february.tickets.t2)
    csat.answer(survey, 4, '=HYPERLINK("http://evil")', now=survey.created_at)
    client.force_login(admin_user)
    exported = client.get(f"{URL}export/comments.csv?{FEB}").content.decode()
    assert "'=HYPERLINK" in exported


def test_dashboard_and_navigation_link_into_the_reports(client, john):
    client.force_login(john)
    html = client.get("/staff/").content.decode()
    assert 'href="/staff/reports/"' in html  # the top navigation
    assert "/staff/reports/?period=week#sla-by-group" in html
    page = client.get("/staff/reports/?period=week")
    assert page.status_code == 200 and b'id="sla-by-group"' in page.content
