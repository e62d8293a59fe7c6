"""Custom fields per help topic: which fields a ticket asks for, how values are checked and shown.

One validator serves every channel: the portal and agent forms build their inputs with
`form_field()`, and `clean_values()` — called by the action layer for the forms, the API and
automation alike — checks values with those same form fields, so a value the portal refuses is
refused by the API with the same words. Values are stored on the ticket as JSON-native values:
text, a number as a string (no float rounding), True/False, a date as YYYY-MM-DD.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import escape

from helpline.tickets.access import parse_id
from helpline.tickets.models import FieldKind, HelpTopic, HelpTopicField, Ticket

FORM_PREFIX = "cf_"
TEXT_MAX = 255
TEXTAREA_MAX = 5000


def definitions(topic: HelpTopic | None, *, requester_side: bool) -> list[HelpTopicField]:
    """The topic's fields in form order; requesters get only those they may see."""
    if topic is None:
        return []
    cached = getattr(topic, "_prefetched_objects_cache", {}).get("fields")
    fields = list(cached) if cached is not None else list(topic.fields.all())
    fields.sort(key=lambda f: (f.order, f.pk))
    return [f for f in fields if f.requester_can_see or not requester_side]


def form_field(defn: HelpTopicField, *, required: bool | None = None) -> forms.Field:
    """The Django form field asking for one custom field."""
    common = {
        "label": defn.label,
        # Escaped here: form templates render help texts as HTML (ours carry markup).
        "help_text": escape(defn.help_text),
        "required": defn.required if required is None else required,
        "error_messages": {"required": f"Fill in “{defn.label}”."},
    }
    match defn.kind:
        case FieldKind.TEXTAREA:
            return forms.CharField(
                max_length=TEXTAREA_MAX, widget=forms.Textarea(attrs={"rows": 3}), **common
            )
        case FieldKind.NUMBER:
            return forms.DecimalField(max_digits=18, decimal_places=6, **common)
        case FieldKind.CHOICE:
            options = [("", "—"), *((c, c) for c in defn.choice_list())]
            label = defn.label.replace("%", "%%")  # The message is %-formatted.
            common["error_messages"]["invalid_choice"] = (
                f"“%(value)s” is not one of the options for “{label}”."
            )
            return forms.ChoiceField(choices=options, **common)
        case FieldKind.CHECKBOX:
            common["required"] = False  # A required checkbox would mean "must be ticked": no.
            return forms.BooleanField(**common)
        case FieldKind.DATE:
            return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        case FieldKind.EMAIL:
            return forms.EmailField(max_length=254, **common)
        case _:
            return forms.CharField(max_length=TEXT_MAX, **common)


def add_to_form(
    form: forms.Form,
    topic: HelpTopic | None,
    *,
    requester_side: bool,
    values: Mapping | None = None,
) -> list[str]:
    """Add the topic's fields to a form (named cf_<name>); returns the names added."""
    names = []
    for defn in definitions(topic, requester_side=requester_side):
        key = FORM_PREFIX + defn.name
        form.fields[key] = form_field(defn)
        if values and defn.name in values:
            form.initial[key] = values[defn.name]
        names.append(key)
    return names


def chosen_topic(form: forms.Form, field: str = "help_topic") -> HelpTopic | None:
    """The help topic picked on a form (posted, or preselected), before validation: its custom
    fields join the form. Anything not offered by the form's own choice field counts as none."""
    raw = form.data.get(field) if form.is_bound else form.initial.get(field)
    pk = parse_id(str(getattr(raw, "pk", raw) or ""))
    if pk is None:
        return None
    topics = form.fields[field].queryset.prefetch_related("fields")
    return topics.filter(pk=pk).first()


def add_topic_fields(form: forms.Form, url: str, *, requester_side: bool) -> list[str]:
    """Add the chosen topic's fields to a new-ticket form; choosing another topic fetches its
    fields in place (htmx, from `url`); without JavaScript they appear when the form returns."""
    form.fields["help_topic"].widget.attrs.update(
        {"hx-get": url, "hx-target": "#topic-fields", "hx-swap": "outerHTML"}
    )
    return add_to_form(form, chosen_topic(form), requester_side=requester_side)


