"""Each family of configuration, changed in the admin panel, lands in the audit log."""

import pytest

from helpline.api.models import ApiKey, Webhook
from helpline.automation.models import AutomationSettings, CannedResponse, Rule, RuleCondition
from helpline.mail.models import BannedAddress, EmailTemplate, Mailbox
from helpline.reports.models import SatisfactionSettings
from helpline.sla.models import Holiday, Schedule
from helpline.tickets.models import HelpdeskConfig, Priority, Status

from .conftest import assert_by_admin, entries_for, last_entry

pytestmark = pytest.mark.django_db


def _label(obj) -> str:
    return f"{obj} (id {obj.pk})"


# --- SLA ------------------------------------------------------------------------------------


def test_sla_plan_grace_period(panel, admin_user, org):
    plan = org.sla("Sev-C")
    panel.change(plan, grace_hours="6.00")
    entry = last_entry(plan)
    assert_by_admin(entry, admin_user)
    assert entry.changes == {"grace_hours": ["8.00", "6.00"]}


def test_schedule_closed_day_added_inline(panel, admin_user):
    business = Schedule.objects.get(name="Business hours")
    panel.change(
        business,
        **{
            "holidays-TOTAL_FORMS": "1",
            "holidays-0-date": "2026-12-24",
            "holidays-0-name": "Christmas Eve",
        },
    )
    holiday = Holiday.objects.get(schedule=business)
    entry = last_entry(holiday)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes == {
        "schedule": [None, _label(business)],
        "date": [None, "2026-12-24"],
        "name": [None, "Christmas Eve"],
    }


# --- tickets' configuration -----------------------------------------------------------------


def test_help_topic_priority(panel, admin_user, org):
    topic = org.topic("Hardware")
    panel.change(topic, priority=str(org.priority("high").pk))
    entry = last_entry(topic)
    assert_by_admin(entry, admin_user)
    assert entry.changes == {
        "priority": [_label(org.priority("normal")), _label(org.priority("high"))]
    }


def test_status_and_priority(panel, admin_user, org):
    status = org.status("Work in Progress")
    panel.change(status, name="In progress")
    assert last_entry(status).changes == {"name": ["Work in Progress", "In progress"]}

    panel.add(Priority, name="urgent", level="5", colour="#ff0000")
    urgent = Priority.objects.get(name="urgent")
    entry = last_entry(urgent)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["colour"] == [None, "#ff0000"]


def test_helpdesk_settings(panel, admin_user):
    config = HelpdeskConfig.load()
    panel.change(config, number_prefix="HL-", number_format="sequence")
    entry = last_entry(config)
    assert_by_admin(entry, admin_user)
    assert entry.changes == {
        "number_format": ["Random digits", "Sequence"],
        "number_prefix": ["", "HL-"],
    }


# --- mail -----------------------------------------------------------------------------------


def test_mailbox_password_is_never_written_down(panel, admin_user, org):
    panel.add(
        Mailbox,
        name="Support inbox",
        address="support@helpline.example",
        host="imap.example.com",
        username="support",
        password="imap-Secret-42",
        department=str(org.dept("Support").pk),
    )
    mailbox = Mailbox.objects.get(name="Support inbox")
    created = last_entry(mailbox)
    assert_by_admin(created, admin_user, action="created")
    assert created.changes["password"] == [None, "(changed)"]
    assert created.changes["host"] == [None, "imap.example.com"]

    panel.change(mailbox, password="imap-Other-43", folder="Helpdesk")
    changed = last_entry(mailbox)
    assert changed.changes == {"password": [None, "(changed)"], "folder": ["INBOX", "Helpdesk"]}

    # Left empty, the stored password is kept: no password line at all.
    panel.change(mailbox, password="", port="143", security="starttls")
    assert last_entry(mailbox).changes == {
        "port": [993, 143],
        "security": ["TLS (IMAPS, port 993)", "STARTTLS (port 143)"],
    }
    # Fetching mail updates the status fields only: not configuration.
    Mailbox.objects.get(pk=mailbox.pk).save()
    fetched = Mailbox.objects.get(pk=mailbox.pk)
    fetched.last_error = "connection refused"
    fetched.save()
    assert len(entries_for(mailbox)) == 3


