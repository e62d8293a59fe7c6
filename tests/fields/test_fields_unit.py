"""fields.py on its own: which fields a topic asks for, how each kind's values are checked and
stored, what is refused, and what a ticket page shows."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from helpline.tickets import fields as custom_fields
from helpline.tickets.fields import clean_values
from helpline.tickets.models import FieldKind, HelpTopic, HelpTopicField, Ticket
from tests.fields.conftest import LAB_FIELDS

pytestmark = pytest.mark.django_db


def errors_of(exc: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return exc.value.message_dict


def clean(topic, values, *, requester_side=False, partial=True):
    """Agents' partial clean: the shape set_fields uses; most kind tests need nothing else."""
    return clean_values(topic, values, requester_side=requester_side, partial=partial)


# ---------------------------------------------------------------------------------------------
# Which fields


def test_definitions_follow_the_order_and_hide_agents_only_fields_from_requesters(lab, hardware):
    names = [name for name, *_ in LAB_FIELDS]
    assert [f.name for f in custom_fields.definitions(lab, requester_side=False)] == names
    requester = [f.name for f in custom_fields.definitions(lab, requester_side=True)]
    assert requester == [n for n in names if n != "budget_code"]
    assert [f.name for f in custom_fields.definitions(hardware, requester_side=True)] == [
        "asset_tag",
        "device",
    ]
    assert custom_fields.definitions(None, requester_side=False) == []


def test_definitions_sort_by_order_then_creation_whatever_the_cache_order(org):
    topic = HelpTopic.objects.create(name="Ordered", department=org.dept("Support"))
    late = HelpTopicField.objects.create(help_topic=topic, name="late", label="Late", order=5)
    first = HelpTopicField.objects.create(help_topic=topic, name="first", label="First", order=1)
    second = HelpTopicField.objects.create(help_topic=topic, name="second", label="Second", order=1)
    assert custom_fields.definitions(topic, requester_side=True) == [first, second, late]
    topic._prefetched_objects_cache = {"fields": [late, second, first]}
    assert custom_fields.definitions(topic, requester_side=True) == [first, second, late]


def test_choice_list_skips_blank_lines_and_trims_options(lab):
    colour = lab.fields.get(name="colour")
    assert colour.choice_list() == ["Red", "Green", "Blue"]


def test_a_choice_field_without_options_is_refused_by_model_validation(hardware):
    field = HelpTopicField(help_topic=hardware, name="empty", label="Empty", kind="choice")
    with pytest.raises(ValidationError) as exc:
        field.full_clean()
    assert "choices" in exc.value.message_dict


def test_a_field_name_is_unique_per_topic_only(hardware, lab):
    from django.db import IntegrityError, transaction

    HelpTopicField.objects.create(help_topic=lab, name="asset_tag", label="Also here")
    with pytest.raises(IntegrityError), transaction.atomic():
        HelpTopicField.objects.create(help_topic=hardware, name="asset_tag", label="Twice")


# ---------------------------------------------------------------------------------------------
# Each kind: valid values and what is stored


@pytest.mark.parametrize(
    ("name", "raw", "stored"),
    [
        ("serial", "  SN-42  ", "SN-42"),
        ("serial", "x" * custom_fields.TEXT_MAX, "x" * custom_fields.TEXT_MAX),
        ("serial", 42, "42"),
        ("serial", True, "true"),
        ("notes", "line one\nline two", "line one\nline two"),
        ("notes", "y" * custom_fields.TEXTAREA_MAX, "y" * custom_fields.TEXTAREA_MAX),
        ("quantity", "12", "12"),
        ("quantity", "12.50", "12.5"),
        ("quantity", "-3", "-3"),
        ("quantity", "1e3", "1000"),
        ("quantity", "0.000001", "0.000001"),
        ("quantity", "123456789012.123456", "123456789012.123456"),
        ("quantity", 7, "7"),
        ("quantity", 2.5, "2.5"),
        ("quantity", Decimal("100.00"), "100"),
        ("colour", "Green", "Green"),
        ("colour", "  Blue ", "Blue"),
        ("urgent", True, True),
        ("urgent", False, None),
        ("urgent", "on", True),
        ("urgent", "false", None),
        ("urgent", "0", None),
        ("urgent", 1, True),
        ("urgent", 0, None),
        ("needed_by", "2026-03-01", "2026-03-01"),
        ("needed_by", " 2026-12-31 ", "2026-12-31"),
        ("needed_by", date(2026, 2, 28), "2026-02-28"),
        ("contact", " karen@example.com ", "karen@example.com"),
        ("budget_code", "BC-7", "BC-7"),
    ],
)
def test_valid_values_are_stored_json_native(lab, name, raw, stored):
    cleaned = clean(lab, {name: raw})
    assert cleaned == {name: stored}
    assert type(cleaned[name]) is type(stored)
    assert json.loads(json.dumps(cleaned)) == cleaned


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("serial", "x" * (custom_fields.TEXT_MAX + 1), "at most 255 characters"),
        ("notes", "y" * (custom_fields.TEXTAREA_MAX + 1), "at most 5000 characters"),
        ("quantity", "twelve", "Enter a number."),
        ("quantity", "1.1234567", "no more than 6 decimal places"),
        ("quantity", "1" * 19, "no more than 18 digits"),
        ("quantity", "NaN", "Enter a number."),
        ("quantity", "Infinity", "Enter a number."),
        ("quantity", float("inf"), "Enter a number."),
        ("quantity", True, "Enter a number."),
        ("colour", "Purple", "“Purple” is not one of the options for “Colour”."),
        ("colour", "green", "is not one of the options"),
        ("colour", 1, "is not one of the options"),
        ("needed_by", "2026-02-30", "Enter a valid date."),
        ("needed_by", "tomorrow", "Enter a valid date."),
        ("needed_by", True, "Enter a valid date."),
        ("contact", "not-an-email", "Enter a valid email address."),
        ("contact", "a@b", "Enter a valid email address."),
    ],
)
def test_invalid_values_are_refused_with_the_label_and_the_reason(lab, name, raw, message):
    with pytest.raises(ValidationError) as exc:
        clean(lab, {name: raw})
    errors = errors_of(exc)
    assert list(errors) == [f"fields.{name}"]
    label = next(label for n, label, *_ in LAB_FIELDS if n == name)
    assert errors[f"fields.{name}"][0].startswith(f"{label}: ")
    assert message in errors[f"fields.{name}"][0]


