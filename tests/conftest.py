"""Shared fixtures: the demo organisation and its people, named as in scenarios.md."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpline.accounts.demo import DEMO_PASSWORD, load_demo
from helpline.accounts.models import Department, Role, Team, User
from helpline.sla.models import SLAPlan
from helpline.tickets import actions
from helpline.tickets.models import HelpTopic, Priority, Status

# Fixtures that start a real Dovecot (tests/mail/conftest.py) and those of pytest-playwright.
IMAP_FIXTURES = frozenset({"imap_server", "dovecot"})
BROWSER_FIXTURES = frozenset({"page", "context", "browser", "new_context"})


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Mark tests by what they start, so that a run can leave them out (`make test` runs them
    on SQLite only): `imap` for a test that uses the private Dovecot, `browser` for one that
    drives Chromium (most say so themselves; this catches one that forgets). A `postgres_only`
    test is never marked `imap`: it has no other database to run on. `serial` for a test that
    counts PostgreSQL's lock waits (`pg_locks` is the whole cluster's, so another xdist worker's
    sessions would count too): `make test` runs those in a pass of their own, in one process.

    Under pytest-xdist (`--dist loadgroup`), tests that share a module- or package-wide world
    (the security matrix, the hostile desk, the spoofing matrix …) go to one worker together,
    so that the world is built once, not once per worker.

    A wrapper: the markers are added before the other plugins' hooks run (xdist reads the
    groups, `-m` deselects), and the group xdist appends to each node id is carried over after
    them (_carry_xdist_groups)."""
    _mark(config, items)
    result = yield
    _carry_xdist_groups(items)
    return result


def _mark(config, items) -> None:
    grouping = config.pluginmanager.hasplugin("xdist")
    cluster_wide: dict = {}
    for item in items:
        # Query plans depend on the statistics of the whole database: another test's rows on
        # the same xdist worker can change the planner's choice, so they run in the serial pass.
        if _looks_at_the_whole_cluster(item, cluster_wide) or "test_query_plans" in item.nodeid:
            item.add_marker(pytest.mark.serial)
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        names -= set(callspec.params) if callspec else set()  # parameters, not fixtures
        if names & IMAP_FIXTURES and not item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.imap)
        if _uses_playwright(item, names) and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)
        group = _shared_world(item, names) if grouping else None
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))


def _carry_xdist_groups(items) -> None:
    """pytest-xdist 3.8 (`--dist loadgroup`) names a grouped test "<node id>@<group>" by writing
    `item._nodeid`, which pytest 9.2 no longer reads (a node's id is `item._id`): without this,
    no test is grouped and each worker builds (and rebuilds) every module- and package-wide
    world itself. Only a name xdist wrote and pytest did not take is carried over."""
    for item in items:
        grouped = item.__dict__.get("_nodeid")
        if grouped and grouped != item.nodeid:
            item._id = type(item._id).parse(grouped)


def _looks_at_the_whole_cluster(item, seen: dict) -> bool:
    """Does the test's module read pg_locks, itself or through test_concurrency_pg's helpers?"""
    path = item.path
    if path not in seen:
        text = path.read_text(errors="replace") if path.suffix == ".py" else ""
        module = getattr(item, "module", None)
        names = vars(module) if module is not None else {}
        helpers = {getattr(value, "__module__", None) for value in names.values()}
        seen[path] = "pg_locks" in text or "tests.test_concurrency_pg" in helpers
    return seen[path]


def _shared_world(item, names: set) -> str | None:
    """The package or module whose own wide fixture the test uses (a package's wins)."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    scopes = set()
    for name in names:
        for definition in definitions.get(name, ()):
            if definition.scope in ("module", "package") and definition.baseid:
                scopes.add(definition.scope)
    if "package" in scopes:
        return str(item.path.parent.relative_to(item.config.rootpath))
    if "module" in scopes:
        return str(item.path.relative_to(item.config.rootpath))
    return None


def _uses_playwright(item, names: set) -> bool:
    """Does the test use pytest-playwright's own page, context or browser fixture?"""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(
        definitions.get(name)
        and definitions[name][-1].func.__module__.startswith("pytest_playwright")
        for name in names & BROWSER_FIXTURES
    )


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
def ticket_form(org):
    """Valid "Open a new ticket" form data; keyword arguments override fields."""

    def make(**overrides):
        data = {
            "name": "Jane Doe",
            "email": "jane.doe@example.org",
            "phone": "",
            "help_topic": org.topic("General Inquiry").pk,
            "subject": "Mobile/online banking system down",
            "message": "Nothing loads since this morning.",
            "website": "",
        }
        data.update(overrides)
        return data

    return make


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
