"""Mailboxes we fetch, mail we could not take in, the ban list, received mail, email templates."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from helpline.tickets.models import NotificationKind


class Security(models.TextChoices):
    NONE = "none", "None (plain IMAP, port 143)"
    STARTTLS = "starttls", "STARTTLS (port 143)"
    TLS = "tls", "TLS (IMAPS, port 993)"


class AfterFetch(models.TextChoices):
    MARK_SEEN = "seen", "Mark as read"
    MOVE = "move", "Move to a folder"
    DELETE = "delete", "Delete"


class Mailbox(models.Model):
    """An email account fetched over IMAP (or named by `helpline mail pipe --mailbox`)."""

    name = models.CharField(max_length=80, unique=True)
    address = models.EmailField(
        help_text="The address people write to. Mail from it is never answered (loop protection)."
    )
    host = models.CharField("IMAP host", max_length=255, blank=True)
    port = models.PositiveIntegerField("IMAP port", default=993)
    security = models.CharField(max_length=10, choices=Security.choices, default=Security.TLS)
    username = models.CharField(max_length=255, blank=True)
    # Stored as given: IMAP needs the plain password to log in.
    password = models.CharField(max_length=255, blank=True)
    folder = models.CharField(max_length=255, default="INBOX")
    after_fetch = models.CharField(
        max_length=10, choices=AfterFetch.choices, default=AfterFetch.MARK_SEEN
    )
    move_to = models.CharField(
        max_length=255, blank=True, help_text="Folder for “Move to a folder”, e.g. Processed."
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Department of new tickets (else the help topic's, else the default).",
    )
    help_topic = models.ForeignKey(
        "tickets.HelpTopic", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=True)
    # The mail trust model (README "Mail you can trust").
    subaddress_separator = models.CharField(
        "sub-address separator",
        max_length=1,
        blank=True,
        help_text="“+” if the mail server delivers name+anything@ to this mailbox: notifications "
        "then carry a signed reply address per recipient (support+hl-…@), which verifies "
        "answers. Empty: no sub-addressing.",
    )
    trusted_authserv_ids = models.CharField(
        "trusted Authentication-Results hosts",
        max_length=255,
        blank=True,
        help_text="Comma-separated authserv-ids of your own receiving mail servers (e.g. "
        "mx.example.com). Their DKIM/DMARC results verify senders; any other "
        "Authentication-Results header is ignored (a sender can write one).",
    )
    verify_dkim = models.BooleanField(
        "verify DKIM/ARC signatures",
        default=False,
        help_text="Check DKIM and ARC signatures with DNS lookups when no trusted "
        "Authentication-Results header says so.",
    )
    trusted_arc_sealers = models.CharField(
        "trusted ARC forwarders",
        max_length=255,
        blank=True,
        help_text="Comma-separated domains (e.g. lists.example.org) whose ARC seals vouch for "
        "mail they forwarded after breaking its DKIM signature. Empty: ARC is not used.",
    )
    cc_collaborators = models.BooleanField(
        "add Cc as collaborators",
        default=True,
        help_text="People in Cc of a verified requester's or collaborator's mail join the ticket.",
    )
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.after_fetch == AfterFetch.MOVE and not self.move_to.strip():
            raise ValidationError({"move_to": "Name the folder to move fetched mail to."})
        if self.active and self.host and not self.username:
            raise ValidationError({"username": "An IMAP mailbox needs a user name."})


class FailedMail(models.Model):
    """A message we could not turn into a ticket: kept raw, with the error, for re-processing."""

    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="failed"
    )
    raw = models.BinaryField()
    sender = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    error = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)
    reprocessed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=255, blank=True, help_text="Result of re-processing.")

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "failed mail"
        verbose_name_plural = "failed mail"

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} from {self.sender or 'unknown sender'}"


class BannedAddress(models.Model):
    """An address (karen@example.com) or a whole domain (@example.com) whose mail is refused."""

    pattern = models.CharField(
        max_length=255, unique=True, help_text="name@example.com, or @example.com for a domain."
    )
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pattern"]
        verbose_name = "banned address"
        verbose_name_plural = "ban list"

    def __str__(self) -> str:
        return self.pattern

    def save(self, *args, **kwargs):
        self.pattern = (self.pattern or "").strip().lower()
        super().save(*args, **kwargs)

    def clean(self):
        self.pattern = (self.pattern or "").strip().lower()
        local, at, domain = self.pattern.rpartition("@")
        if not at or not domain or "." not in domain or " " in self.pattern:
            raise ValidationError(
                {"pattern": "Enter an address (name@example.com) or a domain (@example.com)."}
            )

    @classmethod
    def match(cls, email: str) -> "BannedAddress | None":
        """The ban entry that covers `email` (exact address or its domain), if any."""
        email = (email or "").strip().lower()
        if "@" not in email:
            return None
        domain = "@" + email.rpartition("@")[2]
        return cls.objects.filter(pattern__in=[email, domain]).first()


class Outcome(models.TextChoices):
    NEW_TICKET = "new_ticket", "New ticket"
    MESSAGE = "message", "Added to a ticket"
    NOTE = "note", "Internal note by an agent"
    REPLY = "reply", "Reply by an agent"
    HELD = "held", "Held for review"
    BOUNCE = "bounce", "Bounce recorded"
    REJECTED = "rejected", "Rejected"
    IGNORED = "ignored", "Ignored"
    SPAM = "spam", "Spam (in the review list)"


class ReceivedMail(models.Model):
    """One message taken in. The fingerprint (Message-ID and content) makes intake idempotent:
    a second delivery of the same message only counts up `duplicates`."""

    fingerprint = models.CharField(max_length=64, unique=True)
    content_digest = models.CharField(max_length=64, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entry = models.ForeignKey(
        "tickets.ThreadEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Later deliveries of the same message (same Message-ID and content)."
    )
    last_duplicate_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "received mail"
        verbose_name_plural = "received mail"
        indexes = [
            models.Index(fields=["-received_at"], name="received_mail_time"),
            models.Index(
                fields=["message_id"],
                name="received_mail_message_id",
                condition=~models.Q(message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.subject or '(no subject)'}"


class EmailTemplate(models.Model):
    """An admin's version of one notification (all departments, or one). Files are the defaults."""

    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: every department without its own version.",
    )
    enabled = models.BooleanField(default=True, help_text="Off: this notification is not sent.")
    subject = models.CharField(max_length=255)
    body_text = models.TextField("plain-text body")
    body_html = models.TextField(
        "HTML body", blank=True, help_text="Empty: made from the plain-text body."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "department__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "department"], name="one_email_template_per_dept"
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(department__isnull=True),
                name="one_default_email_template",
            ),
        ]

    def __str__(self) -> str:
        where = self.department or "all departments"
        return f"{self.get_kind_display()} ({where})"

    def clean(self):
        from helpline.mail.outbound import TemplateProblem, check_template

        try:
            check_template(self.subject, self.body_text, self.body_html)
        except TemplateProblem as problem:
            raise ValidationError({problem.field: str(problem)})


