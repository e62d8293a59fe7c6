"""Admin panel for people and organisation: users, agents, roles, departments and teams.

Giving an agent access to another department (scenario 3) is: Agents → the agent → “Extra
department accesses” → department and role → Save. The same list is linked from the user's page.

Two-factor devices are not listed on their own: their secrets have no business on an admin page.
An agent who lost their phone and recovery codes is helped with the Users action “Turn off
two-factor sign-in”; “Sign out everywhere” ends every session of the selected users.
"""

from django.contrib import admin, messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts import twofactor
from helpline.accounts.forms import (
    PERMISSION_FIELDS,
    AgentForm,
    AgentProfileForm,
    DepartmentAccessFormSet,
    DepartmentForm,
    RoleForm,
    TeamForm,
    UserChangeForm,
    UserCreationForm,
)
from helpline.accounts.models import Agent, Department, DepartmentAccess, Role, Team, User
from helpline.tickets.access import parse_id


def _count(queryset, group_by: str) -> Coalesce:
    """A correlated COUNT subquery: one cheap aggregate per listed row, no row multiplication."""
    counted = queryset.order_by().values(group_by).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class IsAgentFilter(admin.SimpleListFilter):
    title = "agent"
    parameter_name = "agent"

    def lookups(self, request, model_admin):
        return [("yes", "Agents and administrators"), ("no", "Requesters only")]

    def queryset(self, request, queryset):
        agents = Q(agent__is_active=True) | Q(is_superuser=True)
        if self.value() == "yes":
            return queryset.filter(agents)
        if self.value() == "no":
            return queryset.exclude(agents)
        return queryset


class AgentInline(admin.StackedInline):
    """The agent profile on the user's page; extra accesses are one click away."""

    model = Agent
    form = AgentProfileForm
    fk_name = "user"
    max_num = 1
    extra = 1
    verbose_name = "agent profile"
    verbose_name_plural = "agent profile (fill in to make this user an agent)"
    fields = (
        "department",
        "role",
        "extra_department_accesses",
        "timezone",
        "signature",
        "on_vacation",
        "is_active",
    )
    readonly_fields = ("extra_department_accesses",)

    @admin.display(description="extra department accesses")
    def extra_department_accesses(self, obj: Agent | None) -> str:
        if obj is None or obj.pk is None:
            return "Save the agent profile first; then add extra departments on the agent page."
        url = reverse("admin:accounts_agent_change", args=[obj.pk])
        accesses = obj.accesses.select_related("department", "role").order_by("department__name")
        listed = format_html_join(
            ", ", "{} ({})", ((a.department.name, a.role.name) for a in accesses)
        )
        return format_html(
            '{} — <a href="{}">add or change extra department accesses</a>',
            listed or "none",
            url,
        )


