"""Putting the corpus into every field a requester or an email controls, the way it arrives.

Each function takes one payload through one channel as a client would: the portal's form (a
Django test client POST), raw mail bytes through `helpline.mail.ingest`, the REST API with an API
key, the agent panel's forms. They return what landed (`Landed`) and the pages the channel
answered with (form errors, flash messages), which are render surfaces too. Nothing here reaches
into the database directly except to find what a channel created.
"""

import base64
import json
import uuid
from dataclasses import dataclass, field
from email.header import Header
from html import escape
from urllib.parse import quote

from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from helpline.accounts.models import User
from helpline.mail.ingest import ingest
from helpline.tickets.models import Ticket
from tests.hostile.corpus import Payload

DOMAIN = "hostile.example"
HELP_DESK = "support@helpline.example"


def address(channel: str, payload: Payload, role: str = "from") -> str:
    """A plain, valid address unique to the channel, payload and role."""
    return f"{channel}-{role}-{payload.pid}@{DOMAIN}"


@dataclass
class Landed:
    """One payload after one channel: the ticket it made (if any) and the pages shown."""

    channel: str
    payload: Payload
    ticket: Ticket | None = None
    person: User | None = None  # the person named by the payload
    pages: list[tuple[str, HttpResponse]] = field(default_factory=list)
    refused: str = ""  # why the channel refused the payload (a clear error, not a crash)

    def __str__(self) -> str:
        return f"{self.payload} via {self.channel}"


def follow(client: Client, response: HttpResponse) -> HttpResponse:
    """GET the redirect's target (without its #fragment): the page the person lands on."""
    return client.get(response["Location"].split("#")[0])


# ---------------------------------------------------------------------------------------------
# Client portal


def portal_open(
    client: Client, payload: Payload, topic_id: int, email: str = "", **extra: str
) -> Landed:
    """A guest opens a ticket: name, subject, message and a file name all carry the payload
    (and `extra` fields: custom field values)."""
    cache.clear()  # The portal's rate limit per address and network address.
    email = email or address("portal", payload)
    upload = SimpleUploadedFile(f"{payload.text}.txt", b"log line\n", content_type="text/plain")
    response = client.post(
        "/tickets/new/",
        {
            "name": payload.text[:150],
            "email": email,
            "help_topic": topic_id,
            "subject": payload.text,
            "message": payload.text,
            "attachments": [upload],
            **extra,
        },
    )
    landed = Landed("portal", payload, pages=[("portal new-ticket answer", response)])
    if response.status_code == 302:
        opened = client.session.get("helpline_portal_opened") or {}
        landed.ticket = Ticket.objects.filter(number=opened.get("number")).first()
        landed.person = landed.ticket.requester if landed.ticket else None
        landed.pages.append(("portal ticket opened page", follow(client, response)))
    else:
        landed.refused = f"form answered {response.status_code}"
    return landed


def portal_form_echo(client: Client, payload: Payload, topic_id: int | None) -> HttpResponse:
    """A submission the form refuses (the payload is no email address, nor a device): it comes
    back with every typed value in it and the errors naming them."""
    cache.clear()
    data = {
        "name": payload.text,
        "email": payload.text,
        "phone": payload.text[:40],
        "subject": payload.text,
        "message": payload.text,
    }
    if topic_id is not None:
        data.update(help_topic=topic_id, cf_asset_tag=payload.text, cf_device=payload.text)
    return client.post("/tickets/new/", data)


def status_form_echo(client: Client, payload: Payload) -> HttpResponse:
    """ "Check ticket status" with the payload as both values: an invalid address comes back."""
    cache.clear()
    return client.post("/status/", {"email": payload.text, "number": payload.text[:34]})


# ---------------------------------------------------------------------------------------------
# Mail


def encoded_word(text: str) -> str:
    """RFC 2047 (base64) so that any character, CR and LF included, survives transport."""
    return Header(text, "utf-8").encode()


