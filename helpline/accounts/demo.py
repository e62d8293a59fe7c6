"""The demo organisation of scenarios.md (loaded by `helpline demo`).

`load_demo` runs on every `make run`: each step creates what is missing and brings back to shape
what is there (update_or_create), so running it again changes nothing.
"""

DEMO_PASSWORD = "Helpline-demo-1"
DEMO_USERNAMES = ["admin", "john", "jane", "garnet", "karen", "ken", "greg"]

# (username, description) of the demo logins, as `load_demo` returns them.
DEMO_LOGINS = [
    ("admin", "administrator (admin panel at /admin/)"),
    ("john", "agent, Support (Expanded Access), Level 1 Support"),
    ("jane", "agent, Online Banking and SysAdmins, Online Banking Team"),
    ("garnet", "agent, Support (Limited Access), Level 1 Support"),
    ("karen", "requester"),
    ("ken", "requester"),
    ("greg", "requester"),
]

_ACTIONS = ("reply", "note", "assign", "transfer", "edit", "status", "close", "merge", "delete")


def demo_accounts_with_demo_password() -> list[str]:
    """Usernames of active demo accounts whose password is still the demo password."""
    from helpline.accounts.models import User

    return [
        u.username
        for u in User.objects.filter(username__in=DEMO_USERNAMES, is_active=True)
        if u.check_password(DEMO_PASSWORD)
    ]


def load_demo() -> list[tuple[str, str]]:
    """Create (or bring back to shape) the demo organisation; idempotent.

    Returns (username, description) for the demo logins.
    """
    from django.db import transaction

    with transaction.atomic():
        roles = _roles()
        _priorities_and_statuses()
        plans = _sla_plans()
        departments = _departments(plans)
        people = _people()
        _agents_and_teams(people, departments, roles)
        _managers(people, departments)
        priorities = _topics(departments, plans)
        _hardware_fields()
        _config(departments, priorities, plans)
    return list(DEMO_LOGINS)


def _upsert(model, lookup: dict, **values):
    obj, _ = model.objects.update_or_create(**lookup, defaults=values)
    return obj


def _roles() -> dict:
    """The four roles; returns the two the demo agents have, as "full" and "limited"."""
    from helpline.accounts.models import Role

    full = _upsert(
        Role,
        {"name": "Expanded Access"},
        **{f"can_{p}": True for p in _ACTIONS if p != "delete"},
        can_delete=False,
    )
    _upsert(Role, {"name": "All Access"}, **{f"can_{p}": True for p in _ACTIONS})
    limited = _upsert(
        Role,
        {"name": "Limited Access"},
        can_reply=True,
        can_note=True,
        can_status=True,
        can_close=True,
        can_assign=False,
        can_transfer=False,
        can_edit=False,
        can_merge=False,
        can_delete=False,
    )
    _upsert(Role, {"name": "View only"}, **{f"can_{p}": False for p in _ACTIONS})
    return {"full": full, "limited": limited}


def _priorities_and_statuses() -> None:
    from helpline.tickets.models import Priority, State, Status

    for level, name, colour, default in [
        (1, "low", "#6b7280", False),
        (2, "normal", "#2563eb", True),
        (3, "high", "#d97706", False),
        (4, "emergency", "#dc2626", False),
    ]:
        _upsert(Priority, {"name": name}, level=level, colour=colour, is_default=default)
    for order, name, state, default in [
        (1, "Open", State.OPEN, True),
        (2, "Work in Progress", State.OPEN, False),
        (3, "Pending", State.PENDING, True),
        (4, "Resolved", State.RESOLVED, True),
        (5, "Closed", State.CLOSED, True),
    ]:
        _upsert(Status, {"name": name}, state=state, order=order, is_default=default)


def _sla_plans() -> dict:
    """The 24/7 and business-hours schedules and the SLA plans Sev-A, Sev-B and Sev-C, by name."""
    from datetime import time

    from django.conf import settings

    from helpline.sla.models import Schedule, ScheduleShift, SLAPlan

    always = _upsert(Schedule, {"name": "24/7"}, always_open=True, timezone="")
    business = _upsert(
        Schedule,
        {"name": "Business hours"},
        always_open=False,
        timezone="",
        holiday_country=settings.HELPLINE_HOLIDAYS_COUNTRY,
    )
    if not business.shifts.exists():
        for weekday in range(5):
            ScheduleShift.objects.create(
                schedule=business, weekday=weekday, start=time(8), end=time(17)
            )
    sev_a = _upsert(
        SLAPlan,
        {"name": "Sev-A"},
        grace_hours=1,
        first_response_hours=None,
        schedule=always,
        pause_when_pending=True,
    )
    sev_b = _upsert(
        SLAPlan, {"name": "Sev-B"}, grace_hours=4, schedule=always, pause_when_pending=True
    )
    sev_c = _upsert(
        SLAPlan, {"name": "Sev-C"}, grace_hours=8, schedule=business, pause_when_pending=True
    )
    return {"Sev-A": sev_a, "Sev-B": sev_b, "Sev-C": sev_c}