@pytest.mark.parametrize("name", ["notes", "quantity", "colour", "needed_by", "contact"])
@pytest.mark.parametrize("empty", [None, "", "   ", "\x00"])
def test_empty_values_clear(lab, name, empty):
    assert clean(lab, {name: empty}) == {name: None}


@pytest.mark.parametrize("empty", [None, "", "   ", "\x00"])
def test_a_required_value_cannot_be_emptied(lab, empty):
    with pytest.raises(ValidationError) as exc:
        clean(lab, {"serial": empty})
    assert list(errors_of(exc)) == ["fields.serial"]


def test_nul_bytes_are_removed_from_text(lab):
    cleaned = clean(lab, {"serial": "SN\x00-42\x00", "notes": "a\x00b", "colour": "Re\x00d"})
    assert cleaned == {"serial": "SN-42", "notes": "ab", "colour": "Red"}
    assert not any("\x00" in value for value in cleaned.values())


@pytest.mark.parametrize("raw", [["Red"], {"value": "Red"}, [], {}])
@pytest.mark.parametrize("name", ["serial", "colour", "urgent", "quantity"])
def test_lists_and_dicts_are_refused(lab, name, raw):
    with pytest.raises(ValidationError) as exc:
        clean(lab, {name: raw})
    assert errors_of(exc)[f"fields.{name}"] == [
        f"“{next(label for n, label, *_ in LAB_FIELDS if n == name)}” takes a single value."
    ]


# ---------------------------------------------------------------------------------------------
# Who may set what; required fields


def test_an_unknown_field_is_refused_not_dropped(lab):
    with pytest.raises(ValidationError) as exc:
        clean(lab, {"serial": "SN-1", "colour_code": "Red"})
    assert errors_of(exc) == {
        "fields.colour_code": ["There is no field “colour_code” on the help topic “Lab equipment”."]
    }


def test_fields_on_a_ticket_without_topic_are_refused(demo):
    with pytest.raises(ValidationError) as exc:
        clean(None, {"asset_tag": "x"})
    assert errors_of(exc) == {
        "fields.asset_tag": ["There is no field “asset_tag” on a ticket without a help topic."]
    }
    assert clean(None, {}) == {}


def test_a_requester_cannot_set_an_agents_only_field(lab, hardware):
    with pytest.raises(ValidationError) as exc:
        clean(hardware, {"asset_tag": "HL-1", "approved": True}, requester_side=True)
    assert list(errors_of(exc)) == ["fields.approved"]
    # The same value from an agent is fine.
    assert clean(hardware, {"approved": True}) == {"approved": True}
    assert clean(lab, {"budget_code": "B"}) == {"budget_code": "B"}
    with pytest.raises(ValidationError):
        clean(lab, {"budget_code": "B"}, requester_side=True)


def test_required_fields_are_enforced_unless_partial(lab):
    for values in ({}, {"serial": ""}, {"serial": "  "}, {"serial": None}, {"notes": "n"}):
        with pytest.raises(ValidationError) as exc:
            clean(lab, values, partial=False)
        assert errors_of(exc)["fields.serial"] == ["Fill in “Serial number”."]
    assert clean(lab, {"notes": "n"}, partial=True) == {"notes": "n"}
    assert clean(lab, {"serial": "SN-9"}, partial=False) == {"serial": "SN-9"}