@admin.register(User)
class HelplineUserAdmin(UserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("name", "first_name", "last_name", "email", "phone")}),
        (
            "Administration",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "description": "Superusers configure the help desk here and see every ticket. "
                "What an agent may do to tickets comes from their roles (agent profile below), "
                "not from these Django permissions.",
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "name",
                    "email",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    list_display = ("username", "name", "email", "is_agent", "two_factor", "is_active")
    list_filter = (IsAgentFilter, "is_active", "is_superuser", "is_staff")
    search_fields = ("username", "name", "email")
    ordering = ("username",)
    inlines = [AgentInline]
    actions = ["sign_out_everywhere", "turn_off_two_factor"]

    def get_queryset(self, request):
        # `is_agent` reads the agent profile: join it instead of one query per row.
        authenticators = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return (
            super()
            .get_queryset(request)
            .select_related("agent")
            .annotate(has_two_factor=Exists(authenticators))
        )

    @admin.display(boolean=True, description="agent")
    def is_agent(self, obj: User) -> bool:
        return obj.is_agent

    @admin.display(boolean=True, description="two-factor", ordering="has_two_factor")
    def two_factor(self, obj: User) -> bool:
        return obj.has_two_factor

    @admin.action(description="Sign out everywhere (end every session of the selected users)")
    def sign_out_everywhere(self, request, queryset) -> None:
        users = list(queryset)
        for user in users:
            user.end_all_sessions()
            if user.pk == request.user.pk:
                # The administrator stays signed in in this browser, out everywhere else.
                update_session_auth_hash(request, user)
        self.message_user(
            request,
            f"Signed out everywhere: {', '.join(u.get_username() for u in users)}.",
            messages.SUCCESS,
        )

    @admin.action(description="Turn off two-factor sign-in (lost phone and recovery codes)")
    def turn_off_two_factor(self, request, queryset) -> None:
        names = []
        for user in queryset:
            if twofactor.has_two_factor(user):
                twofactor.turn_off(user)
                names.append(user.get_username())
        if names:
            self.message_user(
                request,
                f"Two-factor sign-in turned off for {', '.join(names)}; their password alone "
                "signs them in until they set it up again on their Security page.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, "None of the selected users had two-factor sign-in on.", messages.INFO
            )


class DepartmentAccessInline(admin.TabularInline):
    model = DepartmentAccess
    formset = DepartmentAccessFormSet
    fk_name = "agent"
    fields = ("department", "role")
    extra = 1
    verbose_name = "extra department access"
    verbose_name_plural = (
        "extra department accesses — departments beyond the primary one, each with its own "
        "role (pick “View only” to let the agent read without changing anything)"
    )


class WorksInFilter(admin.SimpleListFilter):
    """Agents with any role in a department: primary or extra access."""

    title = "works in (primary or extra)"
    parameter_name = "works_in"

    def lookups(self, request, model_admin):
        return [(str(d.pk), d.name) for d in Department.objects.only("pk", "name")]

    def queryset(self, request, queryset):
        pk = parse_id(self.value())
        if pk is None:
            return queryset
        extra = DepartmentAccess.objects.filter(department_id=pk).values("agent_id")
        return queryset.filter(Q(department_id=pk) | Q(pk__in=extra))


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentForm
    inlines = [DepartmentAccessInline]
    fieldsets = (
        (
            None,
            {
                "fields": ("user", "department", "role"),
                "description": "The role applies in the primary department. To let this agent "
                "see another department's tickets, add an extra department access at the bottom "
                "of the page and pick a role there.",
            },
        ),
        ("Teams", {"fields": ("teams",)}),
        ("Preferences", {"fields": ("timezone", "signature", "on_vacation", "is_active")}),
    )
    list_display = ("user", "department", "role", "team_names", "on_vacation", "is_active")
    list_filter = ("department", "role", WorksInFilter, "on_vacation", "is_active")
    list_select_related = ("user", "department", "role")
    search_fields = ("user__username", "user__name", "user__email")
    autocomplete_fields = ("user",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("teams")

    def get_readonly_fields(self, request, obj=None):
        # A profile belongs to one user for good; make a new profile for someone else.
        return ("user",) if obj is not None else ()

    @admin.display(description="teams")
    def team_names(self, obj: Agent) -> str:
        return ", ".join(team.name for team in obj.teams.all()) or "—"


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    form = RoleForm
    fieldsets = (
        (None, {"fields": ("name",)}),
        (
            "Permissions in the department",
            {
                "fields": PERMISSION_FIELDS,
                "description": "What an agent holding this role may do to the tickets of the "
                "department. Viewing is implied by any role: a role with no box ticked is "
                "view-only. A role held by agents cannot be deleted; give them another role "
                "first.",
            },
        ),
    )
    list_display = ("name", *PERMISSION_FIELDS, "holders")
    search_fields = ("name",)

    def get_queryset(self, request):
        primary = _count(Agent.objects.filter(role=OuterRef("pk")), "role")
        extra = _count(DepartmentAccess.objects.filter(role=OuterRef("pk")), "role")
        return super().get_queryset(request).annotate(holders=primary + extra)

    @admin.display(description="held by (agents)", ordering="holders")
    def holders(self, obj: Role) -> int:
        return obj.holders


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    form = DepartmentForm
    list_display = ("name", "manager", "default_sla", "email", "restricted", "agent_count")
    list_filter = ("restricted",)
    list_select_related = ("manager", "default_sla")
    search_fields = ("name", "email")

    def get_queryset(self, request):
        primary = _count(Agent.objects.filter(department=OuterRef("pk")), "department")
        extra = _count(DepartmentAccess.objects.filter(department=OuterRef("pk")), "department")
        return (
            super().get_queryset(request).annotate(primary_agents_count=primary, extra_count=extra)
        )

    @admin.display(description="agents (primary + extra)")
    def agent_count(self, obj: Department) -> str:
        return f"{obj.primary_agents_count} + {obj.extra_count}"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    filter_horizontal = ("members",)
    list_display = ("name", "lead", "member_count")
    list_select_related = ("lead",)
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members":
            kwargs["queryset"] = Agent.objects.select_related("user")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj: Team) -> int:
        return obj.member_total


# The devices hold the secrets behind the codes; administrators manage two-factor sign-in through
# the Users actions above instead.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
