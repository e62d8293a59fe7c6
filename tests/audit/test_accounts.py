"""People and organisation changed in the admin panel land in the audit log: who, where, what."""

import pytest
from django.urls import reverse

from helpline.accounts.models import Agent, Department, DepartmentAccess, Role, Team, User
from helpline.accounts.people import get_or_create_requester
from helpline.audit.models import AuditEntry

from .conftest import ADMIN_IP, assert_by_admin, entries_for, last_entry

pytestmark = pytest.mark.django_db


def _label(obj) -> str:
    return f"{obj} (id {obj.pk})"


def test_role_permission_ticked(panel, admin_user, org):
    limited = org.role("Limited Access")
    panel.change(limited, can_delete="on")

    entry = last_entry(limited)
    assert_by_admin(entry, admin_user)
    assert entry.object_repr == "Limited Access"
    assert entry.changes == {"can_delete": [False, True]}


def test_saving_without_a_change_writes_nothing(panel, org):
    role = org.role("View only")
    before = AuditEntry.objects.count()
    panel.change(role)
    assert AuditEntry.objects.count() == before


def test_department_manager_and_restriction(panel, admin_user, org, john, jane):
    support = org.dept("Support")
    panel.change(support, manager=str(admin_user.pk), restricted="on")

    entry = last_entry(support)
    assert_by_admin(entry, admin_user)
    assert entry.changes == {
        "manager": [_label(john), _label(admin_user)],
        "restricted": [False, True],
    }


def test_team_rename_and_members_make_one_entry(panel, admin_user, org, john, garnet):
    team = org.team("Level 1 Support")
    panel.change(team, name="First Line", members=[str(john.agent.pk)])

    [entry] = entries_for(team, channel="admin")
    assert_by_admin(entry, admin_user)
    assert entry.object_repr == "First Line"
    assert entry.changes["name"] == ["Level 1 Support", "First Line"]
    before, after = entry.changes["members"]
    assert sorted(before) == sorted([_label(john.agent), _label(garnet.agent)])
    assert after == [_label(john.agent)]


def test_agent_role_teams_and_extra_access(panel, admin_user, org, john):
    agent = john.agent
    url_data = {
        "role": str(org.role("Limited Access").pk),
        "teams": [str(org.team("Online Banking Team").pk)],
        "accesses-TOTAL_FORMS": "1",
        "accesses-0-department": str(org.dept("SysAdmins").pk),
        "accesses-0-role": str(org.role("View only").pk),
    }
    panel.change(agent, **url_data)

    entry = last_entry(agent)
    assert_by_admin(entry, admin_user)
    assert entry.changes["role"] == [
        _label(org.role("Expanded Access")),
        _label(org.role("Limited Access")),
    ]
    assert entry.changes["teams"] == [
        [_label(org.team("Level 1 Support"))],
        [_label(org.team("Online Banking Team"))],
    ]
    extra = DepartmentAccess.objects.get(agent=agent)
    created = last_entry(extra)
    assert_by_admin(created, admin_user, action="created")
    assert created.object_repr == "John Smith in SysAdmins as View only"
    assert created.changes["department"] == [None, _label(org.dept("SysAdmins"))]
    assert created.changes["role"] == [None, _label(org.role("View only"))]


def test_extra_access_removed_on_the_agent_page(panel, admin_user, org, jane, john):
    # Jane manages SysAdmins through that access: make the administrator its manager first.
    sysadmins = org.dept("SysAdmins")
    Department.objects.filter(pk=sysadmins.pk).update(manager=admin_user)
    extra = DepartmentAccess.objects.get(agent=jane.agent)
    panel.change(jane.agent, **{"accesses-0-DELETE": "on"})

    entry = last_entry(extra, action="deleted")
    assert_by_admin(entry, admin_user, action="deleted")
    assert entry.object_id == str(extra.pk)
    assert entry.changes["department"] == [_label(sysadmins), None]


