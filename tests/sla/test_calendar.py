"""Business-time arithmetic: worked examples plus Hypothesis properties.

Pure tests: no database, no Django settings needed.
"""

import time as wall_clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpline.sla.calendar import (
    Calendar,
    Shift,
    add_business_time,
    business_time_between,
    due_time,
    working_intervals,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
US_HOLIDAYS = holidays.country_holidays("US")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def lon(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(days: range | list[int], *hours: tuple[time, time]) -> tuple[Shift, ...]:
    return tuple(Shift(day, start, end) for day in days for start, end in hours)


WEEKDAYS = range(5)
EVERY_DAY = range(7)
OFFICE = (time(8), time(17))

US_OFFICE = Calendar(tz=NEW_YORK, shifts=weekly(WEEKDAYS, OFFICE), holidays=US_HOLIDAYS)
LONDON_SPLIT = Calendar(
    tz=LONDON, shifts=weekly(WEEKDAYS, (time(9), time(12)), (time(13), time(17)))
)
NY_NIGHTS = Calendar(tz=NEW_YORK, shifts=weekly(WEEKDAYS, (time(22), time(6))))


class EveryDayIsAHoliday:
    """A holidays container that can answer `in` but refuses to be iterated."""

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self):
        raise AssertionError("holidays must not be iterated")


class NoHolidaysNoIteration:
    def __contains__(self, item: object) -> bool:
        return False

    def __iter__(self):
        raise AssertionError("holidays must not be iterated")


# --- Worked examples: Mon-Fri 08:00-17:00 New York with US public holidays -----------------


def test_mlk_day_weekend_and_holiday_are_skipped():
    # 30 min on Friday, weekend, Monday 2026-01-19 is MLK Day, then 7.5 h on Tuesday.
    due = add_business_time(US_OFFICE, ny(2026, 1, 16, 16, 30), 8 * H)
    assert due == ny(2026, 1, 20, 15, 30)
    assert due.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        pytest.param(ny(2026, 1, 20, 6, 0), 2 * H, ny(2026, 1, 20, 10, 0), id="before-opening"),
        pytest.param(ny(2026, 1, 24, 10, 0), H, ny(2026, 1, 26, 9, 0), id="saturday"),
        pytest.param(ny(2026, 1, 25, 23, 59), H, ny(2026, 1, 26, 9, 0), id="sunday-night"),
        pytest.param(ny(2026, 1, 20, 17, 0), H, ny(2026, 1, 21, 9, 0), id="exactly-at-closing"),
        pytest.param(ny(2026, 1, 20, 16, 0), H, ny(2026, 1, 20, 17, 0), id="runs-out-at-closing"),
        pytest.param(ny(2026, 1, 20, 8, 0), 9 * H, ny(2026, 1, 20, 17, 0), id="whole-day"),
        pytest.param(ny(2026, 1, 19, 10, 0), H, ny(2026, 1, 20, 9, 0), id="on-mlk-day"),
        pytest.param(ny(2026, 11, 26, 9, 0), H, ny(2026, 11, 27, 9, 0), id="on-thanksgiving"),
        pytest.param(ny(2026, 1, 20, 12, 0), 45 * H, ny(2026, 1, 27, 12, 0), id="one-week"),
    ],
)
def test_office_hours_examples(start, duration, expected):
    assert add_business_time(US_OFFICE, start, duration) == expected


def test_zero_duration_returns_start_even_outside_hours():
    saturday = ny(2026, 1, 24, 3, 17)
    result = add_business_time(US_OFFICE, saturday, timedelta(0))
    assert result == saturday
    assert result.tzinfo is UTC


def test_start_given_in_another_zone_is_the_same_instant():
    assert add_business_time(US_OFFICE, utc(2026, 1, 16, 21, 30), 8 * H) == ny(2026, 1, 20, 15, 30)


