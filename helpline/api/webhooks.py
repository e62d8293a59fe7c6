"""Webhooks: ticket events → signed JSON POSTs, delivered from a task with retries.

The payload (stable; new keys may be added, none removed or renamed):

    {"id": "<delivery uuid>", "event": "ticket.updated", "event_id": 123,
     "occurred_at": "2026-01-02T03:04:05+00:00", "actor": {"id", "name", "email"} | null,
     "ticket": {the ticket as GET /api/v1/tickets/{number} shows it, without thread/events},
     "changes": {"priority": {"before": ..., "after": ...}}   (ticket.* events),
     "entry": {"id", "kind", "author_name", "body_text", "body_html", "created_at"} (thread.*),
     "reason": "..."}

Headers: `X-Helpline-Event`, `X-Helpline-Delivery` (the id), and `X-Helpline-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the webhook's secret>`. Receivers check it
with `verify_signature` (or its few lines in any language) and reject old timestamps.

A webhook only hears about tickets its owner may see; internal notes only if the owner works the
ticket as an agent. Failed attempts are retried with exponential backoff; after
HELPLINE_WEBHOOK_DISABLE_AFTER failures in a row the webhook is disabled and its owner emailed
(through the mail outbox).

Each attempt first claims its delivery (a conditional UPDATE on the attempt count, which also
sets `next_attempt_at` to the end of a LEASE), so two tasks for one delivery never POST it at
once. The scheduler's `retry_webhooks` job (`retry_due`) enqueues deliveries whose retry time or
lease has passed, and those whose first task never ran: a worker killed mid-POST, or a task lost
before it ran, delays a delivery but does not drop it.

Only public addresses receive webhooks, plus HELPLINE_WEBHOOK_ALLOWED_NETWORKS (helpline.api.ssrf):
the host is resolved once per attempt and the connection made to the addresses checked. A refused
target is a failed attempt with the reason in the delivery log.
"""

import functools
import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Q
from django.utils import timezone

from helpline.api import present, ssrf
from helpline.api.models import DeliveryState, Webhook, WebhookDelivery, WebhookEvent
from helpline.tickets import access, notify
from helpline.tickets.models import ComposedKind, EventKind, ThreadEntry

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# How long an attempt may take before the sweep may try the delivery again (a worker that died
# mid-attempt); well above HELPLINE_WEBHOOK_TIMEOUT.
LEASE = timedelta(minutes=5)
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept a signature for

EVENT_NAMES = {
    EventKind.CREATED: WebhookEvent.TICKET_CREATED,
    EventKind.ASSIGNED: WebhookEvent.TICKET_ASSIGNED,
    EventKind.STATUS: WebhookEvent.TICKET_STATUS_CHANGED,
    EventKind.REPLIED: WebhookEvent.THREAD_REPLY,
    EventKind.NOTE: WebhookEvent.THREAD_NOTE,
    EventKind.MESSAGE: WebhookEvent.THREAD_MESSAGE,
    EventKind.OVERDUE: WebhookEvent.SLA_OVERDUE,
}
# Events that change a field and are announced as ticket.updated, with the field's name.
UPDATED_FIELDS = {
    EventKind.RELEASED: "assignee",
    EventKind.TRANSFERRED: "department",
    EventKind.PRIORITY: "priority",
    EventKind.SLA: "sla_plan",
    EventKind.HELP_TOPIC: "help_topic",
    EventKind.DUE: "due_at",
    EventKind.SUBJECT: "subject",
    EventKind.COLLABORATOR: "collaborators",
    EventKind.MERGED: "merged",
}
# Not announced: reopened (status_changed says it), bounces and rule traces (internal detail).


def event_name(kind: str) -> str | None:
    """The webhook event for an Event kind, or None if it is not announced."""
    if kind in EVENT_NAMES:
        return EVENT_NAMES[kind].value
    if kind in UPDATED_FIELDS:
        return WebhookEvent.TICKET_UPDATED.value
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Helpline-Signature value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance: int = SIGNATURE_TOLERANCE, now=None
) -> bool:
    """Whether `header` is a valid, recent signature of `body` (what a receiver checks)."""
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# ---------------------------------------------------------------------------------------------
# Event → deliveries


