"""DKIM through the whole intake: a mailbox that verifies signatures itself, with test keys and a
stub resolver (tests/mail/test_authenticity.py), never the network."""

import dkim
import pytest

from helpline.mail import trust
from helpline.mail.ingest import ingest
from helpline.mail.models import Mailbox, Outcome
from helpline.tickets import actions
from helpline.tickets.models import State
from tests.mail.test_authenticity import ATTACKER_KEY, SENDER_KEY, dns, rsa_key

pytestmark = pytest.mark.django_db


def karens_mail(subject="Printer", body="The printer jams.", extra="") -> bytes:
    return (
        "From: Karen Miller <karen@example.com>\r\nTo: support@helpline.example\r\n"
        f"Cc: Boss <boss@example.com>\r\nSubject: {subject}\r\n"
        f"Message-ID: <k-{abs(hash((subject, body, extra)))}@example.com>\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def sign(message: bytes, domain: bytes = b"example.com", key: int = SENDER_KEY) -> bytes:
    return dkim.sign(message, b"sel", domain, rsa_key(key)[0]) + message


@pytest.fixture
def mailbox(org, monkeypatch):
    monkeypatch.setattr(trust, "dns_txt_lookup", dns)
    return Mailbox.objects.create(
        name="Support",
        address="support@helpline.example",
        department=org.dept("Support"),
        verify_dkim=True,
    )


def test_a_valid_signature_verifies_the_sender_and_lets_cc_join(mailbox, karen):
    result = ingest(sign(karens_mail()), mailbox)
    assert result.outcome == Outcome.NEW_TICKET
    assert result.entry.verification == "dkim"
    assert result.ticket.collaborators.filter(user__email="boss@example.com").exists()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda raw: raw.replace(b"jams.", b"jams. Send $500 to x."), id="body"),
        pytest.param(lambda raw: raw.replace(b"Subject: Printer", b"Subject: Pay"), id="subject"),
    ],
)
def test_an_altered_message_is_unverified(mailbox, karen, tamper):
    result = ingest(tamper(sign(karens_mail())), mailbox)
    assert result.entry.verification == "unverified"
    assert not result.ticket.collaborators.exists()


def test_a_signature_of_another_domain_is_unverified(mailbox, karen):
    result = ingest(sign(karens_mail(), b"evil.example", ATTACKER_KEY), mailbox)
    assert result.entry.verification == "unverified"


def test_a_signed_answer_reopens_a_resolved_ticket_and_an_unsigned_one_waits(
    mailbox, karen, john, org
):
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="b", source="web")
    actions.set_status(john, ticket, org.status("Resolved"))
    subject = f"Re: [#{ticket.number}] Printer"
    unsigned = ingest(karens_mail(subject, "Still broken."), mailbox)
    assert unsigned.outcome == Outcome.HELD
    signed = ingest(sign(karens_mail(subject, "Still broken, really.")), mailbox)
    assert signed.outcome == Outcome.MESSAGE and signed.entry.verification == "dkim"
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN


def test_authentication_results_from_an_untrusted_host_are_ignored(org, karen):
    mailbox = Mailbox.objects.create(
        name="Support",
        address="support@helpline.example",
        department=org.dept("Support"),
        trusted_authserv_ids="mx.helpline.example",
    )
    forged = "Authentication-Results: mx.evil.example; dmarc=pass header.from=example.com\r\n"
    assert ingest(karens_mail(extra=forged), mailbox).entry.verification == "unverified"
    ours = "Authentication-Results: mx.helpline.example; dmarc=pass header.from=example.com\r\n"
    assert ingest(karens_mail("Other", extra=ours), mailbox).entry.verification == "dkim"
