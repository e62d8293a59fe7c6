"""Hostile names and subjects that break a channel (found by the corpus; each one BUG-marked).

A file name made only of punctuation (`">`, what is left of `<base href="…//">` after the last
slash) and a subject with a line break are ordinary input; none may cost a server error, a
bare "Bad Request" page or a lost email.
"""

import base64
import json

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from helpline.api.models import ApiKey, Scope
from helpline.mail.ingest import ingest
from helpline.reports.models import CsatSurvey
from helpline.tickets import actions
from helpline.tickets.models import Status, Ticket
from tests.hostile.mailcheck import header_problems

PUNCTUATION_ONLY = ['">', "'\"", "<>"]
SUBJECT_WITH_LINE_BREAK = "Printer jam\r\nBcc: victim@hostile.example"


@pytest.fixture
def api_key(john) -> str:
    _, key = ApiKey.issue(john, name="hostile", scopes=[Scope.TICKETS_READ, Scope.TICKETS_WRITE])
    return key


@pytest.mark.parametrize("name", PUNCTUATION_ONLY)
def test_api_takes_a_file_named_only_punctuation(api_key, name):
    body = {
        "subject": "Scanner log",
        "body": "Attached.",
        "requester_email": "mallory@hostile.example",
        "attachments": [{"filename": name, "content_base64": base64.b64encode(b"log").decode()}],
    }
    answer = Client(raise_request_exception=False).post(
        "/api/v1/tickets",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert answer.status_code == 201, answer.content[:300]


@pytest.mark.parametrize("name", PUNCTUATION_ONLY)
def test_portal_takes_a_file_named_only_punctuation(org, name):
    cache.clear()
    upload = SimpleUploadedFile(name, b"log", content_type="text/plain")
    answer = Client().post(
        "/tickets/new/",
        {
            "name": "Mallory",
            "email": "mallory@hostile.example",
            "help_topic": org.topic("Hardware").pk,
            "subject": "Scanner log",
            "message": "Attached.",
            "attachments": [upload],
        },
    )
    assert answer.status_code == 302, answer.content[:300]


def test_mail_with_a_file_named_only_punctuation_opens_a_ticket(demo):
    raw = (
        b"From: Mallory <mallory@hostile.example>\n"
        b"To: support@helpline.example\n"
        b"Subject: Scanner log\n"
        b"Message-ID: <punctuation@hostile.example>\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nAttached.\n"
        b"--b\nContent-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="\\">"\n'
        b"Content-Transfer-Encoding: base64\n\nbG9n\n--b--\n"
    )
    result = ingest(raw)
    assert result.outcome == "new_ticket", result.reason


@pytest.mark.django_db(transaction=True)
def test_survey_is_sent_for_a_subject_with_a_line_break(demo, john, karen):
    ticket = actions.open_ticket(
        karen, requester=karen, subject=SUBJECT_WITH_LINE_BREAK, body="It jams."
    )
    mail.outbox = []
    actions.set_status(john, Ticket.objects.get(pk=ticket.pk), Status.default_for("resolved"))
    assert CsatSurvey.objects.filter(ticket=ticket).exists()
    surveys = [m for m in mail.outbox if "How did we do?" in m.subject]
    assert len(surveys) == 1, [m.subject for m in mail.outbox]


@pytest.mark.django_db(transaction=True)
def test_a_typed_encoded_word_subject_adds_no_header(demo, org):
    cache.clear()
    subject = "=?utf-8?q?Hi=0D=0ABcc:_victim@hostile.example=0D=0A=0D=0Ahello?="
    answer = Client().post(
        "/tickets/new/",
        {
            "name": "Mallory",
            "email": "mallory@hostile.example",
            "help_topic": org.topic("Hardware").pk,
            "subject": subject,
            "message": "Printer jam.",
        },
    )
    assert answer.status_code == 302
    sent = list(mail.outbox)
    assert sent, "the acknowledgement went out"
    problems = [problem for message in sent for problem in header_problems(message)]
    assert problems == []
