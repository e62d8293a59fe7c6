"""The outbox's front door: every mail is a row written in the transaction that decides to send
it; a task sends it after commit (tickets.delivery claims, sends, retries and sweeps).

`queue` writes ticket notifications (rendered from their templates when sent); `queue_mail`
writes any other mail, composed now: surveys, password resets, registration, guest links.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from helpline.accounts.models import Agent, Department, User
from helpline.tickets.models import (
    Collaborator,
    DeliveryState,
    Notification,
    NotificationKind,
    ThreadEntry,
    Ticket,
)
from helpline.tickets.text import header_text


def requester_side(ticket: Ticket) -> list[User]:
    """The requester and the collaborators: who gets the public conversation."""
    people = [ticket.requester]
    people += [c.user for c in Collaborator.objects.filter(ticket=ticket).select_related("user")]
    return people


def department_agents(department: Department) -> list[User]:
    """Who hears about new and transferred tickets: the manager and the department's agents."""
    agents = (
        Agent.objects.filter(is_active=True, on_vacation=False)
        .filter(Q(department=department) | Q(accesses__department=department))
        .select_related("user")
        .distinct()
    )
    people = [a.user for a in agents]
    if department.manager_id:
        people.append(department.manager)
    return people


def working_agents(ticket: Ticket) -> list[User]:
    """Who hears about a new message: the assignee, else the team, else the department."""
    if ticket.assignee_id:
        return [ticket.assignee]
    if ticket.team_id:
        return [m.user for m in ticket.team.members.select_related("user") if m.is_active]
    return department_agents(ticket.department)


def queue(
    kind: str,
    ticket: Ticket,
    recipients: Iterable[User],
    *,
    entry: ThreadEntry | None = None,
    actor: User | None = None,
) -> list[Notification]:
    """Write outbox rows (deduplicated, never to the actor) and deliver them after commit.

    Loop protection: nothing goes to the help desk's own addresses or to banned ones; an
    address past the acknowledgement limit gets a row marked suppressed (so the log shows why)
    instead of another acknowledgement.
    """
    from helpline.mail import loops

    seen: set[str] = set()
    people = []
    for user in recipients:
        if user is None or not user.email or not user.is_active:
            continue
        if actor is not None and user.pk == actor.pk:
            continue
        email = user.email.lower()
        if email in seen:
            continue
        seen.add(email)
        people.append(user)
    if not people:
        return []
    own = loops.own_addresses()
    banned = loops.banned_among([u.email for u in people])
    rows = []
    for user in people:
        if user.email.lower() in banned or user.email in own:
            continue
        row = Notification(kind=kind, ticket=ticket, entry=entry, recipient=user, email=user.email)
        if kind == NotificationKind.NEW_TICKET_ACK and loops.ack_rate_exceeded(user.email):
            row.state = DeliveryState.SUPPRESSED
            count, window = loops.ack_limit()
            minutes = int(window.total_seconds() // 60)
            row.error = f"Acknowledgement limit reached ({count} per {minutes} min)"
        rows.append(row)
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created if n.pk is not None and n.state == DeliveryState.QUEUED]
    if ids:
        # Robust: the ticket change is committed whatever happens here; a notification whose
        # task could not be queued is picked up by the retry sweep (delivery.retry_due).
        transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return created


def queue_mail(
    kind: str,
    email: str,
    subject: str,
    body_text: str,
    *,
    body_html: str = "",
    ticket: Ticket | None = None,
    recipient: User | None = None,
    from_email: str = "",
    headers: dict[str, str] | None = None,
) -> Notification | None:
    """Write one composed mail (a ComposedKind) to the outbox and send it after commit.

    Returns the row, or None when there is no address to send to. The Message-ID is the
    outbox's (fixed before the first attempt); `headers` may not set it.
    """
    if not email:
        return None
    extra = {k: v for k, v in (headers or {}).items() if k.lower() != "message-id"}
    row = Notification.objects.create(
        kind=kind,
        ticket=ticket,
        recipient=recipient,
        email=email,
        subject=header_text(subject)[:250],
        body_text=body_text,
        body_html=body_html,
        from_email=from_email,
        headers=extra,
    )
    transaction.on_commit(lambda: _enqueue([row.pk]), robust=True)
    return row


def _enqueue(ids: list[int]) -> None:
    from helpline.tickets.tasks import deliver_notifications

    deliver_notifications.enqueue(ids)
