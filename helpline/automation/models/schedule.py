"""The scheduler's claims (one run per job and period), its settings, and due-time reminders."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class JobRun(models.Model):
    """One period's run of a periodic job. The unique (job, period_start) pair is the claim:
    of several schedulers ticking at once, exactly one inserts the row and enqueues the task."""

    job = models.CharField(max_length=40)
    period_start = models.DateTimeField()
    claimed_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=120, blank=True, help_text="host:process")
    task_id = models.CharField(max_length=64, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.IntegerField(null=True, blank=True, help_text="How many items the run did.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-period_start", "job"]
        verbose_name = "scheduled job run"
        constraints = [
            models.UniqueConstraint(fields=["job", "period_start"], name="one_run_per_period")
        ]
        indexes = [models.Index(fields=["claimed_at"], name="jobrun_claimed")]

    def __str__(self) -> str:
        return f"{self.job} for {self.period_start:%Y-%m-%d %H:%M}"


def pending_close_days_default() -> int:
    return settings.HELPLINE_PENDING_AUTO_CLOSE_DAYS


def resolved_close_days_default() -> int:
    return settings.HELPLINE_RESOLVED_AUTO_CLOSE_DAYS


def _days(default, help_text: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        default=default,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=help_text,
    )


class AutomationSettings(models.Model):
    """The periodic jobs' settings, edited in the admin panel (one row)."""

    close_pending_enabled = models.BooleanField("close tickets left pending", default=True)
    pending_close_days = _days(
        pending_close_days_default,
        "Close tickets waiting on the requester for this many days, with a note to them.",
    )
    close_resolved_enabled = models.BooleanField("close resolved tickets", default=True)
    resolved_close_days = _days(
        resolved_close_days_default,
        "Close resolved tickets this many days after they were resolved.",
    )
    remind_before_due_minutes = models.PositiveIntegerField(
        "remind before the due time (minutes)",
        default=0,
        validators=[MaxValueValidator(7 * 24 * 60)],
        help_text="Alert the assignee this long before a ticket is due; 0 turns reminders off.",
    )
    failed_mail_days = _days(30, "Delete mail that could not be taken in after this many days.")
    guest_link_days = _days(
        1, "Delete guest links this many days after they expired (they stop working at expiry)."
    )
    job_runs_days = _days(14, "Keep the scheduler's run log this many days.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "automation settings"
        verbose_name_plural = "automation settings"

    def __str__(self) -> str:
        return "Automation settings"

    @classmethod
    def load(cls) -> "AutomationSettings":
        row = cls.objects.filter(pk=1).first()
        if row is None:
            row, _ = cls.objects.get_or_create(pk=1)
        return row


class DueReminder(models.Model):
    """A reminder sent for one due time of one ticket: the unique pair keeps it to once, even
    with two workers; a new due time (SLA change) earns a new reminder."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "due_at"], name="one_reminder_per_due")
        ]

    def __str__(self) -> str:
        return f"Reminder for ticket {self.ticket_id} due {self.due_at}"
