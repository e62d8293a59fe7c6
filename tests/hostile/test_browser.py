"""In Chromium, nothing from the corpus runs: every page that shows hostile input, and the
notification emails.

`live_desk` sends the browser subset of the corpus (corpus.BROWSER_IDS, one or more of every
family, plus the script-carrying email addresses) through every channel into the live server's
database; `hostile_page` (browser.py) records any marker call, dialog, page error, CSP report
of an injected script and any latent vector left in the DOM. The wide net over every payload is
test_html_surfaces.py; this is the proof in a real browser.
"""

import re
from urllib.parse import quote

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from helpline.accounts.demo import DEMO_PASSWORD, load_demo
from helpline.accounts.models import User
from helpline.tickets import actions, guest
from helpline.tickets.models import Ticket
from tests.hostile.browser import Watch
from tests.hostile.corpus import ADDRESS_PAYLOADS, BROWSER_PAYLOADS, BY_ID
from tests.scenarios.helpers import portal_open_ticket

pytestmark = pytest.mark.browser
ADMIN_SAMPLE = 8


def test_the_watch_sees_script_that_runs(hostile_page, live_server):
    """The harness itself: injected script, a dialog and a latent javascript: link are all
    caught (otherwise a clean run would prove nothing)."""
    watch = hostile_page
    response = watch.visit("/", "portal home")
    assert watch.found == []
    # Escaping alone must stop the corpus: the policy only reports here, it blocks nothing.
    assert "content-security-policy" not in response.headers
    assert "content-security-policy-report-only" in response.headers
    watch.page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = \"__xss('c1')\"; document.body.append(s); }"
    )
    watch.check()
    watch.show(
        "<img src=x onerror=\"__xss('c2')\"><a href=\"javascript:__xss('c3')\">x</a>"
        "<script>alert('c4')</script>",
        "controls",
    )
    found = "\n".join(watch.found)
    for marker in ("c1", "c2", "c3", "c4"):
        assert marker in found, found


# ---------------------------------------------------------------------------------------------
# Typed into the portal's form, then read by the agent and the admin


SCRIPT, IMAGE = BY_ID["p01"].text, BY_ID["p07"].text
NAME = f"Mallory {BY_ID['p42'].text}"
SUBJECT = f"Printer {IMAGE} jammed"
MESSAGE = f"Paper stuck {SCRIPT} and {BY_ID['p10'].text} in tray 2"
FILE_NAME = f"{IMAGE}.txt"
MALLORY = "mallory@example.com"


def test_html_typed_in_the_portal_is_shown_as_text_everywhere(hostile_page, live_server, settings):
    """A guest types HTML and script into the form (subject, message, name, a file's name):
    the portal, the agent panel and the admin panel show it as text, and nothing runs."""
    watch, page, site = hostile_page, hostile_page.page, live_server.url
    settings.SITE_URL = site
    cache.clear()
    load_demo()
    number = portal_open_ticket(
        page,
        site,
        name=NAME,
        email=MALLORY,
        topic="Hardware",
        subject=SUBJECT,
        message=MESSAGE,
        files=[{"name": FILE_NAME, "mimeType": "text/plain", "buffer": b"tray 2 log\n"}],
    )
    watch.where = "portal confirmation"
    watch.check()
    ticket = Ticket.objects.get(number=number)
    watch.visit(guest.link_path(guest.issue_link(ticket, MALLORY)), "portal ticket (guest link)")
    expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(page).to_have_title(f"#{number} {SUBJECT} · Helpline")
    expect(page.locator(".portal-ticket-head")).to_contain_text(NAME)
    expect(page.locator(".thread .body")).to_have_text(MESSAGE)
    expect(page.locator(".thread .attachments a")).to_have_text(FILE_NAME)

    watch.sign_in(User.objects.get(username="john"))
    watch.visit("/staff/queues/open/", "agent queue")
    row = page.locator("#queue-table tbody tr").filter(has_text=f"#{number}")
    expect(row.locator("td.subject")).to_have_text(SUBJECT)
    expect(row).to_contain_text(NAME)
    watch.visit(f"/staff/tickets/{number}/", "agent ticket page")
    expect(page.locator("#ticket-subject")).to_have_text(SUBJECT)
    expect(page.locator("#requester")).to_contain_text(NAME)
    expect(page.locator("#thread article .body").first).to_have_text(MESSAGE)
    expect(page.locator("#thread article .attachments a")).to_have_text(FILE_NAME)
    expect(page.locator("#thread")).to_contain_text(f"{NAME} opened the ticket")

    watch.sign_in(User.objects.get(username="admin"))
    watch.visit(f"/admin/tickets/ticket/{ticket.pk}/change/", "admin ticket page")
    expect(page.locator(".field-subject .readonly")).to_have_text(SUBJECT)
    expect(page.locator(".field-requester .readonly")).to_contain_text(NAME)
    expect(page.locator(".access-explanation")).to_contain_text(NAME)
    assert watch.found == [], "\n".join(watch.found)


def test_a_requester_cannot_open_another_requesters_ticket(page, live_server, settings):
    """Another requester's ticket is a 404 by its address, like a number that does not exist
    (with the typed-input test above, what tests/scenarios/test_security_browser.py held)."""
    site = live_server.url
    settings.SITE_URL = site
    cache.clear()
    load_demo()

    def sign_in(username: str) -> None:
        page.context.clear_cookies()
        page.goto(f"{site}/login/")
        page.get_by_label("Username or email").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        expect(page).not_to_have_url(re.compile(r"/login/"))

    sign_in("karen")
    number = portal_open_ticket(
        page,
        site,
        topic="General Inquiry",
        subject="Salary statement for October",
        message="Please resend my October salary statement.",
    )
    page.get_by_role("link", name=f"View ticket #{number}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Salary statement for October")

    sign_in("ken")
    response = page.goto(f"{site}/tickets/{number}/")
    assert response.status == 404
    expect(page.get_by_text("Salary statement")).to_have_count(0)
    # A number that does not exist looks the same.
    assert page.goto(f"{site}/tickets/X{number}/").status == 404


