"""Four workers sweep one outbox at once (PostgreSQL: FOR UPDATE SKIP LOCKED): every mail
arrives exactly once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from helpline.tickets import delivery, notify
from helpline.tickets.models import ComposedKind, DeliveryState, Notification
from tests.databases import postgres_only
from tests.outbox.conftest import tally

pytestmark = [*postgres_only(), pytest.mark.django_db(transaction=True)]
MAILS = 120


def test_concurrent_sweeps_send_each_mail_once(settings, sink):
    sink.start()
    settings.MAILERS = sink.mailer()
    # The delivery tasks are queued and never run: the sweeps do all the sending.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    for n in range(MAILS):
        notify.queue_mail(ComposedKind.GUEST_LINK, f"guest{n}@example.org", f"Link {n}", "x")
    # Their tasks were lost: the sweep finds them.
    Notification.objects.update(created_at=timezone.now() - timedelta(hours=1))

    errors = []

    def sweep():
        try:
            delivery.retry_due()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    assert sink.handler.received == []
    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    counts = tally(sink)
    assert counts["rows"] == counts["sent_rows"] == counts["arrived"] == MAILS
    assert counts["deliveries"] == MAILS and counts["duplicates"] == 0
    assert not Notification.objects.exclude(state=DeliveryState.SENT).exists()
    assert Notification.objects.filter(attempts=1).count() == MAILS  # no row claimed twice
