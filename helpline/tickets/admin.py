"""Admin panel for ticket configuration, plus read-only views of tickets, events and the outbox.

Tickets change only through helpline.tickets.actions (which check access, record an event and
notify), so the admin shows tickets, events and notifications but never adds, edits or deletes
them. A ticket's page explains, for every active agent, whether and why they can see it, and the
"Access check" page (/admin/tickets/ticket/access-check/) answers it for any one person.
"""

import re

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q, TextField
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from helpline.accounts.forms import agent_users
from helpline.accounts.models import Agent, DepartmentAccess, Permission, User
from helpline.sla.admin import has_working_hours, no_working_hours_message
from helpline.tickets.access import Access, agent_profile, can, explain, is_admin, role_for
from helpline.tickets.models import (
    Event,
    HelpdeskConfig,
    HelpTopic,
    HelpTopicField,
    Notification,
    Priority,
    Status,
    Ticket,
)

# Enough for any real help desk's agent list while keeping one page's work bounded.
EXPLAINED_AGENTS_LIMIT = 200
# Usernames suggested on the access check (agents and administrators; requesters are typed).
SUGGESTED_PEOPLE_LIMIT = 500
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def _clean_sla_plan(form: forms.ModelForm, field: str) -> None:
    """Refuse an SLA plan whose schedule has no working hours, on `field` of `form`."""
    plan = form.cleaned_data.get(field)
    if plan is not None and not has_working_hours(plan.schedule):
        form.add_error(
            field,
            f"The SLA plan “{plan}” cannot compute due times. "
            + no_working_hours_message(plan.schedule),
        )


class PriorityForm(forms.ModelForm):
    class Meta:
        model = Priority
        fields = ("name", "level", "colour", "is_default")
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}
        help_texts = {"is_default": "Used when neither the help topic nor the agent sets one."}

    def clean_colour(self) -> str:
        colour = self.cleaned_data["colour"].strip()
        if not COLOUR_RE.match(colour):
            raise ValidationError("Write the colour as #rrggbb, e.g. #dc2626.")
        return colour.lower()


