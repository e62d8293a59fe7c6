"""Admin panel for SLA plans and the schedules they count time over.

Shifts follow helpline.sla.calendar: an end earlier than the start ends the next day, and an end
equal to the start is a 24-hour shift (it runs to the same time the next day). That is the only
way to write a shift that covers a whole day, so it is allowed and said on the form.

A schedule that is not 24/7 must keep at least one shift: without working hours no due time can
be computed (the helpline.E010 check), so the admin refuses to save such a schedule or to pick one
for an SLA plan.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet

from helpline.accounts.models import TIMEZONE_CHOICES
from helpline.sla.models import Holiday, Schedule, ScheduleShift, SLAPlan


def has_working_hours(schedule: Schedule | None) -> bool:
    """Can SLA time accrue on `schedule`? No schedule means 24/7 in the help desk's time zone."""
    if schedule is None:
        return True
    return schedule.always_open or schedule.shifts.exists()


def no_working_hours_message(schedule: Schedule) -> str:
    """The one wording used wherever a schedule without working hours is refused."""
    return (
        f"The schedule “{schedule}” has no working hours (it is not 24/7 and has no shifts), "
        "so no due time could be computed. Add shifts to it or mark it 24/7 "
        "(SLA → Schedules), or pick another."
    )


class ScheduleForm(forms.ModelForm):
    timezone = forms.ChoiceField(required=False)

    class Meta:
        model = Schedule
        fields = ("name", "timezone", "always_open", "holiday_country", "holiday_subdivision")
        help_texts = {
            "always_open": "Every hour counts; shifts are ignored.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["timezone"]
        field.choices = [("", f"The help desk's ({settings.TIME_ZONE})"), *TIMEZONE_CHOICES]
        field.help_text = "Shifts and holidays are read in this time zone."

    def clean_holiday_country(self) -> str:
        return self.cleaned_data["holiday_country"].strip().upper()

    def clean_holiday_subdivision(self) -> str:
        return self.cleaned_data["holiday_subdivision"].strip().upper()


class ShiftForm(forms.ModelForm):
    class Meta:
        model = ScheduleShift
        fields = ("weekday", "start", "end")
        help_texts = {
            "end": "Earlier than the start: ends the next day. Equal to the start: a 24-hour "
            "shift.",
        }


class ShiftFormSet(BaseInlineFormSet):
    """A schedule that is not 24/7 keeps at least one shift."""

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.always_open:
            return
        remaining = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("start") is not None
        ]
        if not remaining:
            raise ValidationError(
                "A schedule that is not 24/7 needs at least one shift, or no due time can be "
                "computed over it. Add a shift below or tick “24/7”."
            )


class ShiftInline(admin.TabularInline):
    model = ScheduleShift
    form = ShiftForm
    formset = ShiftFormSet
    extra = 1
    verbose_name = "shift"
    verbose_name_plural = "working hours (several shifts on one day make a split shift)"


class HolidayInline(admin.TabularInline):
    model = Holiday
    fields = ("date", "name")
    extra = 1
    verbose_name = "extra closed day"
    verbose_name_plural = "extra closed days (beyond the country's public holidays)"


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    inlines = [ShiftInline, HolidayInline]
    list_display = ("name", "time_zone", "always_open", "working_hours", "holidays_from")
    list_filter = ("always_open",)
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(shift_count=Count("shifts"))

    @admin.display(description="time zone", ordering="timezone")
    def time_zone(self, obj: Schedule) -> str:
        return obj.timezone or f"help desk's ({settings.TIME_ZONE})"

    @admin.display(description="working hours")
    def working_hours(self, obj: Schedule) -> str:
        if obj.always_open:
            return "24/7"
        if not obj.shift_count:
            return "none — no due time can be computed"
        return f"{obj.shift_count} shift{'s' if obj.shift_count != 1 else ''} a week"

    @admin.display(description="public holidays")
    def holidays_from(self, obj: Schedule) -> str:
        if not obj.holiday_country:
            return "—"
        return "-".join(filter(None, [obj.holiday_country, obj.holiday_subdivision]))


class SLAPlanForm(forms.ModelForm):
    class Meta:
        model = SLAPlan
        fields = (
            "name",
            "grace_hours",
            "first_response_hours",
            "schedule",
            "pause_when_pending",
            "active",
        )
        help_texts = {
            "grace_hours": "Counted in the schedule's working hours: due time = creation + this.",
            "first_response_hours": "Empty: no first-response target.",
        }

    def clean_schedule(self) -> Schedule | None:
        schedule = self.cleaned_data.get("schedule")
        if not has_working_hours(schedule):
            raise ValidationError(no_working_hours_message(schedule))
        return schedule


@admin.register(SLAPlan)
class SLAPlanAdmin(admin.ModelAdmin):
    form = SLAPlanForm
    list_display = (
        "name",
        "grace_hours",
        "first_response_hours",
        "schedule",
        "pause_when_pending",
        "active",
    )
    list_filter = ("active", "schedule")
    list_select_related = ("schedule",)
    search_fields = ("name",)