def test_business_time_for_a_whole_week_is_45_hours():
    assert business_time_between(US_OFFICE, ny(2026, 1, 5), ny(2026, 1, 12)) == 45 * H
    # MLK week loses its Monday.
    assert business_time_between(US_OFFICE, ny(2026, 1, 19), ny(2026, 1, 26)) == 36 * H


def test_business_time_between_reversed_or_empty_range_is_zero():
    assert business_time_between(US_OFFICE, ny(2026, 1, 21), ny(2026, 1, 20)) == timedelta(0)
    assert business_time_between(US_OFFICE, ny(2026, 1, 20, 9), ny(2026, 1, 20, 9)) == timedelta(0)


def test_add_2000_hours_is_fast_and_consistent():
    start = ny(2026, 1, 16, 16, 30)
    began = wall_clock.perf_counter()
    due = add_business_time(US_OFFICE, start, 2000 * H)
    elapsed = wall_clock.perf_counter() - began
    assert elapsed < 2
    assert business_time_between(US_OFFICE, start, due) == 2000 * H
    assert 2000 / 45 * 7 < (due - start).days < 2000 / 40 * 7


# --- Split and overnight shifts -----------------------------------------------------------


def test_split_shift_skips_lunch():
    assert add_business_time(LONDON_SPLIT, lon(2026, 1, 20, 11), 2 * H) == lon(2026, 1, 20, 14)
    # Running out exactly at the start of lunch stays at 12:00 rather than jumping to 13:00.
    assert add_business_time(LONDON_SPLIT, lon(2026, 1, 20, 11), H) == lon(2026, 1, 20, 12)
    assert add_business_time(LONDON_SPLIT, lon(2026, 1, 20, 12, 30), H) == lon(2026, 1, 20, 14)


def test_split_shift_lunch_break_has_no_business_time():
    start, end = lon(2026, 1, 20, 12, 15), lon(2026, 1, 20, 12, 45)
    assert business_time_between(LONDON_SPLIT, start, end) == timedelta(0)
    assert list(working_intervals(LONDON_SPLIT, start, end)) == []
    assert business_time_between(LONDON_SPLIT, lon(2026, 1, 19), lon(2026, 1, 26)) == 35 * H


def test_split_shift_working_intervals_are_separate():
    intervals = list(working_intervals(LONDON_SPLIT, lon(2026, 1, 20), lon(2026, 1, 21)))
    assert intervals == [
        (utc(2026, 1, 20, 9), utc(2026, 1, 20, 12)),
        (utc(2026, 1, 20, 13), utc(2026, 1, 20, 17)),
    ]
    assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in intervals)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        pytest.param(ny(2026, 1, 19, 23), 2 * H, ny(2026, 1, 20, 1), id="inside-shift"),
        pytest.param(ny(2026, 1, 19, 12), 2 * H, ny(2026, 1, 20, 0), id="before-shift"),
        # Saturday 03:00 is still Friday's shift.
        pytest.param(ny(2026, 1, 24, 3), 2 * H, ny(2026, 1, 24, 5), id="friday-night"),
        pytest.param(ny(2026, 1, 24, 5, 30), H, ny(2026, 1, 26, 22, 30), id="to-monday-night"),
        pytest.param(ny(2026, 1, 20, 6), H, ny(2026, 1, 20, 23), id="exactly-at-end"),
    ],
)
def test_overnight_shift_examples(start, duration, expected):
    assert add_business_time(NY_NIGHTS, start, duration) == expected


def test_overnight_shift_belongs_to_the_day_it_starts_for_holidays():
    tuesday = date(2026, 1, 20)
    cal = Calendar(tz=NEW_YORK, shifts=NY_NIGHTS.shifts, holidays={tuesday})
    # Monday night runs into the holiday and is worked in full; Tuesday night is skipped.
    assert business_time_between(cal, ny(2026, 1, 19, 12), ny(2026, 1, 22, 12)) == 16 * H
    assert add_business_time(cal, ny(2026, 1, 20, 5), 2 * H) == ny(2026, 1, 21, 23)


