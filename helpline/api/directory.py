"""/api/v1/ read endpoints for the help desk's configuration and people, plus webhooks' logs.

Requesters see what the client portal shows them (public help topics, priorities, statuses);
departments, teams, SLA plans, agents and user look-ups are for agents.
"""

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from helpline.accounts.models import Agent, Department, Team, User
from helpline.accounts.people import find_by_email, get_or_create_requester
from helpline.api import present
from helpline.api.auth import Caller, require
from helpline.api.models import ApiKey, Scope, Webhook
from helpline.api.schemas import (
    AgentOut,
    DeliveryOut,
    DepartmentOut,
    HelpTopicOut,
    Id,
    MeOut,
    PriorityOut,
    SLAPlanOut,
    StatusOut,
    TeamOut,
    Text,
    UserIn,
    UserOut,
    WebhookOut,
)
from helpline.api.tickets import ERRORS
from helpline.sla.models import SLAPlan
from helpline.tickets import access
from helpline.tickets.models import HelpTopic, Priority
from helpline.tickets.models import Status as TicketStatus

router = Router(tags=["help desk"])


def _agent(request: HttpRequest, scope: str = Scope.TICKETS_READ) -> Caller:
    caller = require(request, scope)
    if not access.is_agent(caller.user):
        raise HttpError(403, "Only agents can read this.")
    return caller


def user_out(user: User) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.display_name,
        "email": user.email,
        "is_agent": access.is_agent(user),
    }


def _key_label(key: ApiKey | None) -> str | None:
    return None if key is None else str(key)


@router.get("/me", response={200: MeOut, **ERRORS}, summary="Who am I")
def me(request: HttpRequest):
    """The user the key acts as, and the key's scopes."""
    caller: Caller = request.auth
    return {
        "user": user_out(caller.user),
        "scopes": sorted(caller.scopes),
        "key": _key_label(caller.key),
    }


@router.get("/departments", response={200: list[DepartmentOut], **ERRORS})
def departments(request: HttpRequest):
    _agent(request)
    return [
        {"id": d.pk, "name": d.name, "restricted": d.restricted, "email": d.email}
        for d in Department.objects.all()
    ]


@router.get("/teams", response={200: list[TeamOut], **ERRORS})
def teams(request: HttpRequest):
    _agent(request)
    return [{"id": t.pk, "name": t.name} for t in Team.objects.all()]


@router.get("/help-topics", response={200: list[HelpTopicOut], **ERRORS})
def help_topics(request: HttpRequest):
    """Active help topics; requesters see the public ones only."""
    caller = require(request, Scope.TICKETS_READ)
    topics = HelpTopic.objects.filter(active=True).select_related("department")
    if not access.is_agent(caller.user):
        topics = topics.filter(public=True)
    return [
        {"id": t.pk, "name": t.name, "department": present.named(t.department), "public": t.public}
        for t in topics
    ]


@router.get("/priorities", response={200: list[PriorityOut], **ERRORS})
def priorities(request: HttpRequest):
    require(request, Scope.TICKETS_READ)
    return [
        {"id": p.pk, "name": p.name, "level": p.level, "is_default": p.is_default}
        for p in Priority.objects.all()
    ]


@router.get("/statuses", response={200: list[StatusOut], **ERRORS})
def statuses(request: HttpRequest):
    require(request, Scope.TICKETS_READ)
    return [{"id": s.pk, "name": s.name, "state": s.state} for s in TicketStatus.objects.all()]


@router.get("/sla-plans", response={200: list[SLAPlanOut], **ERRORS})
def sla_plans(request: HttpRequest):
    _agent(request)
    return [
        {
            "id": p.pk,
            "name": p.name,
            "grace_hours": float(p.grace_hours),
            "first_response_hours": (
                float(p.first_response_hours) if p.first_response_hours is not None else None
            ),
        }
        for p in SLAPlan.objects.filter(active=True)
    ]


@router.get("/agents", response={200: list[AgentOut], **ERRORS})
def agents(request: HttpRequest):
    """Active agents: name, username and primary department only."""
    _agent(request)
    return [
        {
            "id": a.user.pk,
            "username": a.user.username,
            "name": a.user.display_name,
            "department": present.named(a.department),
            "on_vacation": a.on_vacation,
        }
        for a in Agent.objects.filter(is_active=True, user__is_active=True).select_related(
            "user", "department"
        )
    ]


class UserLookup(Schema):
    email: Text


@router.get("/users", response={200: list[UserOut], **ERRORS})
def find_users(request: HttpRequest, lookup: Query[UserLookup]):
    """Look a user up by email address (exact, case-insensitive): a list of zero or one."""
    _agent(request)
    found = find_by_email(lookup.email)
    return [user_out(found)] if found is not None else []


@router.post("/users", response={201: UserOut, 200: UserOut, **ERRORS})
def create_user(request: HttpRequest, payload: UserIn):
    """Create a requester by email (answers 200 with the existing user if there is one)."""
    _agent(request, Scope.TICKETS_WRITE)
    user, created = get_or_create_requester(payload.email, payload.name)
    return Status(201 if created else 200, user_out(user))


def _admin(request: HttpRequest) -> Caller:
    caller = require(request, Scope.ADMIN_READ)
    if not access.is_admin(caller.user):
        raise HttpError(403, "Only administrators can read webhooks.")
    return caller


@router.get("/webhooks", response={200: list[WebhookOut], **ERRORS}, tags=["webhooks"])
def webhooks(request: HttpRequest):
    _admin(request)
    return [
        {
            "id": w.pk,
            "name": w.name,
            "url": w.url,
            "events": list(w.events or []),
            "is_active": w.is_active,
            "failure_streak": w.failure_streak,
            "disabled_at": w.disabled_at,
        }
        for w in Webhook.objects.all()
    ]


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response={200: list[DeliveryOut], **ERRORS},
    tags=["webhooks"],
)
def deliveries(request: HttpRequest, webhook_id: Id):
    """The latest 100 deliveries of a webhook, newest first."""
    _admin(request)
    hook = Webhook.objects.filter(pk=webhook_id).first()
    if hook is None:
        raise HttpError(404, "No such webhook.")
    return [
        {
            "id": str(d.pk),
            "event": d.event,
            "ticket_number": d.ticket_number,
            "state": d.state,
            "attempts": d.attempts,
            "response_code": d.response_code,
            "error": d.error,
            "created_at": d.created_at,
            "last_attempt_at": d.last_attempt_at,
            "next_attempt_at": d.next_attempt_at,
            "delivered_at": d.delivered_at,
        }
        for d in hook.deliveries.all()[:100]
    ]
