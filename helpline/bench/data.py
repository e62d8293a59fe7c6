"""The benchmark organisation and its tickets, generated as plain rows (no ORM objects).

`prepare_org` creates departments, teams, agents and requesters through the ORM (a few thousand
rows). `TicketRows` then yields batches of rows for tickets, thread entries, events, attachments
and collaborators with realistic mixes; a writer (load.py) streams them into the database.

These rows bypass the action layer on purpose: this is test data written directly, fast. It
has the shape the action layer would give (state copied from status, events for each change,
SLA due times, first response times) but no notifications, no files behind the attachment
rows, and business-hours SLAs approximated by wall-clock hours.
"""

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import timezone

from helpline.accounts.models import Agent, Department, Role, Team, User
from helpline.bench.text import COMMON_WORD, PHRASE, RARE_WORD, TextPool
from helpline.sla.models import SLAPlan
from helpline.tickets.models import (
    Attachment,
    Collaborator,
    EntryKind,
    Event,
    EventKind,
    HelpTopic,
    Priority,
    Source,
    State,
    Status,
    ThreadEntry,
    Ticket,
)

BENCH_PASSWORD = "Helpline-bench-1"
SPAN_DAYS = 730
NUMBER_BASE = 10_000_000  # 8-digit numbers: never meet the 6-digit random ones
BIG_TICKET_EVERY = 20_000  # one ticket in this many has 50 thread entries
EXTRA_DEPARTMENTS = ("Billing", "Mobile App", "Accounts", "Security", "Facilities")
DEPARTMENT_WEIGHTS = {
    "Support": 30, "Online Banking": 20, "SysAdmins": 5, "Billing": 15, "Mobile App": 12,
    "Accounts": 10, "Security": 3, "Facilities": 5,
}  # fmt: skip
PRIORITY_WEIGHTS = {"low": 20, "normal": 60, "high": 15, "emergency": 5}
SOURCE_WEIGHTS = {
    Source.WEB: 45, Source.EMAIL: 40, Source.API: 5, Source.PHONE: 8, Source.OTHER: 2,
}  # fmt: skip
# (max age in days, {state: weight}): recent tickets are open, old ones closed.
STATE_BY_AGE = (
    (2, {State.OPEN: 70, State.PENDING: 10, State.RESOLVED: 15, State.CLOSED: 5}),
    (30, {State.OPEN: 10, State.PENDING: 10, State.RESOLVED: 20, State.CLOSED: 60}),
    (10**6, {State.OPEN: 0.5, State.PENDING: 0.5, State.RESOLVED: 1, State.CLOSED: 98}),
)


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class Dept:
    id: int
    name: str
    weight: float
    sla_id: int | None
    sla_hours: float
    team_ids: list[int]
    agent_ids: list[int]
    topic_ids: list[int]


@dataclass
class Org:
    departments: list[Dept]
    statuses: dict[str, list[int]]  # state → status ids (first: the default)
    priorities: dict[str, int]
    requesters: list[tuple[int, str]]  # (id, display name)
    agent_names: dict[int, str]
    refs: dict[tuple[str, int], str] = field(default_factory=dict)  # JSON {"id", "name"}

    def ref(self, kind: str, pk: int | None) -> str:
        """How an event's before/after names a department, status, agent or team (JSON)."""
        return "null" if pk is None else self.refs.get((kind, pk), f'{{"id": {pk}}}')


def _ensure(model, name: str, **defaults):
    obj, _ = model.objects.get_or_create(name=name, defaults=defaults)
    return obj


