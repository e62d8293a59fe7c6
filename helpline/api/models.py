"""API keys and webhooks.

An API key belongs to a user and acts as that user, narrowed by its scopes. Only a SHA-256 hash of
the key is stored (keys are long random strings, so a slow password hash would add nothing but
latency); the first characters are kept in clear as `prefix` to find the row.
"""

import hashlib
import hmac
import ipaddress
import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from helpline.api import ssrf


class Scope(models.TextChoices):
    TICKETS_READ = "tickets:read", "Read tickets and the help desk's configuration"
    TICKETS_WRITE = "tickets:write", "Open and work tickets"
    ADMIN_READ = "admin:read", "Read webhooks and their delivery log (administrators)"
    TICKETS_INTAKE = (
        "tickets:intake",
        "osTicket-compatible intake: open tickets for anyone, as the system (agents, admins)",
    )


KEY_PREFIX = "hl"
PREFIX_CHARS = 12


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def split_key(key: str) -> str | None:
    """The lookup prefix of a presented key, or None if it is not shaped like one of ours."""
    head, sep, rest = key.partition("_")
    if head != KEY_PREFIX or not sep or len(rest) < PREFIX_CHARS + 20:
        return None
    return rest[:PREFIX_CHARS]


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses and CIDR ranges, separated by commas, spaces or new lines."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValidationError({"allowed_ips": f"“{item[:60]}” is not an IP address or range."})
    return networks


class ApiKey(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. “CRM sync”.")
    prefix = models.CharField(max_length=PREFIX_CHARS, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    allowed_ips = models.TextField(
        blank=True,
        help_text="Addresses or CIDR ranges the key may be used from, one per line. "
        "Empty: any address.",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    rate_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per minute. Empty: the help desk default (HELPLINE_API_RATE_LIMIT).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({KEY_PREFIX}_{self.prefix}…)"

    def clean(self) -> None:
        unknown = set(self.scopes or []) - set(Scope.values)
        if unknown:
            raise ValidationError({"scopes": f"Unknown scopes: {', '.join(sorted(unknown))}."})
        parse_networks(self.allowed_ips)

    @classmethod
    def issue(
        cls,
        user,
        *,
        name: str = "API key",
        scopes: list[str] | None = None,
        allowed_ips: str = "",
        expires_at=None,
        rate_limit: int | None = None,
    ) -> tuple["ApiKey", str]:
        """Create a key; returns (row, the key in clear). The clear key is never stored."""
        secret = secrets.token_urlsafe(32).replace("_", "x")
        key = f"{KEY_PREFIX}_{secret}"
        api_key = cls(
            user=user,
            name=name,
            prefix=secret[:PREFIX_CHARS],
            key_hash=hash_key(key),
            scopes=list(
                scopes if scopes is not None else [Scope.TICKETS_READ, Scope.TICKETS_WRITE]
            ),
            allowed_ips=allowed_ips,
            expires_at=expires_at,
            rate_limit=rate_limit,
        )
        api_key.full_clean(exclude=["user"])
        api_key.save()
        return api_key, key

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_key(key))

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and (now or timezone.now()) >= self.expires_at

    def allows_address(self, address: str) -> bool:
        """Whether the key may be used from `address` (any address when no rule is set)."""
        if not self.allowed_ips.strip():
            return True
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return False
        return any(ip in network for network in parse_networks(self.allowed_ips))

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])


class WebhookEvent(models.TextChoices):
    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_UPDATED = "ticket.updated", "Ticket updated (with the changed fields)"
    TICKET_ASSIGNED = "ticket.assigned", "Ticket assigned"
    TICKET_STATUS_CHANGED = "ticket.status_changed", "Ticket status changed"
    THREAD_MESSAGE = "thread.message", "Message from the requester side"
    THREAD_REPLY = "thread.reply", "Agent reply"
    THREAD_NOTE = "thread.note", "Internal note (opt-in)"
    SLA_OVERDUE = "sla.overdue", "Ticket overdue"


DEFAULT_WEBHOOK_EVENTS = [e.value for e in WebhookEvent if e != WebhookEvent.THREAD_NOTE]


def default_webhook_events() -> list[str]:
    return list(DEFAULT_WEBHOOK_EVENTS)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def validate_webhook_url(url: str) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Only http:// and https:// URLs can receive webhooks."})
    # Host names are checked again after DNS at every delivery (helpline.api.ssrf).
    refusal = ssrf.host_refusal(parts.hostname)
    if refusal:
        raise ValidationError(
            {
                "url": f"{refusal} An administrator can allow a local network with "
                "HELPLINE_WEBHOOK_ALLOWED_NETWORKS."
            }
        )


class Webhook(models.Model):
    """An endpoint that receives signed JSON for the ticket events it subscribes to."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webhooks",
        help_text="Receives only events on tickets this user may see, and is told when the "
        "endpoint is disabled.",
    )
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, default=new_webhook_secret)
    events = models.JSONField(default=default_webhook_events, blank=True)
    is_active = models.BooleanField(default=True)
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_webhook_url(self.url)
        unknown = set(self.events or []) - set(WebhookEvent.values)
        if unknown:
            raise ValidationError({"events": f"Unknown events: {', '.join(sorted(unknown))}."})

    def wants(self, event: str) -> bool:
        return event in (self.events or [])


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Waiting to retry"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook, with the outcome of the last attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    ticket_number = models.CharField(max_length=32, blank=True)
    payload = models.JSONField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created")]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook_id} ({self.get_state_display()})"
