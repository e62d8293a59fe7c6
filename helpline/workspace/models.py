"""The workspace's own state. None of it is a change to a ticket: tickets change only through
helpline.tickets.actions; these rows say who looks at what, what they have seen, typed or asked
to follow, and what they were told."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from helpline.tickets.models import Ticket


class Pulse(models.Model):
    """A change counter per scope ("d:<department>", "t:<ticket>", "u:<agent>", "team:<id>",
    "all"): polling pages compare the sum of their scopes' counters (one primary-key lookup)."""

    key = models.CharField(max_length=40, primary_key=True)
    seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.seq}"


class PresenceState(models.TextChoices):
    VIEWING = "viewing", "viewing"
    REPLYING = "replying", "replying"


class Presence(models.Model):
    """An agent with the ticket page open (`seen_at` renewed by the page's heartbeat)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=PresenceState.choices)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="presence_one_per_agent")
        ]
        indexes = [models.Index(fields=["ticket", "seen_at"], name="presence_ticket_seen")]

    def __str__(self) -> str:
        return f"{self.user} {self.state} #{self.ticket_id}"


class LastSeen(models.Model):
    """When an agent last looked at a ticket's thread: entries by others after it are unread."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "ticket"], name="last_seen_one_per_ticket")
        ]

    def __str__(self) -> str:
        return f"{self.user} saw #{self.ticket_id} at {self.seen_at}"


class DraftKind(models.TextChoices):
    REPLY = "reply", "Reply"
    NOTE = "note", "Internal note"


class Draft(models.Model):
    """A reply or internal note being typed, kept until it is sent or emptied."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=5, choices=DraftKind.choices)
    body = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "ticket", "kind"], name="draft_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} draft of {self.user} on #{self.ticket_id}"


class Watcher(models.Model):
    """An agent who follows a ticket: told in the app of what happens to it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "ticket"], name="watcher_one_per_ticket")
        ]
        indexes = [models.Index(fields=["ticket"], name="watcher_ticket")]

    def __str__(self) -> str:
        return f"{self.user} watches #{self.ticket_id}"


class NotificationEvent(models.TextChoices):
    MENTION = "mention", "Mentioned in an internal note"
    ASSIGNED = "assigned", "Assigned to me"
    ANSWER = "answer", "New message or reply on a watched ticket"
    ACTIVITY = "activity", "Other changes on a watched ticket"
    OVERDUE = "overdue", "A watched ticket became overdue"


class Notification(models.Model):
    """One line of an agent's in-app notification list (the bell)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=10, choices=NotificationEvent.choices)
    actor_name = models.CharField(max_length=200, blank=True)
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "read_at", "created_at"], name="notification_inbox")
        ]

    def __str__(self) -> str:
        return self.text


class NotificationChoice(models.Model):
    """Which events an agent wants in the app and which by email too (no row: the defaults)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=10, choices=NotificationEvent.choices)
    in_app = models.BooleanField(default=True)
    by_email = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="notification_choice_once")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.event}"
