"""Forms of the agent panel's ticket page and of "new ticket on behalf of a requester".

The forms only parse and validate input; the actions decide and write. A select that was
tampered with (an id that is not offered) gets a plain "Unknown …" message, never a 500.
"""

from django import forms
from django.db.models import Q, QuerySet
from django.urls import reverse

from helpline.accounts.models import Department, Team, User
from helpline.sla.models import SLAPlan
from helpline.tickets import fields as custom_fields
from helpline.tickets.actions import NewAttachment, RouteChanges, assignable_agents
from helpline.tickets.models import HelpTopic, Priority, Source, Status, Ticket
from helpline.tickets.uploads import attachments_from_request, limits_text

DUE_INPUT_FORMAT = "%Y-%m-%dT%H:%M"
BODY_MAX = 100_000


def _unknown(what: str) -> dict:
    return {"invalid_choice": f"Unknown {what}: choose one from the list."}


def _optional_choice(queryset, what: str, empty_label, *, label=None, field=None):
    """An optional model choice whose tampered or stale value reads "unknown <what>"."""
    field = field or forms.ModelChoiceField
    extra = {"label": label} if label else {}
    return field(
        queryset=queryset,
        required=False,
        empty_label=empty_label,
        error_messages=_unknown(what),
        **extra,
    )


