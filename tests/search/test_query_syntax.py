"""The search box's language, parsed without a database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpline.search.query import MAX_TERMS, Term, parse


def test_words_phrases_exclusions_and_prefixes():
    parsed = parse('printer "blue screen" -vpn print* -"out of office"')
    assert parsed.words == [
        Term("printer"),
        Term("blue screen", phrase=True),
        Term("print", prefix=True),
    ]
    assert parsed.excluded == [Term("vpn"), Term("out of office", phrase=True)]
    assert parsed.filters == []


def test_field_filters_with_quotes_and_negation():
    parsed = parse('status:open assignee:me dept:"Online Banking" -priority:low')
    assert parsed.words == [] and parsed.excluded == []
    assert parsed.filters == [
        ("status", "open", False),
        ("assignee", "me", False),
        ("department", "Online Banking", False),
        ("priority", "low", True),
    ]


def test_unknown_fields_are_words_and_punctuation_makes_a_phrase():
    parsed = parse("error:404 karen@example.com #HL-00012")
    assert parsed.words == [
        Term("error:404", phrase=True),
        Term("karen@example.com", phrase=True),
        Term("HL-00012", phrase=True),
    ]


@pytest.mark.parametrize("text", ["", "   ", '"', '""', "-", "- * #", '"@@@"', "_"])
def test_text_without_letters_or_digits_is_nothing(text):
    assert not parse(text)


def test_a_stray_quote_closes_at_the_end():
    assert parse('"blue screen').words == [Term("blue screen", phrase=True)]


def test_the_number_of_terms_is_bounded():
    assert len(parse(" ".join(f"w{i}" for i in range(100))).words) == MAX_TERMS


@given(st.text(max_size=300))
def test_parsing_never_fails(text):
    parsed = parse(text)
    for term in parsed.words + parsed.excluded:
        assert any(ch.isalnum() for ch in term.text)
