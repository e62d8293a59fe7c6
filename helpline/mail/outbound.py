"""Notification → email: templates (admin's version or the shipped file), threading headers.

Templates are rendered by a private template engine with no loaders and no tag libraries, over a
context of plain strings (never model objects): an administrator can change wording and layout
but cannot reach into the database or include other files.
"""

import logging
from dataclasses import dataclass
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template import Context, Engine
from django.template.loader import get_template
from django.utils import timezone
from django.utils.html import escape, linebreaks

from helpline.mail.quotes import REPLY_MARKER
from helpline.mail.threading import make_message_id, reply_address
from helpline.tickets.models import Notification, NotificationKind, ThreadEntry, Ticket
from helpline.tickets.text import header_text

log = logging.getLogger(__name__)

# Mail a requester can answer: these carry the "reply above this line" marker.
REQUESTER_KINDS = {
    NotificationKind.NEW_TICKET_ACK,
    NotificationKind.REPLY,
    NotificationKind.RESOLVED,
    NotificationKind.CLOSED,
    NotificationKind.REOPENED,
    NotificationKind.PENDING_AUTO_CLOSED,
}
# Alerts to agents: answering one by email replies to the requester (README "Mail you can trust").
AGENT_KINDS = {
    NotificationKind.NEW_TICKET_ALERT,
    NotificationKind.NEW_MESSAGE_ALERT,
    NotificationKind.ASSIGNED_ALERT,
    NotificationKind.TRANSFER_ALERT,
    NotificationKind.OVERDUE_ALERT,
    NotificationKind.DUE_REMINDER,
}
AGENT_ANSWER_HINT = (
    "Answer this email above the line to reply to the requester as yourself; start your answer "
    "with #note to leave an internal note instead. Answers count only from the address this "
    "mail was sent to."
)
# Sent by a person (an agent's reply); everything else is automatic (RFC 3834).
PERSONAL_KINDS = {NotificationKind.REPLY}

DEFAULT_SUBJECTS = {
    NotificationKind.NEW_TICKET_ACK: "[#{{ ticket.number }}] {{ ticket.subject }}",
    NotificationKind.REPLY: "Re: [#{{ ticket.number }}] {{ ticket.subject }}",
    NotificationKind.RESOLVED: "[#{{ ticket.number }}] Resolved: {{ ticket.subject }}",
    NotificationKind.CLOSED: "[#{{ ticket.number }}] Closed: {{ ticket.subject }}",
    NotificationKind.REOPENED: "[#{{ ticket.number }}] Reopened: {{ ticket.subject }}",
    NotificationKind.NEW_TICKET_ALERT: "[#{{ ticket.number }}] New ticket: {{ ticket.subject }}",
    NotificationKind.NEW_MESSAGE_ALERT: "[#{{ ticket.number }}] New message: {{ ticket.subject }}",
    NotificationKind.ASSIGNED_ALERT: "[#{{ ticket.number }}] Assigned: {{ ticket.subject }}",
    NotificationKind.TRANSFER_ALERT: "[#{{ ticket.number }}] Transferred: {{ ticket.subject }}",
    NotificationKind.OVERDUE_ALERT: "[#{{ ticket.number }}] Overdue: {{ ticket.subject }}",
    NotificationKind.PENDING_AUTO_CLOSED: "[#{{ ticket.number }}] Closed: {{ ticket.subject }}",
    NotificationKind.DUE_REMINDER: "[#{{ ticket.number }}] Due soon: {{ ticket.subject }}",
}

_text_engine = Engine(autoescape=False, libraries={}, loaders=[])
_html_engine = Engine(autoescape=True, libraries={}, loaders=[])