def test_all_errors_come_together_one_per_field(lab):
    with pytest.raises(ValidationError) as exc:
        clean(lab, {"quantity": "x", "colour": "Pink", "ghost": 1}, partial=False)
    assert set(errors_of(exc)) == {
        "fields.quantity",
        "fields.colour",
        "fields.ghost",
        "fields.serial",
    }
    assert all(len(messages) == 1 for messages in errors_of(exc).values())


def test_a_partial_clean_still_refuses_clearing_a_required_field(lab):
    with pytest.raises(ValidationError) as exc:
        clean(lab, {"serial": None}, partial=True)
    assert "fields.serial" in errors_of(exc)


@pytest.mark.parametrize("raw", ["no", "off", "nope"])
def test_a_checkbox_does_not_read_no_as_ticked(lab, raw):
    try:
        cleaned = clean(lab, {"urgent": raw})
    except ValidationError:
        return  # Refusing it is fine too.
    assert cleaned == {"urgent": None}  # Unticked: no value.


def test_a_checkbox_cleared_with_none_has_no_value(lab):
    assert clean(lab, {"urgent": None}) == {"urgent": None}


@pytest.mark.parametrize("raw", [20260301, 0, 1.5])
def test_a_number_for_a_date_field_is_a_validation_error(lab, raw):
    with pytest.raises(ValidationError):
        clean(lab, {"needed_by": raw})


def test_a_percent_sign_in_a_choice_label_does_not_break_the_error(org):
    topic = HelpTopic.objects.create(name="Discounts", department=org.dept("Support"))
    HelpTopicField.objects.create(
        help_topic=topic, name="rate", label="Discount %", kind="choice", choices="5\n10"
    )
    with pytest.raises(ValidationError) as exc:
        clean(topic, {"rate": "50"})
    assert "Discount %" in errors_of(exc)["fields.rate"][0]


# ---------------------------------------------------------------------------------------------
# Property: whatever comes in, a JSON-serialisable dict or a ValidationError


def _memory_topic() -> HelpTopic:
    """The lab topic without the database: its fields sit in the prefetch cache."""
    topic = HelpTopic(name="Lab equipment")
    defs = []
    for pk, (name, label, kind, extra) in enumerate(LAB_FIELDS, start=1):
        defn = HelpTopicField(help_topic=topic, name=name, label=label, kind=kind, **extra)
        defn.pk = pk
        defs.append(defn)
    topic._prefetched_objects_cache = {"fields": defs}
    return topic


SCALARS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="0123456789.-+eE ", max_size=30),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.dates().map(str),
)
KIND_FIELD = {
    FieldKind.TEXT: "serial",
    FieldKind.TEXTAREA: "notes",
    FieldKind.NUMBER: "quantity",
    FieldKind.CHOICE: "colour",
    FieldKind.CHECKBOX: "urgent",
    FieldKind.DATE: "needed_by",
    FieldKind.EMAIL: "contact",
}


def _stored_type_ok(kind: str, value) -> bool:
    if value is None:
        return True
    return isinstance(value, bool) if kind == FieldKind.CHECKBOX else isinstance(value, str)


@pytest.mark.parametrize("kind", FieldKind.values)
@settings(max_examples=150, deadline=None)
@given(raw=SCALARS, requester_side=st.booleans(), partial=st.booleans())
def test_any_scalar_is_stored_as_json_or_refused(kind, raw, requester_side, partial):
    topic, name = _memory_topic(), KIND_FIELD[kind]
    try:
        cleaned = clean_values(topic, {name: raw}, requester_side=requester_side, partial=partial)
    except ValidationError as exc:
        assert exc.message_dict and all(k.startswith("fields.") for k in exc.message_dict)
        return
    assert set(cleaned) == {name}
    assert json.loads(json.dumps(cleaned, allow_nan=False)) == cleaned
    assert _stored_type_ok(kind, cleaned[name])
    assert "\x00" not in str(cleaned[name])


@settings(max_examples=150, deadline=None)
@given(raw=st.one_of(st.text(max_size=40), st.dates().map(str), st.booleans(), st.none()))
def test_any_text_for_a_date_is_an_iso_date_or_refused(raw):
    """Any text for a date is stored as an ISO date or refused."""
    try:
        cleaned = clean(_memory_topic(), {"needed_by": raw}, requester_side=True)
    except ValidationError as exc:
        assert list(exc.message_dict) == ["fields.needed_by"]
        return
    value = cleaned["needed_by"]
    assert value is None or date.fromisoformat(value).isoformat() == value


