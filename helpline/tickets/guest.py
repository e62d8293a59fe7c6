"""Guest links: a requester without an account opens one ticket through a signed link.

A link carries a random token; only its SHA-256 is stored (GuestAccess.token_hash), so a copy of
the database holds no working links (the outbox keeps the link's mail only until it is sent or
given up: tickets.delivery.SECRET_KINDS). A link opens one ticket, expires
(settings.HELPLINE_GUEST_LINK_DAYS) and can be revoked. Visiting it puts the
GuestAccess id in the session; every later request checks the row again, so a revoked or expired
link stops working at once, even in a session that already used it.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from helpline.accounts.models import User
from helpline.tickets import access, notify
from helpline.tickets.models import Collaborator, ComposedKind, GuestAccess, Ticket

SESSION_KEY = "helpline_guest_access"
# A session keeps the most recent links only; older ones simply need the email again.
SESSION_MAX_LINKS = 20


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_days() -> int:
    """How long a new link stays valid, in days."""
    return settings.HELPLINE_GUEST_LINK_DAYS


def issue_link(ticket: Ticket, email: str) -> str:
    """Create a link for `email` (the requester's or a collaborator's) on `ticket`.

    Returns the token, to be put in the URL /t/<token>/; it is not stored anywhere.
    """
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    GuestAccess.objects.create(
        ticket=ticket,
        email=email.strip(),
        token_hash=_hash(token),
        created_at=now,
        expires_at=now + timedelta(days=link_days()),
    )
    return token


def resolve(token: str) -> GuestAccess | None:
    """The valid (unexpired, unrevoked) GuestAccess for a token, or None."""
    if not token or len(token) > 200:
        return None
    grant = GuestAccess.objects.select_related("ticket").filter(token_hash=_hash(token)).first()
    if grant is None or not grant.is_valid():
        return None
    return grant


def revoke(ticket: Ticket, email: str | None = None) -> int:
    """Revoke the ticket's links (only those for `email` if given); returns how many."""
    links = GuestAccess.objects.filter(ticket=ticket, revoked_at__isnull=True)
    if email:
        links = links.filter(email__iexact=email.strip())
    return links.update(revoked_at=timezone.now())


def find_ticket(email: str, number: str) -> Ticket | None:
    """The ticket with this number if `email` is its requester's or a collaborator's address."""
    email = (email or "").strip()
    number = (number or "").strip().lstrip("#").strip()
    if not email or not number:
        return None
    collaborating = Collaborator.objects.filter(user__email__iexact=email).values("ticket_id")
    return (
        Ticket.objects.filter(number__iexact=number)
        .filter(Q(requester__email__iexact=email) | Q(pk__in=collaborating))
        .first()
    )


def link_path(token: str) -> str:
    return f"/t/{token}/"


def send_link(ticket: Ticket, email: str, token: str) -> None:
    """Email the link to `email` through the outbox (sent after commit, retried)."""
    context = {
        "ticket": ticket,
        "url": settings.SITE_URL + link_path(token),
        "days": link_days(),
        "helpdesk": settings.HELPLINE_HELPDESK_NAME,
    }
    subject = f"[#{ticket.number}] Your link to the ticket"
    body = render_to_string("emails/guest_link.txt", context)
    notify.queue_mail(ComposedKind.GUEST_LINK, email, subject, body.strip() + "\n", ticket=ticket)


def remember(session, grant: GuestAccess) -> None:
    """Keep the grant in the session (most recent last) and note when the link was used."""
    ids = [i for i in session.get(SESSION_KEY, []) if i != grant.pk]
    ids.append(grant.pk)
    session[SESSION_KEY] = ids[-SESSION_MAX_LINKS:]
    GuestAccess.objects.filter(pk=grant.pk).update(last_used_at=timezone.now())


def _person(ticket: Ticket, email: str) -> User | None:
    """Who the guest acts as: the requester, or the collaborator with the link's address."""
    requester = ticket.requester
    if requester.email and requester.email.lower() == email.lower():
        return requester
    collaborator = (
        Collaborator.objects.select_related("user")
        .filter(ticket=ticket, user__email__iexact=email)
        .first()
    )
    return collaborator.user if collaborator else None


def access_ticket(session, number: str) -> tuple[Ticket, User]:
    """The ticket `number` and the person a guest session acts as on it, if the session holds a
    valid link to it; else access.TicketNotFound (the same answer as for a missing ticket).

    The link says who the guest is; `access.access_ticket` then loads the ticket for that
    person and checks that they may still see it (a collaborator removed since may not).
    """
    ids = session.get(SESSION_KEY) or []
    grant = None
    if ids and access.could_be_number(number):
        grant = (
            _valid_grants(ids)
            .filter(ticket__number=number)
            .select_related("ticket__requester")
            .first()
        )
    person = _person(grant.ticket, grant.email) if grant is not None else None
    if person is None:
        raise access.TicketNotFound("No such ticket.")
    return access.access_ticket(person, number), person


def _valid_grants(ids: list[int]):
    """The session's links that still work, most recent first."""
    return GuestAccess.objects.filter(
        pk__in=ids, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def guest_user(session, ticket: Ticket) -> User | None:
    """The user a guest session acts as on `ticket`, or None if it holds no valid link to it."""
    ids = session.get(SESSION_KEY) or []
    if not ids:
        return None
    grant = _valid_grants(ids).filter(ticket=ticket).first()
    if grant is None:
        return None
    person = _person(ticket, grant.email)
    if person is None or not access.can_view(person, ticket):
        return None
    return person