def test_user_privileges_and_email(panel, admin_user, karen):
    panel.change(karen, is_staff="on", email="karen.miller@example.com")

    entry = last_entry(karen)
    assert_by_admin(entry, admin_user)
    assert entry.changes == {
        "email": ["karen@example.com", "karen.miller@example.com"],
        "is_staff": [False, True],
    }


def test_user_groups(panel, admin_user, karen):
    from django.contrib.auth.models import Group

    auditors = Group.objects.create(name="Auditors")
    panel.change(karen, groups=[str(auditors.pk)])
    entry = last_entry(karen)
    assert entry.changes == {"groups": [[], [_label(auditors)]]}


def test_password_set_by_the_admin_is_only_marked_changed(admin_client, admin_user, karen):
    old_hash = karen.password
    url = reverse("admin:auth_user_password_change", args=[karen.pk])
    response = admin_client.post(
        url,
        {"usable_password": "true", "password1": "Tr1cky-new-pass", "password2": "Tr1cky-new-pass"},
        REMOTE_ADDR=ADMIN_IP,
    )
    assert response.status_code == 302
    karen.refresh_from_db()
    assert karen.password != old_hash

    entry = last_entry(karen)
    assert_by_admin(entry, admin_user)
    assert entry.changes == {"password": [None, "(changed)"]}
    text = str(entry.changes)
    for secret in ("Tr1cky-new-pass", karen.password, old_hash):
        assert secret not in text


def test_signing_in_is_not_a_change(client, karen, password):
    before = AuditEntry.objects.filter(object_id=str(karen.pk)).count()
    response = client.post("/login/", {"username": "karen", "password": password})
    assert response.status_code == 302
    karen.refresh_from_db()
    assert karen.last_login is not None
    assert AuditEntry.objects.filter(object_id=str(karen.pk)).count() == before


def test_an_administrator_signing_in_is_recorded(client, admin_user, password):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin", "password": password},
        REMOTE_ADDR=ADMIN_IP,
    )
    assert response.status_code == 302
    entry = last_entry(admin_user, action="signed_in")
    assert (entry.actor, entry.channel, entry.ip_address) == (admin_user, "admin", ADMIN_IP)
    assert entry.changes == {}


def test_user_made_in_the_admin_panel(panel, admin_user):
    panel.add(
        User,
        username="mia",
        name="Mia Wong",
        email="mia@helpline.example",
        usable_password="true",
        password1="Mia-secret-pass-1",
        password2="Mia-secret-pass-1",
    )
    mia = User.objects.get(username="mia")
    entry = last_entry(mia)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["username"] == [None, "mia"]
    assert entry.changes["email"] == [None, "mia@helpline.example"]
    assert entry.changes["password"] == [None, "(changed)"]
    assert "Mia-secret-pass-1" not in str(entry.changes)
    assert "last_login" not in entry.changes


def test_requesters_arriving_with_tickets_are_not_logged(demo):
    # Mail, the portal and the API create requesters while tickets come in: operational data.
    before = AuditEntry.objects.count()
    someone, created = get_or_create_requester("new.person@example.org", "New Person")
    assert created
    assert AuditEntry.objects.count() == before
    assert entries_for(someone) == []


def test_deleting_a_role(panel, admin_user):
    role = Role.objects.create(name="Night shift", can_reply=True)
    panel.delete(role)
    entry = last_entry(role, action="deleted")
    assert_by_admin(entry, admin_user, action="deleted")
    assert entry.object_repr == "Night shift"
    assert entry.changes["name"] == ["Night shift", None]
    assert entry.changes["can_reply"] == [True, None]


def test_new_team_with_members(panel, admin_user, john):
    panel.add(Team, name="Night Watch", members=[str(john.agent.pk)])
    team = Team.objects.get(name="Night Watch")
    [entry] = entries_for(team)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["name"] == [None, "Night Watch"]
    assert entry.changes["members"] == [[], [_label(Agent.objects.get(user=john))]]
