"""The world of the permission matrix, and the hand-written rules its expectations come from.

The rules below say, for a persona and a ticket described in plain data (department, requester,
assignee, team, collaborators), whether the persona sees the ticket, works it as an agent and
which permissions they hold on it. They are written out by hand from the product's rules — they
never ask `tickets.access` — so a bug in access.py shows up as a failing cell.

The world (the demo organisation, two more agents, fifteen tickets with thread entries,
attachments, guest links, API keys, a canned response, knowledge base articles) is built once
for the package inside an outer transaction; every test runs in a savepoint that is rolled back,
and the outer transaction is rolled back when the package is done, so nothing leaks out.
"""

import re
import secrets
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import timezone

from helpline.accounts.demo import load_demo
from helpline.accounts.models import Agent, Department, Role, Team, User
from helpline.accounts.people import get_or_create_requester
from helpline.api.models import ApiKey, Scope
from helpline.automation.models import CannedResponse, KBArticle, KBCategory
from helpline.mail import loops
from helpline.tickets import actions, guest
from helpline.tickets.models import (
    Attachment,
    Collaborator,
    Event,
    GuestAccess,
    Notification,
    Priority,
    SavedSearch,
    SLAPause,
    Status,
    ThreadEntry,
    Ticket,
)

# ---------------------------------------------------------------------------------------------
# The rule table (by hand: never derived from Role.allows or tickets.access)

SUPPORT, BANKING, SYSADMINS = "Support", "Online Banking", "SysAdmins"
RESTRICTED = frozenset({SYSADMINS})
LEVEL1, BANKING_TEAM = "Level 1 Support", "Online Banking Team"

ALL_PERMISSIONS = frozenset(
    {"reply", "note", "assign", "transfer", "edit", "status", "close", "merge", "delete"}
)
ROLE_PERMISSIONS = {
    "Expanded Access": ALL_PERMISSIONS - {"delete"},
    "All Access": ALL_PERMISSIONS,
    "Limited Access": frozenset({"reply", "note", "status", "close"}),
    "View only": frozenset(),
}


@dataclass(frozen=True)
class Persona:
    """Someone using the help desk: kind is agent, admin, requester or anonymous."""

    name: str
    kind: str
    roles: dict = field(default_factory=dict)  # department → role name
    primary: str = ""
    teams: frozenset = frozenset()

    @property
    def is_agent(self) -> bool:
        return self.kind in ("agent", "admin")


def _support_agent(name: str, role: str) -> Persona:
    return Persona(name, "agent", {SUPPORT: role}, SUPPORT, frozenset({LEVEL1}))


PERSONAS = {
    "john": _support_agent("john", "Expanded Access"),
    "alice": _support_agent("alice", "All Access"),
    "garnet": _support_agent("garnet", "Limited Access"),
    "victor": _support_agent("victor", "View only"),
    "jane": Persona(
        "jane",
        "agent",
        {BANKING: "Expanded Access", SYSADMINS: "Expanded Access"},
        BANKING,
        frozenset({BANKING_TEAM}),
    ),
    "admin": Persona("admin", "admin"),
    "karen": Persona("karen", "requester"),
    "greg": Persona("greg", "requester"),
    "anonymous": Persona("anonymous", "anonymous"),
}
# One Support agent per demo role (the matrix's "every role"), all in Level 1 Support.
SUPPORT_AGENTS = ("john", "alice", "garnet", "victor")


@dataclass(frozen=True)
class TicketSpec:
    """A ticket of the world. `forced`: the assignment is written straight to the row, as left
    behind when a department became restricted after the ticket was assigned."""

    key: str
    department: str
    requester: str
    assignee: str | None = None
    team: str | None = None
    collaborators: tuple = ("carl",)
    forced: bool = False


