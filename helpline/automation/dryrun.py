"""Dry run: what the routing rules and auto-assignment would do to a sample request.

The sample becomes the same `hooks.Intake` that `actions.open_ticket` builds, and runs through
the same `rules.evaluate` and `assignment.choose` as real intake, with nothing written: no ticket,
no requester accounts, no canned reply, no round-robin turn used up. The resulting fields are then
resolved the way open_ticket resolves them (help topic defaults, department defaults, help desk
defaults).
"""

from dataclasses import dataclass, field

from django.utils import timezone

from helpline.accounts.models import User
from helpline.accounts.people import find_by_email
from helpline.automation import assignment, rules
from helpline.sla.calendar import due_time
from helpline.tickets import access, hooks
from helpline.tickets.actions import could_work
from helpline.tickets.actions.intake import resolve_routing
from helpline.tickets.models import HelpdeskConfig, Source, State, Status
from helpline.tickets.text import html_to_text


@dataclass
class Outcome:
    """Rule by rule results and the ticket the request would become."""

    intake: hooks.Intake
    results: list[rules.RuleResult]
    rejected: str = ""
    fields: dict[str, object] = field(default_factory=dict)
    assignment: str = ""
    notes: list[str] = field(default_factory=list)


def requester_for(email: str, name: str = "") -> User:
    """The existing user with this address, or an unsaved stand-in (nothing is created)."""
    return find_by_email(email) or User(email=(email or "").strip(), name=name)


def intake_from_fields(
    *,
    sender: str,
    subject: str,
    body: str = "",
    source: str = Source.EMAIL,
    help_topic=None,
    priority=None,
    recipient: str = "",
    headers: dict[str, str] | None = None,
) -> hooks.Intake:
    return hooks.Intake(
        requester=requester_for(sender),
        subject=(subject or "").strip(),
        body=body or "",
        source=source,
        help_topic=help_topic,
        priority=priority,
        headers=dict(headers or {}),
        recipient=recipient,
    )


def intake_from_email(raw: bytes) -> tuple[hooks.Intake, list[str]]:
    """The Intake mail intake would build for this message (mail.ingest's choices)."""
    from helpline.mail.models import Mailbox
    from helpline.mail.parse import parse_message
    from helpline.mail.quotes import extract
    from helpline.mail.threading import strip_subject_tag

    parsed = parse_message(raw)
    notes = list(parsed.defects[:3])
    addresses = [a for _, a in [*parsed.to, *parsed.cc]]
    mailbox = (
        Mailbox.objects.filter(address__in=addresses, active=True).first() if addresses else None
    )
    recipient = mailbox.address if mailbox else (parsed.to[0][1] if parsed.to else "")
    body, body_html = extract(parsed.text, parsed.raw_html, parsed.subject)
    topic = mailbox.help_topic if mailbox and mailbox.help_topic_id else None
    if topic is not None and not topic.active:
        topic = None
    automated = parsed.automated_reason()
    if automated:
        notes.append(f"No acknowledgement whatever the rules say: {automated}")
    if mailbox:
        notes.append(f"Delivered to the mailbox “{mailbox}”.")
    if not parsed.sender:
        notes.append("The message has no readable sender: mail intake would refuse it.")
    requester = requester_for(parsed.sender, parsed.sender_name)
    intake = hooks.Intake(
        requester=requester,
        subject=strip_subject_tag(parsed.subject)[:250] or "(no subject)",
        body=body or html_to_text(body_html),
        source=Source.EMAIL,
        help_topic=topic,
        department=mailbox.department if mailbox else None,
        headers=dict(getattr(parsed, "all_headers", None) or parsed.headers),
        recipient=recipient,
        autorespond=not automated,
    )
    intake.collaborators.extend(_copied_in(raw, parsed, mailbox, notes))
    return intake, notes


def _copied_in(raw: bytes, parsed, mailbox, notes: list[str]) -> list[User]:
    """The people in To and Cc that mail intake makes collaborators (mail.ingest's choice):
    only for a verified sender; not our own addresses, not the sender, not banned, not agents."""
    from helpline.mail import loops, trust
    from helpline.mail.ingest import cc_addresses

    addresses = cc_addresses(parsed, mailbox, loops.own_addresses())
    if not addresses:
        return []
    proof = trust.prove(raw, parsed.sender, trust.header_pairs(raw), mailbox, None)
    if not proof.verified:
        notes.append("People in To and Cc would not join the ticket: " + proof.detail)
        return []
    people = []
    for address in addresses:
        user = find_by_email(address)
        if user is None:
            people.append(User(email=address))
        elif user.is_active and not access.is_agent(user):
            people.append(user)
    return people


def run(intake: hooks.Intake) -> Outcome:
    """Evaluate the rules and the assignment policy on `intake` without writing anything."""
    results = rules.evaluate(intake, dry_run=True)
    outcome = Outcome(intake, results)
    rejected = [r for r in results if r.rejected]
    if rejected:
        outcome.rejected = f"Rejected by “{rejected[0].rule}”: {rejected[0].rejected}"
        return outcome
    assignee_before = intake.assignee
    if intake.assignee is not None and not could_work(
        intake.assignee, assignment.final_department(intake)
    ):
        outcome.notes.append(f"{intake.assignee} has no access there: left unassigned.")
        intake.assignee = None
    choice = assignment.choose(intake, commit=False)
    if choice is not None:
        outcome.assignment = choice.reason
        intake.assignee = choice.agent or intake.assignee
    elif intake.assignee is not None and intake.assignee is assignee_before:
        outcome.assignment = intake.assignment_reason or "Assigned at intake"
    elif intake.assignee is not None:
        outcome.assignment = intake.assignment_reason
    outcome.fields = resulting_fields(intake, outcome.notes)
    return outcome


def resulting_fields(intake: hooks.Intake, notes: list[str]) -> dict[str, object]:
    """The new ticket's routing fields, filled in as actions.open_ticket fills them."""
    routing = resolve_routing(intake, HelpdeskConfig.load())
    department, sla_plan = routing.department, routing.sla_plan
    try:
        status = intake.status or Status.default_for(State.OPEN)
    except Status.DoesNotExist:
        status = None
    if department is None:
        notes.append("No department and no default department: the ticket would be refused.")
    now = timezone.now()
    due_at = due_time(sla_plan.calendar(), now, sla_plan.grace, []) if sla_plan else None
    return {
        "department": department,
        "help_topic": intake.help_topic,
        "priority": routing.priority,
        "sla_plan": sla_plan,
        "due_at": due_at,
        "status": status,
        "assignee": routing.assignee,
        "team": routing.team,
        "collaborators": [getattr(u, "email", str(u)) for u in intake.collaborators],
        "acknowledgement": intake.autorespond,
    }
