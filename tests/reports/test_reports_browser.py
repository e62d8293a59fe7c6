"""The reports page in Chromium: the charts render, are sized and described, no script errors."""

import pytest
from playwright.sync_api import expect

from helpline.tickets import actions
from helpline.tickets.models import Status
from tests.scenarios.conftest import (  # noqa: F401 - fixtures
    _fail_on_page_errors,
    browser_context_args,
    browser_type_launch_args,
    sign_in,
    site,
)

pytestmark = pytest.mark.browser


def _history() -> None:
    from helpline.accounts.models import Department, User

    admin = User.objects.get(username="admin")
    karen = User.objects.get(username="karen")
    support = Department.objects.get(name="Support")
    resolved = Status.objects.get(name="Resolved")
    for n in range(3):
        ticket = actions.open_ticket(
            admin, requester=karen, subject=f"Printer {n}", body="Jammed.", department=support
        )
        actions.reply(admin, ticket, "Fixed it.")
        if n:
            actions.set_status(admin, ticket, resolved)


def test_charts_render_with_text_alternatives(page, site, sign_in, tmp_path):  # noqa: F811
    _history()
    sign_in("john")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    page.get_by_label("Period", exact=True).select_option("7d")
    page.get_by_role("button", name="Show").click()
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(5)
    for i in range(5):
        chart = charts.nth(i)
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box["width"] > 300 and box["height"] > 80
        assert chart.get_attribute("role") == "img"
    volume = page.get_by_role("img", name="Tickets created and resolved per day")
    expect(volume).to_be_visible()
    expect(page.locator("#volume svg rect")).not_to_have_count(0)
    table = page.locator("table[data-table=volume]")
    expect(table.locator("tr.total")).to_contain_text("3")
    with page.expect_download() as download:
        page.locator("[data-export=volume]").click()
    saved = tmp_path / "volume.csv"
    download.value.save_as(saved)
    assert saved.read_text().splitlines()[-1].startswith("All,3,2,")
    page.locator(".charts").screenshot(path=str(tmp_path / "charts.png"))
