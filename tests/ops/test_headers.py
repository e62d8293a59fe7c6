"""Security headers on every kind of page: CSP, framing, sniffing, referrer.

The Content-Security-Policy settings are applied here through the `settings` fixture with the
exact values proposed for helpline/settings.py, so these tests pass before and after they are
pasted there.
"""

import re

import pytest
from django.urls import reverse
from django.utils.csp import CSP

from helpline.tickets import actions

CSP_MIDDLEWARE = "django.middleware.csp.ContentSecurityPolicyMiddleware"
POLICY = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # Templates carry <style> blocks and style="" attributes; htmx adds its indicator styles.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
EXPECTED_DIRECTIVES = {
    "default-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


@pytest.fixture(autouse=True)
def _csp(settings):
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        security = middleware.index("django.middleware.security.SecurityMiddleware")
        middleware.insert(security + 1, CSP_MIDDLEWARE)
        settings.MIDDLEWARE = middleware
    settings.SECURE_CSP = POLICY
    templates = [dict(engine) for engine in settings.TEMPLATES]
    options = dict(templates[0]["OPTIONS"])
    processors = list(options["context_processors"])
    if "django.template.context_processors.csp" not in processors:
        processors.append("django.template.context_processors.csp")
    options["context_processors"] = processors
    templates[0]["OPTIONS"] = options
    settings.TEMPLATES = templates


def _directives(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


def _assert_security_headers(response) -> None:
    directives = _directives(response)
    for name, value in EXPECTED_DIRECTIVES.items():
        assert directives[name] == value, name
    # script-src is 'self', plus this response's nonce when a template used it: never
    # 'unsafe-inline' or 'unsafe-eval'.
    assert re.fullmatch(r"'self'( 'nonce-[A-Za-z0-9_\-+/=]+')?", directives["script-src"])
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.fixture
def ticket(john, karen, org):
    return actions.open_ticket(
        karen,
        requester=karen,
        subject="Printer jams",
        body="Every page.",
        department=org.dept("Support"),
    )


def test_portal_pages_send_the_security_headers(client, demo):
    for name in ("portal:home", "portal:login", "portal:check_status"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        _assert_security_headers(response)


def test_staff_and_admin_pages_send_the_security_headers(client, john, admin_user, ticket):
    client.force_login(john)
    for url in (reverse("staff:ticket", args=[ticket.number]), reverse("staff:new_ticket")):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_security_headers(response)
    client.force_login(admin_user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    _assert_security_headers(response)


def test_error_and_json_responses_send_the_security_headers(client, demo):
    _assert_security_headers(client.get("/no-such-page/"))
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def _inline_scripts_without_nonce(html: str, nonce: str) -> list[str]:
    scripts = re.findall(r"<script\b([^>]*)>", html, flags=re.IGNORECASE)
    return [attrs for attrs in scripts if "src=" not in attrs and f'nonce="{nonce}"' not in attrs]


def test_inline_scripts_on_staff_pages_carry_the_csp_nonce(client, john, ticket):
    client.force_login(john)
    for url in (reverse("staff:ticket", args=[ticket.number]), reverse("staff:new_ticket")):
        response = client.get(url)
        # The header names a nonce only when a template used it.
        found = re.search(r"'nonce-([^']+)'", _directives(response)["script-src"])
        nonce = found.group(1) if found else "(none sent)"
        assert _inline_scripts_without_nonce(response.content.decode(), nonce) == [], url
