"""Forms of the agent panel's queues: filters, saving a search, bulk actions."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from helpline.accounts.models import Agent, Department, Team
from helpline.tickets import queues
from helpline.tickets.access import parse_id
from helpline.tickets.models import HelpTopic, Priority, Source, State, Status

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


def _agent_choices() -> list[tuple[str, str]]:
    agents = Agent.objects.filter(is_active=True).select_related("user")
    return [
        ("", "Anyone"),
        ("me", "Me"),
        ("nobody", "Nobody (no agent)"),
        *[(str(a.user_id), a.user.display_name) for a in agents],
    ]


class QueueFilterForm(forms.Form):
    """Filters on a queue, read from the query string; invalid fields are reported and ignored."""

    text = forms.CharField(
        label="Text", required=False, max_length=200,
        help_text="Subject, ticket number or requester email contains.",
    )  # fmt: skip
    department = forms.ModelChoiceField(
        Department.objects.all(), required=False, empty_label="Any department"
    )
    team = forms.ModelChoiceField(Team.objects.all(), required=False, empty_label="Any team")
    # Choices are read when the form renders or validates, not at import.
    assignee = forms.ChoiceField(label="Agent", required=False, choices=_agent_choices)
    status = forms.ModelChoiceField(Status.objects.all(), required=False, empty_label="Any status")
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *State.choices])
    priority = forms.ModelChoiceField(
        Priority.objects.all(), required=False, empty_label="Any priority"
    )
    help_topic = forms.ModelChoiceField(
        HelpTopic.objects.all(), required=False, empty_label="Any help topic"
    )
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *Source.choices])
    due = forms.ChoiceField(label="Due", required=False, choices=[("", "Any"), *queues.DUE_CHOICES])
    resolution = forms.ChoiceField(
        required=False, choices=[("", "Any"), *queues.RESOLUTION_CHOICES]
    )
    created_from = forms.DateField(label="Created from", required=False, widget=DATE_INPUT)
    created_to = forms.DateField(label="Created to", required=False, widget=DATE_INPUT)
    updated_from = forms.DateField(label="Updated from", required=False, widget=DATE_INPUT)
    updated_to = forms.DateField(label="Updated to", required=False, widget=DATE_INPUT)
    resolved_from = forms.DateField(label="Resolved from", required=False, widget=DATE_INPUT)
    resolved_to = forms.DateField(label="Resolved to", required=False, widget=DATE_INPUT)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for field in ("created", "updated", "resolved"):
            start, end = data.get(f"{field}_from"), data.get(f"{field}_to")
            if start and end and start > end:
                self.add_error(f"{field}_to", "The end date is before the start date.")
        assignee = data.get("assignee")
        if assignee and assignee not in ("me", "nobody"):
            data["assignee"] = parse_id(assignee)
        return data

    def clean_filters(self) -> dict[str, Any]:
        """The valid fields as clean queue filters (ids, strings, dates); call after is_valid()."""
        data = getattr(self, "cleaned_data", {})
        clean = {}
        for key in queues.FILTER_KEYS:
            value = data.get(key)
            if value in (None, ""):
                continue
            clean[key] = value.pk if hasattr(value, "pk") else value
        return clean

    def error_summary(self) -> str:
        """The errors in one sentence, for a message above the table."""
        parts = []
        for name, errors in self.errors.items():
            label = self.fields[name].label or name.replace("_", " ").capitalize()
            parts.append(f"{label}: {' '.join(errors)}")
        return "Ignored invalid filters — " + "; ".join(parts)

    def has_filters(self) -> bool:
        return any(key in self.data for key in queues.FILTER_KEYS)


class SaveSearchForm(forms.Form):
    """Name the current filters and sort to keep them as a queue in the sidebar."""

    name = forms.CharField(label="Name", max_length=80, strip=True)


def _assign_choices() -> list[tuple[str, list[tuple[str, str]]] | tuple[str, str]]:
    agents = Agent.objects.filter(is_active=True).select_related("user")
    return [
        ("", "Choose an agent or team"),
        ("Agents", [(f"agent:{a.user_id}", a.user.display_name) for a in agents]),
        ("Teams", [(f"team:{t.pk}", t.name) for t in Team.objects.all()]),
    ]


class BulkActionForm(forms.Form):
    """One change applied to several selected tickets, ticket by ticket."""

    ACTIONS = [("assign", "Assign"), ("transfer", "Transfer"), ("status", "Set status")]

    ticket = forms.TypedMultipleChoiceField(coerce=int, required=False)
    action = forms.ChoiceField(choices=ACTIONS)
    assign_to = forms.ChoiceField(label="Assign to", required=False, choices=_assign_choices)
    department = forms.ModelChoiceField(
        Department.objects.all(), required=False, empty_label="Choose a department"
    )
    status = forms.ModelChoiceField(
        Status.objects.all(), required=False, empty_label="Choose a status"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One query for the choices, however often the widget iterates them.
        self.fields["assign_to"].choices = _assign_choices()
        # Any id is acceptable here; visibility is decided per ticket by the access layer.
        self.fields["ticket"].valid_value = lambda value: True

    def clean_ticket(self) -> list[int]:
        ids = self.cleaned_data.get("ticket") or []
        if not ids:
            raise ValidationError("Select at least one ticket first.")
        if len(ids) > 500:
            raise ValidationError("Select at most 500 tickets at a time.")
        if any(i <= 0 or i >= 2**63 for i in ids):
            raise ValidationError("Unknown ticket selected.")
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == "assign":
            data["agent"] = data["team"] = None
            kind, _, pk = (data.get("assign_to") or "").partition(":")
            pk = parse_id(pk)
            if kind == "agent" and pk is not None:
                agent = Agent.objects.filter(user_id=pk, is_active=True).select_related("user")
                found = agent.first()
                data["agent"] = found.user if found else None
            elif kind == "team" and pk is not None:
                data["team"] = Team.objects.filter(pk=pk).first()
            if data["agent"] is None and data["team"] is None:
                self.add_error("assign_to", "Choose an agent or a team to assign to.")
        elif action == "transfer" and not data.get("department"):
            self.add_error("department", "Choose the department to transfer to.")
        elif action == "status" and not data.get("status"):
            self.add_error("status", "Choose the status to set.")
        return data