def test_overnight_shift_running_at_range_start_is_clipped():
    intervals = list(working_intervals(NY_NIGHTS, ny(2026, 1, 20, 3), ny(2026, 1, 20, 12)))
    assert intervals == [(ny(2026, 1, 20, 3), ny(2026, 1, 20, 6))]


def test_overlapping_and_adjacent_shifts_are_merged_and_counted_once():
    cal = Calendar(
        tz=LONDON,
        shifts=(
            Shift(1, time(8), time(12)),
            Shift(1, time(10), time(14)),
            Shift(1, time(14), time(16)),
        ),
    )
    day = lon(2026, 1, 20)
    assert list(working_intervals(cal, day, day + 24 * H)) == [
        (utc(2026, 1, 20, 8), utc(2026, 1, 20, 16))
    ]
    assert business_time_between(cal, day, day + 24 * H) == 8 * H
    assert add_business_time(cal, day, 7 * H) == lon(2026, 1, 20, 15)


def test_round_the_clock_shifts_stream_without_hanging():
    cal = Calendar(tz=ZoneInfo("UTC"), shifts=weekly(EVERY_DAY, (time(0), time(0))))
    start = utc(2026, 1, 20, 5, 30)
    assert add_business_time(cal, start, 100 * H) == start + 100 * H
    assert list(working_intervals(cal, start, start + 30 * 24 * H)) == [
        (start, start + 30 * 24 * H)
    ]


def test_twenty_four_seven_working_intervals():
    cal = Calendar.twenty_four_seven()
    assert cal.tz == ZoneInfo("UTC")
    assert list(working_intervals(cal, ny(2026, 1, 24), ny(2026, 1, 25))) == [
        (utc(2026, 1, 24, 5), utc(2026, 1, 25, 5))
    ]
    assert list(working_intervals(cal, ny(2026, 1, 25), ny(2026, 1, 24))) == []


# --- Daylight saving time ------------------------------------------------------------------

# (zone, spring-forward Sunday, fall-back Sunday) in 2026.
DST_CASES = [
    pytest.param(NEW_YORK, date(2026, 3, 8), date(2026, 11, 1), id="new-york"),
    pytest.param(LONDON, date(2026, 3, 29), date(2026, 10, 25), id="london"),
]


