"""Turn outbox rows into email. The email channel's templates and threading build on this."""

import logging
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from helpline.tickets.models import DeliveryState, Notification

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def render(notification: Notification) -> tuple[str, str]:
    """(subject, body) of a notification from templates/emails/<kind>.txt."""
    ticket = notification.ticket
    context = {
        "ticket": ticket,
        "entry": notification.entry,
        "recipient": notification.recipient,
        "helpdesk": settings.HELPLINE_HELPDESK_NAME,
        "site_url": settings.SITE_URL,
    }
    body = render_to_string(f"emails/{notification.kind}.txt", context)
    subject = f"[#{ticket.number}] {ticket.subject}"
    return subject, body.strip() + "\n"


def deliver(ids: list[int]) -> int:
    """Send the queued notifications among `ids`; failures stay queued for a retry."""
    sent = 0
    for notification in Notification.objects.filter(
        pk__in=ids, state=DeliveryState.QUEUED
    ).select_related("ticket__department", "entry", "recipient"):
        with transaction.atomic():
            subject, body = render(notification)
            ticket = notification.ticket
            message_id = make_msgid(domain="helpline.local")
            message = EmailMessage(
                subject=subject,
                body=body,
                from_email=ticket.department.email or settings.DEFAULT_FROM_EMAIL,
                to=[notification.email],
                headers={"Message-ID": message_id, "X-Helpline-Ticket": ticket.number},
            )
            if notification.kind in {"new_ticket_ack", "pending_auto_closed"}:
                message.extra_headers["Auto-Submitted"] = "auto-replied"
            notification.attempts += 1
            try:
                message.send()
            except Exception as exc:  # noqa: BLE001 - any transport error is retried later
                log.warning("Sending notification %s failed: %s", notification.pk, exc)
                notification.error = str(exc)[:2000]
                if notification.attempts >= MAX_ATTEMPTS:
                    notification.state = DeliveryState.FAILED
            else:
                notification.state = DeliveryState.SENT
                notification.sent_at = timezone.now()
                notification.message_id = message_id
                sent += 1
            notification.save(update_fields=["state", "sent_at", "attempts", "error", "message_id"])
    return sent
