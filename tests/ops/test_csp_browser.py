"""In Chromium, under the proposed Content-Security-Policy, Helpline's pages raise no violation.

The live server is shared by the session and built its middleware before any test could
change MIDDLEWARE, so when a page arrives without the header (settings.py not yet carrying the
policy) the browser is handed the proposed policy by a Playwright route; once settings.py sends
the header, the server's own header (with its nonce) is used unchanged.

The violations are collected with the `securitypolicyviolation` DOM event, which the browser
fires for every blocked script, style, image or frame.
"""

import os
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils.csp import build_policy

from helpline.accounts.demo import DEMO_PASSWORD, load_demo
from helpline.tickets import actions
from tests.ops.test_headers import POLICY, _csp  # noqa: F401  (autouse fixture: the policy)

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = (e.blockedURI || "inline") + " line " + e.lineNumber;
  window.__csp.push(e.violatedDirective + " " + where);
});
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`.")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def signed_in_agent(page, live_server, transactional_db, settings):
    settings.SITE_URL = live_server.url
    cache.clear()
    load_demo()
    page.add_init_script(RECORD_VIOLATIONS)
    page.route("**/*", _with_policy)
    page.goto(f"{live_server.url}/staff/login/")
    page.get_by_label("Username or email").fill("john")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert not re.search(r"/login/", page.url)
    return page


def _with_policy(route) -> None:
    if route.request.resource_type != "document":
        route.continue_()
        return
    response = route.fetch(max_redirects=0)
    headers = dict(response.headers)
    if "content-security-policy" not in headers:
        headers["content-security-policy"] = build_policy(POLICY)
    route.fulfill(response=response, headers=headers)


def _violations(page) -> list[str]:
    page.wait_for_timeout(200)  # The event is dispatched asynchronously.
    return page.evaluate("window.__csp")


def test_policy_is_enforced_in_the_browser(signed_in_agent, live_server):
    """Sanity check of the harness: a script injected inline is blocked and reported."""
    page = signed_in_agent
    page.goto(f"{live_server.url}/staff/")
    assert page.evaluate("document.querySelector('script[src*=htmx]') !== null")
    assert page.evaluate("typeof htmx") == "object"  # 'self' scripts run
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.append(s); }"
    )
    assert page.evaluate("window.__ran") is None
    assert any(v.startswith("script-src") for v in _violations(page))


def test_staff_ticket_pages_raise_no_csp_violation(signed_in_agent, live_server):
    page = signed_in_agent
    from helpline.accounts.models import Department, User

    karen = User.objects.get(username="karen")
    ticket = actions.open_ticket(
        karen,
        requester=karen,
        subject="Printer jams",
        body="Every page.",
        department=Department.objects.get(name="Support"),
    )
    seen = {}
    paths = (
        f"/staff/tickets/{ticket.number}/",
        "/staff/tickets/new/",
        "/staff/",
        "/staff/reports/",
    )
    for path in paths + ("/", "/status/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        seen[path] = _violations(page)
    assert seen == {path: [] for path in seen}