TICKETS = [
    TicketSpec("support", SUPPORT, "karen", collaborators=("greg", "carl")),
    TicketSpec("support_ken", SUPPORT, "ken"),
    TicketSpec("banking", BANKING, "ken"),
    TicketSpec("sysadmins", SYSADMINS, "ken"),
    TicketSpec("banking_team", BANKING, "ken", team=LEVEL1),
    *[TicketSpec(f"banking_{name}", BANKING, "ken", assignee=name) for name in SUPPORT_AGENTS],
    TicketSpec("sysadmins_assigned", SYSADMINS, "ken", assignee="john", team=LEVEL1, forced=True),
    TicketSpec("support_jane", SUPPORT, "ken", assignee="jane"),
    TicketSpec("support_bteam", SUPPORT, "ken", team=BANKING_TEAM),
    TicketSpec("sysadmins_by_garnet", SYSADMINS, "garnet"),
    # Merge targets, one per department the mergers work in.
    TicketSpec("target_support", SUPPORT, "ken"),
    TicketSpec("target_banking", BANKING, "ken"),
]
SPECS = {spec.key: spec for spec in TICKETS}

# (persona, situation, ticket): the situations of the issue, each where it applies.
SITUATIONS = [
    *[
        (name, situation, key)
        for name in SUPPORT_AGENTS
        for situation, key in [
            ("own_dept", "support"),
            ("other_dept", "banking"),
            ("restricted", "sysadmins"),
            ("assigned_to_me", f"banking_{name}"),
            ("assigned_to_my_team", "banking_team"),
            ("restricted_assigned", "sysadmins_assigned"),
        ]
    ],
    ("garnet", "requester_own_restricted", "sysadmins_by_garnet"),
    ("jane", "own_dept", "banking"),
    ("jane", "other_dept", "support"),
    ("jane", "restricted_member", "sysadmins"),
    ("jane", "assigned_to_me", "support_jane"),
    ("jane", "assigned_to_my_team", "support_bteam"),
    ("admin", "own_dept", "support"),
    ("admin", "other_dept", "banking"),
    ("admin", "restricted", "sysadmins"),
    ("karen", "requester_own", "support"),
    ("karen", "another_requesters", "support_ken"),
    ("karen", "another_requesters_restricted", "sysadmins"),
    ("greg", "collaborator", "support"),
    ("greg", "another_requesters", "support_ken"),
    ("anonymous", "someones", "support"),
    ("anonymous", "someones_restricted", "sysadmins"),
]


def situation_id(cell: tuple) -> str:
    """A cell's test id: its parts joined by dashes (persona-situation-ticket-endpoint)."""
    return "-".join(str(part) for part in cell)


def wiring_cells(endpoints: list, outcome: Callable, candidates: list = SITUATIONS) -> list[tuple]:
    """The cells that prove each endpoint's wiring: one per outcome the rule table gives it.

    The full role × action matrix is proven at the action layer (tests/test_access_matrix.py);
    an endpoint only has to show that it asks the rules and answers as they say. So of all the
    candidate cells (by default the situations), keep, per endpoint, one for each distinct
    `outcome(cell, endpoint)` — at least allowed, refused (sees the ticket but may not) and
    invisible (answers like a ticket that does not exist), and signed out where that differs.
    Which candidate stands for an outcome is spread by the endpoint's name (crc32, stable across
    runs and machines), so that the endpoints together visit many personas and situations.
    Each cell is the candidate with the endpoint's name appended."""
    cells = []
    for endpoint in endpoints:
        by_outcome: dict = {}
        for candidate in candidates:
            by_outcome.setdefault(outcome(candidate, endpoint), []).append(candidate)
        for label, same in by_outcome.items():
            pick = zlib.crc32(f"{endpoint.name}/{label}".encode()) % len(same)
            cells.append((*same[pick], endpoint.name))
    return cells


def wiring_outcome(expect: Callable) -> Callable:
    """The outcome that tells a ticket endpoint's cells apart: what the rules say it answers
    (`expect(persona, ticket key, endpoint)`), and whether the persona sees and works the ticket
    (a refusal of a ticket one sees is another path than of one one does not; an agent who only
    asked for a ticket, or is its requester, does not work it)."""

    def outcome(situation: tuple, endpoint) -> tuple:
        persona, _, key = situation
        rel = relation(persona, key)
        return expect(persona, key, endpoint), rel.visible, rel.works

    return outcome