def local(tz: ZoneInfo, day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


@pytest.mark.parametrize(("tz", "spring", "fall"), DST_CASES)
def test_twenty_four_seven_counts_elapsed_time_across_dst(tz, spring, fall):
    cal = Calendar.twenty_four_seven(tz)
    one_day = timedelta(days=1)
    assert business_time_between(cal, local(tz, spring), local(tz, spring + one_day)) == 23 * H
    assert business_time_between(cal, local(tz, fall), local(tz, fall + one_day)) == 25 * H
    # 24 h of elapsed time is one wall-clock hour more/less than "same time tomorrow".
    assert add_business_time(cal, local(tz, spring - one_day, 12), 24 * H) == local(tz, spring, 13)
    assert add_business_time(cal, local(tz, fall - one_day, 12), 24 * H) == local(tz, fall, 11)


@pytest.mark.parametrize(("tz", "spring", "fall"), DST_CASES)
def test_office_hours_keep_their_length_on_dst_days(tz, spring, fall):
    cal = Calendar(tz=tz, shifts=weekly(EVERY_DAY, OFFICE))
    one_day = timedelta(days=1)
    for day in (spring, fall):
        assert business_time_between(cal, local(tz, day), local(tz, day + one_day)) == 9 * H
        # Saturday 16:00 + 2 h -> Sunday 09:00 local, whatever the offset did overnight.
        assert add_business_time(cal, local(tz, day - one_day, 16), 2 * H) == local(tz, day, 9)


@pytest.mark.parametrize(("tz", "spring", "fall"), DST_CASES)
def test_shift_spanning_the_change_counts_real_elapsed_time(tz, spring, fall):
    one_day = timedelta(days=1)
    early = Calendar(tz=tz, shifts=(Shift(6, time(0), time(6)),))
    assert business_time_between(early, local(tz, spring), local(tz, spring + one_day)) == 5 * H
    assert business_time_between(early, local(tz, fall), local(tz, fall + one_day)) == 7 * H
    assert add_business_time(early, local(tz, spring), 5 * H) == local(tz, spring, 6)
    assert add_business_time(early, local(tz, fall), 7 * H) == local(tz, fall, 6)

    nights = Calendar(tz=tz, shifts=(Shift(5, time(22), time(6)),))
    for sunday, hours in ((spring, 7), (fall, 9)):
        saturday_noon = local(tz, sunday - one_day, 12)
        assert business_time_between(nights, saturday_noon, local(tz, sunday, 12)) == hours * H


def test_new_york_spring_forward_inside_a_shift():
    cal = Calendar(tz=NEW_YORK, shifts=(Shift(6, time(0), time(6)),))
    # 01:00 EST + 1 h of real time is 03:00 EDT.
    assert add_business_time(cal, ny(2026, 3, 8, 1), H) == ny(2026, 3, 8, 3)
    assert add_business_time(cal, ny(2026, 3, 8, 1), H) == utc(2026, 3, 8, 7)


def test_shift_starting_in_the_spring_forward_gap():
    # 02:30 does not exist on 2026-03-08; like zoneinfo's fold=0 it means 02:30 EST = 03:30 EDT.
    cal = Calendar(tz=NEW_YORK, shifts=(Shift(6, time(2, 30), time(4)),))
    day = date(2026, 3, 8)
    assert business_time_between(cal, local(NEW_YORK, day), local(NEW_YORK, day, 12)) == 30 * MIN
    assert business_time_between(cal, ny(2026, 3, 15), ny(2026, 3, 15, 12)) == 90 * MIN


# --- due_time with pauses ------------------------------------------------------------------

TUESDAY_9 = ny(2026, 1, 20, 9)


def test_due_time_without_pauses_matches_add_business_time():
    assert due_time(US_OFFICE, TUESDAY_9, 4 * H) == ny(2026, 1, 20, 13)
    assert due_time(US_OFFICE, TUESDAY_9, 4 * H, []) == add_business_time(
        US_OFFICE, TUESDAY_9, 4 * H
    )


@pytest.mark.parametrize(
    ("grace", "pauses", "expected"),
    [
        pytest.param(
            4 * H, [(ny(2026, 1, 20, 10), ny(2026, 1, 20, 12))], ny(2026, 1, 20, 15), id="middle"
        ),
        # Paused 16:00 Tue -> 09:00 Wed covers 2 business hours (16-17 and 08-09).
        pytest.param(
            8 * H, [(ny(2026, 1, 20, 16), ny(2026, 1, 21, 9))], ny(2026, 1, 21, 10), id="overnight"
        ),
        pytest.param(
            12 * H, [(ny(2026, 1, 20, 18), ny(2026, 1, 21, 7))], ny(2026, 1, 21, 12), id="closed"
        ),
        pytest.param(
            12 * H, [(ny(2026, 1, 23, 18), ny(2026, 1, 26, 7))], ny(2026, 1, 21, 12), id="weekend"
        ),
        pytest.param(
            4 * H, [(ny(2026, 1, 19, 10), ny(2026, 1, 20, 10))], ny(2026, 1, 20, 14), id="straddle"
        ),
        pytest.param(
            4 * H, [(ny(2026, 1, 15, 10), ny(2026, 1, 15, 12))], ny(2026, 1, 20, 13), id="before"
        ),
        pytest.param(
            4 * H, [(ny(2026, 1, 20, 14), ny(2026, 1, 20, 16))], ny(2026, 1, 20, 13), id="after"
        ),
        pytest.param(
            4 * H,
            [
                (ny(2026, 1, 20, 10), ny(2026, 1, 20, 11, 30)),
                (ny(2026, 1, 20, 11), utc(2026, 1, 20, 17)),
            ],
            ny(2026, 1, 20, 15),
            id="overlapping",
        ),
        pytest.param(
            4 * H,
            [(ny(2026, 1, 20, 10), ny(2026, 1, 20, 12))] * 2
            + [(ny(2026, 1, 20, 10, 30), ny(2026, 1, 20, 11))],
            ny(2026, 1, 20, 15),
            id="duplicate-and-nested",
        ),
        pytest.param(
            4 * H,
            [
                (ny(2026, 1, 20, 11), ny(2026, 1, 20, 11)),
                (ny(2026, 1, 20, 12), ny(2026, 1, 20, 10)),
            ],
            ny(2026, 1, 20, 13),
            id="empty-and-inverted",
        ),
    ],
)
def test_due_time_with_pauses(grace, pauses, expected):
    assert due_time(US_OFFICE, TUESDAY_9, grace, pauses) == expected


def test_pause_of_two_business_hours_moves_due_by_two_business_hours():
    unpaused = due_time(US_OFFICE, TUESDAY_9, 8 * H)
    pauses = [(ny(2026, 1, 20, 16), ny(2026, 1, 21, 9))]
    assert business_time_between(US_OFFICE, *pauses[0]) == 2 * H
    assert due_time(US_OFFICE, TUESDAY_9, 8 * H, pauses) == add_business_time(
        US_OFFICE, unpaused, 2 * H
    )


def test_due_time_accepts_a_generator_of_pauses():
    pauses = ((ny(2026, 1, 20, h), ny(2026, 1, 20, h, 30)) for h in (10, 11))
    assert due_time(US_OFFICE, TUESDAY_9, 4 * H, pauses) == ny(2026, 1, 20, 14)


def test_due_time_twenty_four_seven_with_pause():
    cal = Calendar.twenty_four_seven()
    pauses = [(utc(2026, 1, 20, 0, 30), utc(2026, 1, 20, 1))]
    assert due_time(cal, utc(2026, 1, 20), H, pauses) == utc(2026, 1, 20, 1, 30)


def test_due_time_zero_grace_returns_start_even_while_paused():
    pauses = [(ny(2026, 1, 20), ny(2026, 1, 21))]
    assert due_time(US_OFFICE, TUESDAY_9, timedelta(0), pauses) == TUESDAY_9


# --- Errors and construction ---------------------------------------------------------------

NAIVE = datetime(2026, 1, 20, 9)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: add_business_time(US_OFFICE, NAIVE, H), id="add"),
        pytest.param(lambda: business_time_between(US_OFFICE, NAIVE, TUESDAY_9), id="between-a"),
        pytest.param(lambda: business_time_between(US_OFFICE, TUESDAY_9, NAIVE), id="between-b"),
        pytest.param(lambda: working_intervals(US_OFFICE, NAIVE, TUESDAY_9), id="intervals"),
        pytest.param(lambda: due_time(US_OFFICE, NAIVE, H), id="due"),
        pytest.param(lambda: due_time(US_OFFICE, TUESDAY_9, H, [(NAIVE, TUESDAY_9)]), id="pause"),
        pytest.param(
            lambda: add_business_time(Calendar.twenty_four_seven(), NAIVE, H), id="add-24/7"
        ),
    ],
)
def test_naive_datetimes_are_rejected(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


def test_calendar_without_shifts_has_no_working_time():
    cal = Calendar(tz=NEW_YORK)
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(cal, TUESDAY_9, H)
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(cal, TUESDAY_9, timedelta(0))
    with pytest.raises(ValueError, match="no working time"):
        due_time(cal, TUESDAY_9, H)
    assert business_time_between(cal, TUESDAY_9, TUESDAY_9 + 1000 * H) == timedelta(0)
    assert list(working_intervals(cal, TUESDAY_9, TUESDAY_9 + 1000 * H)) == []


def test_all_holidays_calendar_gives_up():
    cal = Calendar(tz=NEW_YORK, shifts=US_OFFICE.shifts, holidays=EveryDayIsAHoliday())
    with pytest.raises(ValueError, match="no working time found"):
        add_business_time(cal, TUESDAY_9, H)
    with pytest.raises(ValueError, match="no working time found"):
        due_time(cal, TUESDAY_9, H, [(TUESDAY_9, TUESDAY_9 + H)])
    assert business_time_between(cal, TUESDAY_9, TUESDAY_9 + 1000 * H) == timedelta(0)


def test_always_open_ignores_holidays():
    cal = Calendar(tz=NEW_YORK, always_open=True, holidays=EveryDayIsAHoliday())
    assert add_business_time(cal, TUESDAY_9, H) == TUESDAY_9 + H


def test_holidays_are_only_queried_never_iterated():
    cal = Calendar(tz=NEW_YORK, shifts=US_OFFICE.shifts, holidays=NoHolidaysNoIteration())
    assert add_business_time(cal, ny(2026, 1, 16, 16, 30), 8 * H) == ny(2026, 1, 19, 15, 30)


def test_negative_durations_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        add_business_time(US_OFFICE, TUESDAY_9, -H)
    with pytest.raises(ValueError, match="negative"):
        due_time(US_OFFICE, TUESDAY_9, -H)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((7, time(8), time(17)), ValueError),
        ((-1, time(8), time(17)), ValueError),
        ((0, time(8, tzinfo=UTC), time(17)), ValueError),
        ((True, time(8), time(17)), TypeError),
        ((0, "08:00", time(17)), TypeError),
    ],
)
def test_invalid_shifts_are_rejected(args, error):
    with pytest.raises(error):
        Shift(*args)