def test_ban_list_and_email_template(panel, admin_user, org):
    panel.add(BannedAddress, pattern="@spam.example", reason="Spam")
    ban = BannedAddress.objects.get(pattern="@spam.example")
    assert_by_admin(last_entry(ban), admin_user, action="created")
    assert last_entry(ban).changes["reason"] == [None, "Spam"]

    panel.add(EmailTemplate, "?kind=reply", subject="Re: {{ ticket.subject }}")
    template = EmailTemplate.objects.get(kind="reply")
    entry = last_entry(template)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["subject"] == [None, "Re: {{ ticket.subject }}"]
    assert "updated_at" not in entry.changes


# --- API ------------------------------------------------------------------------------------


def test_api_key_made_in_the_admin_panel(panel, admin_user, john):
    response = panel.add(
        ApiKey, user=str(john.pk), name="CRM sync", scopes=["tickets:read"], allowed_ips=""
    )
    key = ApiKey.objects.get(name="CRM sync")
    entry = last_entry(key)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["key_hash"] == [None, "(changed)"]
    assert entry.changes["scopes"] == [None, ["tickets:read"]]
    assert entry.changes["user"] == [None, _label(john)]
    shown = [str(m) for m in response.wsgi_request._messages]
    clear_key = next(word for m in shown for word in m.split() if word.startswith("hl_"))
    assert clear_key not in str(entry.changes)
    assert key.key_hash not in str(entry.changes)


def test_webhook_secret(panel, admin_user):
    panel.add(
        Webhook,
        name="CRM",
        owner=str(admin_user.pk),
        url="https://crm.example.com/hook",
        secret="whsec-Very-Secret",
        events=["ticket.created"],
        is_active="on",
    )
    hook = Webhook.objects.get(name="CRM")
    entry = last_entry(hook)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["secret"] == [None, "(changed)"]
    assert entry.changes["url"] == [None, "https://crm.example.com/hook"]

    panel.change(hook, secret="whsec-Rotated", is_active=None)
    assert last_entry(hook).changes == {"secret": [None, "(changed)"], "is_active": [True, False]}


# --- automation and reports -----------------------------------------------------------------


def test_rule_with_a_condition(panel, admin_user):
    panel.add(
        Rule,
        name="VIP senders",
        order="10",
        match="all",
        **{
            "conditions-TOTAL_FORMS": "1",
            "conditions-0-field": "sender_domain",
            "conditions-0-operator": "equals",
            "conditions-0-value": "vip.example",
            "actions-TOTAL_FORMS": "0",
        },
    )
    rule = Rule.objects.get(name="VIP senders")
    assert_by_admin(last_entry(rule), admin_user, action="created")
    assert "updated_at" not in last_entry(rule).changes
    condition = RuleCondition.objects.get(rule=rule)
    entry = last_entry(condition)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["value"] == [None, "vip.example"]
    assert entry.changes["operator"] == [None, "equals"]

    panel.change(rule, active=None)
    assert last_entry(rule).changes == {"active": [True, False]}


def test_automation_settings_and_canned_response(panel, admin_user):
    settings_row = AutomationSettings.load()
    panel.change(settings_row, remind_before_due_minutes="30")
    entry = last_entry(settings_row)
    assert_by_admin(entry, admin_user)
    assert entry.changes == {"remind_before_due_minutes": [0, 30]}

    panel.add(CannedResponse, title="Thanks", body="Thank you, {{ requester.name }}.")
    canned = CannedResponse.objects.get(title="Thanks")
    assert last_entry(canned).changes["body"] == [None, "Thank you, {{ requester.name }}."]


def test_satisfaction_settings(panel, admin_user, org):
    panel.add(SatisfactionSettings, department=str(org.dept("Support").pk), send_survey=None)
    row = SatisfactionSettings.objects.get(department=org.dept("Support"))
    entry = last_entry(row)
    assert_by_admin(entry, admin_user, action="created")
    assert entry.changes["send_survey"] == [None, False]


def test_deleting_configuration_in_the_admin_panel(panel, admin_user):
    status = Status.objects.create(name="On hold", state="pending", order=9)
    panel.delete(status)
    entry = last_entry(status, action="deleted")
    assert_by_admin(entry, admin_user, action="deleted")
    assert entry.object_repr == "On hold"
    assert entry.changes["state"] == ["Pending (waiting on the requester)", None]


def test_new_default_priority_records_the_old_one_unticked(panel, admin_user, org):
    panel.change(org.priority("high"), is_default="on")
    assert last_entry(org.priority("high")).changes == {"is_default": [False, True]}
    unticked = last_entry(org.priority("normal"))
    assert_by_admin(unticked, admin_user)
    assert unticked.changes == {"is_default": [True, False]}
