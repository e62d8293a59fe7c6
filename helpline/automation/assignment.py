"""Auto-assignment at intake: round robin or fewest open tickets, per department or help topic.

Runs as an intake filter after the routing rules, so a rule's explicit assignment wins; a help
topic's fixed auto-assign agent wins too. The help topic's policy wins over the department's.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q

from helpline.accounts.models import Agent, Department, User
from helpline.automation.models import AssignmentMethod, AssignmentPolicy
from helpline.tickets import hooks
from helpline.tickets.models import ACTIVE_STATES, HelpdeskConfig, Ticket


@dataclass
class Choice:
    agent: User | None
    reason: str


def final_department(intake: hooks.Intake) -> Department | None:
    """The department the ticket will land in, resolved the way actions.open_ticket does."""
    if intake.department is not None:
        return intake.department
    if intake.help_topic is not None:
        return intake.help_topic.department
    return HelpdeskConfig.load().default_department


def policy_for(intake: hooks.Intake, department: Department | None) -> AssignmentPolicy | None:
    topic = intake.help_topic
    if topic is not None:
        policy = AssignmentPolicy.objects.filter(help_topic=topic).select_related("team").first()
        if policy is not None:
            return policy
    if department is None:
        return None
    return AssignmentPolicy.objects.filter(department=department).select_related("team").first()


def candidates(department: Department, team_id: int | None) -> list[User]:
    """Active agents who can reply in `department`, not on vacation, in the team if given;
    ordered by user id (the round-robin order)."""
    agents = Agent.objects.filter(is_active=True, on_vacation=False, user__is_active=True).filter(
        Q(department=department, role__can_reply=True)
        | Q(accesses__department=department, accesses__role__can_reply=True)
    )
    if team_id is not None:
        agents = agents.filter(teams=team_id)
    ids = agents.values_list("user_id", flat=True).distinct()
    return list(User.objects.filter(pk__in=ids).order_by("pk"))


def _round_robin(policy: AssignmentPolicy, people: list[User], commit: bool) -> User:
    """The next agent after the last one given a ticket, wrapping around."""
    if commit:
        # The row lock makes concurrent intakes take turns; it is held until the ticket commits.
        policy = AssignmentPolicy.objects.select_for_update().get(pk=policy.pk)
    last = policy.last_assigned_id or 0
    chosen = next((u for u in people if u.pk > last), people[0])
    if commit:
        AssignmentPolicy.objects.filter(pk=policy.pk).update(last_assigned=chosen)
    return chosen


def _fewest_open(people: list[User]) -> tuple[User, int]:
    counts = dict(
        Ticket.objects.filter(assignee__in=people, state__in=ACTIVE_STATES)
        .values_list("assignee")
        .annotate(n=Count("pk"))
        .values_list("assignee", "n")
    )
    chosen = min(people, key=lambda u: (counts.get(u.pk, 0), u.pk))
    return chosen, counts.get(chosen.pk, 0)


def choose(intake: hooks.Intake, *, commit: bool = True) -> Choice | None:
    """Who the policy gives the ticket to (None: no policy applies). `commit=False` previews
    without moving the round-robin position (the dry-run page)."""
    topic = intake.help_topic
    if intake.assignee is not None or (topic is not None and topic.auto_assign_agent_id):
        return None
    department = final_department(intake)
    policy = policy_for(intake, department)
    if policy is None or policy.method == AssignmentMethod.NONE or department is None:
        return None
    scope = f"help topic {topic}" if policy.help_topic_id else f"{department}"
    within = f" in {policy.team}" if policy.team_id else ""
    people = candidates(department, policy.team_id)
    if not people:
        return Choice(None, f"No agent available{within} for {scope}: left unassigned")
    if policy.method == AssignmentMethod.ROUND_ROBIN:
        if commit:
            with transaction.atomic():
                chosen = _round_robin(policy, people, commit)
        else:
            chosen = _round_robin(policy, people, commit)
        return Choice(chosen, f"Auto-assigned by round robin{within} ({scope} policy)")
    chosen, count = _fewest_open(people)
    return Choice(
        chosen,
        f"Auto-assigned to the agent with the fewest open tickets ({count}){within} "
        f"({scope} policy)",
    )


def auto_assign(intake: hooks.Intake) -> None:
    """The intake filter: give the ticket an agent when a policy says so."""
    choice = choose(intake)
    if choice is None:
        return
    if choice.agent is None:
        intake.applied.append(("Auto-assignment", choice.reason))
        return
    intake.assignee = choice.agent
    intake.assignment_reason = choice.reason