def test_calendar_is_immutable_and_hashable_with_holiday_objects():
    cal = Calendar(tz=NEW_YORK, shifts=list(weekly(WEEKDAYS, OFFICE)), holidays=US_HOLIDAYS)
    assert isinstance(cal.shifts, tuple)
    assert hash(cal) == hash(Calendar(tz=NEW_YORK, shifts=weekly(WEEKDAYS, OFFICE)))
    with pytest.raises(AttributeError):
        cal.always_open = True  # type: ignore[misc]


# --- Properties ----------------------------------------------------------------------------

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",  # 30-minute DST shift
        "Asia/Kolkata",
        "America/Santiago",  # DST changes at local midnight
    )
]

instants = st.builds(
    lambda minutes, seconds, tz: (EPOCH + timedelta(minutes=minutes, seconds=seconds)).astimezone(
        tz
    ),
    st.integers(0, (datetime(2030, 12, 31, tzinfo=UTC) - EPOCH) // MIN),
    st.integers(0, 59),
    st.sampled_from(ZONES),
)
durations = st.integers(0, 300 * 60).map(lambda m: m * MIN)
positive_durations = st.integers(1, 300 * 60).map(lambda m: m * MIN)
wall_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
random_shifts = st.builds(Shift, st.integers(0, 6), wall_times, wall_times)
random_calendars = st.builds(
    Calendar,
    tz=st.sampled_from(ZONES),
    shifts=st.lists(random_shifts, min_size=1, max_size=5).map(tuple),
    holidays=st.frozensets(st.dates(date(2020, 1, 1), date(2031, 12, 31)), max_size=30),
)
calendars = st.one_of(
    st.sampled_from(
        [
            US_OFFICE,
            LONDON_SPLIT,
            NY_NIGHTS,
            Calendar(tz=LONDON, shifts=weekly(EVERY_DAY, (time(1, 30), time(1, 30)))),
        ]
    ),
    random_calendars,
)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    result: list[tuple[datetime, datetime]] = []
    for a, b in sorted((a, b) for a, b in intervals if a < b):
        if result and a <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], b))
        else:
            result.append((a, b))
    return result


