"""THE only code that changes tickets.

Every function here runs in a transaction, checks access through tickets/access.py (raising
AccessDenied or TicketNotFound), records one Event per change with before/after, keeps SLA times
current, and queues notifications that are delivered after commit. Views, the API, mail intake and
automation call these; none of them writes ticket fields itself.

`actor` is the user acting. `None` means the help desk itself (sweeps and other automation).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpline.accounts.models import Department, Permission, Team, User
from helpline.sla.models import SLAPlan
from helpline.tickets import access, hooks, notify
from helpline.tickets import fields as custom_fields
from helpline.tickets.deadlines import compute_due_times
from helpline.tickets.models import (
    CLOSED_STATES,
    Attachment,
    Collaborator,
    EntryKind,
    EventKind,
    HelpdeskConfig,
    HelpTopic,
    NotificationKind,
    Priority,
    SLAPause,
    Source,
    State,
    Status,
    ThreadEntry,
    Ticket,
)
from helpline.tickets.models import Event as EventModel
from helpline.tickets.numbering import next_number
from helpline.tickets.text import html_to_text, sanitize_html

SUBJECT_MAX = 255


class StaleTicket(Exception):
    """The ticket changed after the actor loaded it; nothing was written."""

    def __init__(self, ticket: Ticket):
        super().__init__(
            f"Ticket #{ticket.number} was changed by someone else meanwhile. "
            "Reload it to see the change; your input is kept."
        )
        self.ticket = ticket


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""


# ---------------------------------------------------------------------------------------------
# Small shared steps


def _lock(
    ticket: Ticket,
    expected_version: int | None = None,
    actor: User | None = None,
    permission=None,
) -> Ticket:
    """The ticket's row, locked until the transaction ends, read fresh.

    With a permission, access is checked again on the locked row: the caller checked the ticket
    it had, but a transfer committed while we waited for the lock may have taken it out of the
    actor's reach (the early check stays, so nothing is written before a plain refusal).
    """
    # Lock the row alone, then read it with its relations: a locking query with joins would be
    # re-checked by PostgreSQL against the old joined rows after waiting, and find nothing when
    # the writer before us changed a joined column (e.g. the status).
    Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk").get()
    locked = Ticket.objects.select_related(
        "department", "status", "priority", "sla_plan", "requester"
    ).get(pk=ticket.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleTicket(locked)
    if permission is not None:
        _check(actor, permission, locked)
    return locked


def _check(actor: User | None, permission, ticket: Ticket) -> None:
    if actor is not None:
        access.check(actor, permission, ticket)


def _event(
    ticket: Ticket,
    kind: str,
    actor: User | None,
    before=None,
    after=None,
    reason: str = "",
    at: datetime | None = None,
) -> EventModel:
    event = EventModel.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor,
        before=before,
        after=after,
        reason=reason[:500],
        created_at=at or timezone.now(),
    )
    hooks.event_recorded(event)
    return event


def _save(ticket: Ticket, fields: Iterable[str], at: datetime | None = None) -> None:
    ticket.updated_at = at or timezone.now()
    ticket.version += 1
    ticket.save(update_fields=sorted({*fields, "updated_at", "version"}))


def _ref(obj) -> dict | None:
    """How an object appears in an event's before/after: id and a readable name."""
    if obj is None:
        return None
    return {"id": obj.pk, "name": str(obj)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _sync(target: Ticket, source: Ticket) -> None:
    """Give the caller's ticket object the committed values of the locked copy."""
    for f in Ticket._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
    target._state.fields_cache.clear()


def _update_due_times(ticket: Ticket, actor: User | None, reason: str) -> list[str]:
    """Recompute SLA due times; record a due event saying why if they moved."""
    due, first_due = compute_due_times(ticket)
    changed: list[str] = []
    before = {
        "due_at": _iso(ticket.due_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
    }
    if not ticket.due_at_manual and ticket.due_at != due:
        ticket.due_at = due
        changed.append("due_at")
    if ticket.first_response_due_at != first_due:
        ticket.first_response_due_at = first_due
        changed.append("first_response_due_at")
    if "due_at" in changed and ticket.is_overdue and (due is None or due > timezone.now()):
        ticket.is_overdue = False
        changed.append("is_overdue")
    if changed:
        after = {
            "due_at": _iso(ticket.due_at),
            "first_response_due_at": _iso(ticket.first_response_due_at),
        }
        _event(ticket, EventKind.DUE, actor, before, after, reason)
    return changed


def _validate_text(value: str, field: str, label: str, max_length: int | None = None) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: f"{label} cannot be empty."})
    if max_length and len(value) > max_length:
        raise ValidationError({field: f"{label} is too long ({len(value)} > {max_length})."})
    return value