class TemplateProblem(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Suppressed(Exception):
    """This notification is switched off for the ticket's department."""


SAMPLE_CONTEXT = {
    "ticket": {"number": "123456", "subject": "Sample", "url": "", "staff_url": ""},
    "requester": {"name": "Sample Requester", "email": "requester@example.com"},
    "recipient": {"name": "Sample Requester", "email": "requester@example.com"},
    "entry": {"body": "Sample text", "author": "Sample Agent", "created_at": ""},
    "helpdesk": "Helpline",
    "site_url": "",
}


def _render(engine: Engine, source: str, context: dict) -> str:
    return engine.from_string(source or "").render(
        Context(context, autoescape=engine is _html_engine)
    )


def check_template(subject: str, body_text: str, body_html: str = "") -> None:
    """Raise TemplateProblem naming the field whose template does not compile or render."""
    for field, engine, source in (
        ("subject", _text_engine, subject),
        ("body_text", _text_engine, body_text),
        ("body_html", _html_engine, body_html),
    ):
        try:
            _render(engine, source, SAMPLE_CONTEXT)
        except Exception as exc:  # noqa: BLE001 - syntax errors, include/extends, bad filters
            raise TemplateProblem(field, f"Template error: {exc}")


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def _when(value) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def _name(user) -> str:
    return user.display_name if user is not None else ""


def template_context(notification: Notification) -> dict:
    """The only data a template sees: plain strings about the ticket, entry and recipient."""
    ticket: Ticket = notification.ticket
    entry: ThreadEntry | None = notification.entry
    site = settings.SITE_URL
    return {
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": str(ticket.status),
            "priority": str(ticket.priority),
            "department": str(ticket.department),
            "help_topic": str(ticket.help_topic or ""),
            "assignee": _name(ticket.assignee),
            "team": str(ticket.team or ""),
            "due_at": _when(ticket.due_at),
            "created_at": _when(ticket.created_at),
            "url": f"{site}/tickets/{ticket.number}/",
            "staff_url": f"{site}/staff/tickets/{ticket.number}/",
        },
        "requester": {"name": _name(ticket.requester), "email": ticket.requester.email},
        "recipient": {"name": _name(notification.recipient), "email": notification.email},
        "entry": {
            "body": entry.body_text if entry else "",
            "author": entry.author_name if entry else "",
            "created_at": _when(entry.created_at) if entry else "",
        },
        "helpdesk": settings.HELPLINE_HELPDESK_NAME,
        "site_url": site,
    }


def _sources(notification: Notification) -> tuple[str, str, str]:
    """(subject, text, html) template sources: the department's, the global, else the file."""
    from helpline.mail.models import EmailTemplate

    kind = notification.kind
    department_id = notification.ticket.department_id
    rows = {
        t.department_id: t
        for t in EmailTemplate.objects.filter(kind=kind).filter(
            Q(department_id=department_id) | Q(department__isnull=True)
        )
    }
    row = rows.get(department_id) or rows.get(None)
    if row is not None:
        if not row.enabled:
            raise Suppressed(f"The “{row}” email template is switched off.")
        return row.subject, row.body_text, row.body_html
    return default_sources(kind)


def default_sources(kind: str) -> tuple[str, str, str]:
    """The shipped subject and body of a notification kind (body from templates/emails/)."""
    source = get_template(f"emails/{kind}.txt").template.source
    return DEFAULT_SUBJECTS.get(kind, "[#{{ ticket.number }}] {{ ticket.subject }}"), source, ""


def render(notification: Notification) -> Rendered:
    """Subject, plain text and HTML of one notification."""
    subject_src, text_src, html_src = _sources(notification)
    context = template_context(notification)
    try:
        subject = _render(_text_engine, subject_src, context)
        text = _render(_text_engine, text_src, context)
        html = _render(_html_engine, html_src, context) if html_src else ""
    except Exception:  # noqa: BLE001
        # An admin's template broke after it was saved (e.g. edited in the database): the
        # shipped default still gets the news out.
        log.warning("Email template for %s failed; using the default", notification.kind)
        subject_src, text_src, _ = default_sources(notification.kind)
        subject = _render(_text_engine, subject_src, context)
        text = _render(_text_engine, text_src, context)
        html = ""
    subject = header_text(subject)
    number_tag = f"[#{notification.ticket.number}]"
    if number_tag not in subject:
        subject = f"{number_tag} {subject}"
    text = text.strip() + "\n"
    if notification.kind in REQUESTER_KINDS:
        text = f"{REPLY_MARKER}\n\n{text}"
    elif notification.kind in AGENT_KINDS:
        text = f"{REPLY_MARKER}\n\n{text}\n-- \n{AGENT_ANSWER_HINT}\n"
    if not html:
        html = _auto_html(text, notification)
    return Rendered(subject[:250], text, html)