def agent_users() -> QuerySet:
    """Users who can be assigned tickets: active agents and administrators."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(agent__is_active=True) | Q(is_superuser=True))
        .distinct()
        .order_by("name", "username")
    )


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files in one input, read into NewAttachments within the help desk's limits."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Attachments")
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> list[NewAttachment]:
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return attachments_from_request(files)


def attachments_help() -> str:
    """The limits, shown under every file input."""
    return limits_text()


class PanelForm(forms.Form):
    """Labels without a trailing colon, as everywhere in the panel."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class VersionedForm(PanelForm):
    """Carries the ticket version the agent saw, so a change made meanwhile is caught."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={
            "required": "This form is incomplete: reload the ticket and try again.",
            "invalid": "This form is damaged: reload the ticket and try again.",
            "min_value": "This form is damaged: reload the ticket and try again.",
        },
    )


def status_choices(can_change: bool, can_close: bool) -> QuerySet:
    """Statuses an agent may pick: open/pending ones with "status", closed ones with "close"."""
    states = []
    if can_change:
        states += ["open", "pending"]
    if can_close:
        states += ["resolved", "closed"]
    return Status.objects.filter(state__in=states)


class ComposeForm(VersionedForm):
    body = forms.CharField(
        label="Message",
        required=False,
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    attachments = AttachmentsField()

    def clean(self):
        data = super().clean()
        empty = not (data.get("body") or "").strip() and not data.get("attachments")
        if empty and "body" not in self.errors and "attachments" not in self.errors:
            self.add_error("body", "Write something (or attach a file) before sending.")
        return data


class ReplyForm(ComposeForm):
    status = _optional_choice(
        Status.objects.none(),
        "status",
        "— keep the status —",
        label="Set status on reply",
    )

    def __init__(self, *args, statuses: QuerySet | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].queryset = statuses if statuses is not None else Status.objects.all()
        self.fields["body"].label = "Reply"


class NoteForm(ComposeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].label = "Internal note"
        self.fields["body"].help_text = "Seen by agents only; never sent to the requester."


class RouteForm(VersionedForm):
    """Department, agent, team, SLA plan, priority and help topic in one form, applied at once.

    A field missing from the POST means "leave as it is": the page renders only the fields the
    agent may change. The agent list offers only agents who can be assigned in the department
    chosen; it is refreshed (htmx, `staff:ticket_route_agents`) when the department changes.
    """

    department = _optional_choice(Department.objects.all(), "department", None)
    assignee = _optional_choice(
        User.objects.none(),
        "agent",
        "— nobody —",
        label="Agent",
        field=AgentChoiceField,
    )
    team = _optional_choice(Team.objects.all(), "team", "— no team —")
    sla_plan = _optional_choice(
        SLAPlan.objects.none(),
        "SLA plan",
        "— no SLA plan —",
        label="SLA plan",
    )
    priority = _optional_choice(Priority.objects.all(), "priority", None)
    help_topic = _optional_choice(
        HelpTopic.objects.none(),
        "help topic",
        "— no help topic —",
        label="Help topic",
    )
    apply_topic_defaults = forms.BooleanField(
        required=False,
        initial=True,
        label="Apply this topic's defaults (SLA plan, priority, department)",
        help_text="When the help topic changes; a value you change here yourself wins.",
    )

    ROUTE_FIELDS = ("department", "assignee", "team", "sla_plan", "priority", "help_topic")

    def __init__(self, *args, ticket: Ticket, department: Department | None = None, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "version": ticket.version,
                "department": ticket.department_id,
                "assignee": ticket.assignee_id,
                "team": ticket.team_id,
                "sla_plan": ticket.sla_plan_id,
                "priority": ticket.priority_id,
                "help_topic": ticket.help_topic_id,
                "apply_topic_defaults": True,
            },
        )
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        # Any agent validates (the action explains who cannot be assigned where); the list
        # offers only those who can be in the department chosen.
        self.fields["assignee"].queryset = agent_users()
        offered = AgentChoiceField(
            queryset=assignable_agents(department or ticket.department),
            required=False,
            empty_label="— nobody —",
        )
        self.fields["assignee"].widget.choices = offered.choices
        self.fields["department"].widget.attrs.update(
            {
                "hx-get": reverse("staff:ticket_route_agents", args=[ticket.number]),
                "hx-trigger": "change",
                "hx-target": "#route_assignee",
                "hx-include": "#route_assignee",
                "hx-swap": "innerHTML",
            }
        )
        # Inactive plans and topics stay selectable only where the ticket already has them.
        self.fields["sla_plan"].queryset = SLAPlan.objects.filter(
            Q(active=True) | Q(pk=ticket.sla_plan_id)
        )
        self.fields["help_topic"].queryset = HelpTopic.objects.filter(
            Q(active=True) | Q(pk=ticket.help_topic_id)
        )

    def submitted(self) -> set[str]:
        """The routing fields present in the POST (the others are left unchanged)."""
        return {name for name in self.ROUTE_FIELDS if name in self.data}

    def changes(self) -> RouteChanges:
        """The submitted fields whose value differs from the ticket's, for `actions.route`."""
        data = self.cleaned_data
        values = {
            name: data.get(name)
            for name in self.submitted()
            if getattr(data.get(name), "pk", None) != getattr(self.ticket, f"{name}_id")
        }
        return RouteChanges.of(
            apply_topic_defaults=bool(data.get("apply_topic_defaults")), **values
        )


class StatusForm(VersionedForm):
    status = forms.ModelChoiceField(
        queryset=Status.objects.none(), error_messages=_unknown("status"), empty_label=None
    )
    reason = forms.CharField(required=False, max_length=500, label="Reason (optional)", strip=True)

    def __init__(self, *args, statuses: QuerySet | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].queryset = statuses if statuses is not None else Status.objects.all()


class DueForm(VersionedForm):
    due_at = forms.DateTimeField(
        required=False,
        label="Due time",
        input_formats=[DUE_INPUT_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DUE_INPUT_FORMAT),
        error_messages={"invalid": "Enter a valid date and time, e.g. 2026-12-01 14:30."},
    )
    reset = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if not data.get("reset") and data.get("due_at") is None and "due_at" not in self.errors:
            self.add_error("due_at", "Enter a due time, or reset it to the SLA plan's.")
        return data


class CollaboratorForm(PanelForm):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={"invalid": "Enter a valid email address."},
    )
    name = forms.CharField(label="Name (if new)", required=False, max_length=150)


