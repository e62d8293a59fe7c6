"""Parsing: any bytes in, a ParsedMessage out; the corpus of real-world messages."""

import re
import tomllib
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpline.mail.parse import parse_message
from helpline.mail.quotes import extract
from tests.mail.test_reply_extraction import shown

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.eml"))
# Outcomes that store an entry (the others have no text to show: bounce, spam, ignored, failed).
STORED = {"new_ticket", "message", "new_ticket_no_ack", "duplicate"}


def _stored_with_text() -> list[str]:
    names = []
    for name in CASES:
        toml = CORPUS / f"{name}.toml"
        meta = tomllib.loads(toml.read_text(encoding="utf-8")) if toml.exists() else {}
        if meta.get("outcome") in STORED and (CORPUS / f"{name}.expected.txt").exists():
            names.append(name)
    return names


def _normalise(text: str) -> str:
    """The corpus README's comparison: no trailing spaces, blank-line runs folded, outer blank
    lines dropped."""
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


@pytest.mark.parametrize("name", _stored_with_text())
def test_corpus_reply_text(name):
    """Each stored message shows the expected text: what the person wrote, without history."""
    expected = (CORPUS / f"{name}.expected.txt").read_text(encoding="utf-8")
    text, _ = shown(name)
    assert _normalise(text) == _normalise(expected)


def test_corpus_is_not_empty():
    assert len(CASES) >= 20


def test_headers_and_threading_keys():
    parsed = parse_message((CORPUS / "gmail_reply.eml").read_bytes())
    assert parsed.sender == "karen@example.com" and parsed.sender_name == "Karen Smith"
    assert parsed.message_id == "<CAF=gmail1@mail.gmail.com>"
    assert parsed.in_reply_to == ["<hl.1.abc@helpline.example>"]
    assert parsed.subject == "Re: [#123456] Printer"
    assert "gmail_quote" in parsed.raw_html  # complete: the quote is cut later
    assert "Please restart the printer" in parsed.html


def test_encoded_headers_and_mislabelled_body():
    parsed = parse_message((CORPUS / "wrong_charset_utf8_as_ascii.eml").read_bytes())
    assert parsed.sender_name == "Jürgen Müller"
    assert parsed.subject == "Schlüssel lost"


def test_html_is_sanitised_and_turned_into_text():
    parsed = parse_message((CORPUS / "html_only.eml").read_bytes())
    assert "<script" not in parsed.html and "alert(1)" not in parsed.html
    assert "<b>account</b>" in parsed.html
    assert "my account is locked" in parsed.text


def test_attachments_inline_images_calendar_and_forwarded_message():
    inner = EmailMessage()
    inner["From"] = "a@example.com"
    inner["Subject"] = "Old thread"
    inner["Message-ID"] = "<inner@example.com>"
    inner.set_content("inner body")
    msg = EmailMessage()
    msg["From"] = "Karen <karen@example.com>"
    msg["Subject"] = "Screenshots"
    msg.set_content("See the screenshot.")
    msg.add_alternative('<p>See <img src="cid:shot1@example.com"></p>', subtype="html")
    msg.get_payload()[1].add_related(
        b"\x89PNG fake", maintype="image", subtype="png", cid="<shot1@example.com>"
    )
    msg.add_attachment(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", maintype="text", subtype="calendar")
    msg.add_attachment(inner)
    msg.add_attachment(
        "résumé".encode(), maintype="application", subtype="pdf", filename="cv é.pdf"
    )
    parsed = parse_message(msg.as_bytes())
    assert parsed.text.strip() == "See the screenshot."
    assert 'src="cid:shot1@example.com"' in parsed.html
    by_type = {a.content_type: a for a in parsed.attachments}
    image = by_type["image/png"]
    assert image.content_id == "shot1@example.com" and image.inline
    assert image.content == b"\x89PNG fake"
    assert by_type["text/calendar"].filename == "invite.ics"
    forwarded = by_type["message/rfc822"]
    assert forwarded.filename == "Old thread.eml" and b"inner body" in forwarded.content
    assert by_type["application/pdf"].filename == "cv é.pdf"


def test_nested_multiparts_keep_all_text():
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content("first part")
    msg.add_attachment("second part", subtype="plain", disposition="inline")
    parsed = parse_message(msg.as_bytes())
    assert "first part" in parsed.text and "second part" in parsed.text


def test_control_characters_never_reach_the_database():
    parsed = parse_message(b"From: a@example.com\r\nSubject: a\x00b\r\n\r\nnul\x00byte\r\n")
    assert "\x00" not in parsed.subject and "\x00" not in parsed.text


def test_missing_message_id_gives_a_content_fingerprint():
    raw = b"From: a@example.com\r\nSubject: hi\r\nDate: Tue, 3 Mar 2026 10:00:00 +0000\r\n\r\nx\r\n"
    again = b"Received: from mx2 by mx1\r\n" + raw
    other = raw.replace(b"x\r\n", b"y\r\n")
    assert parse_message(raw).fingerprint == parse_message(again).fingerprint
    assert parse_message(raw).fingerprint != parse_message(other).fingerprint


def test_bounce_names_the_original_message():
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <orig@helpline.example>\r\n"
        b"Subject: x\r\n\r\nbody\r\n--B--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.is_bounce
    assert parsed.bounce.recipients == ["gone@example.com"]
    assert parsed.bounce.status == "5.1.1"
    assert parsed.thread_ids[0] == "<orig@helpline.example>"
    assert parsed.automated_reason()


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "Precedence: list",
        "X-Autoreply: yes",
        "X-Autorespond: yes",
        "List-Id: <staff.example.com>",
        "Return-Path: <>",
    ],
)
def test_automated_messages_are_recognised(header):
    raw = f"From: a@example.com\r\n{header}\r\nSubject: x\r\n\r\nbody\r\n".encode()
    assert parse_message(raw).automated_reason()


def test_people_are_not_automated():
    raw = b"From: a@example.com\r\nAuto-Submitted: no\r\nReturn-Path: <a@example.com>\r\n\r\nhi"
    assert parse_message(raw).automated_reason() == ""
    assert parse_message(b"From: postmaster@example.com\r\n\r\nhi").automated_reason()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_parsing_never_raises_on_arbitrary_bytes(raw):
    parsed = parse_message(raw)
    assert isinstance(parsed.text, str) and parsed.fingerprint
    extract(parsed.text, parsed.raw_html)


_header_lines = st.sampled_from(
    [
        b"From: ",
        b"Content-Type: multipart/mixed; boundary=",
        b"Content-Type: text/plain; charset=",
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Subject: =?utf-8?B?",
        b"Message-ID: <",
        b"--",
        b"\r\n",
        b"Content-Type: message/rfc822",
        b"Content-Disposition: attachment; filename*=utf-8''",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_header_lines, st.binary(max_size=60)), max_size=40))
def test_parsing_never_raises_on_mime_shaped_garbage(pieces):
    raw = b"\r\n".join(head + tail for head, tail in pieces)
    parsed = parse_message(raw)
    assert isinstance(parsed.subject, str)
    extract(parsed.text, parsed.raw_html)


def test_inline_images_point_at_stored_attachments():
    from types import SimpleNamespace

    from helpline.mail.inline import resolve_inline_images

    shot = SimpleNamespace(pk=7, content_id="shot1@example.com")
    html = '<p><img src="cid:shot1@example.com"><img src="cid:unknown@x"></p>'
    out = resolve_inline_images(html, [shot], lambda a: f"/attachments/{a.pk}/")
    assert out == '<p><img src="/attachments/7/"><img src="cid:unknown@x"></p>'