def _changes(event) -> dict:
    kind = event.kind
    if kind == EventKind.ASSIGNED or kind == EventKind.RELEASED:
        before, after = event.before or {}, event.after or {}
        return {
            key: {"before": (before or {}).get(key), "after": (after or {}).get(key)}
            for key in ("agent", "team")
            if key in before or key in after
        }
    if kind == EventKind.STATUS:
        return {"status": {"before": event.before, "after": event.after}}
    if kind in UPDATED_FIELDS:
        return {UPDATED_FIELDS[kind]: {"before": event.before, "after": event.after}}
    return {}


def _entry(event) -> dict | None:
    entry_id = (event.after or {}).get("entry") if isinstance(event.after, dict) else None
    entry = ThreadEntry.objects.filter(pk=entry_id).first() if entry_id else None
    if entry is None:
        return None
    return {
        "id": entry.pk,
        "kind": entry.kind,
        "author_name": entry.author_name,
        "body_text": entry.body_text,
        "body_html": entry.body_html,
        "created_at": entry.created_at,
    }


def build_payload(event, name: str) -> dict:
    """The JSON-ready payload for `event` announced as `name` (without the delivery id)."""
    payload = {
        "event": name,
        "event_id": event.pk,
        "occurred_at": event.created_at,
        "actor": present.person(event.actor) if event.actor_id else None,
        "ticket": present.ticket_summary(event.ticket),
        "changes": _changes(event),
        "reason": event.reason,
    }
    if name.startswith("thread."):
        payload["entry"] = _entry(event)
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def _may_hear(owner, ticket, name: str) -> bool:
    if not owner.is_active or not access.can(owner, access.Access.VIEW, ticket):
        return False
    if name == WebhookEvent.THREAD_NOTE:
        return access.can(owner, access.Access.SEE_NOTES, ticket)
    return True


def event_recorded(event) -> None:
    """hooks listener: queue a delivery for every active webhook that wants this event."""
    try:
        name = event_name(event.kind)
        if name is None:
            return
        hooks = [
            w
            for w in Webhook.objects.filter(is_active=True).select_related("owner")
            if w.wants(name)
        ]
        if not hooks:
            return
        payload = build_payload(event, name)
        for hook in hooks:
            if not _may_hear(hook.owner, event.ticket, name):
                continue
            delivery = WebhookDelivery(
                webhook=hook, event=name, ticket_number=event.ticket.number, payload={}
            )
            delivery.payload = {"id": str(delivery.pk), **payload}
            delivery.save()
            schedule(delivery)
    except Exception:  # A webhook problem must never break the action that was committed.
        log.exception("Queueing webhooks for event %s failed", getattr(event, "pk", None))


# ---------------------------------------------------------------------------------------------
# Delivery


def schedule(delivery: WebhookDelivery, run_after=None) -> bool:
    """Enqueue the delivery task, now or at `run_after`; False if the backend cannot wait."""
    from helpline.api.tasks import deliver_webhook

    task = deliver_webhook
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return False  # Left as "retrying": `retry_due` picks it up.
        task = task.using(run_after=run_after)
    task.enqueue(str(delivery.pk))
    return True


def retry_due(now=None) -> int:
    """Enqueue deliveries whose retry time or lease has passed, and those whose first task
    never ran (for backends without run_after, and after a lost worker)."""
    now = now or timezone.now()
    waiting = [DeliveryState.PENDING, DeliveryState.RETRYING]
    due = WebhookDelivery.objects.filter(
        Q(state__in=waiting, next_attempt_at__lte=now)
        | Q(state=DeliveryState.PENDING, next_attempt_at__isnull=True, created_at__lte=now - LEASE)
    )
    count = 0
    for delivery in due[:500]:
        schedule(delivery)
        count += 1
    return count


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: base, 2×base, 4×base … (base 30 s by default)."""
    base = settings.HELPLINE_WEBHOOK_RETRY_SECONDS
    return timedelta(seconds=base * 2 ** max(0, attempts - 1))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to `host` (the Host header) at addresses vetted beforehand; it never resolves `host`."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        error = OSError(f"No address to connect to for {self.host}.")
        for address in self.addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
                return
            except OSError as exc:
                error = exc
        raise error


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """The same over TLS: SNI and the certificate check use the host name, not the address."""

    default_port = 443

    def connect(self) -> None:
        super().connect()
        self.sock = tls_context().wrap_socket(self.sock, server_hostname=self.host)


@functools.cache  # Loading the CA store once, not per delivery.
def tls_context() -> ssl.SSLContext:
    """The TLS settings for deliveries: the system's CAs, certificate and host name checked."""
    return ssl.create_default_context()


