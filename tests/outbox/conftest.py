"""The outbox's world: a real SMTP sink that can go down and come back, and mail of every kind.

Every check counts outbox rows against what the sink received, by Message-ID.
"""

from collections import Counter
from email import message_from_bytes, policy

import pytest
from django.test import Client
from django.urls import reverse

from helpline.accounts import registration
from helpline.tickets import actions, guest
from helpline.tickets.models import ComposedKind, DeliveryState, Notification, NotificationKind
from tests.mail.conftest import SMTPSink, free_port


class Sink:
    """An aiosmtpd server on one loopback port that can be stopped (an outage) and restarted."""

    def __init__(self):
        self.port = free_port()
        self.handler = SMTPSink()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def message_ids(self) -> list[str]:
        """The Message-ID of every message received, once per delivery."""
        return [
            str(message_from_bytes(raw, policy=policy.default)["Message-ID"]).strip()
            for _, _, raw in self.handler.received
        ]

    def mailer(self) -> dict:
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 5},
            }
        }


@pytest.fixture
def sink():
    server = Sink()
    try:
        yield server
    finally:
        server.stop()


def every_kind_of_mail(org, john, karen, admin_user) -> None:
    """Mail of every kind the help desk sends: acknowledgements and alerts of new tickets, an
    agent's reply, a resolution with its survey, a password reset, a registration and a guest
    link. Each is written by the real code path, in its own committed transaction."""
    tickets = [
        actions.open_ticket(
            karen,
            requester=karen,
            subject=f"Printer {n} jams",
            body="It jams on every page.",
            help_topic=org.topic("General Inquiry"),
        )
        for n in range(2)
    ]
    actions.reply(john, tickets[0], "We are on it.")
    actions.set_status(admin_user, tickets[1], org.status("Resolved"))  # a survey too
    response = Client().post(reverse("portal:password_reset"), {"email": karen.email})
    assert response.status_code == 302
    registration.register("nina.newcomer@example.org", "Nina Newcomer", "Long-enough-pass-7")
    guest.send_link(tickets[0], karen.email, guest.issue_link(tickets[0], karen.email))
    kinds = set(Notification.objects.values_list("kind", flat=True))
    expected = {
        NotificationKind.NEW_TICKET_ACK,
        NotificationKind.NEW_TICKET_ALERT,
        NotificationKind.REPLY,
        NotificationKind.RESOLVED,
        ComposedKind.SURVEY,
        ComposedKind.PASSWORD_RESET,
        ComposedKind.REGISTER_CONFIRM,
        ComposedKind.GUEST_LINK,
    }
    assert expected <= kinds, expected - kinds


def tally(sink: Sink) -> dict:
    """Rows against what the sink received: every mail to send, what arrived, the duplicates."""
    rows = list(Notification.objects.exclude(state=DeliveryState.SUPPRESSED))
    received = Counter(sink.message_ids)
    ids = {row.message_id for row in rows}
    return {
        "rows": len(rows),
        "sent_rows": sum(row.state == DeliveryState.SENT for row in rows),
        "arrived": sum(1 for row in rows if row.message_id and received[row.message_id]),
        "deliveries": sum(received.values()),
        "duplicates": sum(n - 1 for n in received.values()),
        "unknown": sorted(set(received) - ids),  # a Message-ID no row carries
        "kinds": Counter(row.kind for row in rows),
    }
