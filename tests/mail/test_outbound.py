"""Outgoing mail: editable templates, headers, loop-safe recipients, retries with backoff."""

from datetime import timedelta
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from helpline.mail.models import BannedAddress, EmailTemplate
from helpline.tickets import actions, delivery
from helpline.tickets.models import DeliveryState, Notification, NotificationKind

pytestmark = pytest.mark.django_db(transaction=True)


def open_for(karen, org):
    return actions.open_ticket(
        karen,
        requester=karen,
        subject="Laptop <b>slow</b>",
        body="It takes ages to boot.",
        help_topic=org.topic("General Inquiry"),
    )


def acks_to(address):
    return [m for m in mail.outbox if address in m.to and "Auto-Submitted" in m.extra_headers]


def test_default_acknowledgement(karen, org):
    ticket = open_for(karen, org)
    [ack] = acks_to(karen.email)
    assert ack.subject == f"[#{ticket.number}] Laptop <b>slow</b>"
    assert ack.extra_headers["Auto-Submitted"] == "auto-replied"
    assert "Karen Miller" in ack.body and ticket.number in ack.body
    [(html, mimetype)] = ack.alternatives
    assert mimetype == "text/html" and "Laptop &lt;b&gt;slow&lt;/b&gt;" in html
    assert ack.from_email.endswith("<support@helpline.example>")
    notification = Notification.objects.get(kind=NotificationKind.NEW_TICKET_ACK)
    assert notification.state == DeliveryState.SENT
    assert notification.message_id == ack.extra_headers["Message-ID"]


def test_admin_template_for_one_department_and_switch_off(karen, org):
    EmailTemplate.objects.create(
        kind=NotificationKind.NEW_TICKET_ACK,
        department=org.dept("Support"),
        subject="We got it: {{ ticket.subject }}",
        body_text="Hi {{ requester.name }}, ticket {{ ticket.number }} is open.",
    )
    ticket = open_for(karen, org)
    [ack] = acks_to(karen.email)
    assert ack.subject == f"[#{ticket.number}] We got it: Laptop <b>slow</b>"
    assert f"Hi Karen Miller, ticket {ticket.number} is open." in ack.body

    mail.outbox.clear()
    EmailTemplate.objects.update(enabled=False)
    open_for(karen, org)
    assert acks_to(karen.email) == []
    latest = Notification.objects.filter(kind=NotificationKind.NEW_TICKET_ACK).latest("id")
    assert latest.state == DeliveryState.SUPPRESSED and "switched off" in latest.error


def test_template_sees_no_models_and_bad_syntax_is_refused(karen, org):
    EmailTemplate.objects.create(
        kind=NotificationKind.NEW_TICKET_ACK,
        subject="{{ ticket.requester.password }}{{ ticket.delete }}|",
        body_text="{{ requester.password }}Hello",
    )
    ticket = open_for(karen, org)
    [ack] = acks_to(karen.email)
    assert ack.subject == f"[#{ticket.number}] |" and "Hello" in ack.body
    include = EmailTemplate(kind=NotificationKind.REPLY, subject="x", body_text="")
    include.body_text = "{% include 'emails/reply.txt' %}"
    with pytest.raises(ValidationError) as error:
        include.full_clean()
    assert "body_text" in error.value.message_dict
    bad = EmailTemplate(kind=NotificationKind.REPLY, subject="{% if %}", body_text="x")
    with pytest.raises(ValidationError) as error:
        bad.full_clean()
    assert "subject" in error.value.message_dict


def test_nothing_is_sent_to_our_own_or_banned_addresses(karen, ken, org):
    ken.email = "banking@helpline.example"  # an agent's mistake: our own department address
    ken.save()
    ticket = open_for(karen, org)
    actions.add_collaborator(None, ticket, ken)
    BannedAddress.objects.create(pattern="karen@example.com")
    mail.outbox.clear()
    actions.reply(org_agent(), ticket, "We are on it.")
    assert mail.outbox == []


def org_agent():
    from helpline.accounts.models import User

    return User.objects.get(username="john")


class FlakyBackend(BaseEmailBackend):
    """Fails the first `failures` sends."""

    failures = 0
    sent: list = []

    def __init__(self, *args, **kwargs):
        super().__init__()

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise SMTPServerDisconnected("connection lost")
        FlakyBackend.sent += messages
        return len(messages)


def test_failed_send_is_retried_with_backoff(karen, org, settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FlakyBackend"}}
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    ticket = actions.open_ticket(
        karen, requester=karen, subject="Retry me", body="x", alert=False, autorespond=True
    )
    notification = Notification.objects.get(ticket=ticket)
    assert notification.state == DeliveryState.QUEUED
    assert notification.attempts == 1 and "connection lost" in notification.error

    assert delivery.retry_due() == 0  # the one-minute backoff has not passed
    later = timezone.now() + timedelta(minutes=2)
    assert delivery.retry_due(now=later) == 1
    notification.refresh_from_db()
    assert notification.state == DeliveryState.SENT and notification.attempts == 2
    assert len(FlakyBackend.sent) == 1


def test_gives_up_after_max_attempts(karen, org, settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FlakyBackend"}}
    FlakyBackend.failures, FlakyBackend.sent = 100, []
    ticket = actions.open_ticket(karen, requester=karen, subject="Never", body="x", alert=False)
    far = timezone.now() + timedelta(days=1)
    for _ in range(settings.HELPLINE_MAIL_MAX_ATTEMPTS):
        delivery.retry_due(now=far)
    notification = Notification.objects.get(ticket=ticket)
    assert notification.state == DeliveryState.FAILED
    assert notification.attempts == settings.HELPLINE_MAIL_MAX_ATTEMPTS


def test_a_notification_is_sent_once_even_if_delivered_twice(karen, org):
    ticket = open_for(karen, org)
    ids = list(Notification.objects.filter(ticket=ticket).values_list("id", flat=True))
    count = len(mail.outbox)
    assert delivery.deliver(ids) == 0
    assert len(mail.outbox) == count