def _departments(plans: dict) -> dict:
    """Support, Online Banking and SysAdmins (restricted), by name."""
    from helpline.accounts.models import Department

    departments = {}
    for name, restricted, plan, email in [
        ("Support", False, "Sev-C", "support@helpline.example"),
        ("Online Banking", False, "Sev-B", "banking@helpline.example"),
        ("SysAdmins", True, "Sev-A", "sysadmins@helpline.example"),
    ]:
        departments[name] = _upsert(
            Department,
            {"name": name},
            restricted=restricted,
            default_sla=plans[plan],
            email=email,
        )
    return departments


def _person(username: str, name: str, email: str, **flags):
    """The user `username`, created with the demo password if missing (an existing user keeps
    their password)."""
    from helpline.accounts.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username)
        user.set_password(DEMO_PASSWORD)
    user.name = name
    user.first_name, _, user.last_name = name.partition(" ")
    user.email = email
    for key, value in flags.items():
        setattr(user, key, value)
    user.save()
    return user


def _people() -> dict:
    """The admin, three agents' users and three requesters, by username."""
    return {
        "admin": _person(
            "admin", "Ada Admin", "admin@helpline.example", is_staff=True, is_superuser=True
        ),
        "john": _person("john", "John Smith", "john@helpline.example"),
        "jane": _person("jane", "Jane Lee", "jane@helpline.example"),
        "garnet": _person("garnet", "Garnet Jones", "garnet@helpline.example"),
        "karen": _person("karen", "Karen Miller", "karen@example.com"),
        "ken": _person("ken", "Ken Adams", "ken@example.com"),
        "greg": _person("greg", "Greg Brown", "greg@example.com"),
    }


def _agent(user, department, role, extra=()):
    """The user's agent profile; `extra`: (department, role) of further departments."""
    from helpline.accounts.models import Agent, DepartmentAccess

    profile = _upsert(Agent, {"user": user}, department=department, role=role, is_active=True)
    for dept, dept_role in extra:
        DepartmentAccess.objects.get_or_create(
            agent=profile, department=dept, defaults={"role": dept_role}
        )
    return profile


def _agents_and_teams(people: dict, departments: dict, roles: dict) -> None:
    from helpline.accounts.models import Team

    support, full = departments["Support"], roles["full"]
    _agent(people["admin"], support, full)
    john_agent = _agent(people["john"], support, full)
    jane_agent = _agent(
        people["jane"],
        departments["Online Banking"],
        full,
        extra=[(departments["SysAdmins"], full)],
    )
    garnet_agent = _agent(people["garnet"], support, roles["limited"])

    level1 = _upsert(Team, {"name": "Level 1 Support"}, lead=people["john"])
    level1.members.add(john_agent, garnet_agent)
    banking_team = _upsert(Team, {"name": "Online Banking Team"}, lead=people["jane"])
    banking_team.members.add(jane_agent)


def _managers(people: dict, departments: dict) -> None:
    for department, manager in [
        ("Support", "john"),
        ("Online Banking", "jane"),
        ("SysAdmins", "jane"),
    ]:
        dept = departments[department]
        dept.manager = people[manager]
        dept.save(update_fields=["manager"])


def _topics(departments: dict, plans: dict) -> dict:
    """The public help topics; returns the priorities by name."""
    from helpline.tickets.models import HelpTopic, Priority

    priorities = {p.name: p for p in Priority.objects.all()}
    for name, dept, plan, prio in [
        ("General Inquiry", "Support", "Sev-C", "normal"),
        ("Business Critical Outage", "Online Banking", "Sev-A", "emergency"),
        ("Hardware", "Support", "Sev-B", "normal"),
        ("Sev-A Emergency", "SysAdmins", "Sev-A", "emergency"),
    ]:
        _upsert(
            HelpTopic,
            {"name": name},
            department=departments[dept],
            sla_plan=plans[plan],
            priority=priorities[prio],
            active=True,
            public=True,
        )
    return priorities


def _hardware_fields() -> None:
    """Custom fields: hardware requests say which device; approval is for agents only."""
    from helpline.tickets.models import FieldKind, HelpTopic, HelpTopicField

    hardware = HelpTopic.objects.get(name="Hardware")
    for order, (name, label, kind, extra) in enumerate(
        [
            ("asset_tag", "Asset tag", FieldKind.TEXT, {"help_text": "On the sticker."}),
            (
                "device",
                "Device",
                FieldKind.CHOICE,
                {"choices": "Laptop\nDesktop\nPhone\nPrinter\nOther"},
            ),
            (
                "approved",
                "Replacement approved",
                FieldKind.CHECKBOX,
                {"requester_can_see": False},
            ),
        ]
    ):
        _upsert(
            HelpTopicField,
            {"help_topic": hardware, "name": name},
            label=label,
            kind=kind,
            order=order,
            **extra,
        )


def _config(departments: dict, priorities: dict, plans: dict) -> None:
    """New tickets default to Support, normal priority and Sev-C."""
    from helpline.tickets.models import HelpdeskConfig

    config = HelpdeskConfig.load()
    config.default_department = departments["Support"]
    config.default_priority = priorities["normal"]
    config.default_sla = plans["Sev-C"]
    config.save()
