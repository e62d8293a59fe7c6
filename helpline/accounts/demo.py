"""The demo organisation of scenarios.md (loaded by `helpline demo`)."""

DEMO_PASSWORD = "Helpline-demo-1"
DEMO_USERNAMES = ["admin", "john", "jane", "garnet", "karen", "ken", "greg"]


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
    from datetime import time

    from django.conf import settings
    from django.db import transaction

    from helpline.accounts.models import Agent, Department, DepartmentAccess, Role, Team, User
    from helpline.sla.models import Schedule, ScheduleShift, SLAPlan
    from helpline.tickets.models import (
        FieldKind,
        HelpdeskConfig,
        HelpTopic,
        HelpTopicField,
        Priority,
        State,
        Status,
    )

    def upsert(model, lookup: dict, **values):
        obj, _ = model.objects.update_or_create(**lookup, defaults=values)
        return obj

    with transaction.atomic():
        full = upsert(
            Role,
            {"name": "Expanded Access"},
            **{
                f"can_{p}": True
                for p in ("reply", "note", "assign", "transfer", "edit", "status", "close", "merge")
            },
            can_delete=False,
        )
        upsert(
            Role,
            {"name": "All Access"},
            **{
                f"can_{p}": True
                for p in (
                    "reply",
                    "note",
                    "assign",
                    "transfer",
                    "edit",
                    "status",
                    "close",
                    "merge",
                    "delete",
                )
            },
        )
        limited = upsert(
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
        upsert(
            Role,
            {"name": "View only"},
            **{
                f"can_{p}": False
                for p in (
                    "reply",
                    "note",
                    "assign",
                    "transfer",
                    "edit",
                    "status",
                    "close",
                    "merge",
                    "delete",
                )
            },
        )

        for level, name, colour, default in [
            (1, "low", "#6b7280", False),
            (2, "normal", "#2563eb", True),
            (3, "high", "#d97706", False),
            (4, "emergency", "#dc2626", False),
        ]:
            upsert(Priority, {"name": name}, level=level, colour=colour, is_default=default)
        for order, name, state, default in [
            (1, "Open", State.OPEN, True),
            (2, "Work in Progress", State.OPEN, False),
            (3, "Pending", State.PENDING, True),
            (4, "Resolved", State.RESOLVED, True),
            (5, "Closed", State.CLOSED, True),
        ]:
            upsert(Status, {"name": name}, state=state, order=order, is_default=default)

        always = upsert(Schedule, {"name": "24/7"}, always_open=True, timezone="")
        business = upsert(
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
        sev_a = upsert(
            SLAPlan,
            {"name": "Sev-A"},
            grace_hours=1,
            first_response_hours=None,
            schedule=always,
            pause_when_pending=True,
        )
        sev_b = upsert(
            SLAPlan, {"name": "Sev-B"}, grace_hours=4, schedule=always, pause_when_pending=True
        )
        sev_c = upsert(
            SLAPlan, {"name": "Sev-C"}, grace_hours=8, schedule=business, pause_when_pending=True
        )

        support = upsert(
            Department,
            {"name": "Support"},
            restricted=False,
            default_sla=sev_c,
            email="support@helpline.example",
        )
        banking = upsert(
            Department,
            {"name": "Online Banking"},
            restricted=False,
            default_sla=sev_b,
            email="banking@helpline.example",
        )
        sysadmins = upsert(
            Department,
            {"name": "SysAdmins"},
            restricted=True,
            default_sla=sev_a,
            email="sysadmins@helpline.example",
        )

        def person(username, name, email, **flags):
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

        admin = person(
            "admin", "Ada Admin", "admin@helpline.example", is_staff=True, is_superuser=True
        )
        john = person("john", "John Smith", "john@helpline.example")
        jane = person("jane", "Jane Lee", "jane@helpline.example")
        garnet = person("garnet", "Garnet Jones", "garnet@helpline.example")
        person("karen", "Karen Miller", "karen@example.com")
        person("ken", "Ken Adams", "ken@example.com")
        person("greg", "Greg Brown", "greg@example.com")

        def agent(user, department, role, extra=()):
            profile = upsert(
                Agent, {"user": user}, department=department, role=role, is_active=True
            )
            for dept, dept_role in extra:
                DepartmentAccess.objects.get_or_create(
                    agent=profile, department=dept, defaults={"role": dept_role}
                )
            return profile

        agent(admin, support, full)
        john_agent = agent(john, support, full)
        jane_agent = agent(jane, banking, full, extra=[(sysadmins, full)])
        garnet_agent = agent(garnet, support, limited)

        level1 = upsert(Team, {"name": "Level 1 Support"}, lead=john)
        level1.members.add(john_agent, garnet_agent)
        banking_team = upsert(Team, {"name": "Online Banking Team"}, lead=jane)
        banking_team.members.add(jane_agent)

        support.manager = john
        support.save(update_fields=["manager"])
        banking.manager = jane
        banking.save(update_fields=["manager"])
        sysadmins.manager = jane
        sysadmins.save(update_fields=["manager"])

        priorities = {p.name: p for p in Priority.objects.all()}
        for name, dept, plan, prio in [
            ("General Inquiry", support, sev_c, "normal"),
            ("Business Critical Outage", banking, sev_a, "emergency"),
            ("Hardware", support, sev_b, "normal"),
            ("Sev-A Emergency", sysadmins, sev_a, "emergency"),
        ]:
            upsert(
                HelpTopic,
                {"name": name},
                department=dept,
                sla_plan=plan,
                priority=priorities[prio],
                active=True,
                public=True,
            )

        # Custom fields: hardware requests say which device; approval is for agents only.
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
            upsert(
                HelpTopicField,
                {"help_topic": hardware, "name": name},
                label=label,
                kind=kind,
                order=order,
                **extra,
            )

        config = HelpdeskConfig.load()
        config.default_department = support
        config.default_priority = priorities["normal"]
        config.default_sla = sev_c
        config.save()

    return [
        ("admin", "administrator (admin panel at /admin/)"),
        ("john", "agent, Support (Expanded Access), Level 1 Support"),
        ("jane", "agent, Online Banking and SysAdmins, Online Banking Team"),
        ("garnet", "agent, Support (Limited Access), Level 1 Support"),
        ("karen", "requester"),
        ("ken", "requester"),
        ("greg", "requester"),
    ]
