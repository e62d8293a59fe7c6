"""The admin panel: every page answers, scenario 3 through the admin, and the validation rules."""

from datetime import time

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpline.accounts.models import Agent, DepartmentAccess, Role, User
from helpline.sla.models import Schedule, ScheduleShift, SLAPlan
from helpline.tickets import access, actions
from helpline.tickets.models import HelpdeskConfig, HelpTopic, Priority, Ticket
from tests.admin_forms import admin_url as _url
from tests.admin_forms import form_data as change_form_data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def no_hours_plan(db):
    schedule = Schedule.objects.create(name="Nobody home", always_open=False)
    return SLAPlan.objects.create(name="Sev-X", grace_hours=4, schedule=schedule)


def _fresh(user: User) -> User:
    # access.py caches the agent profile on the user object: read John anew after a change.
    return User.objects.get(pk=user.pk)


# --- every page answers ---------------------------------------------------------------------


def test_every_admin_page_answers(admin_client, admin_user, support_ticket):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        response = admin_client.get(_url(model, "changelist"), follow=True)
        assert response.status_code == 200, model
        if model_admin.has_add_permission(request):
            assert admin_client.get(_url(model, "add")).status_code == 200, model
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            assert admin_client.get(_url(model, "change", first.pk)).status_code == 200, model


def test_admin_index_leads_to_agents(admin_client, john):
    index = admin_client.get("/admin/").content.decode()
    assert _url(Agent, "changelist") in index
    assert "Agents" in index
    agents = admin_client.get(_url(Agent, "changelist")).content.decode()
    assert _url(Agent, "change", john.agent.pk) in agents


# --- scenario 3: view-only access to SysAdmins ------------------------------------------------