def prepare_org(tickets: int, rng: random.Random, pool: TextPool) -> Org:
    """The demo organisation plus more departments, teams, ~60 agents and many requesters.

    Idempotent; every account gets BENCH_PASSWORD (so a production-mode gunicorn, which refuses
    demo passwords, starts on the bench database).
    """
    from helpline.accounts.demo import load_demo

    load_demo()
    with transaction.atomic():
        roles = [Role.objects.get(name="Expanded Access"), Role.objects.get(name="Limited Access")]
        plans = {p.name: p for p in SLAPlan.objects.all()}
        for i, name in enumerate(EXTRA_DEPARTMENTS):
            sla = plans[("Sev-B", "Sev-C")[i % 2]]
            dept = _ensure(Department, name, default_sla=sla, email=f"{name.lower()[:5]}@bench")
            _ensure(Team, f"{name} Team")
            _ensure(HelpTopic, f"{name} question", department=dept)
        password = make_password(BENCH_PASSWORD)
        User.objects.filter(username__in=["admin", "john", "jane", "garnet", "karen", "ken",
                                          "greg"]).update(password=password)  # fmt: skip
        departments = list(Department.objects.order_by("pk"))
        teams = {t.name: t for t in Team.objects.all()}
        for i in range(60):
            username = f"agent{i:02d}"
            dept = departments[i % len(departments)]
            first, last = pool.person()
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"name": f"{first} {last}", "email": f"{username}@bench.example",
                          "password": password},
            )  # fmt: skip
            if created:
                agent = Agent.objects.create(user=user, department=dept, role=roles[i % 4 == 3])
                team = teams.get(f"{dept.name} Team") or teams.get("Level 1 Support")
                team.members.add(agent)
        wanted = max(1000, tickets // 40)
        have = User.objects.filter(username__startswith="req").count()
        unusable = make_password(None)
        new = []
        for i in range(have, wanted):
            first, last = pool.person()
            new.append(User(username=f"req{i:06d}", name=f"{first} {last}", first_name=first,
                            last_name=last, email=f"{first.lower()}.{i}@customer.example",
                            password=unusable))  # fmt: skip
        User.objects.bulk_create(new, batch_size=2000)
    return _load_org(departments, rng)


def _load_org(departments, rng) -> Org:
    depts = []
    agents = Agent.objects.select_related("user").filter(is_active=True)
    by_dept: dict[int, list[int]] = {}
    names = {}
    for agent in agents:
        by_dept.setdefault(agent.department_id, []).append(agent.user_id)
        names[agent.user_id] = agent.user.display_name
    for dept in departments:
        plan = dept.default_sla
        depts.append(
            Dept(
                id=dept.pk,
                name=dept.name,
                weight=DEPARTMENT_WEIGHTS.get(dept.name, 5),
                sla_id=plan.pk if plan else None,
                sla_hours=float(plan.grace_hours) if plan else 24.0,
                team_ids=list(
                    Team.objects.filter(members__department=dept)
                    .values_list("pk", flat=True)
                    .distinct()
                ),
                agent_ids=by_dept.get(dept.pk) or [min(names)],
                topic_ids=list(
                    HelpTopic.objects.filter(department=dept).values_list("pk", flat=True)
                ),
            )  # fmt: skip
        )
    statuses: dict[str, list[int]] = {}
    for status in Status.objects.order_by("-is_default", "order"):
        statuses.setdefault(status.state, []).append(status.pk)
    requesters = list(
        User.objects.filter(username__startswith="req").values_list("pk", "name")
    ) + list(User.objects.filter(username__in=["karen", "ken", "greg"]).values_list("pk", "name"))
    refs = {("agent", pk): json.dumps({"id": pk, "name": name}) for pk, name in names.items()}
    for kind, model in (("department", Department), ("status", Status), ("team", Team)):
        for pk, name in model.objects.values_list("pk", "name"):
            refs[(kind, pk)] = json.dumps({"id": pk, "name": name})
    return Org(
        departments=depts,
        statuses=statuses,
        priorities=dict(Priority.objects.values_list("name", "pk")),
        requesters=requesters,
        agent_names=names,
        refs=refs,
    )


# ---------------------------------------------------------------------------------------------
# Rows


class Table:
    """Columns of one model's table: the ones we generate, then the rest at their defaults."""

    def __init__(self, model: type[models.Model], columns: tuple[str, ...]):
        self.name = model._meta.db_table
        self.generated = columns
        self.extra_columns = []
        extra_values = []
        for f in model._meta.concrete_fields:
            if f.column not in columns:
                self.extra_columns.append(f.column)
                default = f.get_default()
                # JSON defaults ({} for a ticket's custom fields) go in as JSON text.
                extra_values.append(
                    json.dumps(default) if isinstance(default, dict | list) else default
                )
        self.columns = (*columns, *self.extra_columns)
        self.extra = tuple(extra_values)


TICKET_COLUMNS = (
    "id", "number", "subject", "requester_id", "source", "department_id", "help_topic_id",
    "priority_id", "sla_plan_id", "status_id", "state", "assignee_id", "team_id", "created_at",
    "updated_at", "due_at", "due_at_manual", "first_responded_at", "resolved_at", "closed_at",
    "is_overdue", "version",
)  # fmt: skip
ENTRY_COLUMNS = (
    "id", "ticket_id", "kind", "author_id", "author_name", "body_text", "source", "created_at",
)  # fmt: skip
EVENT_COLUMNS = ("id", "ticket_id", "kind", "actor_id", "created_at", "before", "after")
ATTACHMENT_COLUMNS = ("id", "entry_id", "file", "filename", "content_type", "size")
COLLABORATOR_COLUMNS = ("id", "ticket_id", "user_id", "added_at")


def tables() -> dict[str, Table]:
    return {
        "tickets": Table(Ticket, TICKET_COLUMNS),
        "entries": Table(ThreadEntry, ENTRY_COLUMNS),
        "events": Table(Event, EVENT_COLUMNS),
        "attachments": Table(Attachment, ATTACHMENT_COLUMNS),
        "collaborators": Table(Collaborator, COLLABORATOR_COLUMNS),
    }


@dataclass
class Batch:
    rows: dict[str, list[tuple]] = field(default_factory=dict)
    first_ticket_id: int = 0
    last_ticket_id: int = 0


def next_ids() -> dict[str, int]:
    """The first free id of each table (rows are written with explicit ids)."""
    ids = {}
    for key, model in (("tickets", Ticket), ("entries", ThreadEntry), ("events", Event),
                       ("attachments", Attachment), ("collaborators", Collaborator)):  # fmt: skip
        last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
        ids[key] = (last or 0) + 1
    return ids


@dataclass
class _Thread:
    """What each entry of one ticket's thread shares."""

    ticket_id: int
    created: datetime
    dept: Dept
    requester: tuple[int, str]  # (id, display name)
    agent: int


class TicketRows:
    """Generates `total` tickets with their thread, history and attachments, batch by batch."""

    def __init__(self, org: Org, pool: TextPool, rng: random.Random, total: int, now: datetime):
        self.org, self.pool, self.rng, self.total, self.now = org, pool, rng, total, now
        self.ids = next_ids()
        self.tables = tables()
        self.start = now - timedelta(days=SPAN_DAYS)
        self.dept_weights = [d.weight for d in org.departments]
        self.number_base = NUMBER_BASE + self.ids["tickets"]
        rare_every = max(1, total // 12)
        self.rare = {rng.randrange(i, i + rare_every) for i in range(0, total, rare_every)}
        self.meta: dict = {
            "common_word": COMMON_WORD, "rare_word": RARE_WORD, "phrase": PHRASE,
            "common_tickets": 0, "rare_tickets": 0, "phrase_tickets": 0, "big_tickets": [],
            "entries": 0, "events": 0, "attachments": 0,
        }  # fmt: skip

    def batches(self, size: int) -> Iterator[Batch]:
        for first in range(0, self.total, size):
            batch = Batch(rows={key: [] for key in self.tables})
            batch.first_ticket_id = self.ids["tickets"]
            for i in range(first, min(self.total, first + size)):
                self._ticket(i, batch.rows)
            batch.last_ticket_id = self.ids["tickets"] - 1
            yield batch

    def _take(self, key: str) -> int:
        value = self.ids[key]
        self.ids[key] += 1
        return value

    def _created_at(self, i: int) -> datetime:
        # More tickets lately (a growing help desk): the i-th of N at a square-root curve.
        position = math.sqrt((i + self.rng.random()) / self.total)
        return self.start + timedelta(days=SPAN_DAYS * position)

    def _ticket(self, i: int, rows: dict[str, list[tuple]]) -> None:
        """One ticket row plus its thread, history and (rarely) a collaborator.

        The random draws happen in a fixed order, so a seed always gives the same data set.
        """
        rng, org, now = self.rng, self.org, self.now
        ticket_id = self._take("tickets")
        created = min(self._created_at(i), now - timedelta(minutes=1))
        age_days = (now - created).total_seconds() / 86400
        state = _pick(rng, next(w for limit, w in STATE_BY_AGE if age_days <= limit))
        dept = rng.choices(org.departments, weights=self.dept_weights)[0]
        requester = rng.choice(org.requesters)
        assignee, team = self._assignment(state, dept)
        statuses = org.statuses[state]
        status = statuses[-1] if state == State.OPEN and rng.random() < 0.3 else statuses[0]
        count = self._entry_count(i)
        agent = assignee or rng.choice(dept.agent_ids)
        thread = _Thread(ticket_id, created, dept, requester, agent)
        first_reply, last_at = self._thread(i, rows, thread, count)
        if assignee or team:
            after = f'{{"agent": {org.ref("agent", assignee)}, "team": {org.ref("team", team)}}}'
            self._event(rows, ticket_id, EventKind.ASSIGNED, agent, created, None, after)
        resolved_at, closed_at, last_at = self._resolution(rows, thread, state, status, last_at)
        due, overdue = self._due(state, created, dept)
        self._collaborator(rows, ticket_id, requester[0], created)
        rows["tickets"].append((
            ticket_id, str(self.number_base + i), self.pool.subject(), requester[0],
            _pick(rng, SOURCE_WEIGHTS), dept.id,
            rng.choice(dept.topic_ids) if dept.topic_ids and rng.random() < 0.5 else None,
            org.priorities[_pick(rng, PRIORITY_WEIGHTS)], dept.sla_id, status, state, assignee,
            team, created, last_at, due, False, first_reply, resolved_at, closed_at, overdue,
            count + 1,
        ))  # fmt: skip
        self.meta["entries"] += count

    def _assignment(self, state: str, dept: Dept) -> tuple[int | None, int | None]:
        """(assignee, team): most tickets have an agent, some only a team, a few neither."""
        assignee = team = None
        roll = self.rng.random()
        if roll < (0.55 if state == State.OPEN else 0.9):
            assignee = self.rng.choice(dept.agent_ids)
        elif roll < 0.75 and dept.team_ids:
            team = self.rng.choice(dept.team_ids)
        return assignee, team

    def _entry_count(self, i: int) -> int:
        """How many thread entries ticket i gets (one in BIG_TICKET_EVERY gets 50)."""
        big = i % BIG_TICKET_EVERY == BIG_TICKET_EVERY // 2
        count = 50 if big else min(50, 1 + int(self.rng.expovariate(1 / 2.5)))
        if big:
            self.meta["big_tickets"].append(str(self.number_base + i))
        return count

    def _thread(self, i: int, rows, thread: _Thread, count: int):
        """The thread: the requester writes first, then replies, answers and notes alternate.

        Returns (first reply time or None, time of the last entry).
        """
        at, first_reply, last_at = thread.created, None, thread.created
        for n in range(count):
            if n:
                at = min(self.now, at + timedelta(minutes=self.rng.expovariate(1 / 240)))
            kind = self._entry(i, n, rows, thread, at)
            if kind == EntryKind.REPLY and first_reply is None:
                first_reply = at
            last_at = at
        return first_reply, last_at

    def _entry(self, i: int, n: int, rows, thread: _Thread, at: datetime) -> str:
        """The n-th thread entry with its event (and sometimes an attachment); returns its kind."""
        rng, org = self.rng, self.org
        kind = (
            EntryKind.MESSAGE
            if n == 0
            else rng.choices((EntryKind.REPLY, EntryKind.MESSAGE, EntryKind.NOTE), (45, 40, 15))[0]
        )
        body = self.pool.body()
        if n == 0:
            body = self._markers(i, body)
        requester_id, requester_name = thread.requester
        author, name = (requester_id, requester_name) if kind == EntryKind.MESSAGE else (
            thread.agent, org.agent_names.get(thread.agent, ""))  # fmt: skip
        entry_id = self._take("entries")
        rows["entries"].append((entry_id, thread.ticket_id, kind, author, name, body, "web", at))
        event = {EntryKind.REPLY: EventKind.REPLIED, EntryKind.NOTE: EventKind.NOTE,
                 EntryKind.MESSAGE: EventKind.MESSAGE}[kind]  # fmt: skip
        after = f'{{"entry": {entry_id}}}'
        if n == 0:
            event = EventKind.CREATED
            after = f'{{"source": "web", "department": {org.ref("department", thread.dept.id)}}}'
        self._event(rows, thread.ticket_id, event, author, at, None, after)
        if rng.random() < 0.03:
            self._attachment(rows, entry_id)
        return kind

    def _resolution(self, rows, thread: _Thread, state: str, status: int, last_at: datetime):
        """(resolved_at, closed_at, last_at) and the status event of a ticket that left Open."""
        org = self.org
        resolved_at = closed_at = None
        if state in (State.RESOLVED, State.CLOSED):
            resolved_at = min(self.now, last_at + timedelta(hours=self.rng.expovariate(1 / 12)))
            closed_at = resolved_at if state == State.CLOSED else None
            last_at = resolved_at
        if state != State.OPEN:
            before = org.ref("status", org.statuses[State.OPEN][0])
            after = org.ref("status", status)
            self._event(
                rows, thread.ticket_id, EventKind.STATUS, thread.agent, last_at, before, after
            )
        return resolved_at, closed_at, last_at

    def _due(self, state: str, created: datetime, dept: Dept) -> tuple[datetime, bool]:
        """(due, overdue): the SLA due time, or a later one agreed with the requester."""
        due = created + timedelta(hours=dept.sla_hours)
        overdue = state == State.OPEN and due < self.now
        if state == State.OPEN and self.rng.random() < 0.3:  # agreed later with the requester
            due, overdue = self.now + timedelta(hours=self.rng.uniform(1, 7 * 24)), False
        return due, overdue

    def _collaborator(self, rows, ticket_id: int, requester_id: int, created: datetime) -> None:
        """One ticket in fifty gets a Cc'd requester."""
        if self.rng.random() < 0.02:
            collaborator = self.rng.choice(self.org.requesters)[0]
            if collaborator != requester_id:
                rows["collaborators"].append(
                    (self._take("collaborators"), ticket_id, collaborator, created)
                )

    def _markers(self, i: int, body: str) -> str:
        roll = self.rng.random()
        if roll < 0.01:
            self.meta["common_tickets"] += 1
            body += f" Also there is a {COMMON_WORD} with the invoice run."
        elif roll < 0.015:
            self.meta["phrase_tickets"] += 1
            body += f" The laptop shows a {PHRASE} at start-up."
        if i in self.rare:
            self.meta["rare_tickets"] += 1
            body += f" Serial {RARE_WORD} on the sticker."
        return body

    def _event(self, rows, ticket_id, kind, actor, at, before, after) -> None:
        rows["events"].append((self._take("events"), ticket_id, kind, actor, at, before, after))
        self.meta["events"] += 1

    def _attachment(self, rows, entry_id: int) -> None:
        name = self.rng.choice(("screenshot.png", "error.log", "invoice.pdf", "photo.jpg"))
        kind = {"png": "image/png", "log": "text/plain", "pdf": "application/pdf",
                "jpg": "image/jpeg"}[name.rsplit(".", 1)[1]]  # fmt: skip
        size = int(self.rng.lognormvariate(11, 1.2))
        path = f"bench/{entry_id}/{name}"  # metadata only: no file is written
        rows["attachments"].append((self._take("attachments"), entry_id, path, name, kind, size))
        self.meta["attachments"] += 1


def now() -> datetime:
    return timezone.now()
