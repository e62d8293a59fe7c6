"""THE permission layer: who sees which tickets and who may do what to them.

Every view, API endpoint, mail handler and automation asks here; nothing else decides access.
`access_ticket(user, number, permission)` is the one way a view or endpoint gets a ticket; what
may be asked is a role permission (`accounts.models.Permission`, stored on each role) or an
`Access` (decided here from the role, the ticket and the people on it).
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404

from helpline.accounts.models import Agent, Permission, Role
from helpline.tickets.models import Collaborator, Ticket


class AccessDenied(PermissionDenied):
    """The actor may see the ticket but not do this to it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TicketNotFound(Http404):
    """No such ticket, or one the actor may not see: the two look the same from outside."""


class Access(models.TextChoices):
    """What may be asked of a ticket besides a role's stored permissions (`Permission`)."""

    VIEW = "view", "See the ticket"
    # Writing as the requester or a collaborator (portal reply, email answer).
    MESSAGE = "message", "Write to it as the requester or a collaborator"
    # Internal notes, agents-only field values, history and report figures: its agents only.
    SEE_NOTES = "see_notes", "See internal notes"
    # The agent panel's controls that any one of several role permissions opens (ANY_OF).
    ROUTE = "route", "Route (priority, SLA plan, help topic, agent, team, department)"
    CHANGE_STATUS = "change_status", "Change status, resolve or close"
    COMPOSE = "compose", "Reply or add internal notes"
    ANYTHING = "anything", "Change anything"


# Each of these is allowed when any one of its permissions is; refused, the first one's wording
# says why.
ANY_OF: dict[Access, tuple[Permission, ...]] = {
    Access.ROUTE: (Permission.EDIT, Permission.ASSIGN, Permission.TRANSFER),
    Access.CHANGE_STATUS: (Permission.STATUS, Permission.CLOSE),
    Access.COMPOSE: (Permission.REPLY, Permission.NOTE),
    Access.ANYTHING: tuple(Permission),
}

# What a loaded ticket comes with, in one query: everything the agent panel's header, the API's
# summary and the portal's page show.
TICKET_RELATED = (
    "department",
    "help_topic",
    "priority",
    "sla_plan",
    "status",
    "assignee",
    "team",
    "requester",
    "merged_into",
)
# Ticket.number's max_length: anything longer (or not printable) names no ticket.
NUMBER_MAX_LENGTH = 32


def as_permission(permission: Permission | Access | str) -> Permission | Access:
    """The member a permission name stands for; plain strings ("view", "message", "reply") are
    still accepted from callers not yet converted."""
    if isinstance(permission, Permission | Access):
        return permission
    if permission in Access.values:
        return Access(permission)
    return Permission(permission)


def agent_profile(user) -> Agent | None:
    """The active agent profile of a user (cached on the user object), or None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_helpline_agent"):
        try:
            profile = Agent.objects.select_related("role").get(user=user, is_active=True)
        except Agent.DoesNotExist:
            profile = None
        user._helpline_agent = profile
    return user._helpline_agent


def is_admin(user) -> bool:
    return bool(user is not None and user.is_active and user.is_superuser)


def is_agent(user) -> bool:
    return is_admin(user) or agent_profile(user) is not None


def visible_tickets(user, queryset: QuerySet | None = None) -> QuerySet:
    """Filter `queryset` (all tickets by default) down to what `user` may see.

    Requesters see their own tickets and those they collaborate on. Agents see the tickets they
    work (`worked_tickets`) and, like any requester, those they asked for or are CC'd on.
    Administrators see all.
    """
    qs = Ticket.objects.all() if queryset is None else queryset
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if is_admin(user):
        return qs
    collaborating = Collaborator.objects.filter(user=user).values("ticket_id")
    participating = Q(requester=user) | Q(pk__in=collaborating)
    profile = agent_profile(user)
    if profile is None:
        return qs.filter(participating)
    return qs.filter(_works(user, profile) | participating)


def worked_tickets(user, queryset: QuerySet | None = None) -> QuerySet:
    """Filter `queryset` (all tickets by default) down to the tickets `user` works as an agent.

    Administrators work all; agents those of the departments they have a role in, plus those
    assigned to them or their teams in unrestricted departments: exactly the tickets where
    `role_for(user, ticket)` is not None. Unlike `visible_tickets`, a ticket the agent only
    requested or is CC'd on is not among them: there they are a requester (no internal notes,
    agents-only fields or report figures).
    """
    qs = Ticket.objects.all() if queryset is None else queryset
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if is_admin(user):
        return qs
    profile = agent_profile(user)
    if profile is None:
        return qs.none()
    return qs.filter(_works(user, profile))


def worked_condition(user) -> Q:
    """The condition on a ticket row that `worked_tickets(user)` filters by, to combine with
    others in one query (search decides per row whether internal notes count)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if is_admin(user):
        return Q()
    profile = agent_profile(user)
    return Q(pk__in=[]) if profile is None else _works(user, profile)


