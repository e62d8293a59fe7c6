"""Report periods: whole days in the viewer's time zone, turned into a UTC [start, end) range."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import timezone

PRESETS = {
    "today": "Today",
    "week": "This week",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "custom": "Custom",
}
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """The days `first_day` … `last_day` (inclusive) in the time zone `tz`."""

    first_day: date
    last_day: date
    tz: tzinfo
    preset: str = "custom"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        """The instant the day after `last_day` begins (exclusive end)."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]

    @property
    def tzname(self) -> str:
        return getattr(self.tz, "key", None) or str(self.tz)

    @property
    def label(self) -> str:
        name = PRESETS.get(self.preset, "Custom")
        if self.first_day == self.last_day:
            span = f"{self.first_day:%a %d %b %Y}"
        else:
            span = f"{self.first_day:%d %b %Y} – {self.last_day:%d %b %Y}"
        return span if self.preset == "custom" else f"{name} ({span})"


def preset_period(preset: str, today: date, tz: tzinfo) -> Period:
    """One of PRESETS (except custom) ending today; weeks start on Monday."""
    if preset == "today":
        first = today
    elif preset == "week":
        first = today - timedelta(days=today.weekday())
    elif preset in ("7d", "30d", "90d"):
        first = today - timedelta(days=int(preset[:-1]) - 1)
    else:
        raise ValueError(f"Unknown period {preset!r}")
    return Period(first, today, tz, preset)


def current_today(tz: tzinfo | None = None) -> date:
    return timezone.localdate(timezone.now(), tz or timezone.get_current_timezone())