@dataclass(frozen=True)
class Endpoint:
    """An endpoint with nothing to configure but its name."""

    name: str


def outcomes_of(endpoint, outcome: Callable, candidates: list = SITUATIONS) -> set:
    """Every outcome the rule table gives an endpoint over the candidates."""
    return {outcome(candidate, endpoint) for candidate in candidates}


@dataclass(frozen=True)
class Relation:
    """What the rules say a persona may do with a ticket."""

    visible: bool
    works: bool  # sees it as an agent: internal notes, history, agent actions
    participant: bool  # requester or collaborator: may write as requester
    permissions: frozenset

    def allows(self, *needed: str) -> bool:
        return all(p in self.permissions for p in needed)


def relation(persona_name: str, ticket_key: str) -> Relation:
    """The hand-written access rules, applied to one persona and one ticket of the world."""
    persona, spec = PERSONAS[persona_name], SPECS[ticket_key]
    participant = persona_name in (spec.requester, *spec.collaborators)
    if persona.kind == "anonymous":
        return Relation(False, False, False, frozenset())
    if persona.kind == "admin":
        return Relation(True, True, participant, ALL_PERMISSIONS)
    role = persona.roles.get(spec.department)
    assigned = spec.assignee == persona_name or spec.team in persona.teams
    if role is None and assigned and spec.department not in RESTRICTED:
        role = persona.roles[persona.primary]  # assigned across departments: primary role
    permissions = ROLE_PERMISSIONS[role] if role else frozenset()
    return Relation(role is not None or participant, role is not None, participant, permissions)


def merge_target(persona_name: str) -> str:
    """The ticket a persona merges into: one of their own department's."""
    return "target_banking" if PERSONAS[persona_name].primary == BANKING else "target_support"


# ---------------------------------------------------------------------------------------------
# The world


# What each world ticket carries: a subject, a public reply, and two things only its agents may
# read (an internal note, the reason typed with a status change). Refusals show none of them.


def search_word(key: str) -> str:
    """A word found in one ticket's subject only (full-text search finds it by that word)."""
    return "zq" + key.replace("_", "")


def subject_of(key: str) -> str:
    return f"Matrix subject {key} {search_word(key)}"


def note_of(key: str) -> str:
    return f"Internal note secret-{key}-note"


def reason_of(key: str) -> str:
    return f"Status reason secret-{key}-reason"


def reply_of(key: str) -> str:
    return f"Agent reply public-{key}-reply"


NEW_CC = "new.cc@example.org"
CANNED_TITLE = "Matrix canned answer"
KB_PUBLIC = "Printer matrix guide"
KB_INTERNAL = "Printer matrix runbook internal"


