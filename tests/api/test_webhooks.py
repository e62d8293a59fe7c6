"""Webhooks: events → signed JSON POSTs to a local receiver, retries with backoff, disabling."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.tasks import default_task_backend
from django.utils import timezone

from helpline.api import webhooks
from helpline.api.models import DeliveryState, Webhook, WebhookDelivery
from helpline.tickets import actions

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records requests and answers the queued statuses."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url + "/elsewhere")
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[str]:
        return [json.loads(r["body"])["event"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    # Webhooks to loopback are refused unless allowed, as an on-premise receiver would be.
    settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hook(receiver, admin_user):
    return Webhook.objects.create(owner=admin_user, name="CRM", url=receiver.url, secret="s3cret")


def _open(karen, **fields):
    return actions.open_ticket(
        karen, requester=karen, subject="Printer jams", body="Details.", **fields
    )


def test_signed_ticket_created_payload(hook, receiver, karen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _open(karen)
    (request,) = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["X-Helpline-Event"] == "ticket.created"
    assert webhooks.verify_signature("s3cret", headers["X-Helpline-Signature"], body)
    assert not webhooks.verify_signature("other", headers["X-Helpline-Signature"], body)
    assert not webhooks.verify_signature("s3cret", headers["X-Helpline-Signature"], body + b" ")
    payload = json.loads(body)
    assert payload["id"] == headers["X-Helpline-Delivery"]
    assert payload["event"] == "ticket.created"
    assert payload["ticket"]["number"] == ticket.number
    assert payload["ticket"]["requester"]["email"] == "karen@example.com"
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.DELIVERED and delivery.response_code == 200
    assert delivery.attempts == 1 and delivery.response_body == "thanks"


def test_old_signatures_are_rejected():
    header = webhooks.sign("k", int(time.time()) - 3600, b"{}")
    assert not webhooks.verify_signature("k", header, b"{}")
    assert webhooks.verify_signature("k", header, b"{}", tolerance=7200)
    assert not webhooks.verify_signature("k", "garbage", b"{}")


def test_event_names_and_changes(
    hook, receiver, john, karen, org, django_capture_on_commit_callbacks, clock
):
    # In business hours on the clock: the time spent Pending moves the due time (outside them it
    # would not, and the last event would depend on when the suite runs).
    ticket = _open(karen)
    with django_capture_on_commit_callbacks(execute=True):
        actions.assign(john, ticket, agent=john)
        actions.set_priority(john, ticket, org.priority("high"))
        actions.reply(john, ticket, "On it.", status=org.status("Pending"))
        clock.advance(hours=1)
        actions.add_message(karen, ticket, "Thanks!")
        actions.add_note(john, ticket, "Internal.")
    assert receiver.events() == [
        "ticket.assigned",
        "ticket.updated",
        "thread.reply",
        "ticket.status_changed",
        "thread.message",
        "ticket.status_changed",
        "ticket.updated",  # The due time moved by the time spent Pending.
    ]  # No thread.note: not subscribed by default.
    payloads = [json.loads(r["body"]) for r in receiver.requests]
    assert payloads[1]["changes"]["priority"]["after"]["name"] == "high"
    assert payloads[2]["entry"]["body_text"] == "On it."
    assert payloads[3]["changes"]["status"]["after"]["name"] == "Pending"


def test_internal_notes_are_opt_in(hook, receiver, john, karen, django_capture_on_commit_callbacks):
    hook.events = ["thread.note"]
    hook.save()
    ticket = _open(karen)
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_note(john, ticket, "Internal.")
    assert receiver.events() == ["thread.note"]


def test_owner_hears_only_about_tickets_they_may_see(
    receiver, john, karen, org, django_capture_on_commit_callbacks
):
    Webhook.objects.create(owner=john, name="John's", url=receiver.url, secret="x")
    with django_capture_on_commit_callbacks(execute=True):
        _open(karen, department=org.dept("SysAdmins"))
        _open(karen, department=org.dept("Support"))
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0]["body"])["ticket"]["department"]["name"] == "Support"


def _webhook_tasks():
    return [r for r in default_task_backend.results if r.task.name == "deliver_webhook"]


def test_failures_are_retried_with_exponential_backoff(
    hook, receiver, karen, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    default_task_backend.clear()
    receiver.statuses = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        _open(karen)
    delivery = WebhookDelivery.objects.get()
    (queued,) = _webhook_tasks()
    assert queued.task.run_after is None  # the first attempt goes at once

    before = timezone.now()
    assert webhooks.attempt(str(delivery.pk)) == DeliveryState.RETRYING
    delivery.refresh_from_db()
    assert delivery.response_code == 500 and delivery.attempts == 1
    retry = _webhook_tasks()[-1]
    assert retry.task.run_after == delivery.next_attempt_at
    assert timedelta(seconds=29) < delivery.next_attempt_at - before < timedelta(seconds=31)

    webhooks.attempt(str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert timedelta(seconds=59) < delivery.next_attempt_at - delivery.last_attempt_at
    assert delivery.next_attempt_at - delivery.last_attempt_at < timedelta(seconds=61)

    assert webhooks.attempt(str(delivery.pk)) == DeliveryState.DELIVERED
    hook.refresh_from_db()
    assert hook.failure_streak == 0 and len(receiver.requests) == 3
    # Every attempt carried the same body and a valid signature.
    assert len({r["body"] for r in receiver.requests}) == 1
    for r in receiver.requests:
        assert webhooks.verify_signature("s3cret", r["headers"]["X-Helpline-Signature"], r["body"])


def test_retry_due_resends_on_backends_that_cannot_wait(
    hook, receiver, karen, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        _open(karen)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.RETRYING
    assert webhooks.retry_due() == 0  # not due yet
    assert webhooks.retry_due(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_owner_told(
    hook, receiver, karen, settings, django_capture_on_commit_callbacks
):
    settings.HELPLINE_WEBHOOK_DISABLE_AFTER = 3
    receiver.statuses = [500] * 10
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            _open(karen)
    hook.refresh_from_db()
    assert not hook.is_active and hook.disabled_at is not None
    assert "3 failed attempts" in hook.disabled_reason
    (message,) = [m for m in mail.outbox if "Webhook" in m.subject]
    assert message.to == ["admin@helpline.example"] and "CRM" in message.subject
    with django_capture_on_commit_callbacks(execute=True):
        _open(karen)
    assert len(receiver.requests) == 3  # nothing more is sent to a disabled webhook


def test_unreachable_endpoint_times_out_into_a_retry(hook, karen, settings):
    settings.HELPLINE_WEBHOOK_TIMEOUT = 0.5
    hook.url = "http://127.0.0.1:9/nothing-listens-here"
    hook.save()
    delivery = WebhookDelivery.objects.create(webhook=hook, event="ticket.created", payload={})
    assert webhooks.attempt(str(delivery.pk)) == DeliveryState.RETRYING
    delivery.refresh_from_db()
    assert delivery.response_code is None and delivery.error


def test_redirects_are_not_followed(hook, receiver):
    receiver.statuses = [302, 307]
    delivery = WebhookDelivery.objects.create(webhook=hook, event="ticket.created", payload={})
    assert webhooks.attempt(str(delivery.pk)) == DeliveryState.RETRYING
    delivery.refresh_from_db()
    assert delivery.response_code == 302 and delivery.error == "HTTP 302"
    assert len(receiver.requests) == 1  # nothing sent to the Location


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "//x"]
)
def test_only_http_urls(admin_user, url):
    hook = Webhook(owner=admin_user, name="x", url=url)
    with pytest.raises(ValidationError):
        hook.full_clean()


def test_deliveries_are_listed_over_the_api(
    hook, receiver, karen, api_as, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _open(karen)
    api = api_as(admin_user, scopes=["admin:read"])
    (listed,) = api.get(f"/webhooks/{hook.pk}/deliveries").json()
    assert listed["ticket_number"] == ticket.number and listed["response_code"] == 200
    assert api.get("/webhooks/999999/deliveries").status_code == 404
