"""Business-time arithmetic for SLA plans.

Pure functions with no Django dependency, so SLA maths can be reasoned about and property-tested
in isolation. A :class:`Calendar` describes when a team works: weekly shifts in a local time zone,
minus holidays, or simply "always open". Every function takes timezone-aware datetimes and returns
aware datetimes in UTC.

Semantics worth knowing:

* Shifts are built per local date in wall time and only then converted to UTC, so an 08:00-17:00
  shift is 9 h on a DST-change day unless the change happens inside the shift, in which case the
  shift lasts the real elapsed time (e.g. a 00:00-06:00 shift is 5 h on spring-forward day).
* A shift belongs to the local date it starts on. A holiday removes the shifts that *start* on it;
  an overnight shift starting the evening before a holiday is worked in full, and the overnight
  shift starting on the holiday is skipped entirely.
* Wall times that do not exist (inside a spring-forward gap) resolve like ``zoneinfo`` does with
  ``fold=0``: with the offset in force before the gap. A shift whose ends collapse or invert
  because of that has no working time that day.
* Working time is a set of instants: overlapping or adjacent shifts count once.
"""

import heapq
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "Calendar",
    "Shift",
    "add_business_time",
    "business_time_between",
    "due_time",
    "working_intervals",
]

_UTC_ZONE = ZoneInfo("UTC")
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
# A misconfigured calendar (every day a holiday) must fail loudly instead of looping forever.
_GIVE_UP_AFTER_DAYS = 3660
# Local midnight converted to UTC is only a lower bound for a day's shifts up to the size of a
# UTC-offset jump (at most one day, e.g. Pacific/Apia skipping 2011-12-30); two days is safe.
_WATERMARK_SLACK = timedelta(days=2)
# Stands in for "forever" on 24/7 calendars so they can share the interval-walking code.
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Shift:
    """A weekly working period in local wall time.

    ``weekday`` is the local day the shift starts (0 = Monday ... 6 = Sunday). ``end <= start``
    means the shift ends on the following day; ``end == start`` is a 24-hour shift.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int):
            raise TypeError(f"weekday must be an int 0-6, got {self.weekday!r}")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if not isinstance(self.start, time) or not isinstance(self.end, time):
            raise TypeError("shift start and end must be datetime.time values")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            # The calendar's zone decides the offset per date; a fixed offset here would silently
            # ignore DST.
            raise ValueError("shift times are local wall times and must be naive")

    @property
    def overnight(self) -> bool:
        """True when the shift ends on the day after it starts (including 24-hour shifts)."""
        return self.end <= self.start

    def bounds_on(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """UTC start and end of this shift when it starts on local date ``day``."""
        end_day = day + _ONE_DAY if self.overnight else day
        return (
            datetime.combine(day, self.start, tzinfo=tz).astimezone(UTC),
            datetime.combine(end_day, self.end, tzinfo=tz).astimezone(UTC),
        )


@dataclass(frozen=True)
class Calendar:
    """When a team works: weekly shifts in ``tz`` minus ``holidays``, or ``always_open``.

    ``holidays`` is only ever queried with ``in`` (never iterated), so a lazily expanding
    ``holidays.HolidayBase`` works. It is left out of the hash because such objects are
    unhashable dicts; equality still compares it.
    """

    tz: ZoneInfo
    shifts: tuple[Shift, ...] = ()
    holidays: Container[date] = field(default=frozenset(), hash=False)
    always_open: bool = False

    def __post_init__(self) -> None:
        # Callers often build shifts from lists of rows; a tuple keeps the instance immutable.
        if not isinstance(self.shifts, tuple):
            object.__setattr__(self, "shifts", tuple(self.shifts))
        for shift in self.shifts:
            if not isinstance(shift, Shift):
                raise TypeError(f"shifts must be Shift instances, got {shift!r}")

    @classmethod
    def twenty_four_seven(cls, tz: ZoneInfo = _UTC_ZONE) -> "Calendar":
        """A calendar where business time is plain wall-clock (elapsed) time."""
        return cls(tz=tz, always_open=True)

    @property
    def has_working_time(self) -> bool:
        """False for a calendar that can never accrue business time by construction."""
        return self.always_open or bool(self.shifts)


def _as_utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _check_duration(name: str, value: timedelta) -> None:
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {type(value).__name__}")
    if value < _ZERO:
        raise ValueError(f"{name} must not be negative, got {value}")


def _require_working_time(cal: Calendar) -> None:
    if not cal.has_working_time:
        raise ValueError("calendar has no working time: no shifts and not always_open")


def _pieces(
    cal: Calendar, start: datetime, end: datetime | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """Working time at or after ``start`` (UTC), before ``end`` if given, as disjoint UTC pieces.

    Pieces come in order and never overlap, but may touch; they are deliberately not merged so
    that a calendar open around the clock via shifts still streams instead of waiting forever
    for a merged interval to close. Unbounded iteration raises ValueError after ~10 years
    without any working time.
    """
    if cal.always_open:
        stop = _FAR_FUTURE if end is None else end
        if start < stop:
            yield start, stop
        return
    by_weekday: dict[int, list[Shift]] = {}
    for shift in cal.shifts:
        by_weekday.setdefault(shift.weekday, []).append(shift)
    if not by_weekday:
        return

    tz = cal.tz
    # Shifts started on earlier days (overnight, 24 h) can still be running at `start`.
    day = start.astimezone(tz).date() - 2 * _ONE_DAY
    last_working_day = day
    heap: list[tuple[datetime, datetime]] = []
    # Everything before the cursor has been emitted already; trimming to it removes overlaps.
    cursor = start
    while True:
        watermark = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC) - _WATERMARK_SLACK
        # Shifts of `day` and later all start after the watermark, so whatever sorts before it
        # in the heap is final and can be emitted in order.
        while heap and heap[0][0] < watermark:
            piece_start, piece_end = heapq.heappop(heap)
            piece_start = max(piece_start, cursor)
            if end is not None:
                piece_end = min(piece_end, end)
            if piece_start < piece_end:
                yield piece_start, piece_end
                cursor = piece_end
        if end is not None and watermark >= end:
            return
        todays = by_weekday.get(day.weekday())
        if todays and day not in cal.holidays:
            for shift in todays:
                shift_start, shift_end = shift.bounds_on(day, tz)
                if shift_start < shift_end:
                    heapq.heappush(heap, (shift_start, shift_end))
                    last_working_day = day
        if end is None and (day - last_working_day).days > _GIVE_UP_AFTER_DAYS:
            raise ValueError(
                f"no working time found within {_GIVE_UP_AFTER_DAYS} days after {start.isoformat()}"
                " (is every day a holiday?)"
            )
        day += _ONE_DAY


def _merged(pieces: Iterable[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    current: tuple[datetime, datetime] | None = None
    for piece_start, piece_end in pieces:
        if current is not None and piece_start <= current[1]:
            current = (current[0], max(current[1], piece_end))
            continue
        if current is not None:
            yield current
        current = (piece_start, piece_end)
    if current is not None:
        yield current


def working_intervals(
    cal: Calendar, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Aware UTC intervals of working time overlapping ``[start, end)``.

    Intervals are clipped to the range, in order, and merged when adjacent or overlapping (so
    split shifts give separate intervals, overlapping shifts one). Arguments are validated
    eagerly, before the first interval is requested.
    """
    start_utc = _as_utc("start", start)
    end_utc = _as_utc("end", end)
    if end_utc <= start_utc:
        return iter(())
    return _merged(_pieces(cal, start_utc, end_utc))