@dataclass
class World:
    """Ids and secrets of the world; model objects are loaded fresh per test (a rolled-back
    savepoint leaves Python objects stale)."""

    media: Path
    pks: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    attachments: dict = field(default_factory=dict)  # key → {"message"|"reply"|"note": pk}
    users: dict = field(default_factory=dict)
    api_keys: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    message_ids: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)  # persona → session key, signed in once
    handler: object = None
    snapshot_sql: tuple = ()

    def ticket(self, key: str) -> Ticket:
        """The world's ticket `key`, read fresh from the database."""
        return Ticket.objects.select_related("department", "status", "priority").get(
            pk=self.pks[key]
        )

    def ticket_or_none(self, key: str) -> Ticket | None:
        """The ticket `key` as it is now, or None once deleted."""
        return (
            Ticket.objects.select_related("department", "status", "priority")
            .filter(pk=self.pks[key])
            .first()
        )

    def user(self, name: str) -> User:
        """A person of the world by username ("carl" is the collaborator on every ticket)."""
        return User.objects.get(pk=self.users[name])

    def client(self, persona_name: str) -> Client:
        """A test client signed in as the persona (none for the anonymous visitor)."""
        client = Client()
        # One handler for all cells: loading the middleware (WhiteNoise scans the static files)
        # costs a tenth of a second, more than most cells.
        if self.handler is None:
            self.handler = client.handler
        client.handler = self.handler
        if persona_name != "anonymous":
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[persona_name]
        return client

    def ghost_number(self, like: str) -> str:
        """A ticket number of the same shape as `like` that no ticket has."""
        while True:
            ghost = str(secrets.randbelow(9 * 10 ** (len(like) - 1)) + 10 ** (len(like) - 1))
            if not Ticket.objects.filter(number=ghost).exists():
                return ghost

    def ghost_attachment(self) -> int:
        """An attachment id that no attachment has."""
        return (Attachment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 999


def _attachment(name: str) -> actions.NewAttachment:
    return actions.NewAttachment(name, f"content of {name}".encode(), "text/plain")


def _people(world: World) -> dict[str, User]:
    load_demo()
    support = Department.objects.get(name=SUPPORT)
    level1 = Team.objects.get(name=LEVEL1)
    for name, role in (("alice", "All Access"), ("victor", "View only")):
        user = User.objects.create_user(name, email=f"{name}@helpline.example", name=name.title())
        role_row = Role.objects.get(name=role)
        agent = Agent.objects.create(user=user, department=support, role=role_row)
        level1.members.add(agent)
    get_or_create_requester("carl@example.com", "Carl Colleague")
    people = {u.username: u for u in User.objects.all()}
    people["carl"] = User.objects.get(email="carl@example.com")
    world.users = {name: user.pk for name, user in people.items()}
    return people


def _tickets(world: World, people: dict[str, User]) -> None:
    admin = people["admin"]
    departments = {d.name: d for d in Department.objects.all()}
    teams = {t.name: t for t in Team.objects.all()}
    work_in_progress = Status.objects.get(name="Work in Progress")
    for spec in TICKETS:
        requester = people[spec.requester]
        message_id = f"<opening-{spec.key}@mail.example.com>"
        ticket = actions.open_ticket(
            requester,
            requester=requester,
            subject=subject_of(spec.key),
            body=f"Opening message of {spec.key}.",
            department=departments[spec.department],
            attachments=[_attachment(f"{spec.key}-message.txt")],
            collaborators=[people[name] for name in spec.collaborators],
            message_id=message_id,
        )
        reply = actions.reply(
            admin, ticket, reply_of(spec.key), attachments=[_attachment(f"{spec.key}-reply.txt")]
        )
        note = actions.add_note(
            admin, ticket, note_of(spec.key), attachments=[_attachment(f"{spec.key}-note.txt")]
        )
        actions.set_status(admin, ticket, work_in_progress, reason=reason_of(spec.key))
        assignee = people[spec.assignee] if spec.assignee else None
        team = teams[spec.team] if spec.team else None
        if spec.forced:
            Ticket.objects.filter(pk=ticket.pk).update(assignee=assignee, team=team)
        elif assignee or team:
            actions.assign(admin, ticket, agent=assignee, team=team)
        message = ticket.entries.order_by("pk").first()
        world.pks[spec.key] = ticket.pk
        world.numbers[spec.key] = ticket.number
        world.message_ids[spec.key] = message_id
        world.attachments[spec.key] = {
            "message": message.attachments.get().pk,
            "reply": reply.attachments.get().pk,
            "note": note.attachments.get().pk,
        }


def _guest_links(world: World) -> None:
    support, kens = world.ticket("support"), world.ticket("support_ken")
    world.tokens = {
        "valid": guest.issue_link(support, "karen@example.com"),
        "collaborator": guest.issue_link(support, "greg@example.com"),
        "expired": guest.issue_link(support, "karen@example.com"),
        "revoked": guest.issue_link(support, "karen@example.com"),
        "other_ticket": guest.issue_link(kens, "ken@example.com"),
    }
    now = timezone.now()
    for kind, change in (("expired", {"expires_at": now - timedelta(minutes=1)}),
                         ("revoked", {"revoked_at": now})):  # fmt: skip
        GuestAccess.objects.filter(token_hash=guest._hash(world.tokens[kind])).update(**change)


def _extras(world: World, people: dict[str, User]) -> None:
    canned = CannedResponse.objects.create(
        title=CANNED_TITLE, body="About {{ ticket.subject }} for {{ requester.name }}."
    )
    category = KBCategory.objects.create(name="Matrix printers", slug="matrix-printers")
    for title, visibility in ((KB_PUBLIC, "public"), (KB_INTERNAL, "internal")):
        slug = title.lower().replace(" ", "-")
        KBArticle.objects.create(
            category=category, title=title, slug=slug, body=f"{title}: printer matrix steps.",
            visibility=visibility,
        )  # fmt: skip
    for name, user in people.items():
        if name in PERSONAS:
            scopes = [Scope.TICKETS_READ, Scope.TICKETS_WRITE]
            if PERSONAS[name].kind == "admin":
                scopes.append(Scope.ADMIN_READ)
            world.api_keys[name] = ApiKey.issue(user, name=f"{name} matrix", scopes=scopes)[1]
    saved = SavedSearch.objects.create(
        owner=people["john"], name="Matrix saved search", filters={"text": "Matrix"}
    )
    departments = {d.name: d.pk for d in Department.objects.all()}
    statuses = {s.name: s.pk for s in Status.objects.all()}
    world.ids = {
        "canned": canned.pk,
        "saved_search": saved.pk,
        "high": Priority.objects.get(name="high").pk,
        **{f"dept:{name}": pk for name, pk in departments.items()},
        **{f"status:{name}": pk for name, pk in statuses.items()},
    }


def _sessions(world: World, people: dict[str, User]) -> None:
    """Sign every persona in once; cells reuse the session (a cell's changes to it roll back)."""
    for name in PERSONAS:
        if name != "anonymous":
            client = Client()
            client.force_login(people[name])
            world.sessions[name] = client.cookies[settings.SESSION_COOKIE_NAME].value


def build_world(media: Path) -> World:
    """Everything the cells need, through the actions like any channel would."""
    world = World(media=media)
    people = _people(world)
    _tickets(world, people)
    _guest_links(world)
    _extras(world, people)
    _sessions(world, people)
    return world


IMMEDIATE_TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(scope="package")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """The world, built once for the package in an outer transaction rolled back at the end
    (each test's own changes roll back with its savepoint)."""
    media = tmp_path_factory.mktemp("security-matrix-media")
    overrides = override_settings(
        MEDIA_ROOT=media,
        TASKS=IMMEDIATE_TASKS,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    with django_db_blocker.unblock(), overrides:
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world(media)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def tmp_path(world) -> Path:
    """One temporary directory for the package, not one per cell: tests/conftest.py asks for one in
    every test, and creating (then deleting) thousands of them costs more than the cells."""
    return world.media.parent


@pytest.fixture(autouse=True)
def _matrix_settings(world, settings, _fast_and_local):
    """The world's files stay readable (tests/conftest.py points MEDIA_ROOT at a fresh dir);
    rate-limit counters and the mail loop caches start empty in every cell."""
    settings.MEDIA_ROOT = world.media
    cache.clear()
    loops.forget_own_addresses()
    yield
    cache.clear()
    loops.forget_own_addresses()


# ---------------------------------------------------------------------------------------------
# Checks shared by the channels


def _snapshot_sql(pks: list[int]) -> tuple[str, list]:
    """One statement reading everything a refused request must leave as it was, compiled once
    per world: each row as one text (columns joined by "|"), tagged with its table. One round
    trip instead of ten keeps the PostgreSQL run quick."""
    in_world = {"ticket_id__in": pks}
    tables = [
        ("tickets", Ticket.objects.filter(pk__in=pks), [f.column for f in Ticket._meta.fields]),
        ("all tickets", Ticket.objects.all(), ["id"]),
        (
            "entries",
            ThreadEntry.objects.filter(**in_world),
            ["id", "ticket_id", "kind", "body_text"],
        ),
        ("events", Event.objects.filter(**in_world), ["id", "ticket_id", "kind"]),
        ("collaborators", Collaborator.objects.filter(**in_world), ["id", "ticket_id", "user_id"]),
        ("notifications", Notification.objects.filter(**in_world), ["id", "ticket_id", "kind"]),
        ("attachments", Attachment.objects.filter(entry__ticket_id__in=pks), ["id", "entry_id"]),
        ("pauses", SLAPause.objects.filter(**in_world), ["id", "ended_at"]),
        ("guest links", GuestAccess.objects.filter(**in_world), ["id", "revoked_at", "expires_at"]),
        ("users", User.objects.all(), ["id", "is_active"]),
    ]
    parts, params = [], []
    quote = connection.ops.quote_name
    for name, queryset, columns in tables:
        sql, table_params = queryset.order_by().values_list(*columns).query.sql_with_params()
        row = " || '|' || ".join(f"COALESCE(CAST(s.{quote(c)} AS TEXT), '~')" for c in columns)
        parts.append(f"SELECT '{name}', {row} FROM ({sql}) s")
        params.extend(table_params)
    return " UNION ALL ".join(parts), params


def snapshot(world: World) -> dict:
    """Every row a refused request must leave as it was (tickets of the world, their thread,
    events, collaborators, notifications, attachments, SLA pauses, guest links; all users)."""
    if not world.snapshot_sql:
        world.snapshot_sql = _snapshot_sql(list(world.pks.values()))
    sql, params = world.snapshot_sql
    taken: dict[str, list] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for name, row in cursor.fetchall():
            taken.setdefault(name, []).append(row)
    return {name: sorted(rows) for name, rows in taken.items()}


_MASKED = [
    (re.compile(r'(csrfmiddlewaretoken" value=")[^"]*'), r"\1"),
    (re.compile(r'("X-CSRFToken": ")[^"]*'), r"\1"),
    (re.compile(r'(nonce=")[^"]*'), r"\1"),
    # The live-update token is signed with the time it was made (for the ticket on the page).
    (re.compile(r'(data-pulse=")[^"]*'), r"\1"),
]


def normalised(response, *numbers: str) -> tuple:
    """Status, redirect target and body, with CSRF tokens, nonces, live-update tokens and the
    ticket numbers asked about masked: what must match between "not yours" and "does not exist"."""
    text = text_of(response)
    location = response.get("Location", "")
    for number in numbers:
        # Whole numbers only; short ones (file ids) as whole words, so "h1" stays "h1".
        edge = "0-9" if len(number) >= 4 else "0-9A-Za-z"
        alone = re.compile(rf"(?<![{edge}]){re.escape(number)}(?![{edge}])")
        text, location = alone.sub("<N>", text), alone.sub("<N>", location)
    for pattern, keep in _MASKED:
        text = pattern.sub(keep, text)
    return response.status_code, location, text


def text_of(response) -> str:
    """The body as text; a streamed file is read once and kept on the response."""
    if not hasattr(response, "matrix_text"):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        response.matrix_text = body.decode(errors="replace")
    return response.matrix_text


def assert_sign_in(response, panel: bool = True) -> None:
    """Sent to sign in: the agent panel's page, or the portal's."""
    login = "/staff/login/?next=" if panel else "/login/?next="
    assert response.status_code == 302 and response["Location"].startswith(login)


def assert_reveals_nothing(response, key: str) -> None:
    """A refusal names no subject, no internal note and no status reason of the ticket."""
    text = text_of(response)
    for secret in (subject_of(key), note_of(key), reason_of(key)):
        assert secret not in text, f"the refusal shows {secret!r}"