class Review(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class SenderKind(models.TextChoices):
    REQUESTER = "requester", "the requester"
    COLLABORATOR = "collaborator", "a collaborator"
    AGENT = "agent", "an agent with a role on the ticket"
    OUTSIDE_AGENT = "outside_agent", "an agent without a role on the ticket"
    STRANGER = "stranger", "someone who takes no part in the ticket"
    UNKNOWN = "unknown", "not judged (no ticket)"


class Folder(models.TextChoices):
    REVIEW = "review", "Waiting for review"
    SPAM = "spam", "Spam"


class HeldMail(models.Model):
    """A message the trust model would not let through on its own: an agent accepts or rejects.

    Unverified agents, strangers and anyone writing to a closed ticket without proof land here,
    so nothing is dropped silently and nothing unverified acts on a ticket by itself.
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raw = models.BinaryField()
    sender = models.CharField(max_length=255)
    subject = models.CharField(max_length=255, blank=True)
    preview = models.TextField(blank=True, help_text="The new part of the message, as text.")
    sender_kind = models.CharField(max_length=30, choices=SenderKind.choices)
    verification = models.CharField(max_length=200, blank=True)
    threaded_by = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=500)
    intent = models.CharField(max_length=10, blank=True, help_text="reply or note, for agents.")
    folder = models.CharField(max_length=10, choices=Folder.choices, default=Folder.REVIEW)
    received_at = models.DateTimeField(default=timezone.now)
    review = models.CharField(max_length=10, choices=Review.choices, default=Review.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    entry = models.ForeignKey(
        "tickets.ThreadEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "held mail"
        verbose_name_plural = "held mail (review list)"
        indexes = [
            models.Index(
                fields=["-received_at"],
                name="held_mail_pending",
                condition=models.Q(review="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} from {self.sender}"
