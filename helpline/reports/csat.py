"""Customer satisfaction: a survey when a ticket is resolved, one editable answer, alerts.

The survey goes out when a person resolves or closes a ticket (not the help desk's own sweeps,
not a merge), once per ticket, if the department's settings say so. The link carries a signed
survey id and needs no login. Opening a link never records anything: link scanners in mail
systems follow every link in a message, so a rating given by GET would be cast by machines; the
page shows the rating preselected and one button saves it (POST).

The survey and the low-rating alert are written to the outbox (tickets.notify.queue_mail) in the
transaction that creates them, so they are claimed, retried and swept like every other mail; a
survey's `sent_at` is when its mail was handed to the outbox (the outbox row says when it left).
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from helpline.reports.models import CsatSurvey, SatisfactionSettings, survey_link
from helpline.tickets import notify
from helpline.tickets.models import CLOSED_STATES, ComposedKind, EventKind, Ticket
from helpline.tickets.text import header_text

log = logging.getLogger(__name__)
COMMENT_MAX = 2000
RATINGS = {
    1: "Very unhappy",
    2: "Unhappy",
    3: "Neutral",
    4: "Happy",
    5: "Very happy",
}


def event_recorded(event) -> None:
    """Listener: a status event that left the ticket resolved or closed may start a survey."""
    if event.kind != EventKind.STATUS or event.actor_id is None:
        # Closed by the help desk itself (no answer while pending, merges): nobody to rate.
        return
    try:
        ticket = (
            Ticket.objects.select_related("requester", "department")
            .filter(pk=event.ticket_id)
            .first()
        )
        if ticket is None or ticket.state not in CLOSED_STATES or ticket.merged_into_id:
            return
        start_survey(ticket)
    except Exception:  # noqa: BLE001 - after commit: log, never fail the agent's action
        log.exception("Could not start the satisfaction survey of ticket %s", event.ticket_id)


def start_survey(ticket: Ticket, now=None) -> CsatSurvey | None:
    """Create the ticket's survey and queue its email, if the department wants surveys.

    Returns the new survey, or None when there is already one, the department sends none or
    the requester has no email address.
    """
    if not SatisfactionSettings.for_department(ticket.department_id).send_survey:
        return None
    email = ticket.requester.email
    if not email or CsatSurvey.objects.filter(ticket=ticket).exists():
        return None
    try:
        with transaction.atomic():
            survey = CsatSurvey.objects.create(
                ticket=ticket, email=email, created_at=now or timezone.now()
            )
            _queue_survey(survey)
    except IntegrityError:
        return None  # Resolved twice at once: the other one made the survey.
    return survey


def _from_address(ticket: Ticket) -> str:
    try:
        from helpline.mail.outbound import from_address
    except ImportError:  # pragma: no cover - the mail app is always installed
        return settings.DEFAULT_FROM_EMAIL
    return from_address(ticket)


def _headers(ticket: Ticket) -> dict[str, str]:
    return {
        "X-Helpline-Ticket": ticket.number,
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }


def survey_mail(survey: CsatSurvey) -> dict:
    """The survey email (one link per rating and the plain page link) as queue_mail's
    arguments."""
    ticket = survey.ticket
    context = {
        "survey": survey,
        "ticket": ticket,
        "requester": ticket.requester.display_name,
        "helpdesk": settings.HELPLINE_HELPDESK_NAME,
        "links": [(n, RATINGS[n], survey_link(survey, n)) for n in RATINGS],
        "page": survey_link(survey),
    }
    return {
        "subject": header_text(f"[#{ticket.number}] How did we do? {ticket.subject}")[:250],
        "body_text": render_to_string("emails/survey.txt", context),
        "body_html": render_to_string("emails/survey.html", context),
        "from_email": _from_address(ticket),
        "headers": _headers(ticket),
    }


def _queue_survey(survey: CsatSurvey) -> None:
    notify.queue_mail(
        ComposedKind.SURVEY,
        survey.email,
        ticket=survey.ticket,
        recipient=survey.ticket.requester,
        **survey_mail(survey),
    )
    survey.sent_at = timezone.now()
    CsatSurvey.objects.filter(pk=survey.pk).update(sent_at=survey.sent_at)


def send(survey_id: int) -> bool:
    """Hand a survey's email to the outbox once (the task of surveys made before the outbox
    took them). True if it was queued now."""
    with transaction.atomic():
        survey = (
            CsatSurvey.objects.select_for_update()
            .select_related("ticket__requester", "ticket__department")
            .filter(pk=survey_id, sent_at__isnull=True)
            .first()
        )
        if survey is None:
            return False
        _queue_survey(survey)
    return True


def clean_answer(rating, comment: str) -> tuple[int, str]:
    """Validate a rating (1-5) and a comment; ValidationError with a field dict otherwise."""
    try:
        value = int(rating)
    except (TypeError, ValueError):
        raise ValidationError({"rating": "Choose a rating from 1 to 5."})
    if value not in RATINGS:
        raise ValidationError({"rating": "Choose a rating from 1 to 5."})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": f"Keep the comment under {COMMENT_MAX} characters."})
    return value, comment


def answer(survey: CsatSurvey, rating, comment: str = "", now=None) -> CsatSurvey:
    """Record (or change, within the edit window) the requester's answer.

    Raises ValidationError when the rating is not 1-5 or the survey no longer takes answers. A
    low rating (1 or 2) alerts the department manager once, if the department says so.
    """
    now = now or timezone.now()
    rating, comment = clean_answer(rating, comment)
    with transaction.atomic():
        locked = CsatSurvey.objects.select_for_update().get(pk=survey.pk)
        if not locked.is_open(now):
            raise ValidationError(
                {"rating": "This survey is closed: answers can be changed for 7 days."}
            )
        locked.rating, locked.comment = rating, comment
        locked.responded_at = locked.responded_at or now
        locked.updated_at = now
        alert = locked.is_low and locked.manager_notified_at is None and _manager_wants(locked)
        if alert:
            locked.manager_notified_at = now
        locked.save()
        if alert:
            _queue_low_rating(locked)
    for name in ("rating", "comment", "responded_at", "updated_at", "manager_notified_at"):
        setattr(survey, name, getattr(locked, name))
    return survey


def _manager_wants(survey: CsatSurvey) -> bool:
    department = survey.ticket.department
    if department.manager_id is None:
        return False
    return SatisfactionSettings.for_department(department.pk).notify_manager


def notify_manager(survey_id: int) -> bool:
    """Queue the low-rating alert to the department manager (the task of alerts decided before
    the outbox took them). True if a mail was queued."""
    survey = CsatSurvey.objects.filter(pk=survey_id).first()
    return survey is not None and _queue_low_rating(survey)


def _queue_low_rating(survey: CsatSurvey) -> bool:
    survey = (
        CsatSurvey.objects.select_related("ticket__department__manager", "ticket__requester")
        .filter(pk=survey.pk)
        .first()
    )
    if survey is None or survey.rating is None:
        return False
    ticket = survey.ticket
    manager = ticket.department.manager
    if manager is None or not manager.email:
        return False
    context = {
        "survey": survey,
        "ticket": ticket,
        "manager": manager.display_name,
        "rating_label": RATINGS[survey.rating],
        "staff_url": f"{settings.SITE_URL}/staff/tickets/{ticket.number}/",
    }
    notify.queue_mail(
        ComposedKind.LOW_RATING,
        manager.email,
        f"[#{ticket.number}] Low satisfaction rating ({survey.rating}/5): {ticket.subject}",
        render_to_string("emails/low_rating.txt", context),
        ticket=ticket,
        recipient=manager,
        from_email=_from_address(ticket),
        headers={"X-Helpline-Ticket": ticket.number, "Auto-Submitted": "auto-generated"},
    )
    return True