def add_business_time(cal: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The instant at which ``duration`` of working time has elapsed after ``start``.

    The result is aware UTC. A zero duration returns ``start`` itself (as UTC), even outside
    working hours; otherwise the result lies in working time, at the end of an interval rather
    than the start of the next one when the duration runs out exactly at closing time.

    Raises ValueError for naive datetimes, a negative duration, a calendar with no working time
    at all (no shifts and not always_open), or when no working time exists for ~10 years.
    """
    start_utc = _as_utc("start", start)
    _check_duration("duration", duration)
    _require_working_time(cal)
    if not duration:
        return start_utc
    if cal.always_open:
        return start_utc + duration
    remaining = duration
    for piece_start, piece_end in _pieces(cal, start_utc):
        span = piece_end - piece_start
        if remaining <= span:
            return piece_start + remaining
        remaining -= span
    raise AssertionError("unbounded working time ended")  # pragma: no cover


def business_time_between(cal: Calendar, start: datetime, end: datetime) -> timedelta:
    """Working time in ``[start, end)``; zero if ``end <= start`` or the calendar has no shifts."""
    start_utc = _as_utc("start", start)
    end_utc = _as_utc("end", end)
    if end_utc <= start_utc:
        return _ZERO
    if cal.always_open:
        return end_utc - start_utc
    return sum(
        (piece_end - piece_start for piece_start, piece_end in _pieces(cal, start_utc, end_utc)),
        _ZERO,
    )


def _normalise_pauses(
    pauses: Iterable[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime]]:
    valid = []
    for paused_at, resumed_at in pauses:
        paused_utc = _as_utc("paused_at", paused_at)
        resumed_utc = _as_utc("resumed_at", resumed_at)
        # Empty or inverted pauses come from clock skew or double clicks; they pause nothing.
        if paused_utc < resumed_utc:
            valid.append((paused_utc, resumed_utc))
    valid.sort()
    merged: list[tuple[datetime, datetime]] = []
    for paused_utc, resumed_utc in valid:
        if merged and paused_utc <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], resumed_utc))
        else:
            merged.append((paused_utc, resumed_utc))
    return merged


def due_time(
    cal: Calendar,
    start: datetime,
    grace: timedelta,
    pauses: Iterable[tuple[datetime, datetime]] = (),
) -> datetime:
    """When ``grace`` of working time has elapsed after ``start``, not counting paused time.

    ``pauses`` are ``(paused_at, resumed_at)`` intervals; they may overlap each other (time is
    counted once), start before ``start`` or lie outside working hours. Empty or inverted
    pauses are ignored. Pauses only ever remove working time, so they can move the result
    later but never earlier. A zero grace returns ``start`` (as UTC).

    Raises ValueError like :func:`add_business_time`.
    """
    start_utc = _as_utc("start", start)
    _check_duration("grace", grace)
    paused = _normalise_pauses(pauses)
    _require_working_time(cal)
    if not grace:
        return start_utc
    if not paused:
        return add_business_time(cal, start_utc, grace)

    remaining = grace
    index = 0
    for piece_start, piece_end in _pieces(cal, start_utc):
        cursor = piece_start
        while cursor < piece_end:
            # Pauses and pieces are both sorted, so finished pauses never matter again.
            while index < len(paused) and paused[index][1] <= cursor:
                index += 1
            if index < len(paused) and paused[index][0] <= cursor:
                cursor = paused[index][1]
                continue
            free_end = piece_end if index == len(paused) else min(piece_end, paused[index][0])
            span = free_end - cursor
            if remaining <= span:
                return cursor + remaining
            remaining -= span
            cursor = free_end
    raise AssertionError("unbounded working time ended")  # pragma: no cover
