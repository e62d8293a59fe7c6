"""Two web processes, one PostgreSQL: sign in on one, work a ticket through the other.

Sessions, CSRF, caches and rate limits live in the database, so any process can serve any
request of a signed-in agent (what a load balancer in front of two hosts needs).
"""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from helpline.accounts.demo import load_demo
from helpline.accounts.models import User
from helpline.tickets import actions
from helpline.tickets.models import EntryKind
from tests.databases import database_url, postgres_only

pytestmark = [
    *postgres_only(
        "two processes share one database only on a server database "
        "(run via scripts/pg-throwaway.sh)"
    ),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "Two-hosts-pass-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_hosts(tmp_path):
    """Two gunicorn processes (one worker each) on their own ports, same database."""
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        DEBUG="1",  # static files from the finders: no collectstatic in a test
        LOG_LEVEL="ERROR",
        HELPLINE_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="helpline.settings",
    )
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    hosts, processes = [], []
    for _ in range(2):
        port = _free_port()
        processes.append(subprocess.Popen(
            [gunicorn, "helpline.wsgi:application", "-w", "1", "-b", f"127.0.0.1:{port}",
             "--log-level", "warning"],
            env=env,
        ))  # fmt: skip
        hosts.append(f"http://127.0.0.1:{port}")
    try:
        for host, process in zip(hosts, processes, strict=True):
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, "gunicorn exited during start-up"
                try:
                    if requests.get(f"{host}/healthz", timeout=2).json()["status"] == "ok":
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "gunicorn did not answer /healthz"
                time.sleep(0.1)
        yield hosts
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_sign_in_on_one_host_and_reply_through_the_other(two_hosts):
    load_demo()
    john = User.objects.get(username="john")
    # The servers use the real password hashers (the tests' fast MD5 one is not among them).
    john.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    john.save()
    karen = User.objects.get(username="karen")
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="It jams.")
    host_a, host_b = two_hosts

    browser = requests.Session()
    browser.get(f"{host_a}/staff/login/", timeout=10)
    signed_in = browser.post(
        f"{host_a}/staff/login/",
        data={"username": "john", "password": PASSWORD,
              "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{host_a}/staff/login/"}, allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert signed_in.status_code == 302, signed_in.text[:3000]

    page = browser.get(f"{host_b}/staff/tickets/{ticket.number}/", timeout=10)
    assert page.status_code == 200 and "Printer" in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    replied = browser.post(
        f"{host_b}/staff/tickets/{ticket.number}/reply/",
        data={"body": "Cleared the paper path.", "version": version,
              "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{host_b}/staff/tickets/{ticket.number}/"},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert replied.status_code == 302, replied.text[:500]

    reply = ticket.entries.get(kind=EntryKind.REPLY)
    assert reply.author == john and reply.body_text == "Cleared the paper path."
    # Host A shows it too, and finds the ticket by the new words.
    assert (
        "Cleared the paper path."
        in browser.get(f"{host_a}/staff/tickets/{ticket.number}/", timeout=10).text
    )
    found = browser.get(f"{host_a}/staff/search/", params={"q": "paper path"}, timeout=10)
    assert ticket.number in found.text
    # Signing out on B ends the session on A as well.
    browser.post(f"{host_b}/staff/logout/", data={"csrfmiddlewaretoken":
                 browser.cookies["csrftoken"]}, headers={"Referer": f"{host_b}/staff/"},
                 timeout=10)  # fmt: skip
    again = browser.get(f"{host_a}/staff/", allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "/staff/login/" in again.headers["Location"]
