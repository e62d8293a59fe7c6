"""Tickets, their thread and their history. Only tickets/actions.py writes these fields."""

import secrets
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.db import models
from django.utils import timezone
from django.utils.text import get_valid_filename


class State(models.TextChoices):
    """What a status means to the lifecycle. Admin-made statuses map onto one of these."""

    OPEN = "open", "Open"
    PENDING = "pending", "Pending (waiting on the requester)"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


CLOSED_STATES = (State.RESOLVED, State.CLOSED)
ACTIVE_STATES = (State.OPEN, State.PENDING)


class Source(models.TextChoices):
    WEB = "web", "Web portal"
    EMAIL = "email", "Email"
    API = "api", "API"
    PHONE = "phone", "Phone"
    WALK_IN = "walk-in", "Walk-in"
    OTHER = "other", "Other"


class Priority(models.Model):
    name = models.CharField(max_length=40, unique=True)
    level = models.PositiveSmallIntegerField(unique=True, help_text="Higher is more urgent.")
    colour = models.CharField(max_length=7, default="#6b7280", help_text="#rrggbb")
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["level"]
        verbose_name_plural = "priorities"

    def __str__(self) -> str:
        return self.name


class Status(models.Model):
    name = models.CharField(max_length=60, unique=True)
    state = models.CharField(max_length=10, choices=State.choices)
    order = models.PositiveSmallIntegerField(default=0)
    is_default = models.BooleanField(
        default=False, help_text="The status used when the lifecycle moves a ticket to this state."
    )

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "statuses"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default_for(cls, state: str) -> "Status":
        status = cls.objects.filter(state=state).order_by("-is_default", "order", "id").first()
        if status is None:
            raise Status.DoesNotExist(f"No status is configured for the state {state!r}.")
        return status

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED_STATES