def _works(user, profile: Agent) -> Q:
    # The queryset form of role_for(): a department role, or an assignment outside restricted
    # departments.
    departments = list(profile.department_roles())
    teams = list(profile.team_ids())
    assigned = Q(assignee=user)
    if teams:
        assigned |= Q(team__in=teams)
    return Q(department__in=departments) | (assigned & Q(department__restricted=False))


def _is_participant(user, ticket: Ticket) -> bool:
    if ticket.requester_id == user.pk:
        return True
    return Collaborator.objects.filter(ticket=ticket, user=user).exists()


def _assigned_to(profile: Agent, ticket: Ticket) -> bool:
    return ticket.assignee_id == profile.user_id or (
        ticket.team_id is not None and ticket.team_id in profile.team_ids()
    )


def role_for(user, ticket: Ticket) -> Role | None:
    """The role an agent acts with on this ticket, or None if they work it not at all."""
    profile = agent_profile(user)
    if profile is None:
        return None
    role = profile.department_roles().get(ticket.department_id)
    if role is not None:
        return role
    if _assigned_to(profile, ticket) and not ticket.department.restricted:
        # Assigned across departments: they work it with their primary role.
        return profile.role
    return None


def can_view(user, ticket: Ticket) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user) or role_for(user, ticket) is not None:
        return True
    return _is_participant(user, ticket)


def works_on(user, ticket: Ticket) -> bool:
    """Whether `user` works this ticket as an agent (`worked_tickets` for one ticket): an
    administrator, or an agent with a role on it. Requesters and collaborators do not, even
    when they are agents elsewhere."""
    return is_admin(user) or role_for(user, ticket) is not None


def can(user, permission: Permission | Access | str, ticket: Ticket) -> bool:
    """May `user` do `permission` (a role permission or an `Access`) to `ticket`?"""
    permission = as_permission(permission)
    if permission == Access.VIEW:
        return can_view(user, ticket)
    if permission == Access.MESSAGE:
        return user is not None and user.is_authenticated and _is_participant(user, ticket)
    if permission == Access.SEE_NOTES:
        return (
            user is not None and user.is_authenticated and user.is_active and works_on(user, ticket)
        )
    if permission in ANY_OF:
        return any(can(user, p, ticket) for p in ANY_OF[permission])
    if is_admin(user):
        return True
    role = role_for(user, ticket)
    return role is not None and role.allows(permission)


def permissions(user, ticket: Ticket) -> dict[str, bool]:
    """Everything `user` may do to `ticket`, by value (the agent panel's `can`), computed once:
    every role permission, and the panel's combined controls and "see internal notes"."""
    allowed = {p.value: can(user, p, ticket) for p in Permission}
    for combined, members in ANY_OF.items():
        allowed[combined.value] = any(allowed[p.value] for p in members)
    allowed[Access.SEE_NOTES.value] = can(user, Access.SEE_NOTES, ticket)
    return allowed


def check(user, permission: Permission | Access | str, ticket: Ticket) -> None:
    """Raise TicketNotFound if the ticket is invisible to the user, AccessDenied if not allowed."""
    permission = as_permission(permission)
    if not can_view(user, ticket):
        raise TicketNotFound("No such ticket.")
    if permission != Access.VIEW and not can(user, permission, ticket):
        raise AccessDenied(denial_message(user, permission, ticket))


def denial_message(user, permission: Permission | Access | str, ticket: Ticket) -> str:
    permission = as_permission(permission)
    if permission == Access.MESSAGE:
        return "Only the requester and collaborators can write to this ticket as a requester."
    if permission == Access.SEE_NOTES:
        return "Only the agents who work this ticket see its internal notes."
    if permission == Access.VIEW:
        return "You cannot see this ticket."
    if permission in ANY_OF:
        permission = ANY_OF[permission][0]
    label = permission.label.lower()
    role = role_for(user, ticket)
    if role is None:
        return f"You have no role in {ticket.department}, so you cannot {label}."
    return f"Your role “{role}” in {ticket.department} does not allow you to {label}."


def access_ticket(
    user, ticket_or_number: "Ticket | str", permission: Permission | Access | str = Access.VIEW
) -> Ticket:
    """The ticket with this number (with `TICKET_RELATED`) if `user` may do `permission` to it.

    Raises TicketNotFound when there is no such ticket or `user` may not see it (the same
    answer, so numbers cannot be probed), AccessDenied when they see it but may not do this.
    Given a ticket instead of a number, only checks.
    """
    if isinstance(ticket_or_number, Ticket):
        ticket = ticket_or_number
    else:
        ticket = _by_number(ticket_or_number)
    check(user, permission, ticket)
    return ticket


