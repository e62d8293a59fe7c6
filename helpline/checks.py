"""System checks: catch a misconfigured help desk at start-up, with a clear message."""

from django.conf import settings
from django.core import checks
from django.db import DatabaseError


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [
            checks.Error(
                "SECRET_KEY is the development key.",
                hint="Set the SECRET_KEY environment variable to a long random string.",
                id="helpline.E001",
            )
        ]
    return []


@checks.register(checks.Tags.database)
def check_configuration(app_configs, databases=None, **kwargs):
    """Help topics whose SLA plan has no working time, managers without a role in their dept."""
    if not databases:
        return []
    from helpline.accounts.models import Department
    from helpline.sla.models import SLAPlan
    from helpline.tickets.models import HelpTopic

    errors = []
    try:
        for plan in SLAPlan.objects.filter(schedule__isnull=False, schedule__always_open=False):
            if not plan.schedule.shifts.exists():
                errors.append(
                    checks.Error(
                        f"SLA plan “{plan}” uses schedule “{plan.schedule}” which has no "
                        "working hours, so no due time can be computed.",
                        hint="Add shifts to the schedule or mark it 24/7.",
                        id="helpline.E010",
                    )
                )
        for topic in HelpTopic.objects.filter(active=True, sla_plan__active=False):
            errors.append(
                checks.Warning(
                    f"Help topic “{topic}” uses the inactive SLA plan “{topic.sla_plan}”.",
                    id="helpline.W011",
                )
            )
        for dept in Department.objects.filter(manager__isnull=False).select_related("manager"):
            from helpline.tickets.access import agent_profile, is_admin

            manager = dept.manager
            profile = agent_profile(manager)
            if is_admin(manager):
                continue
            if profile is None or dept.pk not in profile.department_roles():
                # A warning, not an error: database checks run at migrate time too.
                errors.append(
                    checks.Warning(
                        f"{manager}, manager of {dept}, has no role in {dept}.",
                        hint="Give the manager access to the department in the admin panel.",
                        id="helpline.W012",
                    )
                )
    except DatabaseError:
        return []  # Not migrated yet: nothing to check.
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_demo_passwords(app_configs, **kwargs):
    """Production refuses to start while demo accounts still have the demo password."""
    if settings.DEBUG:
        return []
    from helpline.accounts.demo import demo_accounts_with_demo_password

    try:
        users = demo_accounts_with_demo_password()
    except DatabaseError:
        return []
    if users:
        return [
            checks.Error(
                "Demo accounts still use the demo password: " + ", ".join(users) + ".",
                hint="Change their passwords or deactivate them, or run with DEBUG=1.",
                id="helpline.E002",
            )
        ]
    return []
