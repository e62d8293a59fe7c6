"""Admin-panel forms for people and organisation: users, agents, roles, departments, teams.

The rules that keep the organisation consistent live here, with messages that say how to fix the
problem: a department's manager must hold a role in it (the helpline.E012 check), and an agent's
extra department accesses never repeat the primary department.
"""

from collections.abc import Iterable

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet

from helpline.accounts.models import Agent, Department, Permission, Role, Team, User
from helpline.sla.admin import has_working_hours, no_working_hours_message

PERMISSION_FIELDS = tuple(f"can_{p.value}" for p in Permission)


def agent_users() -> QuerySet:
    """Users who can manage a department, lead a team or be auto-assigned: agents and admins."""
    return User.objects.filter(Q(agent__isnull=False) | Q(is_superuser=True)).order_by("username")


def manager_problem(user: User, department: Department) -> str | None:
    """Why `user` cannot manage `department`, in words an administrator can act on; or None."""
    if user.is_superuser and user.is_active:
        return None  # Administrators see every department.
    agent = Agent.objects.filter(user=user).first()
    name = department.name or "this department"
    if agent is None:
        return (
            f"{user} is not an agent. Give them an agent profile with access to "
            f"{name} first (Users → {user.username})."
        )
    if not agent.is_active:
        return f"{user}'s agent profile is inactive. Reactivate it (Agents → {user}) first."
    if department.pk and (
        agent.department_id == department.pk
        or agent.accesses.filter(department=department).exists()
    ):
        return None
    return (
        f"{user} has no role in {name}: it is neither their primary department nor one of their "
        f"extra department accesses. Give them access first (Agents → {user} → extra department "
        "accesses), then make them manager."
    )


def departments_losing_manager(
    user: User | None, active: bool, department_ids: Iterable[int]
) -> list[Department]:
    """Departments `user` manages but would have no role in with only `department_ids` left."""
    if user is None or (user.is_superuser and user.is_active):
        return []
    keep = set(department_ids) if active else set()
    return list(Department.objects.filter(manager=user).exclude(pk__in=keep))


def _losing_manager_message(user: User, departments: list[Department], active: bool) -> str:
    names = ", ".join(d.name for d in departments)
    if not active:
        return (
            f"{user} manages {names}: choose another manager there (Departments) before "
            "deactivating this agent."
        )
    return (
        f"{user} manages {names}: keep a role there (primary department or an extra access), "
        "or choose another manager there (Departments) first."
    )


class UserCreationForm(auth_forms.AdminUserCreationForm):
    """Adding a user: username, name and email along with Django's password fields."""

    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "name", "email")


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User


class AgentProfileForm(forms.ModelForm):
    """The agent profile shown inline on a user's page."""

    class Meta:
        model = Agent
        fields = ("department", "role", "timezone", "signature", "on_vacation", "is_active")

    def clean(self):
        cleaned = super().clean()
        department = cleaned.get("department")
        user = getattr(self.instance, "user", None) if self.instance.user_id else None
        if department is None or user is None:
            return cleaned
        active = cleaned.get("is_active", False)
        extra = []
        if self.instance.pk:
            extra = list(self.instance.accesses.values_list("department_id", flat=True))
        losing = departments_losing_manager(user, active, [department.pk, *extra])
        if losing:
            raise ValidationError(_losing_manager_message(user, losing, active))
        return cleaned


class AgentForm(forms.ModelForm):
    """An agent with their teams (the Team.members relation, edited from the agent's side)."""

    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(),
        required=False,
        widget=FilteredSelectMultiple("teams", is_stacked=False),
        help_text="Tickets assigned to these teams show in the agent's team queue.",
    )

    class Meta:
        model = Agent
        fields = ("user", "department", "role", "timezone", "signature", "on_vacation", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "teams" not in self.initial:
            self.initial["teams"] = list(self.instance.teams.values_list("pk", flat=True))

    def _save_m2m(self):
        super()._save_m2m()
        self.instance.teams.set(self.cleaned_data.get("teams") or [])


class DepartmentAccessFormSet(BaseInlineFormSet):
    """An agent's extra departments: never the primary one, and never a managed one dropped."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        agent = self.instance
        kept = []
        for form in self.forms:
            department = form.cleaned_data.get("department")
            if department is None or form.cleaned_data.get("DELETE"):
                continue
            if department.pk == agent.department_id:
                form.add_error(
                    "department",
                    f"{department} is already this agent's primary department; its role is the "
                    "one chosen above. Pick another department or remove this line.",
                )
                continue
            kept.append(department.pk)
        user = agent.user if agent.user_id else None
        losing = departments_losing_manager(user, agent.is_active, [agent.department_id, *kept])
        if losing:
            raise ValidationError(_losing_manager_message(user, losing, agent.is_active))


class RoleForm(forms.ModelForm):
    """A role's permission checkboxes, each described in the help desk's words."""

    class Meta:
        model = Role
        fields = ("name", *PERMISSION_FIELDS)
        help_texts = {f"can_{p.value}": p.label for p in Permission}


class DepartmentForm(forms.ModelForm):
    """A department; its manager must hold a role in it."""

    class Meta:
        model = Department
        fields = ("name", "manager", "default_sla", "email", "restricted", "signature")
        help_texts = {
            "manager": "An agent with a role in this department (primary or extra access), "
            "or an administrator. Gets the overdue alerts.",
            "default_sla": "Used for tickets whose help topic sets no SLA plan.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = agent_users()

    def clean(self):
        cleaned = super().clean()
        manager = cleaned.get("manager")
        if manager is not None:
            # The name may be new on this very form: word the message with it.
            self.instance.name = cleaned.get("name") or self.instance.name
            problem = manager_problem(manager, self.instance)
            if problem:
                self.add_error("manager", problem)
        plan = cleaned.get("default_sla")
        if plan is not None and not has_working_hours(plan.schedule):
            self.add_error("default_sla", no_working_hours_message(plan.schedule))
        return cleaned


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("name", "lead", "members")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = agent_users()