@PROPERTY_SETTINGS
@given(calendars, instants, durations, durations)
def test_adding_in_two_steps_equals_adding_at_once(cal, start, a, b):
    assert add_business_time(cal, start, a + b) == add_business_time(
        cal, add_business_time(cal, start, a), b
    )


@PROPERTY_SETTINGS
@given(st.sampled_from(ZONES), instants, durations)
def test_twenty_four_seven_is_plain_elapsed_time(tz, start, duration):
    cal = Calendar.twenty_four_seven(tz)
    # Elapsed time, so add in UTC: aware-datetime arithmetic in a local zone is wall-clock
    # arithmetic and would be an hour off across a DST change.
    end = start.astimezone(UTC) + duration
    assert add_business_time(cal, start, duration) == end
    assert business_time_between(cal, start, end) == duration


@PROPERTY_SETTINGS
@given(calendars, instants, positive_durations)
def test_result_lies_inside_working_time(cal, start, duration):
    result = add_business_time(cal, start, duration)
    assert result.tzinfo is UTC
    assert result > start
    around = working_intervals(cal, result - timedelta(days=2), result + timedelta(days=2))
    assert any(a < result <= b for a, b in around)


@PROPERTY_SETTINGS
@given(calendars, instants, durations)
def test_business_time_between_inverts_add(cal, start, duration):
    assert business_time_between(cal, start, add_business_time(cal, start, duration)) == duration