def from_form(cleaned_data: Mapping) -> dict:
    """The custom field values of a valid form, keyed by field name."""
    return {
        key.removeprefix(FORM_PREFIX): value
        for key, value in cleaned_data.items()
        if key.startswith(FORM_PREFIX)
    }


TICKED = {"true", "on", "yes", "1"}
UNTICKED = {"false", "off", "no", "0"}


def _stored(defn: HelpTopicField, value):
    """A cleaned form value as stored JSON; None when empty (an unticked box is no value, so
    saving an untouched form changes nothing)."""
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _checkbox(raw) -> bool:
    """A ticked/unticked value from a form or JSON; anything else is refused, never guessed."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TICKED:
        return True
    if text in UNTICKED:
        return False
    raise ValidationError("Use true or false.")


def _clean_one(defn: HelpTopicField, raw):
    """One value as stored, or None to clear it; ValidationError with the field's label."""
    if isinstance(raw, list | dict):
        raise ValidationError(f"“{defn.label}” takes a single value.")
    if isinstance(raw, str):
        raw = raw.replace("\x00", "").strip()
    if raw is None or raw == "":
        return None
    if defn.kind == FieldKind.CHECKBOX:
        return _stored(defn, _checkbox(raw))
    if isinstance(raw, bool | int | float):
        # Form fields expect text: a JSON number or true/false is read as what it spells.
        raw = str(raw).lower() if isinstance(raw, bool) else str(raw)
    try:
        return _stored(defn, form_field(defn, required=False).clean(raw))
    except ValidationError as exc:
        raise ValidationError([f"{defn.label}: {m}" for m in exc.messages])


def clean_values(
    topic: HelpTopic | None,
    values: Mapping,
    *,
    requester_side: bool,
    partial: bool = False,
) -> dict:
    """Check values against the topic's fields; return them as stored (None: clear the value).

    Unknown names, and agents-only fields sent by a requester, are refused rather than dropped,
    so nothing typed vanishes silently. Required fields must have a value: all of them, or
    with `partial` those being changed (a required value can be changed, not cleared).
    Errors are raised as one ValidationError keyed "fields.<name>".
    """
    by_name = {d.name: d for d in definitions(topic, requester_side=requester_side)}
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    for name, raw in values.items():
        defn = by_name.get(name)
        if defn is None:
            where = f"the help topic “{topic}”" if topic else "a ticket without a help topic"
            errors[f"fields.{name}"] = [f"There is no field “{name}” on {where}."]
            continue
        try:
            cleaned[name] = _clean_one(defn, raw)
        except ValidationError as exc:
            errors[f"fields.{name}"] = exc.messages
    required = [d for d in by_name.values() if d.required and d.kind != FieldKind.CHECKBOX]
    for defn in required:
        missing = cleaned.get(defn.name) is None
        asked = defn.name in values or not partial
        if missing and asked and f"fields.{defn.name}" not in errors:
            errors[f"fields.{defn.name}"] = [f"Fill in “{defn.label}”."]
    if errors:
        raise ValidationError(errors)
    return cleaned


@dataclass(frozen=True)
class Shown:
    """One field as shown on a ticket page."""

    name: str
    label: str
    value: str
    agents_only: bool


def _text(defn: HelpTopicField, value) -> str:
    if defn.kind == FieldKind.CHECKBOX:
        return "Yes" if value else "No"
    return str(value)


def shown(ticket: Ticket, *, requester_side: bool) -> list[Shown]:
    """The ticket's field values in form order (fields of its help topic that have a value)."""
    values = ticket.custom_fields or {}
    result = []
    for defn in definitions(ticket.help_topic, requester_side=requester_side):
        if values.get(defn.name) in (None, ""):
            continue
        text = _text(defn, values[defn.name])
        result.append(Shown(defn.name, defn.label, text, not defn.requester_can_see))
    return result


def changed(before: Mapping, after: Mapping, names: Iterable[str]) -> tuple[dict, dict]:
    """The values that differ between two field dicts, as (before, after) for an event."""
    old, new = {}, {}
    for name in names:
        if before.get(name) != after.get(name):
            old[name], new[name] = before.get(name), after.get(name)
    return old, new