def test_scenario_3_admin_gives_john_view_only_access(admin_client, org, john, sysadmins_ticket):
    assert not access.can(john, "view", sysadmins_ticket)
    url = _url(Agent, "change", john.agent.pk)
    page = admin_client.get(url)
    assert "extra department access" in page.content.decode()

    data = change_form_data(page)
    assert data["accesses-INITIAL_FORMS"] == "0"  # John has no extra access yet.
    data.update(
        {
            "accesses-TOTAL_FORMS": "1",
            "accesses-0-department": str(org.dept("SysAdmins").pk),
            "accesses-0-role": str(org.role("View only").pk),
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]

    access_row = DepartmentAccess.objects.get(agent=john.agent)
    assert (access_row.department.name, access_row.role.name) == ("SysAdmins", "View only")
    john = _fresh(john)
    assert access.can(john, "view", sysadmins_ticket)
    for permission in ("reply", "note", "assign", "transfer", "status"):
        assert not access.can(john, permission, sysadmins_ticket), permission
    # His own department's work is untouched.
    assert access.agent_profile(john).role == org.role("Expanded Access")


def test_extra_access_to_the_primary_department_is_refused(admin_client, org, john):
    url = _url(Agent, "change", john.agent.pk)
    data = change_form_data(admin_client.get(url))
    data.update(
        {
            "accesses-TOTAL_FORMS": "1",
            "accesses-0-department": str(org.dept("Support").pk),
            "accesses-0-role": str(org.role("View only").pk),
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "already this agent&#x27;s primary department" in response.content.decode()
    assert not DepartmentAccess.objects.filter(agent=john.agent).exists()


def test_dropping_the_access_of_a_manager_is_refused(admin_client, org, jane):
    # Jane manages SysAdmins through her extra access: removing it would leave no role there.
    url = _url(Agent, "change", jane.agent.pk)
    data = change_form_data(admin_client.get(url))
    data["accesses-0-DELETE"] = "on"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Jane Lee manages SysAdmins" in response.content.decode()
    assert DepartmentAccess.objects.filter(agent=jane.agent).exists()


def test_teams_are_edited_on_the_agent(admin_client, org, john):
    url = _url(Agent, "change", john.agent.pk)
    data = change_form_data(admin_client.get(url))
    assert data["teams"] == [str(org.team("Level 1 Support").pk)]
    data["teams"] = [str(org.team("Online Banking Team").pk)]
    assert admin_client.post(url, data).status_code == 302
    assert list(john.agent.teams.values_list("name", flat=True)) == ["Online Banking Team"]


def test_user_page_links_to_extra_accesses(admin_client, jane):
    page = admin_client.get(_url(User, "change", jane.pk)).content.decode()
    assert "SysAdmins (Expanded Access)" in page
    assert _url(Agent, "change", jane.agent.pk) in page


def test_deactivating_a_manager_on_the_user_page_is_refused(admin_client, john):
    url = _url(User, "change", john.pk)
    data = change_form_data(admin_client.get(url))
    assert data["agent-0-is_active"] == "on"
    del data["agent-0-is_active"]
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "John Smith manages Support: choose another manager" in response.content.decode()
    john.agent.refresh_from_db()
    assert john.agent.is_active

    data["agent-0-is_active"] = "on"
    data["agent-0-on_vacation"] = "on"
    assert admin_client.post(url, data).status_code == 302
    john.agent.refresh_from_db()
    assert john.agent.on_vacation


# --- people ---------------------------------------------------------------------------------


def test_adding_a_user_hashes_the_password(admin_client):
    response = admin_client.post(
        _url(User, "add"),
        {
            "username": "mia",
            "name": "Mia Wong",
            "email": "mia@helpline.example",
            "usable_password": "true",
            "password1": "Quite-long-passphrase-42",
            "password2": "Quite-long-passphrase-42",
            "agent-TOTAL_FORMS": "1",
            "agent-INITIAL_FORMS": "0",
            "agent-MIN_NUM_FORMS": "0",
            "agent-MAX_NUM_FORMS": "1",
            "agent-0-is_active": "on",  # As rendered: an untouched profile form is skipped.
        },
    )
    assert response.status_code == 302, response.context["errors"]
    mia = User.objects.get(username="mia")
    assert mia.password != "Quite-long-passphrase-42"
    assert mia.check_password("Quite-long-passphrase-42")
    assert mia.name == "Mia Wong" and not mia.is_agent


def test_user_list_searches_by_email_and_shows_agents(admin_client, john):
    page = admin_client.get(_url(User, "changelist"), {"q": "john@helpline.example"})
    content = page.content.decode()
    assert "John Smith" in content and "Karen Miller" not in content
    assert list(page.context["cl"].result_list) == [john]


def test_non_superuser_agents_are_sent_to_the_admin_login(client, john):
    client.force_login(john)
    for url in ("/admin/", _url(Role, "changelist"), _url(Agent, "change", john.agent.pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


# --- roles ----------------------------------------------------------------------------------


def test_role_list_shows_permissions_and_holders(admin_client):
    page = admin_client.get(_url(Role, "changelist"))
    rows = {role.name: role for role in page.context["cl"].result_list}
    assert rows["View only"].holders == 0
    assert rows["Expanded Access"].holders == 4  # admin, john, jane + jane's SysAdmins access
    content = page.content.decode().lower()
    assert "internal note" in content and "change status" in content


def test_a_role_in_use_cannot_be_deleted(admin_client, org):
    role = org.role("Limited Access")
    url = _url(Role, "delete", role.pk)
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "protected related objects" in page.content.decode()
    assert "Garnet Jones" in page.content.decode()
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert Role.objects.filter(pk=role.pk).exists()


def test_an_unused_role_can_be_deleted(admin_client, org):
    role = org.role("View only")
    response = admin_client.post(_url(Role, "delete", role.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()


# --- departments and teams ------------------------------------------------------------------


def test_department_manager_without_role_is_refused(admin_client, org, garnet):
    department = org.dept("SysAdmins")
    url = _url(type(department), "change", department.pk)
    data = change_form_data(admin_client.get(url))
    data["manager"] = str(garnet.pk)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Garnet Jones has no role in SysAdmins" in response.content.decode()
    department.refresh_from_db()
    assert department.manager.username == "jane"


def test_department_manager_with_extra_access_is_accepted(admin_client, org, garnet):
    department = org.dept("SysAdmins")
    DepartmentAccess.objects.create(
        agent=garnet.agent, department=department, role=org.role("View only")
    )
    url = _url(type(department), "change", department.pk)
    data = change_form_data(admin_client.get(url))
    data["manager"] = str(garnet.pk)
    assert admin_client.post(url, data).status_code == 302
    department.refresh_from_db()
    assert department.manager == garnet


def test_department_default_sla_needs_working_hours(admin_client, org, no_hours_plan):
    department = org.dept("Support")
    url = _url(type(department), "change", department.pk)
    data = change_form_data(admin_client.get(url))
    data["default_sla"] = str(no_hours_plan.pk)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "“Nobody home” has no working hours" in response.content.decode()


def test_department_list_counts_agents_in_a_fixed_number_of_queries(
    admin_client, org, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        page = admin_client.get(_url(type(org.dept("Support")), "changelist"))
    rows = {d.name: d for d in page.context["cl"].result_list}
    assert (rows["Support"].primary_agents_count, rows["Support"].extra_count) == (3, 0)
    assert (rows["SysAdmins"].primary_agents_count, rows["SysAdmins"].extra_count) == (0, 1)


# --- help topics, SLA plans and schedules ---------------------------------------------------


def _topic_data(org, plan) -> dict:
    return {
        "name": "Night shift",
        "department": str(org.dept("Support").pk),
        "priority": str(org.priority("normal").pk),
        "sla_plan": str(plan.pk),
        "auto_assign_agent": "",
        "auto_assign_team": "",
        "active": "on",
        "public": "on",
        # The custom fields inline, empty.
        "fields-TOTAL_FORMS": "0",
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
    }


def test_help_topic_with_a_schedule_without_hours_is_refused(admin_client, org, no_hours_plan):
    response = admin_client.post(_url(HelpTopic, "add"), _topic_data(org, no_hours_plan))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["sla_plan"]
    assert "“Nobody home” has no working hours" in errors[0]
    assert "has no working hours" in response.content.decode()
    assert not HelpTopic.objects.filter(name="Night shift").exists()

    response = admin_client.post(_url(HelpTopic, "add"), _topic_data(org, org.sla("Sev-C")))
    assert response.status_code == 302
    assert HelpTopic.objects.get(name="Night shift").sla_plan == org.sla("Sev-C")


def test_help_topic_auto_assigned_to_an_outsider_of_a_restricted_department_is_refused(
    admin_client, org, john
):
    data = _topic_data(org, org.sla("Sev-A"))
    data.update(department=str(org.dept("SysAdmins").pk), auto_assign_agent=str(john.pk))
    response = admin_client.post(_url(HelpTopic, "add"), data)
    assert response.status_code == 200
    assert "John Smith has no role in SysAdmins" in response.content.decode()


def test_sla_plan_needs_a_positive_grace_and_a_schedule_with_hours(admin_client, no_hours_plan):
    data = {"name": "Sev-D", "grace_hours": "0", "schedule": "", "pause_when_pending": "on"}
    response = admin_client.post(_url(SLAPlan, "add"), data)
    assert response.status_code == 200
    assert "The grace period must be positive." in response.content.decode()

    data.update(grace_hours="2", schedule=str(no_hours_plan.schedule.pk))
    response = admin_client.post(_url(SLAPlan, "add"), data)
    assert response.status_code == 200
    assert "has no working hours" in response.content.decode()

    data["schedule"] = ""
    assert admin_client.post(_url(SLAPlan, "add"), data).status_code == 302
    assert SLAPlan.objects.get(name="Sev-D").grace_hours == 2


def _schedule_data(**values) -> dict:
    data = {
        "name": "Night desk",
        "timezone": "Europe/Berlin",
        "holiday_country": "",
        "holiday_subdivision": "",
        "shifts-TOTAL_FORMS": "1",
        "shifts-INITIAL_FORMS": "0",
        "shifts-MIN_NUM_FORMS": "0",
        "shifts-MAX_NUM_FORMS": "1000",
        "shifts-0-weekday": "0",
        "shifts-0-start": "22:00",
        "shifts-0-end": "06:00",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
        "holidays-MIN_NUM_FORMS": "0",
        "holidays-MAX_NUM_FORMS": "1000",
    }
    data.update(values)
    return data


def test_schedule_with_shifts_is_saved(admin_client, db):
    assert admin_client.post(_url(Schedule, "add"), _schedule_data()).status_code == 302
    schedule = Schedule.objects.get(name="Night desk")
    assert schedule.timezone == "Europe/Berlin"
    assert list(schedule.shifts.values_list("start", "end")) == [(time(22), time(6))]


def test_schedule_without_hours_is_refused_unless_24_7(admin_client, db):
    empty = _schedule_data(**{"shifts-0-weekday": "", "shifts-0-start": "", "shifts-0-end": ""})
    response = admin_client.post(_url(Schedule, "add"), empty)
    assert response.status_code == 200
    assert "needs at least one shift" in response.content.decode()
    assert not Schedule.objects.filter(name="Night desk").exists()

    empty["always_open"] = "on"
    assert admin_client.post(_url(Schedule, "add"), empty).status_code == 302
    assert Schedule.objects.get(name="Night desk").always_open


def test_deleting_the_last_shift_of_a_schedule_in_use_is_refused(admin_client, org):
    schedule = org.sla("Sev-C").schedule
    url = _url(Schedule, "change", schedule.pk)
    data = change_form_data(admin_client.get(url))
    for index in range(schedule.shifts.count()):
        data[f"shifts-{index}-DELETE"] = "on"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "needs at least one shift" in response.content.decode()
    assert schedule.shifts.count() == 5


def test_schedule_time_zone_and_holiday_country_are_checked(admin_client, db):
    response = admin_client.post(_url(Schedule, "add"), _schedule_data(timezone="Mars/Olympus"))
    assert response.status_code == 200
    assert "Mars/Olympus is not one of the available choices" in response.content.decode()

    response = admin_client.post(_url(Schedule, "add"), _schedule_data(holiday_country="XX"))
    assert response.status_code == 200
    assert "XX" in str(response.context["adminform"].form.errors["holiday_country"])
    assert not Schedule.objects.filter(name="Night desk").exists()


def test_a_shift_ending_when_it_starts_lasts_24_hours(admin_client, db):
    data = _schedule_data(**{"shifts-0-start": "06:00", "shifts-0-end": "06:00"})
    assert admin_client.post(_url(Schedule, "add"), data).status_code == 302
    schedule = Schedule.objects.get(name="Night desk")
    shift = ScheduleShift.objects.get(schedule=schedule)
    assert (shift.start, shift.end) == (time(6), time(6))
    calendar = schedule.calendar()
    (monday_shift,) = calendar.shifts
    assert monday_shift.overnight  # Ends at 06:00 the next day: 24 hours.


# --- priorities and help desk settings ------------------------------------------------------


def test_priority_colour_must_be_hex(admin_client, db):
    data = {"name": "urgent", "level": "9", "colour": "red"}
    response = admin_client.post(_url(Priority, "add"), data)
    assert response.status_code == 200
    assert "#rrggbb" in response.content.decode()
    data["colour"] = "#AA0000"
    assert admin_client.post(_url(Priority, "add"), data).status_code == 302
    assert Priority.objects.get(name="urgent").colour == "#aa0000"


def test_a_new_default_priority_replaces_the_old_one(admin_client, org):
    high = org.priority("high")
    url = _url(Priority, "change", high.pk)
    data = change_form_data(admin_client.get(url))
    data["is_default"] = "on"
    assert admin_client.post(url, data).status_code == 302
    assert list(Priority.objects.filter(is_default=True)) == [high]


def test_help_desk_settings_is_one_object(admin_client, demo):
    config = HelpdeskConfig.load()
    response = admin_client.get(_url(HelpdeskConfig, "changelist"))
    assert response.status_code == 302
    assert response.url == _url(HelpdeskConfig, "change", config.pk)
    assert admin_client.get(_url(HelpdeskConfig, "add")).status_code == 403
    assert admin_client.get(_url(HelpdeskConfig, "delete", config.pk)).status_code == 403

    url = _url(HelpdeskConfig, "change", config.pk)
    data = change_form_data(admin_client.get(url))
    data["number_digits"] = "2"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Use between 4 and 12 digits." in response.content.decode()


def test_help_desk_settings_can_be_added_when_missing(admin_client):
    HelpdeskConfig.objects.all().delete()
    response = admin_client.get(_url(HelpdeskConfig, "changelist"))
    assert response.url == _url(HelpdeskConfig, "add")
    data = {"number_format": "sequence", "number_prefix": "HL-", "number_digits": "6"}
    assert admin_client.post(_url(HelpdeskConfig, "add"), data).status_code == 302
    assert HelpdeskConfig.load().number_prefix == "HL-"
    assert HelpdeskConfig.objects.count() == 1


# --- tickets, events and notifications: read-only -------------------------------------------


def test_ticket_admin_is_read_only(admin_client, support_ticket):
    assert admin_client.get(_url(Ticket, "add")).status_code == 403
    assert admin_client.get(_url(Ticket, "delete", support_ticket.pk)).status_code == 403
    url = _url(Ticket, "change", support_ticket.pk)
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = admin_client.post(url, {"subject": "Changed behind the actions' back"})
    assert response.status_code == 403
    support_ticket.refresh_from_db()
    assert support_ticket.subject == "Mobile/online banking system down"


def test_ticket_page_explains_who_can_see_it(admin_client, sysadmins_ticket):
    content = admin_client.get(_url(Ticket, "change", sysadmins_ticket.pk)).content.decode()
    assert "Who can see this ticket, and why" in content
    assert "John Smith (john)" in content
    assert "John Smith has no access to SysAdmins." in content
    assert "Jane Lee has extra access to SysAdmins with the role “Expanded Access”." in content
    assert "Greg Brown is the requester of this ticket." in content
    assert "Ada Admin is an administrator" in content


def test_ticket_list_search_and_query_count(admin_client, support_ticket, org, karen):
    for n in range(5):
        actions.open_ticket(
            karen, requester=karen, subject=f"Printer {n}", body="Jammed.", autorespond=False
        )
    page = admin_client.get(_url(Ticket, "changelist"), {"q": support_ticket.number})
    assert list(page.context["cl"].result_list) == [support_ticket]
    page = admin_client.get(_url(Ticket, "changelist"), {"q": "karen@example.com"})
    assert len(page.context["cl"].result_list) == 6


def test_ticket_list_costs_the_same_for_more_tickets(admin_client, karen):
    def open_some(count):
        for n in range(count):
            actions.open_ticket(karen, requester=karen, subject=f"Printer {n}", body="Jammed.")

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(_url(Ticket, "changelist")).status_code == 200
        return len(queries.captured_queries)

    open_some(2)
    few = queries_for_the_list()
    open_some(8)
    assert queries_for_the_list() == few


def test_events_and_notifications_are_read_only(admin_client, admin_user, support_ticket):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model in (
        type(support_ticket.events.first()),
        type(support_ticket.notifications.first()),
    ):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        assert model_admin.has_view_permission(request)
    page = admin_client.get(_url(type(support_ticket.notifications.first()), "changelist"))
    assert "karen@example.com" in page.content.decode()
