"""Chromium watching for script that should not run: the hostile page and its checks.

Every page a test opens gets, before any of its own scripts:
- `window.__xss(id)`, the corpus's marker: a call is reported to Python (an exposed binding,
  so it survives navigation) and kept in `window.__xssCalls`;
- a `securitypolicyviolation` listener: the help desk's Content-Security-Policy is switched to
  report-only for these tests, so that escaping alone is what stops the corpus (an injected
  script runs and is caught), and any inline script or handler the policy would have blocked is
  reported when it carries a marker or is an event-handler attribute.
Dialogs, uncaught page errors and console errors naming a marker are recorded too, and after
every page load the DOM is searched for latent vectors a click or a hover would fire (event
handler attributes carrying a marker, `javascript:` URLs, `srcdoc`, embedded frames).
"""

import os
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils.csp import CSP

from helpline.accounts.models import User
from tests.hostile.corpus import BROWSER_PAYLOADS, markers_in
from tests.hostile.desk import build_desk
from tests.scenarios.conftest import CHROMIUM, CHROMIUM_ARGS

# Playwright's sync API runs an event loop in this thread; Django's ORM is fine with it here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The production policy (settings.SECURE_CSP), reporting only, with samples of what it saw.
REPORT_ONLY_POLICY = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE, CSP.REPORT_SAMPLE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
}

WATCH = """
(() => {
  if (window.__hostileWatching) return;
  window.__hostileWatching = true;
  window.__xssCalls = [];
  const report = (what) => { try { window.__hostileReport(String(what)); } catch (e) {} };
  window.__xss = function (id) {
    window.__xssCalls.push(String(id));
    report("script ran: __xss(" + id + ") at " + location.href);
  };
  document.addEventListener("securitypolicyviolation", (e) => {
    const sample = e.sample || "";
    if (sample.includes("__xss") || e.effectiveDirective === "script-src-attr") {
      report("CSP saw " + e.effectiveDirective + " " + e.blockedURI + ": " + sample);
    }
  });
})();
"""

LATENT = r"""
() => {
  const found = [];
  const scheme = /^(javascript|vbscript|livescript|data):/i;
  const image = /^data:image\/(png|gif|jpe?g|webp)[;,]/i;
  const urls = ["href", "src", "action", "formaction", "xlink:href", "data", "poster",
                "background", "to", "from", "values"];
  const describe = (el) => el.outerHTML.slice(0, 160);
  const scan = (doc) => {
    for (const el of doc.querySelectorAll("*")) {
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        const value = attr.value;
        const marked = value.includes("__xss") || name.includes("__xss");
        if (marked && (name.startsWith("on") || /^(data-)?hx-(on|vals|vars)/.test(name))) {
          found.push("handler " + name + ": " + describe(el));
        } else if (name.includes("__xss")) {
          found.push("marker in an attribute name: " + describe(el));
        } else if (name === "srcdoc") {
          found.push("srcdoc: " + describe(el));
        } else if (urls.includes(name)) {
          const url = value.replace(/[\t\n\r]/g, "").replace(/^[\x00-\x20]+/, "");
          if (scheme.test(url) && !(el.tagName === "IMG" && image.test(url))) {
            found.push("script URL in " + name + ": " + describe(el));
          }
        } else if (name === "style" && /expression\s*\(|javascript:/i.test(value)) {
          found.push("style runs script: " + describe(el));
        }
      }
      if (el.tagName === "SCRIPT" && el.textContent.includes("__xss")) {
        found.push("script element: " + describe(el));
      }
      if (["IFRAME", "FRAME", "OBJECT", "EMBED", "BASE"].includes(el.tagName)) {
        found.push("embedded " + el.tagName.toLowerCase() + ": " + describe(el));
      }
    }
  };
  scan(document);
  return found;
}
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`.")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1360, "height": 900}}


@dataclass
class Watch:
    """What ran, per page: a test asserts `found` is empty at the end."""

    page: object
    base_url: str
    found: list[str] = field(default_factory=list)
    pages: int = 0
    where: str = ""
    client: Client | None = None
    user: User | None = None
    session_losses: list[str] = field(default_factory=list)

    def record(self, what: str) -> None:
        self.found.append(f"{self.where}: {what}")

    def visit(self, path: str, where: str, shows: str = ""):
        """Open a page of the help desk and check it; `shows` is text the page must contain
        (a ticket number), so that a sign-in page or a 404 cannot pass as clean."""
        self.where = where
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        if self.user is not None and "/login/?next=" in self.page.url and "login" not in path:
            # Seen once under heavy load in CI (the agent's session gone before the new-ticket
            # form); not reproduced. Sign in again so the XSS checks go on, and say so.
            print(f"hostile browser: signed out before {where!r}; signing in again")
            self.session_losses.append(where)
            self.sign_in(self.user)
            response = self.page.goto(self.base_url + path)
            self.page.wait_for_load_state("load")
        if response is not None and response.status >= 500:
            self.record(f"server error {response.status}")
        if shows and shows not in self.page.content():
            self.record(f"the page does not show {shows!r} ({self.page.url})")
        self.check()
        return response

    def show(self, html: str, where: str) -> None:
        """Render HTML that is not a page of the site (an email) and check it."""
        self.where = where
        self.page.set_content(html, wait_until="load")
        self.check()

    def check(self) -> None:
        self.pages += 1
        self.page.wait_for_timeout(30)  # onload/ontoggle/onfocus handlers fire asynchronously
        calls = self.page.evaluate(
            "() => { const c = window.__xssCalls || []; window.__xssCalls = []; return c; }"
        )
        self.found += [f"{self.where}: window.__xss called with {c}" for c in calls]
        self.found += [f"{self.where}: {latent}" for latent in self.page.evaluate(LATENT)]

    def sign_in(self, user: User) -> None:
        """Become `user` in this browser: a session made by Django's test client."""
        if self.client is None:
            self.client = Client()  # One for all: making a client loads the middleware.
        client = self.client
        self.user = user
        client.force_login(user)
        self.page.context.clear_cookies()
        cookie = client.cookies["sessionid"]
        self.page.context.add_cookies(
            [{"name": "sessionid", "value": cookie.value, "url": self.base_url}]
        )

    def sign_out(self) -> None:
        self.user = None
        self.page.context.clear_cookies()


@pytest.fixture
def hostile_page(page, live_server, settings):
    """A page that records any script the corpus manages to run (see the module docstring)."""
    settings.SECURE_CSP = {}
    settings.SECURE_CSP_REPORT_ONLY = REPORT_ONLY_POLICY
    watch = Watch(page, live_server.url)
    page.context.expose_binding("__hostileReport", lambda source, what: watch.record(what))
    page.context.add_init_script(WATCH)
    page.on("dialog", lambda dialog: (watch.record(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("pageerror", lambda error: watch.record(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and ("__xss" in message.text or markers_in(message.text))
            and watch.record(f"console error: {message.text[:200]}")
        ),
    )
    return watch


@pytest.fixture
def live_desk(live_server, transactional_db, settings):
    """The browser subset of the corpus through every channel, in the live server's database."""
    settings.SITE_URL = live_server.url
    cache.clear()
    return build_desk(BROWSER_PAYLOADS, echoes=False)