def _b64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _part(headers: list[str], data: bytes) -> str:
    return "\n".join([*headers, "Content-Transfer-Encoding: base64", "", _b64_lines(data)])


def mail_message(payload: Payload) -> bytes:
    """multipart/mixed: multipart/alternative (text and HTML bodies) and two attachments whose
    names carry the payload (RFC 2231 and an encoded-word); the payload is also the Subject,
    the sender's display name and the names of a To and a Cc collaborator."""
    name = encoded_word(payload.text)
    subject = payload.text if payload.raw_header else encoded_word(payload.text)
    text = payload.mail_bytes or payload.text.encode()
    html = f"<html><body><p>{payload.text}</p><p>{escape(payload.text)}</p></body></html>"
    script = f"<script>__xss('{payload.pid}')</script>".encode()
    alt, mixed = f"alt-{uuid.uuid4().hex}", f"mix-{uuid.uuid4().hex}"
    parts = [
        f"From: {name} <{address('mail', payload)}>",
        f"To: Helpline <{HELP_DESK}>, {name} <{address('mail', payload, 'to')}>",
        f"Cc: {name} <{address('mail', payload, 'cc')}>",
        f"Subject: {subject}",
        f"Message-ID: <{payload.pid}.{uuid.uuid4().hex}@{DOMAIN}>",
        "Date: Wed, 21 Jan 2026 10:00:00 -0500",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{mixed}"',
        "",
        f"--{mixed}",
        f'Content-Type: multipart/alternative; boundary="{alt}"',
        "",
        f"--{alt}",
        _part(["Content-Type: text/plain; charset=utf-8"], text),
        f"--{alt}",
        _part(["Content-Type: text/html; charset=utf-8"], html.encode()),
        f"--{alt}--",
        f"--{mixed}",
        _part(
            [
                "Content-Type: text/html",
                f"Content-Disposition: attachment; filename*=utf-8''{quote(payload.text)}.html",
            ],
            script,
        ),
        f"--{mixed}",
        _part(
            [
                "Content-Type: image/svg+xml",
                f'Content-Disposition: attachment; filename="{encoded_word(payload.text)}"',
            ],
            f"<svg xmlns='http://www.w3.org/2000/svg' onload=\"__xss('{payload.pid}')\"/>".encode(),
        ),
        f"--{mixed}--",
        "",
    ]
    return "\n".join(parts).encode()


def mail_html_only(payload: Payload, in_reply_to: str = "") -> bytes:
    """A single text/html part (no text alternative), answering `in_reply_to`: the thread's
    text comes from the HTML."""
    html = f"<div>{payload.text}</div><blockquote>{payload.text}</blockquote>"
    threading = [f"In-Reply-To: {in_reply_to}"] if in_reply_to else []
    return "\n".join(
        [
            f"From: {address('mail', payload)}",
            f"To: {HELP_DESK}",
            f"Subject: Re: HTML only {payload.pid}",
            f"Message-ID: <html-{payload.pid}.{uuid.uuid4().hex}@{DOMAIN}>",
            *threading,
            "MIME-Version: 1.0",
            _part(["Content-Type: text/html; charset=utf-8"], html.encode()),
            "",
        ]
    ).encode()


def mail_unreadable_sender(payload: Payload) -> bytes:
    """No readable From address: intake keeps it as failed mail, subject and all."""
    return "\n".join(
        [
            f"From: {encoded_word(payload.text)}",
            f"To: {HELP_DESK}",
            f"Subject: {encoded_word(payload.text)}",
            f"Message-ID: <failed-{payload.pid}.{uuid.uuid4().hex}@{DOMAIN}>",
            "Content-Type: text/plain; charset=utf-8",
            "",
            payload.text.replace("\r", ""),
            "",
        ]
    ).encode()


def mail_from_address(payload: Payload) -> bytes:
    """The payload is the sender's address itself (and a Cc address)."""
    return "\n".join(
        [
            f"From: {payload.text}",
            f"To: {HELP_DESK}",
            f"Cc: {payload.text.replace('@', '+cc@')}",
            f"Subject: From address {payload.pid}",
            f"Message-ID: <from-{payload.pid}.{uuid.uuid4().hex}@{DOMAIN}>",
            "Content-Type: text/plain; charset=utf-8",
            "",
            "Please help.",
            "",
        ]
    ).encode()


