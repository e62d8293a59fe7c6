"""Human ticket numbers: random digits or a prefixed sequence, unique, never the database id."""

import re

import pytest
from django.core.exceptions import ValidationError

from helpline.tickets import actions, numbering
from helpline.tickets.models import HelpdeskConfig, NumberFormat, Ticket


def configure(number_format: str, prefix: str = "", digits: int = 6) -> HelpdeskConfig:
    config = HelpdeskConfig.load()
    config.number_format, config.number_prefix, config.number_digits = (
        number_format,
        prefix,
        digits,
    )
    config.full_clean()
    config.save()
    return config


def open_one(user, subject: str = "Monitor flickers") -> Ticket:
    return actions.open_ticket(
        user,
        requester=user,
        subject=subject,
        body="Every few seconds.",
        autorespond=False,
        alert=False,
    )


@pytest.mark.parametrize(
    ("prefix", "digits", "pattern"),
    [("", 6, r"[1-9]\d{5}"), ("T-", 8, r"T-[1-9]\d{7}"), ("", 4, r"[1-9]\d{3}")],
    ids=["default", "prefixed-8", "short-4"],
)
def test_random_numbers_respect_format_and_are_unique(karen, prefix, digits, pattern):
    configure(NumberFormat.RANDOM, prefix, digits)
    tickets = [open_one(karen, f"Ticket {i}") for i in range(25)]
    numbers = [t.number for t in tickets]
    assert len(set(numbers)) == len(numbers)
    for t in tickets:
        assert re.fullmatch(pattern, t.number), t.number
        assert t.number != str(t.pk) and t.number.removeprefix(prefix) != str(t.pk)
    assert set(Ticket.objects.values_list("number", flat=True)) == set(numbers)


def test_sequence_numbers_count_up_with_prefix_and_padding(karen):
    configure(NumberFormat.SEQUENCE, "HL-", 6)
    numbers = [open_one(karen, f"Ticket {i}").number for i in range(3)]
    assert numbers == ["HL-000001", "HL-000002", "HL-000003"]


def test_a_random_collision_is_drawn_again(karen, monkeypatch):
    configure(NumberFormat.RANDOM, "", 6)
    taken = open_one(karen).number
    unused = "654321" if taken != "654321" else "654322"
    # randbelow(900000) + 100000 is the six-digit number: first the taken one, then a free one.
    draws = iter([int(taken) - 100000, int(unused) - 100000])
    calls = []

    def randbelow(upper: int) -> int:
        calls.append(upper)
        return next(draws)

    monkeypatch.setattr(numbering.secrets, "randbelow", randbelow)
    second = open_one(karen)
    assert second.number == unused and calls == [900000, 900000]


def test_a_number_taken_between_check_and_insert_is_retried(karen, monkeypatch):
    """The unique index is the last word: a collision at insert time draws a new number."""
    configure(NumberFormat.RANDOM, "", 6)
    taken = open_one(karen).number
    real = numbering.next_number
    handed_out = []

    def racing_next_number(config=None):
        number = taken if not handed_out else real(config)
        handed_out.append(number)
        return number

    monkeypatch.setattr(actions, "next_number", racing_next_number)
    second = open_one(karen, "Second")
    assert handed_out[0] == taken and second.number == handed_out[1] != taken
    assert Ticket.objects.count() == 2


def test_an_exhausted_number_space_says_so(karen, monkeypatch):
    configure(NumberFormat.RANDOM, "", 4)
    taken = open_one(karen).number
    monkeypatch.setattr(numbering.secrets, "randbelow", lambda upper: int(taken) - 1000)
    with pytest.raises(RuntimeError, match="digits"):
        numbering.next_number()


def test_sequence_skips_a_number_already_in_use(karen):
    configure(NumberFormat.RANDOM, "HL-", 6)
    imported = open_one(karen)
    Ticket.objects.filter(pk=imported.pk).update(number="HL-000001")  # e.g. a migrated ticket
    configure(NumberFormat.SEQUENCE, "HL-", 6)
    assert open_one(karen).number == "HL-000002"


@pytest.mark.parametrize("digits", [3, 13])
def test_number_digits_outside_4_to_12_are_refused(demo, digits):
    config = HelpdeskConfig.load()
    config.number_digits = digits
    with pytest.raises(ValidationError) as caught:
        config.full_clean()
    assert "number_digits" in caught.value.message_dict