def _validate_attachments(attachments: Sequence[NewAttachment]) -> None:
    limit = settings.HELPLINE_MAX_ATTACHMENT_BYTES
    if len(attachments) > settings.HELPLINE_MAX_ATTACHMENTS:
        raise ValidationError(
            {"attachments": f"At most {settings.HELPLINE_MAX_ATTACHMENTS} files per message."}
        )
    for a in attachments:
        if len(a.content) > limit:
            raise ValidationError(
                {"attachments": f"“{a.filename}” is larger than the limit of {limit // 2**20} MB."}
            )


def _safe_filename(name: str) -> str:
    # Keep only the last path component, no control characters, bounded length.
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return (name or "attachment")[-150:]


def _add_entry(
    ticket: Ticket,
    kind: str,
    author: User | None,
    body: str,
    body_html: str,
    attachments: Sequence[NewAttachment],
    source: str,
    message_id: str,
    at: datetime,
    threaded_by: str = "",
    full_text: str = "",
    verification: str = "",
) -> ThreadEntry:
    clean_html = sanitize_html(body_html)
    text = body if body.strip() else html_to_text(clean_html)
    entry = ThreadEntry.objects.create(
        ticket=ticket,
        kind=kind,
        author=author,
        author_name=author.display_name if author else "Helpline",
        body_text=text,
        body_html=clean_html,
        source=source,
        message_id=message_id[:255],
        created_at=at,
        threaded_by=threaded_by,
        full_text=full_text,
        verification=verification,
    )
    for a in attachments:
        stored = Attachment(
            entry=entry,
            filename=_safe_filename(a.filename),
            content_type=(a.content_type or "application/octet-stream")[:127],
            size=len(a.content),
            content_id=a.content_id[:255],
        )
        stored.file.save(stored.filename, ContentFile(a.content), save=False)
        stored.save()
    return entry


def _body_required(body: str, body_html: str, attachments: Sequence[NewAttachment]) -> None:
    if not (body or "").strip() and not html_to_text(body_html) and not attachments:
        raise ValidationError({"body": "The message cannot be empty."})


def _start_pause(ticket: Ticket, at: datetime) -> None:
    if ticket.paused_at is None:
        ticket.paused_at = at
        SLAPause.objects.create(ticket=ticket, started_at=at)


def _end_pause(ticket: Ticket, at: datetime) -> bool:
    if ticket.paused_at is None:
        return False
    SLAPause.objects.filter(ticket=ticket, ended_at__isnull=True).update(ended_at=at)
    ticket.paused_at = None
    return True


def _change_status(
    ticket: Ticket,
    actor: User | None,
    status: Status,
    at: datetime,
    reason: str = "",
    announce: bool = True,
) -> list[str]:
    """Move the ticket to `status`, with everything a state change implies. No access check."""
    old_status, old_state = ticket.status, ticket.state
    if status.pk == old_status.pk:
        return []
    fields = ["status", "state"]
    ticket.status, ticket.state = status, status.state
    _event(ticket, EventKind.STATUS, actor, _ref(old_status), _ref(status), reason, at)
    if old_state in CLOSED_STATES and status.state not in CLOSED_STATES:
        ticket.reopened_count += 1
        ticket.resolved_at = ticket.closed_at = None
        fields += ["reopened_count", "resolved_at", "closed_at"]
        _event(ticket, EventKind.REOPENED, actor, _ref(old_status), _ref(status), reason, at)
    if status.state == State.RESOLVED and ticket.resolved_at is None:
        ticket.resolved_at = at
        fields.append("resolved_at")
    if status.state == State.CLOSED:
        ticket.closed_at = at
        ticket.resolved_at = ticket.resolved_at or at
        fields += ["closed_at", "resolved_at"]
    if status.state != State.OPEN and ticket.is_overdue:
        ticket.is_overdue = False
        fields.append("is_overdue")
    # The SLA clock stops while the ticket waits on the requester, if the plan says so.
    pauses = ticket.sla_plan is not None and ticket.sla_plan.pause_when_pending
    if status.state == State.PENDING and pauses:
        _start_pause(ticket, at)
        fields.append("paused_at")
    elif old_state == State.PENDING and _end_pause(ticket, at):
        fields.append("paused_at")
        waited = at - old_status_since(ticket, at)
        fields += _update_due_times(
            ticket, actor, f"SLA clock resumed after {_human(waited)} waiting on the requester"
        )
    if not announce:
        pass
    elif status.state == State.RESOLVED:
        notify.queue(NotificationKind.RESOLVED, ticket, notify.requester_side(ticket), actor=actor)
    elif status.state == State.CLOSED and old_state != State.RESOLVED:
        notify.queue(NotificationKind.CLOSED, ticket, notify.requester_side(ticket), actor=actor)
    return fields


