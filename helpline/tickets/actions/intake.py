"""Opening a ticket, on any channel, as named steps: validate the request, apply the routing rules,
apply the defaults, check the actor, insert the ticket with its SLA times and first message,
assign it, notify."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

import helpline.tickets.actions as package
from helpline.accounts.models import Department, Permission, Team, User
from helpline.sla.models import SLAPlan
from helpline.tickets import access, hooks, notify
from helpline.tickets import fields as custom_fields
from helpline.tickets.actions._core import (
    SUBJECT_MAX,
    NewAttachment,
    _add_entry,
    _event,
    _iso,
    _ref,
    _validate_message,
    _validate_text,
)
from helpline.tickets.actions.route import Routing, fill_routing
from helpline.tickets.actions.routing import _assign
from helpline.tickets.deadlines import compute_due_times
from helpline.tickets.models import (
    Collaborator,
    EntryKind,
    EventKind,
    HelpdeskConfig,
    HelpTopic,
    NotificationKind,
    Priority,
    Source,
    State,
    Status,
    Ticket,
)
from helpline.tickets.text import html_to_text, sanitize_html


def open_ticket(
    actor: User | None,
    *,
    requester: User,
    subject: str,
    body: str = "",
    body_html: str = "",
    full_text: str = "",
    source: str = Source.WEB,
    help_topic: HelpTopic | None = None,
    department: Department | None = None,
    priority: Priority | None = None,
    sla_plan: SLAPlan | None = None,
    assignee: User | None = None,
    team: Team | None = None,
    attachments: Sequence[NewAttachment] = (),
    collaborators: Iterable[User] = (),
    message_id: str = "",
    threaded_by: str = "",
    verification: str = "",
    headers: dict[str, str] | None = None,
    recipient: str = "",
    autorespond: bool = True,
    alert: bool = True,
    created_at: datetime | None = None,
    fields: Mapping | None = None,
) -> Ticket:
    """Open a ticket on any channel, by the requester or by an agent on their behalf.

    `fields` are the help topic's custom field values, checked against the topic chosen (before
    routing rules); channels that cannot ask for them (email) pass None and skip required ones.

    Intake filters (routing rules) see the request first and may change where it goes or reject
    it (`hooks.TicketRejected`). Then the help topic sets department, priority and SLA plan unless
    given explicitly, and the department's and the help desk's defaults fill the rest.
    """
    # Every argument above as one object for the steps (this must stay the first statement).
    request = _Request(**locals())
    subject = _validate(request)
    field_values = _field_values(request)
    intake = _apply_rules(request, subject)
    config = HelpdeskConfig.load()
    routing = _required(resolve_routing(intake, config))
    on_behalf = _check_actor(request, routing.department)
    at = created_at or timezone.now()
    with transaction.atomic():
        ticket = _insert(request, intake, routing, config, field_values, at)
        _record_opening(ticket, request, intake, routing, on_behalf, at)
        _add_first_message(ticket, request, at)
        for user in [*collaborators, *intake.collaborators]:
            if user.pk != requester.pk:
                Collaborator.objects.get_or_create(ticket=ticket, user=user)
        _assign_at_intake(ticket, intake, routing, at)
        for callback in intake.after_open:
            callback(ticket)
        _notify_opened(ticket, request, intake, routing)
    return ticket


@dataclass(frozen=True)
class _Request:
    """The arguments of one open_ticket call."""

    actor: User | None
    requester: User
    subject: str
    body: str
    body_html: str
    full_text: str
    source: str
    help_topic: HelpTopic | None
    department: Department | None
    priority: Priority | None
    sla_plan: SLAPlan | None
    assignee: User | None
    team: Team | None
    attachments: Sequence[NewAttachment]
    collaborators: Iterable[User]
    message_id: str
    threaded_by: str
    verification: str
    headers: dict[str, str] | None
    recipient: str
    autorespond: bool
    alert: bool
    created_at: datetime | None
    fields: Mapping | None


# ---------------------------------------------------------------------------------------------
# Before the transaction: nothing is written until every step here has passed.


def _validate(r: _Request) -> str:
    """The request is well-formed; returns the cleaned subject."""
    subject = _validate_text(r.subject, "subject", "The subject", SUBJECT_MAX)
    _validate_message(r.body, r.body_html, r.attachments)
    if r.source not in Source.values:
        raise ValidationError({"source": f"Unknown source {r.source!r}."})
    if r.help_topic is not None and not r.help_topic.active:
        raise ValidationError({"help_topic": f"The help topic “{r.help_topic}” is not active."})
    return subject


def _field_values(r: _Request) -> dict:
    """The custom field values, checked against the help topic the requester chose."""
    if r.fields is None:
        return {}
    requester_side = r.actor is None or not access.is_agent(r.actor)
    cleaned = custom_fields.clean_values(r.help_topic, r.fields, requester_side=requester_side)
    return {name: value for name, value in cleaned.items() if value is not None}


def _apply_rules(r: _Request, subject: str) -> hooks.Intake:
    """The request as intake filters see it, after they have seen it (routing rules and
    auto-assignment may change where it goes, or raise hooks.TicketRejected)."""
    intake = hooks.Intake(
        requester=r.requester,
        subject=subject,
        body=r.body or html_to_text(sanitize_html(r.body_html)),
        source=r.source,
        help_topic=r.help_topic,
        department=r.department,
        priority=r.priority,
        sla_plan=r.sla_plan,
        assignee=r.assignee,
        team=r.team,
        headers=dict(r.headers or {}),
        recipient=r.recipient,
        autorespond=r.autorespond,
    )
    hooks.filter_intake(intake)
    return intake


def resolve_routing(intake: hooks.Intake, config: HelpdeskConfig) -> Routing:
    """Fill what the request leaves open: from its help topic, then from the department's and the
    help desk's defaults (`route.fill_routing`, which `route` uses for a new help topic too).
    Department and priority stay None when nothing provides them."""
    asked = Routing(
        intake.department, intake.priority, intake.sla_plan, intake.assignee, intake.team
    )
    return fill_routing(asked, intake.help_topic, config)


def _required(routing: Routing) -> Routing:
    if routing.department is None:
        raise ValidationError({"department": "No department given and no default configured."})
    if routing.priority is None:
        raise ValidationError({"priority": "No priority given and no default configured."})
    return routing


def _check_actor(r: _Request, department: Department) -> bool:
    """May the actor open this ticket as asked? Returns whether it is on someone's behalf.

    Assigning at intake is assigning: the actor's role must allow it. Help topics and routing
    rules assign on the help desk's behalf, so only the caller's explicit choice is checked.
    """
    actor = r.actor
    on_behalf = actor is not None and actor.pk != r.requester.pk
    chooses_assignment = r.assignee is not None or r.team is not None
    if on_behalf and not access.is_agent(actor):
        raise access.AccessDenied("Only agents can open tickets for someone else.")
    if (on_behalf or chooses_assignment) and actor is not None and not access.is_admin(actor):
        profile = access.agent_profile(actor)
        roles = profile.department_roles() if profile is not None else {}
        if on_behalf and department.pk not in roles:
            raise access.AccessDenied(f"You have no access to {department}.")
        role = roles.get(department.pk)
        if chooses_assignment and (role is None or not role.allows(Permission.ASSIGN)):
            raise access.AccessDenied(
                f"Your role in {department} does not allow you to assign tickets."
            )
    return on_behalf


# ---------------------------------------------------------------------------------------------
# Inside the transaction


def _insert(
    r: _Request,
    intake: hooks.Intake,
    routing: Routing,
    config: HelpdeskConfig,
    field_values: dict,
    at: datetime,
) -> Ticket:
    """The new ticket's row, with its SLA due times."""
    status = intake.status or Status.default_for(State.OPEN)
    ticket = _insert_ticket(
        config,
        subject=intake.subject,
        requester=r.requester,
        source=r.source,
        department=routing.department,
        help_topic=intake.help_topic,
        priority=routing.priority,
        sla_plan=routing.sla_plan,
        status=status,
        state=status.state,
        created_at=at,
        updated_at=at,
        custom_fields=field_values,
    )
    ticket.due_at, ticket.first_response_due_at = compute_due_times(ticket)
    ticket.save(update_fields=["due_at", "first_response_due_at"])
    return ticket