def mail_in(raw: bytes, channel: str, payload: Payload) -> Landed:
    result = ingest(raw)
    landed = Landed(channel, payload, ticket=result.ticket)
    landed.person = result.ticket.requester if result.ticket else None
    if result.ticket is None or result.outcome in ("failed", "ignored", "rejected"):
        landed.refused = f"{result.outcome}: {result.reason}"
    return landed


# ---------------------------------------------------------------------------------------------
# REST API


def api_open(
    client: Client,
    key: str,
    payload: Payload,
    requester_email: str = "",
    fields: dict | None = None,
) -> Landed:
    """An agent's API key opens a ticket for a new requester named by the payload (with custom
    field values of the Hardware topic when `fields` is given)."""
    body = {
        "subject": payload.text,
        "body": payload.text,
        "body_html": f"<p>{payload.text}</p>",
        "requester_email": requester_email or address("api", payload),
        "requester_name": payload.text[:150],
        "attachments": [
            {
                "filename": f"{payload.text}.html",
                "content_type": "text/html",
                "content_base64": base64.b64encode(b"<script>__xss('api')</script>").decode(),
            }
        ],
    }
    if fields:
        body.update(help_topic="Hardware", fields=fields)
    response = client.post(
        "/api/v1/tickets",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    landed = Landed("api", payload, pages=[("API answer", response)])
    if response.status_code == 201:
        landed.ticket = Ticket.objects.get(number=response.json()["number"])
        landed.person = landed.ticket.requester
    else:
        landed.refused = f"API answered {response.status_code}: {response.content[:200]!r}"
    return landed


# ---------------------------------------------------------------------------------------------
# Agent panel


def agent_new_ticket_echo(client: Client, payload: Payload) -> HttpResponse:
    """The agent's "new ticket" form with the payload in every field: the payload is no email
    address, so the form comes back with the values and the error."""
    return client.post(
        "/staff/tickets/new/",
        {
            "requester_email": payload.text,
            "requester_name": payload.text,
            "source": "phone",
            "subject": payload.text,
            "body": payload.text,
        },
    )


def agent_set_field(client: Client, ticket: Ticket, name: str, payload: Payload) -> list:
    """Save a custom field value through the ticket page's "Fields" form."""
    ticket.refresh_from_db()
    response = client.post(
        f"/staff/tickets/{ticket.number}/fields/",
        # A value different from the one the portal stored, so the change is an event.
        {name: f"✓ {payload.text[:200]}", "version": ticket.version},
    )
    return [("agent fields answer", response)]


def agent_compose(client: Client, ticket: Ticket, kind: str, payload: Payload, **extra) -> list:
    """Post an internal note or a reply through the ticket page's form (the answer: a redirect
    to the ticket, or the page with the form's errors)."""
    ticket.refresh_from_db()
    response = client.post(
        f"/staff/tickets/{ticket.number}/{kind}/",
        {"body": payload.text, "version": ticket.version, **extra},
    )
    return [(f"agent {kind} answer", response)]


# No hostile ticket is pending: the search's page and sidebar count stay cheap.
NO_MATCH = {"queue": "pending"}


def agent_save_search(client: Client, payload: Payload) -> list:
    """Save filters as a search named by the payload."""
    response = client.post(
        "/staff/searches/save/",
        # Filters that match nothing: the saved search's page is about its name, not tickets.
        {"name": payload.text, "filters": json.dumps(NO_MATCH), "sort": "-updated"},
    )
    return [("save search answer", response)]


def flashed(client: Client) -> HttpResponse:
    """A light page of the agent panel: it shows the flash messages queued for the agent
    ("Reply sent to <name>.", "Saved the search “<name>”.")."""
    return client.get("/staff/search/")