def old_status_since(ticket: Ticket, default: datetime) -> datetime:
    pause = SLAPause.objects.filter(ticket=ticket).order_by("-started_at").first()
    return pause.started_at if pause else default


def _human(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days {hours % 24} h"


# ---------------------------------------------------------------------------------------------
# Opening tickets


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
    subject = _validate_text(subject, "subject", "The subject", SUBJECT_MAX)
    # Assigning at intake is assigning: the actor's role must allow it. Help topics and routing
    # rules assign on the help desk's behalf, so only the caller's explicit choice is checked.
    chooses_assignment = assignee is not None or team is not None
    _body_required(body, body_html, attachments)
    _validate_attachments(attachments)
    if source not in Source.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    if help_topic is not None and not help_topic.active:
        raise ValidationError({"help_topic": f"The help topic “{help_topic}” is not active."})
    field_values = {}
    if fields is not None:
        requester_side = actor is None or not access.is_agent(actor)
        field_values = {
            name: value
            for name, value in custom_fields.clean_values(
                help_topic, fields, requester_side=requester_side
            ).items()
            if value is not None
        }
    intake = hooks.Intake(
        requester=requester,
        subject=subject,
        body=body or html_to_text(sanitize_html(body_html)),
        source=source,
        help_topic=help_topic,
        department=department,
        priority=priority,
        sla_plan=sla_plan,
        assignee=assignee,
        team=team,
        headers=dict(headers or {}),
        recipient=recipient,
        autorespond=autorespond,
    )
    hooks.filter_intake(intake)  # may raise hooks.TicketRejected
    help_topic = intake.help_topic
    config = HelpdeskConfig.load()
    department = intake.department or (help_topic.department if help_topic else None)
    department = department or config.default_department
    if department is None:
        raise ValidationError({"department": "No department given and no default configured."})
    priority = intake.priority or (help_topic.priority if help_topic else None)
    priority = (
        priority or config.default_priority or Priority.objects.filter(is_default=True).first()
    )
    if priority is None:
        raise ValidationError({"priority": "No priority given and no default configured."})
    sla_plan = intake.sla_plan or (help_topic.sla_plan if help_topic else None)
    sla_plan = sla_plan or department.default_sla or config.default_sla
    assignee, team = intake.assignee, intake.team
    if help_topic is not None:
        assignee = assignee or help_topic.auto_assign_agent
        team = team or help_topic.auto_assign_team

    on_behalf = actor is not None and actor.pk != requester.pk
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

    at = created_at or timezone.now()
    with transaction.atomic():
        status = intake.status or Status.default_for(State.OPEN)
        ticket = _insert_ticket(
            config,
            subject=subject,
            requester=requester,
            source=source,
            department=department,
            help_topic=help_topic,
            priority=priority,
            sla_plan=sla_plan,
            status=status,
            state=status.state,
            created_at=at,
            updated_at=at,
            custom_fields=field_values,
        )
        ticket.due_at, ticket.first_response_due_at = compute_due_times(ticket)
        ticket.save(update_fields=["due_at", "first_response_due_at"])
        _event(
            ticket,
            EventKind.CREATED,
            actor,
            None,
            {
                "source": source,
                "department": _ref(department),
                "help_topic": _ref(help_topic),
                "priority": _ref(priority),
                "sla_plan": _ref(sla_plan),
                "due_at": _iso(ticket.due_at),
            },
            f"Opened by {actor} for {requester}" if on_behalf else "",
            at,
        )
        for rule, why in intake.applied:
            _event(ticket, EventKind.RULE, None, None, {"rule": rule}, why, at)
        _add_entry(
            ticket,
            EntryKind.MESSAGE,
            requester,
            body,
            body_html,
            attachments,
            source,
            message_id,
            at,
            threaded_by,
            full_text,
            verification,
        )
        for user in [*collaborators, *intake.collaborators]:
            if user.pk != requester.pk:
                Collaborator.objects.get_or_create(ticket=ticket, user=user)
        if assignee is not None or team is not None:
            why = intake.assignment_reason or "Auto-assigned at intake"
            _assign(ticket, None, assignee, team, at, reason=why)
            ticket.save()
        for callback in intake.after_open:
            callback(ticket)
        if intake.autorespond:
            notify.queue(NotificationKind.NEW_TICKET_ACK, ticket, [requester])
        if alert:
            notify.queue(
                NotificationKind.NEW_TICKET_ALERT,
                ticket,
                notify.department_agents(department),
                actor=actor,
            )
    return ticket


def _insert_ticket(config: HelpdeskConfig, **fields) -> Ticket:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Ticket.objects.create(number=next_number(config), **fields)
        except IntegrityError:
            continue  # Two random numbers met; draw again.
    raise RuntimeError("Could not allocate a unique ticket number.")


# ---------------------------------------------------------------------------------------------
# The thread


def reply(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    body_html: str = "",
    attachments: Sequence[NewAttachment] = (),
    status: Status | None = None,
    expected_version: int | None = None,
    source: str = Source.WEB,
    message_id: str = "",
    verification: str = "",
) -> ThreadEntry:
    """An agent's reply to the requester (and collaborators); optionally set a status with it."""
    _check(actor, Permission.REPLY, ticket)
    if status is not None and status.pk != ticket.status_id:
        # Before anything is written: a refused reply must leave no files behind.
        _check(actor, _status_permission(status), ticket)
    _body_required(body, body_html, attachments)
    _validate_attachments(attachments)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.REPLY)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        entry = _add_entry(
            t,
            EntryKind.REPLY,
            actor,
            body,
            body_html,
            attachments,
            source,
            message_id,
            at,
            verification=verification,
        )
        fields: list[str] = []
        if t.first_responded_at is None:
            t.first_responded_at = at
            fields.append("first_responded_at")
        _event(t, EventKind.REPLIED, actor, None, {"entry": entry.pk}, "", at)
        if status is not None and status.pk != t.status_id:
            _check(actor, _status_permission(status), t)
            fields += _change_status(t, actor, status, at)
        _save(t, fields, at)
        notify.queue(NotificationKind.REPLY, t, notify.requester_side(t), entry=entry, actor=actor)
    _sync(ticket, t)
    return entry


