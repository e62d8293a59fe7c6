"""Regular expressions in rules: catastrophic shapes refused on save, input bounded at intake."""

import time

import pytest
from django.core.exceptions import ValidationError

from helpline.automation import safe_regex


@pytest.mark.parametrize(
    "pattern",
    [r"outage", r"^\[ALERT\]", r"\b(urgent|asap)\b", r"inc-\d{5}", r"outage.*bank",
     r"[^@]+@bank\.example$", r"(ab){1,3}"],
)  # fmt: skip
def test_ordinary_patterns_are_accepted(pattern):
    safe_regex.validate_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(a*)*b", r"(a|aa)*c", r"(\w+\s?)*$", r"(.*a){12}", r"(a)\1",
     r"a.*b.*c.*d", r"(", "x" * 301, ""],
)  # fmt: skip
def test_dangerous_or_broken_patterns_are_refused(pattern):
    with pytest.raises(ValidationError):
        safe_regex.validate_pattern(pattern)


def test_a_pattern_only_sees_bounded_input():
    text = "x" * (safe_regex.MAX_INPUT + 10) + "needle"
    assert safe_regex.search("needle", text) is None
    assert safe_regex.search("needle", "a needle") is not None


def test_accepted_patterns_stay_fast_on_hostile_input():
    hostile = ["a" * 100_000, "ab" * 50_000, ("outage " * 20_000)]
    for pattern in (r"outage.*bank$", r"^\[alert\]", r"[^@]+@bank\.example$", r"\binc-\d+"):
        safe_regex.validate_pattern(pattern)
        for text in hostile:
            started = time.perf_counter()
            safe_regex.search(pattern, text)
            assert time.perf_counter() - started < 0.25


def test_a_pattern_broken_in_the_database_matches_nothing():
    assert safe_regex.search("(", "anything") is None