class HelpTopic(models.Model):
    """What the requester picks on the form; routes the ticket."""

    name = models.CharField(max_length=120, unique=True)
    department = models.ForeignKey(
        "accounts.Department", on_delete=models.PROTECT, related_name="help_topics"
    )
    priority = models.ForeignKey(Priority, null=True, blank=True, on_delete=models.SET_NULL)
    sla_plan = models.ForeignKey(
        "sla.SLAPlan", null=True, blank=True, on_delete=models.SET_NULL, verbose_name="SLA plan"
    )
    auto_assign_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auto_assign_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=True)
    public = models.BooleanField(default=True, help_text="Offered on the client portal.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FieldKind(models.TextChoices):
    TEXT = "text", "Short text"
    TEXTAREA = "textarea", "Long text"
    NUMBER = "number", "Number"
    CHOICE = "choice", "Choice from a list"
    CHECKBOX = "checkbox", "Checkbox"
    DATE = "date", "Date"
    EMAIL = "email", "Email address"


class HelpTopicField(models.Model):
    """A custom field asked for on tickets of one help topic (osTicket's "forms").

    Values live on the ticket (`Ticket.custom_fields`, keyed by `name`), so renaming the label or
    moving a field keeps what was entered; see tickets/fields.py for validation and display.
    """

    help_topic = models.ForeignKey(HelpTopic, on_delete=models.CASCADE, related_name="fields")
    name = models.SlugField(
        max_length=40,
        help_text="The key in the API and in stored values (letters, digits, _ and -).",
    )
    label = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=FieldKind.choices, default=FieldKind.TEXT)
    choices = models.TextField(blank=True, help_text="For a choice field: one option per line.")
    required = models.BooleanField(default=False)
    requester_can_see = models.BooleanField(
        default=True,
        help_text="Asked on the portal and shown to the requester. Off: an agents-only field.",
    )
    help_text = models.CharField(max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["help_topic", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["help_topic", "name"], name="topic_field_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.help_topic}: {self.label}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.kind == FieldKind.CHOICE and not self.choice_list():
            raise ValidationError({"choices": "A choice field needs at least one option."})

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class NumberFormat(models.TextChoices):
    RANDOM = "random", "Random digits"
    SEQUENCE = "sequence", "Sequence"


class HelpdeskConfig(models.Model):
    """Help-desk-wide settings kept in the database (one row), edited in the admin panel."""

    number_format = models.CharField(
        max_length=10, choices=NumberFormat.choices, default=NumberFormat.RANDOM
    )
    number_prefix = models.CharField(max_length=10, blank=True, help_text="e.g. HL-")
    number_digits = models.PositiveSmallIntegerField(default=6)
    default_department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_priority = models.ForeignKey(
        Priority, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_sla = models.ForeignKey(
        "sla.SLAPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "help desk settings"
        verbose_name_plural = "help desk settings"

    def __str__(self) -> str:
        return "Help desk settings"

    def clean(self):
        if not 4 <= self.number_digits <= 12:
            raise ValidationError({"number_digits": "Use between 4 and 12 digits."})

    @classmethod
    def load(cls) -> "HelpdeskConfig":
        config, _ = cls.objects.get_or_create(pk=1)
        return config


class TicketSequence(models.Model):
    """The last sequence number handed out; claimed with a row lock."""

    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Last ticket sequence number: {self.last}"


class Ticket(models.Model):
    number = models.CharField(max_length=32, unique=True)
    subject = models.CharField(max_length=255)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    department = models.ForeignKey(
        "accounts.Department", on_delete=models.PROTECT, related_name="tickets"
    )
    help_topic = models.ForeignKey(HelpTopic, null=True, blank=True, on_delete=models.SET_NULL)
    priority = models.ForeignKey(Priority, on_delete=models.PROTECT)
    sla_plan = models.ForeignKey(
        "sla.SLAPlan", null=True, blank=True, on_delete=models.SET_NULL, verbose_name="SLA plan"
    )
    status = models.ForeignKey(Status, on_delete=models.PROTECT)
    # Copied from status.state so that queue filters hit one indexed column.
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    due_at_manual = models.BooleanField(
        default=False, help_text="An agent set the due time; SLA changes leave it alone."
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True, help_text="SLA clock stopped since.")
    is_overdue = models.BooleanField(default=False)
    reopened_count = models.PositiveIntegerField(default=0)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets"
    )
    # Bumped by every action: a form carrying an older version is stale.
    version = models.PositiveIntegerField(default=1)
    custom_fields = models.JSONField(
        default=dict, blank=True, help_text="Values of the help topic's custom fields, by name."
    )

    class Meta:
        indexes = [
            models.Index(fields=["state", "due_at"], name="ticket_state_due"),
            models.Index(
                fields=["department", "state", "-updated_at"], name="ticket_dept_state_upd"
            ),
            models.Index(fields=["assignee", "state", "-updated_at"], name="ticket_assignee_state"),
            models.Index(fields=["team", "state", "-updated_at"], name="ticket_team_state"),
            models.Index(fields=["requester", "-created_at"], name="ticket_requester_created"),
            models.Index(fields=["state", "-updated_at"], name="ticket_state_updated"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated"),
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            models.Index(fields=["resolved_at"], name="ticket_resolved"),
            models.Index(
                fields=["due_at"],
                name="ticket_open_not_overdue_due",
                condition=models.Q(state="open", is_overdue=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    def get_absolute_url(self) -> str:
        return f"/staff/tickets/{self.number}/"

    @property
    def is_open(self) -> bool:
        return self.state == State.OPEN

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED_STATES

    def overdue_now(self, now=None) -> bool:
        """Overdue = open state and now past the due time (the flag is set by the sweep)."""
        now = now or timezone.now()
        return self.state == State.OPEN and self.due_at is not None and now > self.due_at


class Collaborator(models.Model):
    """Someone CC'd on the ticket: they get the conversation and may write to it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="collaborators")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collaborations"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="one_collaboration_per_user")
        ]
        indexes = [models.Index(fields=["user", "ticket"], name="collab_user_ticket")]

    def __str__(self) -> str:
        return f"{self.user} on {self.ticket.number}"


class EntryKind(models.TextChoices):
    MESSAGE = "message", "Message"
    REPLY = "reply", "Reply"
    NOTE = "note", "Internal note"


class Verification(models.TextChoices):
    """How sure we are that an emailed entry comes from its author (the mail trust model)."""

    REPLY_ADDRESS = "reply_address", "Verified by reply address"
    DKIM = "dkim", "Verified by DKIM/DMARC"
    UNVERIFIED = "unverified", "Unverified sender"
    ACCEPTED = "accepted", "Unverified sender, accepted by an agent"


class ThreadEntry(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=200, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text="Sanitised HTML; empty for plain text.")
    # The whole message as received (quoted history included) when body_text is only the new part.
    full_text = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    created_at = models.DateTimeField(default=timezone.now)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    threaded_by = models.CharField(max_length=40, blank=True)
    # Empty for entries not taken in from email.
    verification = models.CharField(max_length=20, choices=Verification.choices, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "thread entries"
        indexes = [models.Index(fields=["ticket", "created_at"], name="entry_ticket_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket_id}"

    @property
    def is_public(self) -> bool:
        return self.kind != EntryKind.NOTE


def attachment_path(instance: "Attachment", filename: str) -> str:
    # Random directory names: stored paths reveal nothing and never collide. The stored name is
    # the storage-safe form of the file name (the name as sent is kept in `filename` for
    # display); a name with nothing storable left (e.g. only punctuation) becomes "attachment".
    name = get_valid_filename_or_none(PurePath(filename).name) or "attachment"
    return f"attachments/{timezone.now():%Y/%m}/{secrets.token_hex(16)}/{name}"


def get_valid_filename_or_none(name: str) -> str | None:
    try:
        return get_valid_filename(name)
    except SuspiciousFileOperation:
        return None


class Attachment(models.Model):
    entry = models.ForeignKey(ThreadEntry, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    content_id = models.CharField(max_length=255, blank=True, help_text="For inline images.")

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    ASSIGNED = "assigned", "Assigned"
    RELEASED = "released", "Released"
    TRANSFERRED = "transferred", "Transferred"
    STATUS = "status", "Status changed"
    PRIORITY = "priority", "Priority changed"
    SLA = "sla", "SLA plan changed"
    HELP_TOPIC = "help_topic", "Help topic changed"
    DUE = "due", "Due time changed"
    OVERDUE = "overdue", "Marked overdue"
    REOPENED = "reopened", "Reopened"
    MERGED = "merged", "Merged"
    COLLABORATOR = "collaborator", "Collaborators changed"
    SUBJECT = "subject", "Subject changed"
    REPLIED = "replied", "Replied"
    NOTE = "note", "Internal note added"
    MESSAGE = "message", "Message received"
    BOUNCE = "bounce", "Mail delivery failed"
    RULE = "rule", "Routing rule applied"
    FIELDS = "fields", "Fields changed"


class Event(models.Model):
    """One change to a ticket: who, when, before and after."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="event_ticket_created"),
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket_id}"

    @property
    def actor_name(self) -> str:
        return self.actor.display_name if self.actor_id else "Helpline"


class SLAPause(models.Model):
    """A span during which the SLA clock stood still (ticket pending on the requester)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"SLA paused {self.started_at} – {self.ended_at or 'now'}"


class NotificationKind(models.TextChoices):
    NEW_TICKET_ACK = "new_ticket_ack", "Acknowledgement of a new ticket (requester)"
    REPLY = "reply", "Agent reply (requester)"
    RESOLVED = "resolved", "Ticket resolved (requester)"
    CLOSED = "closed", "Ticket closed (requester)"
    REOPENED = "reopened", "Ticket reopened (requester)"
    NEW_TICKET_ALERT = "new_ticket_alert", "New ticket in the department (agents)"
    NEW_MESSAGE_ALERT = "new_message_alert", "New message on a ticket (agents)"
    ASSIGNED_ALERT = "assigned_alert", "Ticket assigned (agent or team)"
    TRANSFER_ALERT = "transfer_alert", "Ticket transferred (department)"
    OVERDUE_ALERT = "overdue_alert", "Ticket overdue (assignee and manager)"
    PENDING_AUTO_CLOSED = "pending_auto_closed", "Closed after waiting (requester)"
    DUE_REMINDER = "due_reminder", "Due time approaching (assignee)"


class ComposedKind(models.TextChoices):
    """Mail composed when queued (subject and body stored on the row), sent by the same outbox
    as the ticket notifications; kept apart from NotificationKind, whose kinds have templates."""

    SURVEY = "survey", "Satisfaction survey (requester)"
    LOW_RATING = "low_rating", "Low satisfaction rating (manager)"
    PASSWORD_RESET = "password_reset", "Password reset link"
    REGISTER_CONFIRM = "register_confirm", "Registration: confirm the address"
    REGISTER_EXISTS = "register_exists", "Registration tried with a known address"
    GUEST_LINK = "guest_link", "Link to a ticket (guest)"
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook disabled (owner)"


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"


class Notification(models.Model):
    """The outbox of every mail the help desk sends: written in the transaction that decides to
    send, claimed with a lease, sent and retried by tickets.delivery (README "One outbox").

    Ticket notifications are rendered from their templates when sent; other mail (surveys,
    password resets, registration, guest links, webhook notices) is composed when queued and
    stored in subject/body_text/body_html. The Message-ID is fixed on the row before the first
    attempt, so a resend after an unknown outcome carries the same one.
    """

    kind = models.CharField(
        max_length=30, choices=[*NotificationKind.choices, *ComposedKind.choices]
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    entry = models.ForeignKey(ThreadEntry, null=True, blank=True, on_delete=models.SET_NULL)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField()
    state = models.CharField(
        max_length=12, choices=DeliveryState.choices, default=DeliveryState.QUEUED
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    # Not before: the lease of the worker sending it, then the backoff after a failed attempt.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    from_email = models.CharField(max_length=255, blank=True)
    headers = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="notification_queued",
                condition=models.Q(state="queued"),
            ),
            # Acknowledgement rate limits and References look-ups filter by address.
            models.Index(fields=["email", "kind", "created_at"], name="notification_email_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.email}"


class SavedSearch(models.Model):
    """A queue an agent made: named filters shown in their sidebar."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=80)
    filters = models.JSONField(default=dict, blank=True)
    sort = models.CharField(max_length=30, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="one_saved_search_name")
        ]

    def __str__(self) -> str:
        return self.name


class GuestAccess(models.Model):
    """A signed link that lets a guest requester open one ticket; expires, can be revoked.

    Only a hash of the token is stored, so a database leak does not leak working links.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="guest_links")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="guest_access_expiry")]

    def __str__(self) -> str:
        return f"Guest link for {self.email} on {self.ticket_id}"

    def is_valid(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and now < self.expires_at
