"""Report filters (period and grouping) and the satisfaction survey form."""

from datetime import date

from django import forms

from helpline.reports.csat import COMMENT_MAX, RATINGS
from helpline.reports.periods import MAX_DAYS, PRESETS, Period, current_today, preset_period
from helpline.reports.queries import GROUPINGS


class ReportForm(forms.Form):
    """Period (a preset or custom days) and grouping; unbound or invalid falls back to defaults."""

    period = forms.ChoiceField(choices=list(PRESETS.items()), initial="week", required=False)
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group = forms.ChoiceField(
        label="Group by",
        choices=[(g.slug, g.name) for g in GROUPINGS.values()],
        initial="department",
        required=False,
    )

    def clean(self):
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None:
                self.add_error("start", "Enter the first day of the period.")
            if end is None:
                self.add_error("end", "Enter the last day of the period.")
            if start and end:
                if end < start:
                    self.add_error("end", "The last day cannot be before the first day.")
                elif (end - start).days + 1 > MAX_DAYS:
                    self.add_error("end", f"A report covers at most {MAX_DAYS} days.")
        return data

    def report_period(self, tz, today: date | None = None) -> Period:
        """The chosen period in `tz` (this week when the form is unbound or invalid)."""
        today = today or current_today(tz)
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        preset = data.get("period") or "week"
        if preset == "custom":
            return Period(data["start"], data["end"], tz, "custom")
        return preset_period(preset, today, tz)

    def grouping_slug(self) -> str:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return data.get("group") or "department"


class SurveyForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="Your rating",
        choices=[(n, f"{n} · {label}") for n, label in RATINGS.items()],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a rating from 1 to 5."},
    )
    comment = forms.CharField(
        label="Comment (optional)",
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
