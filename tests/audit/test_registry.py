"""The registry covers every configuration page of the admin panel, and nothing operational."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpline.accounts.people import get_or_create_requester
from helpline.audit import capture, checks, registry
from helpline.audit.models import AuditEntry
from helpline.tickets import actions
from helpline.tickets.models import Collaborator, SavedSearch, Ticket


def test_every_admin_model_of_helpline_is_audited_or_said_not_to_be():
    assert checks.unclassified_admin_models() == []
    assert checks.unknown_registry_labels() == []
    assert checks.check_audit_registry(None) == []


def test_a_forgotten_admin_page_is_reported():
    site = admin.AdminSite(name="scratch")

    class CollaboratorInline(admin.TabularInline):
        model = Collaborator

    class TicketWithPeople(admin.ModelAdmin):
        inlines = [CollaboratorInline]

    site.register(SavedSearch)
    site.register(Ticket, TicketWithPeople)
    assert checks.unclassified_admin_models(site) == ["tickets.Collaborator", "tickets.SavedSearch"]


def test_audited_and_not_audited_do_not_overlap():
    not_audited = {label.lower() for label in registry.NOT_AUDITED}
    assert registry.audited_labels().isdisjoint(not_audited)


def test_the_configuration_models_are_hooked():
    hooked = {model._meta.label for model in capture.tracked_models()}
    expected = {
        "accounts.User", "accounts.Role", "accounts.Department", "accounts.Team",
        "accounts.Agent", "accounts.DepartmentAccess", "api.ApiKey", "api.Webhook",
        "mail.Mailbox", "mail.BannedAddress", "mail.EmailTemplate", "automation.Rule",
        "automation.RuleCondition", "automation.RuleAction", "automation.CannedResponse",
        "sla.SLAPlan", "sla.Schedule", "sla.ScheduleShift", "sla.Holiday", "tickets.HelpTopic",
        "tickets.HelpTopicField", "tickets.Status", "tickets.Priority", "tickets.HelpdeskConfig",
        "otp_totp.TOTPDevice",
    }  # fmt: skip
    assert expected <= hooked
    operational = {
        "tickets.Ticket",
        "tickets.ThreadEntry",
        "tickets.Event",
        "tickets.Notification",
        "tickets.Attachment",
        "tickets.Collaborator",
    }
    assert hooked.isdisjoint(operational)


@pytest.mark.django_db
def test_working_tickets_never_touches_the_audit_log(org, karen, john):
    # A ticket from a new person (mail, portal, API): their user is made on the way.
    before = AuditEntry.objects.count()
    with CaptureQueriesContext(connection) as captured:
        newcomer, _ = get_or_create_requester("new.person@example.org", "New Person")
        ticket = actions.open_ticket(
            newcomer,
            requester=newcomer,
            subject="Printer on fire",
            body="Smoke everywhere.",
            help_topic=org.topic("Hardware"),
        )
        actions.reply(john, ticket, "We are on our way.")
        actions.add_note(john, ticket, "Bring an extinguisher.")
        actions.assign(john, ticket, agent=john)
    assert AuditEntry.objects.count() == before
    assert not [q for q in captured if "audit" in q["sql"].lower()]
