"""Cookies under HTTPS: the settings module as production starts it, then a real sign-in.

settings.py reads HTTPS=1 at import time, so a subprocess imports it with a production
environment (and runs `check --deploy` there); the values it reports are then applied here and a
sign-in through the test client shows the cookie flags a browser would get.
"""

import json
import os
import subprocess
import sys
from http.cookies import Morsel

import pytest
from django.conf import settings as django_settings

COOKIE_SETTINGS = [
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
]

PROBE = f"""
import json, django
from django.conf import settings
from django.core.management import call_command
django.setup()
call_command("check", "--deploy", "--fail-level", "ERROR", verbosity=0)
print(json.dumps({{name: getattr(settings, name) for name in {COOKIE_SETTINGS!r}}}))
"""


@pytest.fixture(scope="module")
def production_settings(tmp_path_factory) -> dict:
    """The cookie settings of helpline.settings imported with HTTPS=1 and a production env."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Test-only switches (the browser harness allows async-unsafe ORM calls) stay out.
        if key not in {"DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="helpline.settings",
        HTTPS="1",
        SECRET_KEY="production-like-" + "k3y" * 20,
        ALLOWED_HOSTS="helpdesk.example",
        SITE_URL="https://helpdesk.example",
        SMTP_HOST="127.0.0.1",
        HELPLINE_VAR_DIR=str(tmp_path_factory.mktemp("var")),
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=django_settings.BASE_DIR.parent,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def test_production_settings_make_cookies_secure(production_settings):
    assert production_settings["SESSION_COOKIE_SECURE"] is True
    assert production_settings["CSRF_COOKIE_SECURE"] is True
    assert production_settings["SESSION_COOKIE_HTTPONLY"] is True
    assert production_settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production_settings["CSRF_COOKIE_SAMESITE"] == "Lax"


def cookie(response, name: str) -> Morsel:
    assert name in response.cookies, f"no {name} cookie set"
    return response.cookies[name]


@pytest.mark.parametrize(
    ("login_url", "username"), [("/staff/login/", "john"), ("/login/", "karen")]
)
def test_sign_in_over_https_sets_secure_httponly_lax_cookies(
    client, demo, password, settings, production_settings, login_url, username
):
    for name, value in production_settings.items():
        setattr(settings, name, value)
    https = {"HTTP_X_FORWARDED_PROTO": "https"}
    # Plain HTTP is sent to HTTPS first.
    plain = client.get(login_url)
    assert plain.status_code == 301 and plain.url.startswith("https://")

    page = client.get(login_url, **https)
    assert page.status_code == 200
    csrf = cookie(page, settings.CSRF_COOKIE_NAME)
    assert csrf["secure"] is True and csrf["samesite"] == "Lax"

    response = client.post(login_url, {"username": username, "password": password}, **https)
    assert response.status_code == 302
    session = cookie(response, settings.SESSION_COOKIE_NAME)
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    rotated_csrf = cookie(response, settings.CSRF_COOKIE_NAME)
    assert rotated_csrf["secure"] is True and rotated_csrf.value != csrf.value