@admin.register(Priority)
class PriorityAdmin(admin.ModelAdmin):
    form = PriorityForm
    list_display = ("name", "level", "swatch", "is_default")
    ordering = ("level",)

    @admin.display(description="colour", ordering="colour")
    def swatch(self, obj: Priority) -> str:
        return format_html(
            '<span style="display:inline-block;width:1em;height:1em;background:{};'
            'vertical-align:middle;border-radius:2px"></span> {}',
            obj.colour if COLOUR_RE.match(obj.colour) else "transparent",
            obj.colour,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.is_default:
            # One default priority: ticking it here unticks the previous one. Saved row by row
            # (there is one) so that the audit log records the untick too.
            for other in Priority.objects.exclude(pk=obj.pk).filter(is_default=True):
                other.is_default = False
                other.save(update_fields=["is_default"])


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):
    list_display = ("name", "state", "order", "is_default")
    list_editable = ("order",)
    list_filter = ("state",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.is_default:
            # One default per state: the lifecycle picks it when moving a ticket to that state.
            # Row by row (one at most) so that the audit log records the untick too.
            others = Status.objects.filter(state=obj.state, is_default=True).exclude(pk=obj.pk)
            for other in others:
                other.is_default = False
                other.save(update_fields=["is_default"])


class HelpTopicForm(forms.ModelForm):
    class Meta:
        model = HelpTopic
        fields = (
            "name",
            "department",
            "priority",
            "sla_plan",
            "auto_assign_agent",
            "auto_assign_team",
            "active",
            "public",
        )
        help_texts = {
            "sla_plan": "Empty: the department's default SLA plan.",
            "auto_assign_agent": "New tickets on this topic are assigned to this agent.",
            "auto_assign_team": "…and/or to this team.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["auto_assign_agent"].queryset = agent_users()

    def clean(self):
        cleaned = super().clean()
        _clean_sla_plan(self, "sla_plan")
        department = cleaned.get("department")
        agent_user = cleaned.get("auto_assign_agent")
        if (
            department is not None
            and agent_user is not None
            and department.restricted
            and not _has_role_in(agent_user, department)
        ):
            self.add_error(
                "auto_assign_agent",
                f"{agent_user} has no role in {department}, which is restricted to its "
                "members: tickets assigned to them there would stay invisible to them. "
                "Give them access first (Agents) or pick another agent.",
            )
        return cleaned


def _has_role_in(user, department) -> bool:
    if user.is_superuser and user.is_active:
        return True
    agent = Agent.objects.filter(user=user, is_active=True).first()
    return agent is not None and (
        agent.department_id == department.pk
        or agent.accesses.filter(department=department).exists()
    )


class HelpTopicFieldInline(admin.TabularInline):
    """The topic's custom fields, asked on the portal and agent forms in this order."""

    model = HelpTopicField
    extra = 0
    fields = (
        "order",
        "name",
        "label",
        "kind",
        "choices",
        "required",
        "requester_can_see",
        "help_text",
    )
    formfield_overrides = {TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}


@admin.register(HelpTopic)
class HelpTopicAdmin(admin.ModelAdmin):
    form = HelpTopicForm
    inlines = [HelpTopicFieldInline]
    list_display = (
        "name",
        "department",
        "priority",
        "sla_plan",
        "auto_assign_agent",
        "auto_assign_team",
        "active",
        "public",
    )
    list_filter = ("active", "public", "department")
    list_select_related = (
        "department",
        "priority",
        "sla_plan",
        "auto_assign_agent",
        "auto_assign_team",
    )
    search_fields = ("name",)


class HelpdeskConfigForm(forms.ModelForm):
    class Meta:
        model = HelpdeskConfig
        fields = (
            "number_format",
            "number_prefix",
            "number_digits",
            "default_department",
            "default_priority",
            "default_sla",
        )

    def clean(self):
        cleaned = super().clean()
        _clean_sla_plan(self, "default_sla")
        return cleaned


@admin.register(HelpdeskConfig)
class HelpdeskConfigAdmin(admin.ModelAdmin):
    """The one row of help-desk-wide settings: the list goes straight to it."""

    form = HelpdeskConfigForm
    fieldsets = (
        (
            "Ticket numbers",
            {
                "fields": ("number_format", "number_prefix", "number_digits"),
                "description": "Applies to new tickets; existing numbers never change.",
            },
        ),
        (
            "Defaults for new tickets",
            {
                "fields": ("default_department", "default_priority", "default_sla"),
                "description": "Used when the help topic and the department set nothing.",
            },
        ),
    )

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not HelpdeskConfig.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        config = HelpdeskConfig.objects.order_by("pk").first()
        if config is None:
            return redirect("admin:tickets_helpdeskconfig_add")
        return redirect("admin:tickets_helpdeskconfig_change", config.pk)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.pk = 1  # HelpdeskConfig.load() reads row 1.
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: these rows are written by the action layer and the mail outbox."""

    show_full_result_count = False
    ordering = ("-id",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _explained_agents() -> list[Agent]:
    """Active agents with everything `explain` reads loaded in four queries."""
    agents = list(
        Agent.objects.filter(is_active=True, user__is_active=True)
        .select_related("user", "role")
        .prefetch_related(
            Prefetch("accesses", queryset=DepartmentAccess.objects.select_related("role")),
            "teams",
        )
        .order_by("user__username")[: EXPLAINED_AGENTS_LIMIT + 1]
    )
    for agent in agents:
        # Fill the caches access.py keeps on the profile and the user, so explaining costs no
        # query per agent; if those caches change shape, explain() just queries instead.
        roles = {agent.department_id: agent.role}
        for access in agent.accesses.all():
            roles.setdefault(access.department_id, access.role)
        agent._department_roles = roles
        agent._team_ids = {team.pk for team in agent.teams.all()}
        agent.user._helpline_agent = agent
    return agents


class AccessCheckForm(forms.Form):
    """A person and a ticket: both looked up here, so bad input is a form error, never a 500."""

    person = forms.CharField(
        label="Person",
        max_length=254,
        help_text="Username or email address of an agent, a requester or an administrator.",
        widget=forms.TextInput(attrs={"list": "access-check-people", "autocomplete": "off"}),
    )
    ticket = forms.CharField(
        label="Ticket number", max_length=40, help_text="With or without the leading #."
    )

    def clean_person(self) -> User:
        value = self.cleaned_data["person"].strip()
        user = User.objects.filter(username=value).first()
        if user is None and "@" in value:
            user = User.objects.filter(email__iexact=value).first()
        if user is None:
            raise ValidationError(f"No user has the username or email address “{value}”.")
        return user

    def clean_ticket(self) -> Ticket:
        number = self.cleaned_data["ticket"].strip().removeprefix("#").strip()
        ticket = (
            Ticket.objects.select_related("department", "requester").filter(number=number).first()
        )
        if ticket is None:
            raise ValidationError(f"There is no ticket #{number}.")
        return ticket


def access_answer(user: User, ticket: Ticket) -> dict:
    """explain() for one person and one ticket, in the words the access check page shows."""
    explanation = explain(user, ticket)
    reasons = list(explanation.reasons)
    profile = agent_profile(user)
    role = role_for(user, ticket) if user.is_active and profile is not None else None
    if profile is not None and role is None and explanation.visible:
        # explain() says why the agent has no role here; add why they see it all the same.
        reasons.append(
            f"{user} is the requester of this ticket or a collaborator on it, so they see it "
            "the way a requester does (portal and email), without agent actions."
        )
    if user.is_active and profile is None and not is_admin(user):
        inactive = Agent.objects.filter(user=user, is_active=False).exists()
        if inactive:
            reasons.append(f"{user}'s agent profile is deactivated, so they count as a requester.")
        if user.is_staff:
            reasons.append(
                "Staff status opens the admin panel only; it gives no access to tickets."
            )
    actions = [
        {"label": perm.label, "allowed": bool(explanation.allowed.get(perm.value))}
        for perm in Permission
    ]
    actions.append(
        {
            "label": "Write to it as the requester or a collaborator (portal, email)",
            "allowed": user.is_active and can(user, Access.MESSAGE, ticket),
        }
    )
    return {
        "person": user,
        "ticket": ticket,
        "visible": explanation.visible,
        "reasons": reasons,
        "role": role,
        "is_admin": is_admin(user),
        "actions": actions,
    }


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ("number", "subject", "department", "status", "assignee", "due_at")
    list_filter = ("state", "is_overdue", "department")
    list_select_related = ("department", "status", "assignee")
    search_fields = ("=number", "subject", "=requester__email")
    readonly_fields = ("access_explanation",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "subject",
                    "requester",
                    "source",
                    "department",
                    "help_topic",
                    "priority",
                    "sla_plan",
                    "status",
                    "state",
                    "assignee",
                    "team",
                ),
                "description": "Tickets change only in the agent panel and the API, where every "
                "change is checked and recorded; here they can be looked at.",
            },
        ),
        (
            "Times",
            {
                "fields": (
                    "created_at",
                    "updated_at",
                    "due_at",
                    "due_at_manual",
                    "first_response_due_at",
                    "first_responded_at",
                    "resolved_at",
                    "closed_at",
                    "paused_at",
                    "is_overdue",
                    "reopened_count",
                    "merged_into",
                    "version",
                )
            },
        ),
        ("Who can see this ticket, and why", {"fields": ("access_explanation",)}),
    )

    def get_urls(self):
        # Before the default URLs: "<path:object_id>/" would swallow "access-check/".
        check = path(
            "access-check/",
            self.admin_site.admin_view(self.access_check_view),
            name="tickets_ticket_access_check",
        )
        return [check, *super().get_urls()]

    def access_check_view(self, request):
        """Why can (or can't) this person see this ticket, and what may they do to it?"""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if "person" in request.GET:
            form = AccessCheckForm(request.GET)
        else:
            # From a ticket's page: the number is filled in, nothing is checked yet.
            form = AccessCheckForm(initial={"ticket": request.GET.get("ticket", "")[:40]})
        answer = None
        if form.is_bound and form.is_valid():
            answer = access_answer(form.cleaned_data["person"], form.cleaned_data["ticket"])
        people = (
            User.objects.filter(Q(agent__isnull=False) | Q(is_superuser=True), is_active=True)
            .order_by("username")
            .values_list("username", flat=True)[:SUGGESTED_PEOPLE_LIMIT]
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Access check",
            "subtitle": None,
            "form": form,
            "answer": answer,
            "people": people,
        }
        return TemplateResponse(request, "admin/tickets/ticket/access_check.html", context)

    @admin.display(description="access")
    def access_explanation(self, obj: Ticket) -> str:
        agents = _explained_agents()
        more = len(agents) > EXPLAINED_AGENTS_LIMIT
        people = [obj.requester]
        people += [a.user for a in agents[:EXPLAINED_AGENTS_LIMIT] if a.user_id != obj.requester_id]
        rows = []
        for user in people:
            explanation = explain(user, obj)
            who = f"{user} ({user.username})"
            if user.pk == obj.requester_id:
                who += ", the requester"
            reasons = format_html_join(mark_safe("<br>"), "{}", ((r,) for r in explanation.reasons))
            rows.append((who, "✓ sees it" if explanation.visible else "✗ cannot see it", reasons))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        note = ""
        if more:
            note = format_html(
                "<p>Only the first {} agents are listed.</p>", EXPLAINED_AGENTS_LIMIT
            )
        return format_html(
            '<table class="access-explanation"><thead><tr><th>Person</th><th>Access</th>'
            "<th>Why</th></tr></thead><tbody>{}</tbody></table>{}",
            body,
            note,
        )


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "ticket_number", "kind", "actor", "reason")
    list_filter = ("kind",)
    list_select_related = ("ticket", "actor")
    search_fields = ("=ticket__number",)
    fields = ("ticket", "kind", "actor", "created_at", "before", "after", "reason")

    @admin.display(description="ticket", ordering="ticket__number")
    def ticket_number(self, obj: Event) -> str:
        return obj.ticket.number


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The outbox log: what was sent to whom, and why a delivery failed."""

    list_display = ("created_at", "kind", "email", "state", "attempts", "short_error", "sent_at")
    list_filter = ("state", "kind")
    list_select_related = ("ticket",)
    search_fields = ("=email", "=ticket__number")
    fields = (
        "kind",
        "ticket",
        "entry",
        "recipient",
        "email",
        "state",
        "attempts",
        "error",
        "created_at",
        "sent_at",
        "message_id",
    )

    @admin.display(description="error")
    def short_error(self, obj: Notification) -> str:
        return obj.error if len(obj.error) <= 80 else obj.error[:79] + "…"
