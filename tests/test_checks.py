"""System checks: each misconfiguration is reported with its id; the demo data passes them all."""

import pytest

from helpline.accounts.demo import DEMO_USERNAMES
from helpline.accounts.models import DepartmentAccess, User
from helpline.checks import check_configuration, check_demo_passwords, check_secret_key
from helpline.sla.models import Schedule, SLAPlan


def configuration_ids() -> list[str]:
    return [message.id for message in check_configuration(None, databases=["default"])]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "a-long-random-production-key-" + "x" * 30


def test_demo_data_passes_the_configuration_checks(demo):
    assert check_configuration(None, databases=["default"]) == []


def test_demo_data_passes_the_security_checks_in_development(demo, settings):
    settings.DEBUG = True
    settings.SECRET_KEY = settings.DEV_SECRET_KEY
    assert check_secret_key(None) == []
    assert check_demo_passwords(None) == []


def test_configuration_is_not_checked_without_a_database(demo, org, garnet):
    department = org.dept("SysAdmins")
    department.manager = garnet
    department.save()
    assert check_configuration(None, databases=None) == []


def test_schedule_without_working_hours_is_an_error(demo):
    empty = Schedule.objects.create(name="Nobody home", always_open=False)
    SLAPlan.objects.create(name="Sev-X", grace_hours=4, schedule=empty)
    (error,) = check_configuration(None, databases=["default"])
    assert error.id == "helpline.E010"
    assert "“Sev-X”" in error.msg and "“Nobody home”" in error.msg
    assert error.hint == "Add shifts to the schedule or mark it 24/7."

    empty.always_open = True
    empty.save()
    assert configuration_ids() == []


def test_help_topic_on_an_inactive_sla_plan_is_a_warning(org):
    plan = org.sla("Sev-A")
    plan.active = False
    plan.save()
    messages = check_configuration(None, databases=["default"])
    assert {m.id for m in messages} == {"helpline.W011"}
    assert any("Sev-A Emergency" in m.msg for m in messages)

    for topic in plan.helptopic_set.all():
        topic.active = False
        topic.save()
    assert configuration_ids() == []


def test_manager_without_a_role_in_the_department_is_flagged(org, garnet):
    department = org.dept("SysAdmins")
    department.manager = garnet
    department.save()
    (error,) = check_configuration(None, databases=["default"])
    assert error.id == "helpline.W012"
    assert error.msg == "Garnet Jones, manager of SysAdmins, has no role in SysAdmins."

    # An extra department access gives the manager a role there.
    DepartmentAccess.objects.create(
        agent=garnet.agent, department=department, role=org.role("View only")
    )
    assert configuration_ids() == []


def test_manager_who_loses_their_access_is_reported(org, jane):
    DepartmentAccess.objects.filter(agent=jane.agent, department=org.dept("SysAdmins")).delete()
    assert configuration_ids() == ["helpline.W012"]


def test_deactivated_agent_manager_is_reported_but_an_administrator_is_not(org, john, admin_user):
    john.agent.is_active = False
    john.agent.save()
    assert configuration_ids() == ["helpline.W012"]  # John manages Support.

    support = org.dept("Support")
    support.manager = admin_user
    support.save()
    assert configuration_ids() == []


def test_requester_as_manager_is_reported(org, karen):
    department = org.dept("Online Banking")
    department.manager = karen
    department.save()
    assert configuration_ids() == ["helpline.W012"]


def test_development_secret_key_in_production_is_an_error(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = settings.DEV_SECRET_KEY
    (error,) = check_secret_key(None)
    assert error.id == "helpline.E001"

    settings.SECRET_KEY = "a-long-random-production-key-" + "x" * 30
    assert check_secret_key(None) == []


def test_demo_passwords_in_production_are_an_error(demo, production):
    (error,) = check_demo_passwords(None)
    assert error.id == "helpline.E002"
    for username in DEMO_USERNAMES:
        assert username in error.msg


def test_changed_or_deactivated_demo_accounts_pass(demo, production):
    for user in User.objects.filter(username__in=DEMO_USERNAMES):
        if user.username == "greg":
            user.is_active = False
        else:
            user.set_password(f"{user.username}-own-secret-passphrase")
        user.save()
    assert check_demo_passwords(None) == []