def add_note(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    body_html: str = "",
    attachments: Sequence[NewAttachment] = (),
    expected_version: int | None = None,
    source: str = Source.WEB,
    message_id: str = "",
    verification: str = "",
) -> ThreadEntry:
    """An internal note: agents only, never shown or sent to the requester."""
    _check(actor, Permission.NOTE, ticket)
    _body_required(body, body_html, attachments)
    _validate_attachments(attachments)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.NOTE)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        entry = _add_entry(
            t,
            EntryKind.NOTE,
            actor,
            body,
            body_html,
            attachments,
            source,
            message_id,
            at,
            verification=verification,
        )
        _event(t, EventKind.NOTE, actor, None, {"entry": entry.pk}, "", at)
        _save(t, [], at)
    _sync(ticket, t)
    return entry


def add_message(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    body_html: str = "",
    attachments: Sequence[NewAttachment] = (),
    source: str = Source.WEB,
    message_id: str = "",
    threaded_by: str = "",
    full_text: str = "",
    verification: str = "",
) -> ThreadEntry:
    """A message from the requester or a collaborator (portal reply, email answer).

    A Pending ticket goes back to Open (the SLA clock runs again); a Resolved or Closed one is
    reopened and counted.
    """
    _check(actor, "message", ticket)
    _body_required(body, body_html, attachments)
    _validate_attachments(attachments)
    with transaction.atomic():
        t = _lock(ticket, None, actor, "message")
        at = timezone.now()  # After the lock: stamps follow the commit order.
        entry = _add_entry(
            t,
            EntryKind.MESSAGE,
            actor,
            body,
            body_html,
            attachments,
            source,
            message_id,
            at,
            threaded_by,
            full_text,
            verification,
        )
        _event(t, EventKind.MESSAGE, actor, None, {"entry": entry.pk}, "", at)
        fields: list[str] = []
        if t.state != State.OPEN:
            reason = (
                "The requester answered"
                if t.state == State.PENDING
                else "The requester wrote to a closed ticket"
            )
            fields += _change_status(t, actor, Status.default_for(State.OPEN), at, reason)
            if t.reopened_count and t.state == State.OPEN and "reopened_count" in fields:
                notify.queue(NotificationKind.REOPENED, t, [t.requester])
        _save(t, fields, at)
        notify.queue(
            NotificationKind.NEW_MESSAGE_ALERT,
            t,
            notify.working_agents(t),
            entry=entry,
            actor=actor,
        )
    _sync(ticket, t)
    return entry


