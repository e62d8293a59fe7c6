"""What reports keep beside the tickets: business-time durations, satisfaction surveys, settings.

Everything else a report shows is aggregated in SQL straight from tickets and their events.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from helpline.tickets.access import parse_id

SURVEY_SALT = "helpline.reports.csat"
# A requester may answer for this long after the survey went out, and change the answer for
# EDIT_DAYS after answering.
ANSWER_DAYS = 30
EDIT_DAYS = 7
LOW_RATING = 2


class TicketMetrics(models.Model):
    """Business-time durations of a ticket, kept current by an event listener (metrics.py).

    Business time needs the schedule's calendar arithmetic (Python), so it is computed once when
    the ticket is first answered or resolved and stored here; reports then aggregate it in SQL.
    Null means "not answered / not resolved yet" or "no SLA plan, so no business hours".
    """

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, primary_key=True, related_name="metrics"
    )
    first_response_business_seconds = models.BigIntegerField(null=True, blank=True)
    resolution_business_seconds = models.BigIntegerField(null=True, blank=True)
    # Copies of the ticket's times the durations were computed for: a report joins only the
    # rows of its period (indexed) instead of hashing the whole table.
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "ticket metrics"
        verbose_name_plural = "ticket metrics"
        indexes = [
            models.Index(
                fields=["first_responded_at"],
                name="metrics_first_responded",
                condition=models.Q(first_responded_at__isnull=False),
            ),
            models.Index(
                fields=["resolved_at"],
                name="metrics_resolved",
                condition=models.Q(resolved_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Metrics of ticket {self.ticket_id}"


class SatisfactionSettings(models.Model):
    """Per department: send a satisfaction survey on resolution, alert the manager on low ones."""

    department = models.OneToOneField(
        "accounts.Department", on_delete=models.CASCADE, related_name="satisfaction_settings"
    )
    send_survey = models.BooleanField("send a survey when a ticket is resolved", default=True)
    notify_manager = models.BooleanField(
        "tell the department manager about low ratings (1 or 2)", default=True
    )

    class Meta:
        verbose_name = "satisfaction survey settings"
        verbose_name_plural = "satisfaction survey settings"

    def __str__(self) -> str:
        return f"Satisfaction surveys of {self.department}"

    @classmethod
    def for_department(cls, department_id: int) -> "SatisfactionSettings":
        """The department's settings; an unsaved default row when none was made."""
        found = cls.objects.filter(department_id=department_id).first()
        return found or cls(department_id=department_id)


class CsatSurvey(models.Model):
    """One satisfaction survey per ticket and its (single, editable) response."""

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="csat_survey"
    )
    email = models.EmailField(help_text="Where the survey link was sent.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (very unhappy) to 5 (very happy); empty until answered.",
    )
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    manager_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "satisfaction survey"
        indexes = [
            models.Index(fields=["created_at"], name="csat_created"),
            models.Index(fields=["responded_at"], name="csat_responded"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="csat_rating_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"Survey on {self.ticket_id}: {self.rating or 'not answered'}"

    @property
    def token(self) -> str:
        """The signed, unguessable part of the survey link (the survey id, signed).

        No timestamp inside: the link stays the same in every email and page, and how long it
        works is decided by the survey's own dates (answer_closes_at).
        """
        return signing.Signer(salt=SURVEY_SALT).sign(str(self.pk))

    @classmethod
    def from_token(cls, token: str) -> "CsatSurvey | None":
        try:
            value = signing.Signer(salt=SURVEY_SALT).unsign(token)
        except signing.BadSignature:
            return None
        pk = parse_id(value)
        if pk is None:
            return None
        return cls.objects.select_related("ticket", "ticket__department").filter(pk=pk).first()

    @property
    def answered(self) -> bool:
        return self.rating is not None

    def answer_closes_at(self):
        """Until when the requester may answer (first time) or change the answer."""
        if self.responded_at is not None:
            return self.responded_at + timedelta(days=EDIT_DAYS)
        return self.created_at + timedelta(days=ANSWER_DAYS)

    def is_open(self, now=None) -> bool:
        return (now or timezone.now()) < self.answer_closes_at()

    @property
    def page_path(self) -> str:
        return survey_link_path(self)

    @property
    def rating_links(self) -> list[tuple[int, str]]:
        """(rating, path) for the one-click links (they open the page, preselected)."""
        return [(n, survey_link_path(self, n)) for n in range(1, 6)]

    @property
    def is_low(self) -> bool:
        return self.rating is not None and self.rating <= LOW_RATING


def survey_link_path(survey: CsatSurvey, rating: int | None = None) -> str:
    """Path of the survey page (optionally with a preselected rating)."""
    from django.urls import NoReverseMatch, reverse

    try:
        path = reverse("survey:answer", args=[survey.token])
    except NoReverseMatch:
        path = reverse("reports:survey", args=[survey.token])
    return f"{path}?rating={rating}" if rating else path


def survey_link(survey: CsatSurvey, rating: int | None = None) -> str:
    return f"{settings.SITE_URL}{survey_link_path(survey, rating)}"
