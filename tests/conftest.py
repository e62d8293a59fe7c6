"""Shared fixtures: the demo organisation and its people, named as in scenarios.md."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpline.accounts.demo import DEMO_PASSWORD, load_demo
from helpline.accounts.models import Department, Role, Team, User
from helpline.sla.models import SLAPlan
from helpline.tickets import actions
from helpline.tickets.models import HelpTopic, Priority, Status


@pytest.fixture(autouse=True)
def _fast_and_local(settings, tmp_path):
    """Tasks run inline (after commit), files go to a temp dir, mail stays in memory."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Per-test memory cache: rate-limit counters start empty and need no database.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Tests run without DEBUG and without collectstatic: no manifest to look names up in.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def demo(db):
    load_demo()


@pytest.fixture
def password():
    return DEMO_PASSWORD


def _user(username):
    return User.objects.get(username=username)


@pytest.fixture
def admin_user(demo):
    return _user("admin")


@pytest.fixture
def john(demo):
    return _user("john")


@pytest.fixture
def jane(demo):
    return _user("jane")


@pytest.fixture
def garnet(demo):
    return _user("garnet")


@pytest.fixture
def karen(demo):
    return _user("karen")


@pytest.fixture
def ken(demo):
    return _user("ken")


@pytest.fixture
def greg(demo):
    return _user("greg")


class Org:
    """Look-ups of the demo configuration by name: org.dept("Support"), org.sla("Sev-A") …"""

    def dept(self, name):
        return Department.objects.get(name=name)

    def team(self, name):
        return Team.objects.get(name=name)

    def topic(self, name):
        return HelpTopic.objects.get(name=name)

    def sla(self, name):
        return SLAPlan.objects.get(name=name)

    def priority(self, name):
        return Priority.objects.get(name=name)

    def status(self, name):
        return Status.objects.get(name=name)

    def role(self, name):
        return Role.objects.get(name=name)


@pytest.fixture
def org(demo):
    return Org()


NEW_YORK = ZoneInfo("America/New_York")


def local(*args) -> datetime:
    """A wall-clock time in the help desk's time zone (the demo's TIME_ZONE)."""
    return datetime(*args, tzinfo=NEW_YORK)


class Clock:
    """The time the action layer sees; tests move it forward by hand."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The action layer's clock pinned to a Wednesday, 10:00 in New York (an ordinary week)."""
    fixed = Clock(local(2026, 1, 21, 10, 0))
    monkeypatch.setattr("helpline.tickets.actions.timezone.now", fixed)
    return fixed


@pytest.fixture
def support_ticket(org, karen):
    """Scenario 1's outage ticket: Support, General Inquiry (Sev-C), opened by Karen."""
    return actions.open_ticket(
        karen,
        requester=karen,
        subject="Mobile/online banking system down",
        body="Nothing loads since this morning.\nNot even the login page.",
        help_topic=org.topic("General Inquiry"),
    )


@pytest.fixture
def sysadmins_ticket(org, greg):
    """A SysAdmins ticket (restricted department) that John cannot see by default."""
    return actions.open_ticket(
        greg,
        requester=greg,
        subject="CFO's laptop will no longer turn on",
        body="Dead since the update.",
        help_topic=org.topic("Sev-A Emergency"),
    )