# ---------------------------------------------------------------------------------------------
# Routing


def _assign(
    ticket: Ticket,
    actor: User | None,
    agent: User | None,
    team: Team | None,
    at: datetime,
    reason: str = "",
) -> list[str]:
    fields = []
    before = {"agent": _ref(ticket.assignee), "team": _ref(ticket.team)}
    if agent is not None and agent.pk != ticket.assignee_id:
        if not _could_work(agent, ticket):
            message = f"{agent} has no access to {ticket.department} and cannot be assigned."
            raise ValidationError({"assignee": message})
        ticket.assignee = agent
        fields.append("assignee")
    if team is not None and team.pk != ticket.team_id:
        ticket.team = team
        fields.append("team")
    if fields:
        after = {"agent": _ref(ticket.assignee), "team": _ref(ticket.team)}
        _event(ticket, EventKind.ASSIGNED, actor, before, after, reason, at)
        recipients = []
        if "assignee" in fields:
            recipients.append(agent)
        if "team" in fields:
            recipients += [m.user for m in team.members.select_related("user")]
        notify.queue(NotificationKind.ASSIGNED_ALERT, ticket, recipients, actor=actor)
    return fields


def _could_work(agent: User, ticket: Ticket) -> bool:
    """Whether `agent` could work the ticket once assigned (an agent, dept not restricted)."""
    if access.is_admin(agent):
        return True
    profile = access.agent_profile(agent)
    if profile is None:
        return False
    return ticket.department_id in profile.department_roles() or not ticket.department.restricted


def assign(
    actor: User,
    ticket: Ticket,
    *,
    agent: User | None = None,
    team: Team | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Assign the ticket to an agent and/or a team."""
    if agent is None and team is None:
        raise ValidationError({"assignee": "Choose an agent or a team."})
    if agent is not None and not access.is_agent(agent):
        raise ValidationError({"assignee": f"{agent} is not an agent."})
    _check(actor, Permission.ASSIGN, ticket)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.ASSIGN)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        fields = _assign(t, actor, agent, team, at, reason)
        if fields:
            _save(t, fields, at)
    _sync(ticket, t)
    return ticket


def release(
    actor: User,
    ticket: Ticket,
    *,
    agent: bool = True,
    team: bool = True,
    expected_version: int | None = None,
) -> Ticket:
    """Unassign the agent and/or the team."""
    _check(actor, Permission.ASSIGN, ticket)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.ASSIGN)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        before = {"agent": _ref(t.assignee), "team": _ref(t.team)}
        fields = []
        if agent and t.assignee_id:
            t.assignee = None
            fields.append("assignee")
        if team and t.team_id:
            t.team = None
            fields.append("team")
        if fields:
            _event(
                t,
                EventKind.RELEASED,
                actor,
                before,
                {"agent": _ref(t.assignee), "team": _ref(t.team)},
                "",
                at,
            )
            _save(t, fields, at)
    _sync(ticket, t)
    return ticket


def transfer(
    actor: User,
    ticket: Ticket,
    department: Department,
    *,
    agent: User | None = None,
    team: Team | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Move the ticket to another department, optionally handing it to an agent/team there.

    An assigned agent with no access there is unassigned, so the ticket leaves their view when the
    department is restricted (scenario 3). Passing `agent`/`team` assigns in the same step (the
    assign permission is checked in the department the ticket leaves), so a ticket can go to an
    agent of the new department even when the actor has no access there (scenario 4).
    """
    _check(actor, Permission.TRANSFER, ticket)
    if agent is not None or team is not None:
        _check(actor, Permission.ASSIGN, ticket)
        if agent is not None and not access.is_agent(agent):
            raise ValidationError({"assignee": f"{agent} is not an agent."})
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.TRANSFER)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if department.pk == t.department_id:
            raise ValidationError({"department": f"The ticket is already in {department}."})
        before = _ref(t.department)
        t.department = department
        fields = ["department"]
        _event(t, EventKind.TRANSFERRED, actor, before, _ref(department), reason, at)
        if t.assignee_id is not None and (agent is None or agent.pk != t.assignee_id):
            profile = access.agent_profile(t.assignee)
            has_access = access.is_admin(t.assignee) or (
                profile is not None and department.pk in profile.department_roles()
            )
            if not has_access:
                _event(
                    t,
                    EventKind.RELEASED,
                    actor,
                    {"agent": _ref(t.assignee)},
                    {"agent": None},
                    f"{t.assignee} has no access to {department}",
                    at,
                )
                t.assignee = None
                fields.append("assignee")
        if agent is not None or team is not None:
            fields += _assign(t, actor, agent, team, at, reason=f"Handed over to {department}")
        _save(t, fields, at)
        notify.queue(
            NotificationKind.TRANSFER_ALERT, t, notify.department_agents(department), actor=actor
        )
    _sync(ticket, t)
    return ticket