def could_be_number(number) -> bool:
    """Whether `number` could name a ticket at all; nothing else is looked up (PostgreSQL
    refuses NUL characters)."""
    return isinstance(number, str) and 0 < len(number) <= NUMBER_MAX_LENGTH and number.isprintable()


# An id written in input has at most this many digits: every such number fits a 64-bit column.
ID_MAX_DIGITS = 18
ID_MAX = 2**63 - 1


def parse_id(value) -> int | None:
    """The positive id `value` spells, else None: the one reader of ids and numbers in input
    (URLs, forms, the API, stored filters).

    An int (not a bool) up to 2**63 - 1, or a string of 1 to 18 ASCII digits (spaces around it
    allowed). `str.isdigit()` also takes "²" (which `int()` refuses: a 500) and "٣" (which
    `int()` reads as 3), and `int()` takes "1_000" and "+1": none of them is an id here.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= ID_MAX else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not (0 < len(value) <= ID_MAX_DIGITS and value.isascii() and value.isdigit()):
        return None
    return int(value) or None


def _by_number(number) -> Ticket:
    if not could_be_number(number):
        raise TicketNotFound("No such ticket.")
    ticket = Ticket.objects.select_related(*TICKET_RELATED).filter(number=number).first()
    if ticket is None:
        raise TicketNotFound("No such ticket.")
    return ticket


def reload(ticket: Ticket) -> Ticket:
    """The same ticket fresh from the database, with `TICKET_RELATED`, to present it after an
    action. Not a check: the action checked, and after a transfer the actor may no longer see
    the ticket yet must be told where it went."""
    return Ticket.objects.select_related(*TICKET_RELATED).get(pk=ticket.pk)


@dataclass
class Explanation:
    """Why a user can or cannot see a ticket and what they may do to it, in plain words."""

    visible: bool
    reasons: list[str] = field(default_factory=list)
    allowed: dict[str, bool] = field(default_factory=dict)

    def __str__(self) -> str:
        return "\n".join(self.reasons)


def explain(user, ticket: Ticket) -> Explanation:
    """The reasons behind `can` and `visible_tickets` for one user and one ticket."""
    reasons: list[str] = []
    dept = ticket.department
    if not user.is_active:
        return Explanation(False, [f"{user} is deactivated."])
    if is_admin(user):
        reasons.append(f"{user} is an administrator: sees and may do everything.")
        return Explanation(True, reasons, {p.value: True for p in Permission})
    profile = agent_profile(user)
    if profile is None:
        if ticket.requester_id == user.pk:
            reasons.append(f"{user} is the requester of this ticket.")
        elif _is_participant(user, ticket):
            reasons.append(f"{user} is a collaborator on this ticket.")
        else:
            reasons.append(f"{user} is a requester who neither opened nor collaborates on it.")
        visible = can_view(user, ticket)
        return Explanation(visible, reasons, {Access.MESSAGE.value: visible})
    roles = profile.department_roles()
    if ticket.department_id in roles:
        role = roles[ticket.department_id]
        where = "primary" if ticket.department_id == profile.department_id else "extra"
        reasons.append(f"{user} has {where} access to {dept} with the role “{role}”.")
    else:
        reasons.append(f"{user} has no access to {dept}.")
        if _assigned_to(profile, ticket):
            if dept.restricted:
                reasons.append(
                    f"It is assigned to {user} or their team, but {dept} is restricted to its "
                    "members, so the assignment does not grant access."
                )
            else:
                reasons.append(
                    f"It is assigned to {user} or their team, so they work it with their primary "
                    f"role “{profile.role}”."
                )
    role = role_for(user, ticket)
    visible = role is not None or _is_participant(user, ticket)
    allowed = {p.value: bool(role and role.allows(p)) for p in Permission}
    if role is not None:
        granted = [Permission(p).label for p, ok in allowed.items() if ok]
        reasons.append(
            "Allowed: " + ", ".join(granted) + "." if granted else "View only: no changes allowed."
        )
    elif visible:
        who = "the requester" if ticket.requester_id == user.pk else "a collaborator"
        reasons.append(
            f"{user} is {who} of this ticket: they see it as a requester does (no internal "
            "notes or history) and may only write to it."
        )
        allowed[Access.MESSAGE.value] = True
    else:
        reasons.append("So the ticket is invisible to them.")
    return Explanation(visible, reasons, allowed)
