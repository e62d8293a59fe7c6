"""Scenario 3: escalation out of an agent's reach, then view-only access given back.

John works one ticket to the end, escalates another to the restricted SysAdmins department and
loses sight of it; the administrator gives him the "View only" role there in the admin panel;
John reads the ticket again, but every change is absent from the page and refused if forged.
(The API half of the scenario is tested with the API.)
"""

import pytest
from playwright.sync_api import expect

from helpline.accounts.demo import DEMO_PASSWORD
from helpline.accounts.models import Department, User
from helpline.tickets.models import Status
from tests.scenarios.helpers import (
    admin_sign_in,
    change_status,
    csrf_token,
    history,
    open_from_queue,
    portal_open_ticket,
    queue_row,
    route,
    send_reply,
    sidebar_queue,
    staff_ticket,
)

pytestmark = [pytest.mark.browser]

CHANGING_CONTROLS = (
    "#compose, #reply-form, #note-form, #route-form, #status-form, #due-form, #merge-form, "
    "#collaborator-form"
)


def forged_posts(number: str, version: str) -> dict[str, dict]:
    """What a view-only agent might try by hand: each endpoint with a plausible form."""
    support = Department.objects.get(name="Support").pk
    resolved = Status.objects.get(name="Resolved").pk
    john = User.objects.get(username="john").pk
    return {
        "reply": {"version": version, "body": "Forged reply"},
        "note": {"version": version, "body": "Forged note"},
        "route": {"version": version, "department": support, "assignee": john},
        "status": {"version": version, "status": resolved},
        "due": {"version": version, "reset": "1"},
        "merge": {"into": number},
        "collaborators": {"email": "mallory@example.com"},
    }


def test_scenario_3_escalation_out_of_an_agents_reach(page, site, sign_in):
    # Two requests arrive through the portal.
    sign_in("karen", portal=True)
    laptop = portal_open_ticket(
        page,
        site,
        topic="General Inquiry",
        subject="CFO's laptop will no longer turn on",
        message="The CFO's laptop shows no light at all, even on the charger.",
    )
    server = portal_open_ticket(
        page,
        site,
        topic="General Inquiry",
        subject="Payroll server unreachable",
        message="The payroll application says its server cannot be reached.",
    )

    # 1. John sets Sev-B and keeps it in Support, works it, and resolves it.
    sign_in("john")
    sidebar_queue(page, "Open")
    open_from_queue(page, laptop)
    route(page, department="Support", sla_plan="Sev-B")
    expect(page.locator("#ticket-sla")).to_have_text("Sev-B")
    expect(page.locator("#ticket-department")).to_have_text("Support")
    send_reply(
        page, "The power board failed; the laptop is at the repair desk.", status="Work in Progress"
    )
    send_reply(page, "Repaired and handed back to the CFO.")
    change_status(page, "Resolved")
    expect(history(page)).to_contain_text("John Smith changed the SLA plan from Sev-C to Sev-B")

    # 2. John escalates the other one to SysAdmins: it disappears from his view.
    staff_ticket(page, site, server)
    # The topic brings its defaults along (the box is ticked): Sev-A, emergency priority.
    route(page, department="SysAdmins", help_topic="Sev-A Emergency")
    expect(page.locator(".messages")).to_contain_text(
        f"Ticket #{server} transferred to SysAdmins. Also: priority set to emergency; "
        "SLA plan set to Sev-A; help topic set to Sev-A Emergency."
    )
    sidebar_queue(page, "Open")
    expect(queue_row(page, server)).to_have_count(0)
    response = page.goto(f"{site}/staff/tickets/{server}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    expect(page.get_by_text("Payroll server unreachable")).to_have_count(0)

    # 3. The administrator gives John view-only access to SysAdmins in the admin panel.
    admin_sign_in(page, site, "admin", DEMO_PASSWORD)
    page.get_by_role("link", name="Agents", exact=True).click()
    page.get_by_role("link", name="John Smith", exact=True).click()
    accesses = page.locator("#accesses-group")
    accesses.locator("select[name='accesses-0-department']").select_option(label="SysAdmins")
    accesses.locator("select[name='accesses-0-role']").select_option(label="View only")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    # 4. John sees it again, read-only: no control that changes it is on the page…
    sign_in("john")
    staff_ticket(page, site, server)
    expect(page.locator("#ticket-subject")).to_have_text("Payroll server unreachable")
    expect(page.locator("#read-only")).to_contain_text(
        "your role “View only” in SysAdmins allows no changes to this ticket"
    )
    expect(page.locator(CHANGING_CONTROLS)).to_have_count(0)
    expect(page.get_by_role("button", name="Send reply")).to_have_count(0)
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)

    # …and what he forges anyway is refused with 403, and nothing changes.
    version = page.locator("#ticket-page").get_attribute("data-version")
    status = page.locator("#ticket-status").inner_text()
    entries = page.locator("#thread article").count()
    token = csrf_token(page)
    for endpoint, form in forged_posts(server, version).items():
        answer = page.request.post(
            f"{site}/staff/tickets/{server}/{endpoint}/",
            form={"csrfmiddlewaretoken": token, **form},
        )
        assert answer.status == 403, (endpoint, answer.status)
        assert "Nothing was changed." in answer.text(), endpoint
    page.reload()
    expect(page.locator("#ticket-page")).to_have_attribute("data-version", version)
    expect(page.locator("#ticket-status")).to_have_text(status)
    expect(page.locator("#thread article")).to_have_count(entries)
    expect(page.locator("#ticket-department")).to_have_text("SysAdmins")
    expect(history(page)).not_to_contain_text("Forged")
