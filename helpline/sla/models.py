"""SLA plans and the working-hours schedules they count time over."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from helpline.sla.calendar import Calendar, Shift


class Weekday(models.IntegerChoices):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class _HolidaySet:
    """Country holidays (expanded lazily by year) plus a schedule's own extra dates."""

    def __init__(self, country: holidays_lib.HolidayBase | None, extra: frozenset):
        self.country = country
        self.extra = extra

    def __contains__(self, day) -> bool:
        return day in self.extra or (self.country is not None and day in self.country)


class Schedule(models.Model):
    """Working hours per weekday in a time zone, with public holidays and extra closed days."""

    name = models.CharField(max_length=120, unique=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="Empty: the help desk's.")
    always_open = models.BooleanField("24/7", default=False)
    holiday_country = models.CharField(
        max_length=8, blank=True, help_text="Country code for public holidays, e.g. US, GB, DE."
    )
    holiday_subdivision = models.CharField(max_length=16, blank=True, help_text="e.g. CA, BY.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        tz = self.timezone or settings.TIME_ZONE
        try:
            ZoneInfo(tz)
        except Exception:
            raise ValidationError({"timezone": f"Unknown time zone {tz!r}."})
        if self.holiday_country:
            try:
                holidays_lib.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision or None
                )
            except NotImplementedError as exc:
                raise ValidationError({"holiday_country": str(exc)})

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone or settings.TIME_ZONE)

    def calendar(self) -> Calendar:
        """The pure calendar the SLA arithmetic runs on."""
        if self.always_open:
            return Calendar.twenty_four_seven(self.tz)
        country = None
        if self.holiday_country:
            country = holidays_lib.country_holidays(
                self.holiday_country, subdiv=self.holiday_subdivision or None
            )
        extra = frozenset(self.holidays.values_list("date", flat=True))
        shifts = tuple(Shift(s.weekday, s.start, s.end) for s in self.shifts.all())
        return Calendar(tz=self.tz, shifts=shifts, holidays=_HolidaySet(country, extra))


class ScheduleShift(models.Model):
    """One span of working time on a weekday; several per day make split shifts."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.IntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="Earlier than the start: the shift ends the next day.")

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class Holiday(models.Model):
    """An extra closed day of a schedule (beyond the country's public holidays)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "date"], name="one_holiday_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class SLAPlan(models.Model):
    """A grace period for resolution (and optionally first response) over a schedule."""

    name = models.CharField(max_length=120, unique=True)
    grace_hours = models.DecimalField("resolution within (hours)", max_digits=7, decimal_places=2)
    first_response_hours = models.DecimalField(
        "first response within (hours)", max_digits=7, decimal_places=2, null=True, blank=True
    )
    schedule = models.ForeignKey(
        Schedule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="plans",
        help_text="Empty: 24/7 in the help desk's time zone.",
    )
    pause_when_pending = models.BooleanField(
        default=True, help_text="Stop the clock while the ticket waits on the requester."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA plan"

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.grace_hours is not None and self.grace_hours <= 0:
            raise ValidationError({"grace_hours": "The grace period must be positive."})
        if self.first_response_hours is not None and self.first_response_hours <= 0:
            raise ValidationError({"first_response_hours": "Must be positive, or empty."})

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=float(self.grace_hours))

    @property
    def first_response_grace(self) -> timedelta | None:
        if self.first_response_hours is None:
            return None
        return timedelta(hours=float(self.first_response_hours))

    def calendar(self) -> Calendar:
        if self.schedule_id is None:
            return Calendar.twenty_four_seven(ZoneInfo(settings.TIME_ZONE))
        return self.schedule.calendar()