@PROPERTY_SETTINGS
@given(calendars, instants, st.lists(durations, min_size=2, max_size=2))
def test_business_time_between_is_additive_and_matches_intervals(cal, start, offsets):
    middle = start + offsets[0] / 2
    end = middle + offsets[1] / 2
    total = business_time_between(cal, start, end)
    assert total == business_time_between(cal, start, middle) + business_time_between(
        cal, middle, end
    )
    intervals = list(working_intervals(cal, start, end))
    assert total == sum((b - a for a, b in intervals), timedelta(0))
    for (_, b1), (a2, _) in zip(intervals, intervals[1:], strict=False):
        assert b1 < a2  # merged: never touching or overlapping


pauses_near_start = st.lists(
    st.tuples(st.integers(-48 * 60, 400 * 60), st.integers(-60, 72 * 60)), max_size=4
)


def to_pauses(start: datetime, spec: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
    return [(start + offset * MIN, start + (offset + length) * MIN) for offset, length in spec]


@PROPERTY_SETTINGS
@given(calendars, instants, durations, pauses_near_start)
def test_pauses_never_move_due_time_earlier(cal, start, grace, spec):
    pauses = to_pauses(start, spec)
    unpaused = due_time(cal, start, grace)
    assert unpaused == add_business_time(cal, start, grace)
    assert due_time(cal, start, grace, pauses) >= unpaused


@PROPERTY_SETTINGS
@given(calendars, instants, durations, durations, pauses_near_start)
def test_due_time_is_monotonic_in_grace(cal, start, a, b, spec):
    pauses = to_pauses(start, spec)
    small, large = sorted((a, b))
    assert due_time(cal, start, small, pauses) <= due_time(cal, start, large, pauses)


@PROPERTY_SETTINGS
@given(calendars, instants, positive_durations, pauses_near_start)
def test_due_time_counts_exactly_the_unpaused_business_time(cal, start, grace, spec):
    due = due_time(cal, start, grace, to_pauses(start, spec))
    paused = sum(
        (
            business_time_between(cal, max(a, start), min(b, due))
            for a, b in merged(to_pauses(start, spec))
        ),
        timedelta(0),
    )
    assert business_time_between(cal, start, due) - paused == grace