def _auto_html(text: str, notification: Notification) -> str:
    """An HTML alternative made from the text (the marker kept visible but discreet)."""
    body = text
    marker = ""
    if notification.kind in REQUESTER_KINDS | AGENT_KINDS and body.startswith(REPLY_MARKER):
        body = body[len(REPLY_MARKER) :].lstrip()
        marker = f'<p style="color:#9ca3af;font-size:12px">{escape(REPLY_MARKER)}</p>'
    return (
        '<!doctype html><html><body style="font-family:sans-serif;font-size:14px;color:#111827">'
        f"{marker}{linebreaks(escape(body))}</body></html>"
    )


def thread_references(notification: Notification) -> list[str]:
    """Message-IDs of the conversation as this recipient saw it, oldest first (at most 10)."""
    ticket = notification.ticket
    entry_ids = list(
        ThreadEntry.objects.filter(ticket=ticket)
        .exclude(message_id="")
        .order_by("created_at", "id")
        .values_list("message_id", flat=True)
    )
    sent_ids = list(
        Notification.objects.filter(ticket=ticket, email__iexact=notification.email)
        .exclude(message_id="")
        .exclude(pk=notification.pk)
        .order_by("sent_at", "id")
        .values_list("message_id", flat=True)
    )
    ids = list(dict.fromkeys([*entry_ids[:1], *sent_ids[:1], *entry_ids[1:], *sent_ids[1:]]))
    return ids[:1] + ids[1:][-9:]


def from_address(ticket: Ticket) -> str:
    department = ticket.department
    address = department.email or settings.DEFAULT_FROM_EMAIL
    return formataddr((f"{settings.HELPLINE_HELPDESK_NAME} {department}", address))


def reply_to_address(ticket: Ticket, recipient: str) -> str:
    """Where answers go: the department's fetched mailbox, with a signed reply address per
    recipient when the mailbox takes sub-addresses ("" when plain From is right)."""
    from helpline.mail.models import Mailbox

    mailbox = Mailbox.objects.filter(active=True, department=ticket.department_id).first()
    if mailbox is None:
        return ""
    if mailbox.subaddress_separator:
        return reply_address(ticket, recipient, mailbox.address, mailbox.subaddress_separator)
    if mailbox.address.lower() == (ticket.department.email or "").lower():
        return ""
    return mailbox.address


def build_message(notification: Notification) -> tuple[EmailMultiAlternatives, str]:
    """The email for one notification and its Message-ID. Raises Suppressed if switched off."""
    ticket = notification.ticket
    rendered = render(notification)
    message_id = make_message_id(ticket, notification.email)
    headers = {"Message-ID": message_id, "X-Helpline-Ticket": ticket.number}
    references = thread_references(notification)
    if references:
        headers["In-Reply-To"] = references[-1]
        headers["References"] = " ".join(references)
    if notification.kind == NotificationKind.NEW_TICKET_ACK:
        headers["Auto-Submitted"] = "auto-replied"
    elif notification.kind not in PERSONAL_KINDS:
        headers["Auto-Submitted"] = "auto-generated"
    if notification.kind not in PERSONAL_KINDS:
        # Asks Exchange/Outlook not to answer with out-of-office replies.
        headers["X-Auto-Response-Suppress"] = "All"
    reply_to = reply_to_address(ticket, notification.email)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_address(ticket),
        to=[notification.email],
        headers=headers,
        reply_to=[reply_to] if reply_to else None,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message, message_id