# ---------------------------------------------------------------------------------------------
# The corpus subset, every surface


def _portal(watch: Watch, desk) -> None:
    for item in desk.tickets("portal", "mail"):
        watch.sign_out()
        link = guest.link_path(guest.issue_link(item.ticket, item.person.email))
        watch.visit(link, f"portal ticket (guest link) {item}", shows=f"#{item.ticket.number}")
    for item in desk.tickets("portal"):
        watch.sign_in(item.person)
        query = f"?q={_quoted(item.payload.text[:100])}"
        watch.visit(f"/tickets/{query}", f"My tickets searched {item}", item.ticket.number)


def _agent(watch: Watch, desk) -> None:
    john = User.objects.get(username="john")
    watch.sign_in(john)
    for item in desk.tickets("portal", "mail", "api"):
        path = f"/staff/tickets/{item.ticket.number}/?history=1"
        watch.visit(path, f"agent ticket {item}", shows=f'data-number="{item.ticket.number}"')
    for slug in ("open", "unassigned", "all"):
        watch.visit(f"/staff/queues/{slug}/", f"queue {slug}")
        while (more := watch.page.locator("a[rel=next]")).count():
            more.first.click()
            # The next page comes by htmx: wait until it is in (not just the old page loaded),
            # or the loop clicks the old link again while it is being replaced.
            watch.page.wait_for_load_state("networkidle")
            watch.where = f"queue {slug}, next page"
            watch.check()
    for payload in BROWSER_PAYLOADS:
        watch.visit(f"/staff/search/?q={_quoted(payload.text)}", f"search {payload}")
    _dashboard(watch, desk, john)
    watch.visit("/staff/reports/?group=agent", "reports")
    watch.visit("/staff/tickets/new/", "new ticket form")
    box = watch.page.locator("#requester-search")
    for text in ("hostile", "p0", "p4"):
        # The suggestions are swapped in by htmx (which would run a script inside them);
        # picking one copies the name into the form by script (as text).
        box.fill(text)
        watch.page.wait_for_timeout(600)
        watch.where = f"requester suggestions for {text!r}"
        suggestions = watch.page.locator("#requester-suggestions button")
        if suggestions.count():
            suggestions.first.click()
        else:
            watch.record("no suggestions were shown")
        watch.check()
    for owner in ("jane", "garnet"):
        watch.sign_in(User.objects.get(username=owner))
        watch.visit("/staff/", f"{owner}'s sidebar with saved searches")
        for pid, search in desk.saved_searches.items():
            if search.owner.username == owner:
                watch.visit(f"/staff/searches/{search.pk}/", f"saved search {pid}")


def _dashboard(watch: Watch, desk, john: User) -> None:
    items = desk.tickets("portal")
    for start in range(0, len(items), 10):
        batch = [Ticket.objects.get(pk=i.ticket.pk) for i in items[start : start + 10]]
        for ticket in batch:
            actions.assign(john, ticket, agent=john)
        watch.visit("/staff/", f"dashboard, tickets {start + 1}–{start + len(batch)}")


def _admin(watch: Watch, desk) -> None:
    """The lists show every payload at once; the change pages, a few (the HTML checks open
    every one: the admin renders them all with the same widgets)."""
    watch.sign_in(User.objects.get(username="admin"))
    for path in ("tickets/ticket", "accounts/user", "mail/failedmail", "mail/receivedmail",
                 "tickets/notification", "tickets/event"):  # fmt: skip
        watch.visit(f"/admin/{path}/", f"admin {path} list")
    for item in desk.tickets("portal")[:ADMIN_SAMPLE]:
        query = _quoted(item.payload.text)
        watch.visit(f"/admin/tickets/ticket/?q={query}", f"admin search {item.payload}")
        path = f"/admin/tickets/ticket/{item.ticket.pk}/change/"
        watch.visit(path, f"admin ticket {item}", shows=item.ticket.number)
        watch.visit(f"/admin/accounts/user/{item.person.pk}/change/", f"admin user {item}")
    for pid, failed in list(desk.failed_mail.items())[:ADMIN_SAMPLE]:
        watch.visit(f"/admin/mail/failedmail/{failed.pk}/change/", f"admin failed mail {pid}")


def _emails(watch: Watch, desk) -> int:
    """Each distinct HTML alternative sent, rendered as a page of its own."""
    watch.visit("/healthz", "blank page for the emails")
    shown = set()
    for message in desk.outbox:
        for html, kind in getattr(message, "alternatives", []):
            if kind == "text/html" and html not in shown:
                shown.add(html)
                watch.show(html, f"email {message.subject[:60]!r}")
    return len(shown)


def _quoted(text: str) -> str:
    return quote(text, safe="")


def test_the_corpus_runs_nowhere_in_chromium(live_desk, hostile_page):
    watch = hostile_page
    _portal(watch, live_desk)
    _agent(watch, live_desk)
    _admin(watch, live_desk)
    emails = _emails(watch, live_desk)
    assert emails >= len(BROWSER_PAYLOADS), "the notification emails were rendered"
    people = {p.pid for p in ADDRESS_PAYLOADS} & {i.payload.pid for i in live_desk.landed}
    assert people, "the script-carrying addresses were taken in"
    assert watch.pages >= 250, "every surface was opened"
    assert watch.found == [], f"{len(watch.found)} on {watch.pages} pages:\n" + "\n".join(
        watch.found[:60]
    )