# ---------------------------------------------------------------------------------------------
# Fields


def _status_permission(status: Status) -> Permission:
    return Permission.CLOSE if status.state in CLOSED_STATES else Permission.STATUS


def set_status(
    actor: User | None,
    ticket: Ticket,
    status: Status,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Change the status (closing needs the close permission, anything else change-status)."""
    _check(actor, _status_permission(status), ticket)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, _status_permission(status))
        at = timezone.now()  # After the lock: stamps follow the commit order.
        fields = _change_status(t, actor, status, at, reason)
        if fields:
            _save(t, fields, at)
    _sync(ticket, t)
    return ticket


def reopen(actor: User, ticket: Ticket, *, reason: str = "") -> Ticket:
    """Back to the default open status (counted as a reopen if it was resolved or closed)."""
    return set_status(actor, ticket, Status.default_for(State.OPEN), reason=reason)


def set_priority(
    actor: User, ticket: Ticket, priority: Priority, *, expected_version: int | None = None
) -> Ticket:
    _check(actor, Permission.EDIT, ticket)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if priority.pk != t.priority_id:
            _event(t, EventKind.PRIORITY, actor, _ref(t.priority), _ref(priority), "", at)
            t.priority = priority
            _save(t, ["priority"], at)
    _sync(ticket, t)
    return ticket


def set_sla_plan(
    actor: User, ticket: Ticket, plan: SLAPlan | None, *, expected_version: int | None = None
) -> Ticket:
    """Change the SLA plan; due times are recomputed from the ticket's creation."""
    _check(actor, Permission.EDIT, ticket)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if (plan.pk if plan else None) != t.sla_plan_id:
            _event(t, EventKind.SLA, actor, _ref(t.sla_plan), _ref(plan), "", at)
            t.sla_plan = plan
            fields = ["sla_plan", *_update_due_times(t, actor, f"SLA plan changed to {plan}")]
            _save(t, fields, at)
    _sync(ticket, t)
    return ticket


def set_help_topic(
    actor: User, ticket: Ticket, topic: HelpTopic | None, *, expected_version: int | None = None
) -> Ticket:
    """Change the help topic (department, priority and SLA stay as they are: change them apart)."""
    _check(actor, Permission.EDIT, ticket)
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if (topic.pk if topic else None) != t.help_topic_id:
            _event(t, EventKind.HELP_TOPIC, actor, _ref(t.help_topic), _ref(topic), "", at)
            t.help_topic = topic
            _save(t, ["help_topic"], at)
    _sync(ticket, t)
    return ticket


def set_due_time(
    actor: User,
    ticket: Ticket,
    due_at: datetime | None,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Set the due time by hand (None: back to the SLA plan's)."""
    _check(actor, Permission.EDIT, ticket)
    if due_at is not None and timezone.is_naive(due_at):
        raise ValidationError({"due_at": "The due time needs a time zone."})
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        before = {"due_at": _iso(t.due_at)}
        if due_at is None:
            t.due_at_manual = False
            t.due_at, t.first_response_due_at = compute_due_times(t)
            why = reason or "Due time reset to the SLA plan's"
        else:
            t.due_at_manual = True
            t.due_at = due_at
            why = reason or "Due time set by hand"
        # Only ever clear the flag here: the sweep sets it, with its event and alerts.
        t.is_overdue = t.is_overdue and t.due_at is not None and t.due_at < at
        _event(t, EventKind.DUE, actor, before, {"due_at": _iso(t.due_at)}, why, at)
        _save(t, ["due_at", "due_at_manual", "first_response_due_at", "is_overdue"], at)
    _sync(ticket, t)
    return ticket


def set_fields(
    actor: User, ticket: Ticket, values: Mapping, *, expected_version: int | None = None
) -> Ticket:
    """Change custom field values of the ticket's help topic (None or "" clears one)."""
    _check(actor, Permission.EDIT, ticket)
    cleaned = custom_fields.clean_values(
        ticket.help_topic, values, requester_side=False, partial=True
    )
    with transaction.atomic():
        t = _lock(ticket, expected_version, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        current = dict(t.custom_fields or {})
        updated = {**current, **cleaned}
        updated = {name: value for name, value in updated.items() if value is not None}
        before, after = custom_fields.changed(current, updated, cleaned)
        if before or after:
            _event(t, EventKind.FIELDS, actor, before, after, "", at)
            t.custom_fields = updated
            _save(t, ["custom_fields"], at)
    _sync(ticket, t)
    return ticket


def set_subject(actor: User, ticket: Ticket, subject: str) -> Ticket:
    _check(actor, Permission.EDIT, ticket)
    subject = _validate_text(subject, "subject", "The subject", SUBJECT_MAX)
    with transaction.atomic():
        t = _lock(ticket, None, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if subject != t.subject:
            _event(t, EventKind.SUBJECT, actor, t.subject, subject, "", at)
            t.subject = subject
            _save(t, ["subject"], at)
    _sync(ticket, t)
    return ticket


def add_collaborator(actor: User, ticket: Ticket, user: User) -> Ticket:
    _check(actor, Permission.EDIT, ticket)
    with transaction.atomic():
        t = _lock(ticket, None, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if user.pk != t.requester_id:
            _, created = Collaborator.objects.get_or_create(ticket=t, user=user)
            if created:
                _event(t, EventKind.COLLABORATOR, actor, None, {"added": _ref(user)}, "", at)
                _save(t, [], at)
    _sync(ticket, t)
    return ticket


def remove_collaborator(actor: User, ticket: Ticket, user: User) -> Ticket:
    _check(actor, Permission.EDIT, ticket)
    with transaction.atomic():
        t = _lock(ticket, None, actor, Permission.EDIT)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        deleted, _ = Collaborator.objects.filter(ticket=t, user=user).delete()
        if deleted:
            _event(t, EventKind.COLLABORATOR, actor, {"removed": _ref(user)}, None, "", at)
            _save(t, [], at)
    _sync(ticket, t)
    return ticket


def delete_ticket(actor: User, ticket: Ticket, *, reason: str = "") -> dict:
    """Delete the ticket for good: thread, history, files (role permission "delete").

    A ticket cannot be restored, so what was deleted — number, subject, requester, department,
    counts — and by whom and why goes to the deletion listeners (the audit log) in the same
    transaction. Files leave storage only after the commit. Returns that summary.
    """
    _check(actor, Permission.DELETE, ticket)
    reason = (reason or "").strip()[:500]
    with transaction.atomic():
        t = _lock(ticket, None, actor, Permission.DELETE)
        files = list(Attachment.objects.filter(entry__ticket=t).values_list("file", flat=True))
        summary = {
            "id": t.pk,
            "number": t.number,
            "subject": t.subject,
            "requester": t.requester.email or t.requester.username,
            "department": t.department.name,
            "status": t.status.name,
            "created_at": _iso(t.created_at),
            "entries": t.entries.count(),
            "attachments": len(files),
        }
        hooks.ticket_deleted(summary, actor, reason)
        t.delete()
        transaction.on_commit(lambda: _remove_files(files), robust=True)
    return summary


def _remove_files(names: list[str]) -> None:
    storage = Attachment._meta.get_field("file").storage
    for name in names:
        storage.delete(name)


def merge(actor: User, ticket: Ticket, into: Ticket) -> Ticket:
    """Merge `ticket` into `into`: its thread moves over, it is closed and points to `into`."""
    if ticket.pk == into.pk:
        raise ValidationError({"into": "A ticket cannot be merged into itself."})
    _check(actor, Permission.MERGE, ticket)
    _check(actor, Permission.MERGE, into)
    with transaction.atomic():
        # Lock in id order so two opposite merges cannot deadlock.
        first, second = sorted([ticket, into], key=lambda x: x.pk)
        locked = {
            first.pk: _lock(first, None, actor, Permission.MERGE),
            second.pk: _lock(second, None, actor, Permission.MERGE),
        }
        at = timezone.now()
        src, dst = locked[ticket.pk], locked[into.pk]
        if src.merged_into_id:
            raise ValidationError({"into": f"#{src.number} is already merged."})
        if dst.merged_into_id:
            raise ValidationError(
                {"into": f"#{dst.number} is itself merged; merge into the ticket it went to."}
            )
        ThreadEntry.objects.filter(ticket=src).update(ticket=dst)
        people = {
            src.requester_id,
            *Collaborator.objects.filter(ticket=src).values_list("user_id", flat=True),
        }
        for user_id in people - {dst.requester_id}:
            Collaborator.objects.get_or_create(ticket=dst, user_id=user_id)
        src.merged_into = dst
        fields = ["merged_into"]
        closed = Status.default_for(State.CLOSED)
        fields += _change_status(
            src, actor, closed, at, f"Merged into #{dst.number}", announce=False
        )
        _event(src, EventKind.MERGED, actor, None, {"into": dst.number}, "", at)
        _event(dst, EventKind.MERGED, actor, None, {"from": src.number}, "", at)
        _save(src, fields, at)
        _save(dst, [], at)
    _sync(ticket, src)
    _sync(into, dst)
    return into


# ---------------------------------------------------------------------------------------------
# Automation (actor None: the help desk itself)


def mark_overdue(ticket: Ticket, now: datetime | None = None) -> bool:
    """Flag an open ticket past its due time once, with an event and alerts. Idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        t = _lock(ticket)
        # Stamped after the lock, like every action: a reply committed while we waited comes
        # first in the history too.
        now = max(now, timezone.now())
        if t.is_overdue or not t.overdue_now(now):
            return False
        t.is_overdue = True
        _event(t, EventKind.OVERDUE, None, None, {"due_at": _iso(t.due_at)}, "", now)
        t.save(update_fields=["is_overdue"])
        recipients = [u for u in (t.assignee, t.department.manager) if u is not None]
        notify.queue(NotificationKind.OVERDUE_ALERT, t, recipients)
    _sync(ticket, t)
    return True


def record_bounce(ticket: Ticket, reason: str, message_id: str = "") -> None:
    """A delivery-status notification about mail of this ticket: one event, no state change.

    Recorded by the help desk itself; the version is not bumped, so no agent's form goes stale
    and a bounce never reopens a ticket.
    """
    with transaction.atomic():
        t = _lock(ticket)
        after = {"message_id": message_id[:255]} if message_id else None
        _event(t, EventKind.BOUNCE, None, None, after, reason)


def close_after_waiting(ticket: Ticket, days: int, now: datetime | None = None) -> bool:
    """Close a ticket left Pending past `days`, with a note to the requester. Idempotent.

    `now` is the sweep's clock; whether the ticket has waited long enough is checked again under
    the row lock, so a ticket set Pending anew after the sweep picked it is spared.
    """
    with transaction.atomic():
        t = _lock(ticket)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if t.state != State.PENDING:
            return False
        if (t.paused_at or t.updated_at) > (now or at) - timedelta(days=days):
            return False
        reason = f"No answer from the requester for {days} days"
        closed = Status.default_for(State.CLOSED)
        fields = _change_status(t, None, closed, at, reason, announce=False)
        _save(t, fields, at)
        notify.queue(NotificationKind.PENDING_AUTO_CLOSED, t, notify.requester_side(t))
    _sync(ticket, t)
    return True