def post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str]:
    """POST and return (status code or None, response text, error).

    The host is resolved once and every address vetted (helpline.api.ssrf) before connecting to
    exactly those addresses; a target that is not allowed is an error like any other. Redirects
    are answers, not followed: a 3xx is a failed attempt (no signed data resent elsewhere).
    """
    timeout = settings.HELPLINE_WEBHOOK_TIMEOUT
    parts = urlsplit(url)
    try:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("only http:// and https:// URLs can receive webhooks")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = ssrf.vetted_addresses(parts.hostname, port)
        connection_class = (
            _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        )
        connection = connection_class(parts.hostname, port, addresses, timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            code, text = response.status, response.read(2000).decode("utf-8", "replace")
        finally:
            connection.close()
    except ssrf.Refused as exc:
        log.warning("Webhook delivery to %s refused: %s", url, exc)
        return None, "", f"Refused: {exc}"[:500]
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500]
    return code, text, "" if 200 <= code < 300 else f"HTTP {code}"


def attempt(delivery_id: str) -> str:
    """One delivery attempt; schedules the retry or gives up. Returns the resulting state."""
    delivery = (
        WebhookDelivery.objects.select_related("webhook__owner").filter(pk=delivery_id).first()
    )
    if delivery is None:
        return "missing"
    if delivery.state in (DeliveryState.DELIVERED, DeliveryState.FAILED):
        return delivery.state
    hook = delivery.webhook
    if not hook.is_active:
        delivery.state = DeliveryState.FAILED
        delivery.error = "The webhook is disabled."
        delivery.save(update_fields=["state", "error"])
        return delivery.state
    if not _claim(delivery):
        return "claimed"  # Another task is on this attempt, or made it already.
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Helpline-Webhooks/1",
        "X-Helpline-Event": delivery.event,
        "X-Helpline-Delivery": str(delivery.pk),
        "X-Helpline-Signature": sign(hook.secret, int(time.time()), body),
    }
    started = time.monotonic()
    code, text, error = post(hook.url, body, headers)
    now = timezone.now()
    delivery.last_attempt_at = now
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.response_code, delivery.response_body, delivery.error = code, text, error
    if code is not None and 200 <= code < 300:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.error = ""
        Webhook.objects.filter(pk=hook.pk).update(failure_streak=0)
    else:
        _failed(delivery, hook, now)
    delivery.save()
    if delivery.state == DeliveryState.RETRYING:
        schedule(delivery, run_after=delivery.next_attempt_at)
    return delivery.state


def _claim(delivery: WebhookDelivery) -> bool:
    """Take this attempt: count it and lease the delivery, unless another task did first."""
    lease_end = timezone.now() + LEASE
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        state__in=[DeliveryState.PENDING, DeliveryState.RETRYING],
        attempts=delivery.attempts,
    ).update(attempts=F("attempts") + 1, next_attempt_at=lease_end)
    if claimed:
        delivery.attempts += 1
        delivery.next_attempt_at = lease_end
    return bool(claimed)


def _failed(delivery: WebhookDelivery, hook: Webhook, now) -> None:
    if delivery.attempts < MAX_ATTEMPTS:
        delivery.state = DeliveryState.RETRYING
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    else:
        delivery.state = DeliveryState.FAILED
        delivery.next_attempt_at = None
    Webhook.objects.filter(pk=hook.pk).update(failure_streak=F("failure_streak") + 1)
    hook.refresh_from_db(fields=["failure_streak", "is_active"])
    limit = settings.HELPLINE_WEBHOOK_DISABLE_AFTER
    if hook.is_active and hook.failure_streak >= limit:
        disable(hook, f"{hook.failure_streak} failed attempts in a row; last: {delivery.error}")


def disable(hook: Webhook, reason: str) -> None:
    """Turn the webhook off and tell its owner by email."""
    updated = Webhook.objects.filter(pk=hook.pk, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:300]
    )
    if not updated or not hook.owner.email:
        return
    notify.queue_mail(
        ComposedKind.WEBHOOK_DISABLED,
        hook.owner.email,
        f"[{settings.HELPLINE_HELPDESK_NAME}] Webhook “{hook.name}” was disabled",
        f"The webhook “{hook.name}” ({hook.url}) kept failing and has been disabled.\n\n"
        f"Reason: {reason}\n\nFix the receiving end, then tick “active” again in the "
        f"admin panel: {settings.SITE_URL}/admin/api/webhook/{hook.pk}/change/\n",
        recipient=hook.owner,
    )
