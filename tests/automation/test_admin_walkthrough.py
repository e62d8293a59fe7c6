"""The issue's "Done when", from the admin panel only: route "outage" emails from the bank's
domain to Online Banking at Sev-A, see why each ticket went where it did, and watch stale
tickets close themselves."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpline.automation import scheduler
from helpline.automation.models import AutomationSettings, JobRun, Rule
from helpline.mail.ingest import ingest
from helpline.tickets import actions
from helpline.tickets.models import EventKind, State, Ticket
from tests.automation.test_channels import raw_email


def inline(prefix, rows, extra_blank=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows) + extra_blank),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


@pytest.mark.django_db(transaction=True)
def test_done_when_from_the_admin_panel_only(client, admin_user, org, john):
    client.force_login(admin_user)
    # 1. A rule, written in the admin panel.
    data = {
        "name": "Bank outages", "order": "10", "active": "on", "match": "all", "notes": "",
        **inline("conditions", [
            {"field": "sender_domain", "operator": "equals", "value": "bank.example"},
            {"field": "subject", "operator": "contains", "value": "outage"},
        ]),
        **inline("actions", [
            {"kind": "set_department", "department": org.dept("Online Banking").pk},
            {"kind": "set_sla_plan", "sla_plan": org.sla("Sev-A").pk},
        ]),
    }  # fmt: skip
    response = client.post("/admin/automation/rule/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = Rule.objects.get()
    assert rule.conditions.count() == 2 and rule.actions.count() == 2

    # A catastrophic regex is refused by the same form, with a message.
    bad = {**data, "name": "Bad", **inline("conditions", [
        {"field": "subject", "operator": "regex", "value": "(a+)+$"}])}  # fmt: skip
    refused = client.post("/admin/automation/rule/add/", bad)
    assert refused.status_code == 200 and "take very long" in refused.content.decode()

    # 2. The dry run agrees, without creating anything.
    tried = client.post(
        "/staff/rules/dry-run/",
        {"sender": "ops@bank.example", "subject": "Outage!", "source": "email"},
    )
    assert "Sev-A" in tried.content.decode() and not Ticket.objects.exists()

    # 3. Mail arrives: routed, and the ticket says why.
    ticket = ingest(raw_email("ops@bank.example", "Online banking outage")).ticket
    assert ticket.department == org.dept("Online Banking") and ticket.sla_plan == org.sla("Sev-A")
    event = ticket.events.get(kind=EventKind.RULE)
    assert "Bank outages" in event.reason and "sender domain equals" in event.reason
    rule_page = client.get(f"/admin/automation/rule/{rule.pk}/change/").content.decode()
    assert f"#{ticket.number}" in rule_page  # recently routed tickets, with the reason
    staff_page = client.get(f"/staff/tickets/{ticket.number}/").content.decode()
    assert "Bank outages" in staff_page  # the history shows the rule and what matched

    # 4. Stale tickets close themselves: settings in the admin, the scheduler does the rest.
    settings_url = f"/admin/automation/automationsettings/{AutomationSettings.load().pk}/change/"
    saved = client.post(
        settings_url,
        {"close_pending_enabled": "on", "pending_close_days": "3", "close_resolved_enabled": "on",
         "resolved_close_days": "7", "remind_before_due_minutes": "0", "guest_link_days": "1",
         "failed_mail_days": "30", "job_runs_days": "14"},
    )  # fmt: skip
    assert saved.status_code == 302
    waiting = actions.open_ticket(
        john, requester=john, subject="Need details", body="x", help_topic=org.topic("Hardware")
    )
    actions.set_status(john, waiting, org.status("Pending"))
    Ticket.objects.filter(pk=waiting.pk).update(paused_at=timezone.now() - timedelta(days=4))
    scheduler.tick()
    waiting.refresh_from_db()
    assert waiting.state == State.CLOSED
    run = JobRun.objects.get(job="close_pending")
    assert run.result == 1
    runs_page = client.get("/admin/automation/jobrun/").content.decode()
    assert "close_pending" in runs_page


def test_admin_pages_open(client, admin_user):
    client.force_login(admin_user)
    for url in (
        "/admin/automation/rule/", "/admin/automation/rule/add/",
        "/admin/automation/assignmentpolicy/add/", "/admin/automation/automationsettings/",
        "/admin/automation/jobrun/", "/admin/automation/cannedresponse/add/",
        "/admin/automation/kbarticle/add/", "/admin/automation/kbcategory/add/",
    ):  # fmt: skip
        response = client.get(url, follow=True)
        assert response.status_code == 200, url


def test_a_policy_needs_exactly_one_scope(client, admin_user, org):
    client.force_login(admin_user)
    both = {"department": org.dept("Support").pk, "help_topic": org.topic("Hardware").pk,
            "method": "round_robin"}  # fmt: skip
    assert client.post("/admin/automation/assignmentpolicy/add/", both).status_code == 200
    neither = {"method": "round_robin"}
    assert client.post("/admin/automation/assignmentpolicy/add/", neither).status_code == 200
