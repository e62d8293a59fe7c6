"""SMTP down, then back: every mail queued meanwhile (surveys, acknowledgements, replies, password
resets, registrations, guest links) arrives once after it returns, with the Message-ID it was
given before its first attempt.

The outage is scaled down: the first retry comes after 0.2 s instead of a minute and the backoff
is capped at 1 s instead of an hour, so a 2.5 s outage stands for a couple of minutes. The sweep
runs in a loop as the scheduler's retry_notifications job would.
"""

import time

import pytest
from django.utils import timezone

from helpline.tickets import delivery
from helpline.tickets.models import ComposedKind, DeliveryState, Notification
from tests.outbox.conftest import every_kind_of_mail, tally

pytestmark = pytest.mark.django_db(transaction=True)
OUTAGE_SECONDS = 2.5


def sweep_for(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        delivery.retry_due()
        time.sleep(0.05)


def test_every_mail_arrives_after_an_smtp_outage(settings, sink, org, john, karen, admin_user):
    settings.MAILERS = sink.mailer()  # nothing listens there yet: the server is down
    settings.HELPLINE_MAIL_RETRY_SECONDS = 0.2
    settings.HELPLINE_MAIL_RETRY_MAX_SECONDS = 1.0
    settings.HELPLINE_MAIL_MAX_ATTEMPTS = 50

    every_kind_of_mail(org, john, karen, admin_user)  # each first attempt fails at once
    sweep_for(OUTAGE_SECONDS)
    waiting = Notification.objects.exclude(state=DeliveryState.SUPPRESSED)
    assert sink.handler.received == []
    assert all(row.state == DeliveryState.QUEUED for row in waiting)
    assert all(row.attempts >= 2 and "Connection refused" in row.error for row in waiting)
    ids_before = {row.pk: row.message_id for row in waiting}
    assert all(ids_before.values())  # fixed before the first attempt

    sink.start()
    back = time.monotonic()
    while Notification.objects.filter(state=DeliveryState.QUEUED).exists():
        assert time.monotonic() - back < 10, "mail still queued 10 s after SMTP came back"
        delivery.retry_due()
        time.sleep(0.05)
    drained = time.monotonic() - back

    counts = tally(sink)
    print(f"\noutage: {counts['rows']} mails, all arrived {drained:.1f} s after SMTP came back")
    assert counts["sent_rows"] == counts["arrived"] == counts["rows"] > 10
    assert counts["deliveries"] == counts["rows"] and counts["duplicates"] == 0
    assert counts["unknown"] == []
    assert counts["kinds"][ComposedKind.SURVEY] == 1
    for row in Notification.objects.exclude(state=DeliveryState.SUPPRESSED):
        assert row.message_id == ids_before[row.pk]  # the same Message-ID on every attempt
        assert row.sent_at <= timezone.now() and row.error == ""
    reset = Notification.objects.get(kind=ComposedKind.PASSWORD_RESET)
    assert reset.body_text == ""  # a sent reset link is not kept in the outbox