class DeleteForm(PanelForm):
    """Deleting is for good: the agent types the ticket number to confirm."""

    confirm = forms.CharField(
        label="Type the ticket number to confirm",
        max_length=40,
        error_messages={"required": "Type the ticket number to confirm."},
    )
    reason = forms.CharField(label="Why (kept in the audit log)", max_length=500, required=False)

    def __init__(self, *args, ticket: Ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket = ticket

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip().lstrip("#").strip()
        if typed != self.ticket.number:
            raise forms.ValidationError(
                f"That is not this ticket's number: type {self.ticket.number} to delete it."
            )
        return typed


class MergeForm(PanelForm):
    into = forms.CharField(label="Merge into ticket number", max_length=40)

    def clean_into(self) -> str:
        return self.cleaned_data["into"].strip().lstrip("#").strip()


# Sources an agent records for a ticket they open on someone's behalf (the API sets its own).
ON_BEHALF_SOURCES = [
    (Source.PHONE, Source.PHONE.label),
    (Source.WALK_IN, Source.WALK_IN.label),
    (Source.EMAIL, Source.EMAIL.label),
    (Source.OTHER, Source.OTHER.label),
    (Source.WEB, Source.WEB.label),
]


class NewTicketForm(PanelForm):
    """A ticket an agent opens for a requester after a phone call, a walk-in or an email."""

    requester_email = forms.EmailField(
        label="Requester's email",
        max_length=254,
        error_messages={
            "invalid": "Enter a valid email address.",
            "required": "Find the requester, or enter a new requester's email address.",
        },
    )
    requester_name = forms.CharField(
        label="Requester's name (if new)", required=False, max_length=150
    )
    source = forms.ChoiceField(choices=ON_BEHALF_SOURCES, initial=Source.PHONE)
    help_topic = _optional_choice(
        HelpTopic.objects.filter(active=True),
        "help topic",
        "— none —",
        label="Help topic",
    )
    department = _optional_choice(
        Department.objects.none(),
        "department",
        "— from the help topic —",
    )
    priority = _optional_choice(Priority.objects.all(), "priority", "— from the help topic —")
    sla_plan = _optional_choice(
        SLAPlan.objects.filter(active=True),
        "SLA plan",
        "— from the help topic —",
        label="SLA plan",
    )
    assignee = _optional_choice(
        User.objects.none(),
        "agent",
        "— nobody —",
        label="Agent",
        field=AgentChoiceField,
    )
    team = _optional_choice(Team.objects.all(), "team", "— no team —")
    subject = forms.CharField(max_length=255)
    body = forms.CharField(
        label="Message",
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What the requester told you, in their words where you can.",
    )
    attachments = AttachmentsField()
    autorespond = forms.BooleanField(
        label="Send the requester an acknowledgement", required=False, initial=True
    )

    def __init__(self, *args, departments: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        self.fields["assignee"].queryset = agent_users()
        self.fields["attachments"].help_text = attachments_help()
        self.names = custom_fields.add_topic_fields(
            self, reverse("staff:new_ticket_fields"), requester_side=False
        )

    @property
    def custom_fields(self) -> list:
        return [self[name] for name in self.names]

    def clean(self):
        data = super().clean()
        topic, department = data.get("help_topic"), data.get("department")
        if department is None and topic is None and not self.errors.get("department"):
            self.add_error("department", "Choose a department or a help topic.")
        elif department is None and topic is not None:
            allowed = self.fields["department"].queryset
            if not allowed.filter(pk=topic.department_id).exists():
                self.add_error(
                    "department",
                    f"You have no access to {topic.department}, the department of "
                    f"“{topic}”: choose one of your departments.",
                )
        return data


class FieldsForm(VersionedForm):
    """The custom fields of the ticket's help topic, agents-only ones included."""

    def __init__(self, *args, ticket: Ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.names = custom_fields.add_to_form(
            self, ticket.help_topic, requester_side=False, values=ticket.custom_fields
        )

    @property
    def custom_fields(self) -> list:
        return [self[name] for name in self.names]