def _insert_ticket(config: HelpdeskConfig, **fields) -> Ticket:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                # Looked up on the package, where it has always been importable: tests stand in
                # for `actions.next_number` there to stage a collision.
                return Ticket.objects.create(number=package.next_number(config), **fields)
        except IntegrityError:
            continue  # Two random numbers met; draw again.
    raise RuntimeError("Could not allocate a unique ticket number.")


def _record_opening(
    ticket: Ticket,
    r: _Request,
    intake: hooks.Intake,
    routing: Routing,
    on_behalf: bool,
    at: datetime,
) -> None:
    """The created event, then one event per routing rule that applied."""
    after = {
        "source": r.source,
        "department": _ref(routing.department),
        "help_topic": _ref(intake.help_topic),
        "priority": _ref(routing.priority),
        "sla_plan": _ref(routing.sla_plan),
        "due_at": _iso(ticket.due_at),
    }
    why = f"Opened by {r.actor} for {r.requester}" if on_behalf else ""
    _event(ticket, EventKind.CREATED, r.actor, None, after, why, at)
    for rule, why in intake.applied:
        _event(ticket, EventKind.RULE, None, None, {"rule": rule}, why, at)


def _add_first_message(ticket: Ticket, r: _Request, at: datetime) -> None:
    _add_entry(
        ticket,
        EntryKind.MESSAGE,
        r.requester,
        r.body,
        r.body_html,
        r.attachments,
        r.source,
        r.message_id,
        at,
        r.threaded_by,
        r.full_text,
        r.verification,
    )


def _assign_at_intake(ticket: Ticket, intake: hooks.Intake, routing: Routing, at: datetime) -> None:
    """Assignment by the help desk itself: the help topic's, a rule's or the caller's choice."""
    if routing.assignee is None and routing.team is None:
        return
    why = intake.assignment_reason or "Auto-assigned at intake"
    _assign(ticket, None, routing.assignee, routing.team, at, reason=why)
    ticket.save()


def _notify_opened(ticket: Ticket, r: _Request, intake: hooks.Intake, routing: Routing) -> None:
    if intake.autorespond:
        notify.queue(NotificationKind.NEW_TICKET_ACK, ticket, [r.requester])
    if r.alert:
        notify.queue(
            NotificationKind.NEW_TICKET_ALERT,
            ticket,
            notify.department_agents(routing.department),
            actor=r.actor,
        )
