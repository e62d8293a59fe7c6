"""The intake filter registered with tickets.hooks: routing rules, then auto-assignment."""

from helpline.automation.assignment import auto_assign, final_department
from helpline.automation.rules import apply_rules
from helpline.tickets import hooks
from helpline.tickets.actions import could_work


def drop_unworkable_assignee(intake: hooks.Intake) -> None:
    """A rule named an agent who cannot work the department the ticket lands in: leave the
    ticket unassigned (and say so) rather than refuse the request."""
    department = final_department(intake)
    if intake.assignee is None or could_work(intake.assignee, department):
        return
    intake.applied.append(
        (
            "Auto-assignment",
            f"{intake.assignee} has no access to {department}: not assigned by the rule",
        )
    )
    intake.assignee = None
    intake.assignment_reason = ""


def route(intake: hooks.Intake) -> None:
    """Everything automation does to a request before it becomes a ticket, in order."""
    assignee_before = intake.assignee
    apply_rules(intake)
    if intake.assignee is not assignee_before:
        drop_unworkable_assignee(intake)
    auto_assign(intake)