@settings(max_examples=150, deadline=None)
@given(
    values=st.dictionaries(
        st.sampled_from([n for n, *_ in LAB_FIELDS if n != "needed_by"] + ["ghost", ""]),
        st.one_of(SCALARS, st.lists(st.integers(), max_size=2)),
        max_size=6,
    ),
    requester_side=st.booleans(),
    partial=st.booleans(),
)
def test_any_mix_of_fields_is_stored_as_json_or_refused(values, requester_side, partial):
    try:
        cleaned = clean_values(
            _memory_topic(), values, requester_side=requester_side, partial=partial
        )
    except ValidationError as exc:
        assert all(key.startswith("fields.") for key in exc.message_dict)
        return
    assert set(cleaned) == set(values)
    json.dumps(cleaned, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Forms and display


def test_form_fields_match_the_kinds(lab):
    form = forms.Form()
    names = custom_fields.add_to_form(
        form, lab, requester_side=False, values={"serial": "SN-1", "urgent": True}
    )
    assert names == [f"cf_{name}" for name, *_ in LAB_FIELDS]
    kinds = {name: type(form.fields[name]) for name in names}
    assert kinds == {
        "cf_serial": forms.CharField,
        "cf_notes": forms.CharField,
        "cf_quantity": forms.DecimalField,
        "cf_colour": forms.ChoiceField,
        "cf_urgent": forms.BooleanField,
        "cf_needed_by": forms.DateField,
        "cf_contact": forms.EmailField,
        "cf_budget_code": forms.CharField,
    }
    assert form.fields["cf_serial"].required and not form.fields["cf_notes"].required
    assert form.fields["cf_colour"].choices == [
        ("", "—"),
        ("Red", "Red"),
        ("Green", "Green"),
        ("Blue", "Blue"),
    ]
    assert form.initial == {"cf_serial": "SN-1", "cf_urgent": True}


def test_a_required_checkbox_does_not_have_to_be_ticked(lab):
    lab.fields.filter(name="urgent").update(required=True)
    defn = lab.fields.get(name="urgent")
    assert custom_fields.form_field(defn).required is False


def test_help_text_is_escaped_for_the_form_templates(hardware):
    defn = HelpTopicField(help_topic=hardware, name="x", label="X", help_text="<b>bold</b>")
    assert custom_fields.form_field(defn).help_text == "&lt;b&gt;bold&lt;/b&gt;"


def test_from_form_keeps_only_custom_fields():
    data = {"subject": "S", "cf_asset_tag": "HL-1", "cf_approved": False, "help_topic": None}
    assert custom_fields.from_form(data) == {"asset_tag": "HL-1", "approved": False}


def test_shown_lists_values_in_form_order_with_yes_no_and_hides_agents_only(hardware):
    ticket = Ticket(help_topic=hardware)
    ticket.custom_fields = {"approved": True, "device": "Laptop", "asset_tag": "", "old": "x"}
    agents = custom_fields.shown(ticket, requester_side=False)
    assert [(s.name, s.label, s.value, s.agents_only) for s in agents] == [
        ("device", "Device", "Laptop", False),
        ("approved", "Replacement approved", "Yes", True),
    ]
    assert [s.name for s in custom_fields.shown(ticket, requester_side=True)] == ["device"]
    ticket.custom_fields = {"approved": False}
    assert [s.value for s in custom_fields.shown(ticket, requester_side=False)] == ["No"]
    assert custom_fields.shown(Ticket(custom_fields={"x": 1}), requester_side=False) == []


def test_changed_reports_only_differences():
    before = {"a": 1, "b": "x", "c": True}
    after = {"a": 1, "b": "y", "d": "new"}
    assert custom_fields.changed(before, after, ["a", "b", "c", "d"]) == (
        {"b": "x", "c": True, "d": None},
        {"b": "y", "c": None, "d": "new"},
    )
    assert custom_fields.changed(before, after, ["a"]) == ({}, {})


class _TopicForm(forms.Form):
    help_topic = forms.ModelChoiceField(queryset=HelpTopic.objects.filter(public=True))


@pytest.mark.parametrize("raw", ["", "abc", "-1", "１", "12345678901", None])
def test_chosen_topic_ignores_anything_but_an_offered_id(hardware, raw):
    assert custom_fields.chosen_topic(_TopicForm({"help_topic": raw})) is None
    assert custom_fields.chosen_topic(_TopicForm({"help_topic": str(hardware.pk)})) == hardware
    assert custom_fields.chosen_topic(_TopicForm(initial={"help_topic": hardware})) == hardware


def test_chosen_topic_ignores_a_topic_the_form_does_not_offer(hardware):
    HelpTopic.objects.filter(pk=hardware.pk).update(public=False)
    assert custom_fields.chosen_topic(_TopicForm({"help_topic": str(hardware.pk)})) is None
