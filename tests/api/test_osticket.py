"""osTicket-compatible intake: /api/tickets.json, .xml and .email, fed osTicket's documented
request examples (setup/doc/api/tickets.md in osTicket's repository)."""

import base64

import pytest
from django.test import Client

from helpline.api.intake_formats import BadPayload, parse_data_url, parse_json, parse_xml
from helpline.api.models import ApiKey, Scope
from helpline.tickets.models import EntryKind, Notification, Source, Ticket

pytestmark = pytest.mark.django_db

GIF = base64.b64encode(
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
).decode()

# osTicket's JSON example as published: note the comma after the last attachment, which makes
# it invalid JSON. We answer 400 and say so rather than guess.
PUBLISHED_JSON = """{
    "alert": true,
    "autorespond": true,
    "source": "API",
    "name": "Angry User",
    "email": "api@osticket.com",
    "phone": "3185558634X123",
    "subject": "Testing API",
    "ip": "123.211.233.122",
    "message": "MESSAGE HERE",
    "attachments": [
        {"file.txt": "data:text/plain;charset=utf-8,content"},
        {"image.png": "data:image/png;base64,GIF_DATA"},
    ]
}""".replace("GIF_DATA", GIF)
# The same example with the stray comma removed: what a working client sends.
VALID_JSON = PUBLISHED_JSON.replace('"},\n    ]', '"}\n    ]')

PUBLISHED_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<ticket alert="true" autorespond="true" source="API">
    <name>Angry User</name>
    <email>api@osticket.com</email>
    <subject>Testing API</subject>
    <phone ext="123">318-555-8634</phone>
    <message><![CDATA[Message content here]]></message>
    <attachments>
        <file name="file.txt" type="text/plain"><![CDATA[
            File content is here and is automatically trimmed
        ]]></file>
        <file name="image.gif" type="image/gif" encoding="base64">
            {GIF[:20]}
            {GIF[20:]}
        </file>
    </attachments>
    <ip>123.211.233.122</ip>
</ticket>"""


@pytest.fixture
def intake_key(john):
    _, key = ApiKey.issue(john, name="osTicket client", scopes=[Scope.TICKETS_INTAKE])
    return key


def _post(path, body, key, content_type="application/json", **extra):
    headers = {"X-API-Key": key} if key else {}
    return Client(REMOTE_ADDR="127.0.0.1", **extra).post(
        f"/api/{path}", body, content_type=content_type, headers=headers
    )


def test_the_published_json_example_is_refused_with_a_clear_message(intake_key):
    response = _post("tickets.json", PUBLISHED_JSON, intake_key)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    # The position and wording come from Python's json module, which differ between versions.
    assert text.startswith("Invalid JSON") and "comma" in text and " line 1" in text
    assert not Ticket.objects.exists()


def test_the_json_example_without_the_stray_comma_opens_a_ticket(intake_key, john):
    response = _post("tickets.json", VALID_JSON, intake_key)
    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("text/plain")
    ticket = Ticket.objects.get(number=response.content.decode())
    assert ticket.subject == "Testing API" and ticket.source == Source.API
    assert ticket.requester.email == "api@osticket.com"
    assert ticket.requester.name == "Angry User"
    entry = ticket.entries.get()
    assert entry.kind == EntryKind.MESSAGE and entry.body_text == "MESSAGE HERE"
    files = {a.filename: a for a in entry.attachments.all()}
    assert set(files) == {"file.txt", "image.png"}
    assert files["file.txt"].file.read() == b"content"
    assert files["image.png"].file.read() == base64.b64decode(GIF)
    assert files["image.png"].content_type == "image/png"
    assert ticket.events.get().actor == john


def test_an_html_data_url_message_becomes_sanitised_html(intake_key):
    body = (
        '{"name": "A", "email": "a@example.com", "subject": "S", '
        '"message": "data:text/html,MESSAGE <b>HERE</b><script>x()</script>"}'
    )
    response = _post("tickets.json", body, intake_key)
    assert response.status_code == 201
    entry = Ticket.objects.get(number=response.content.decode()).entries.get()
    assert "<b>HERE</b>" in entry.body_html and "script" not in entry.body_html
    assert "MESSAGE" in entry.body_text


def test_alert_and_autorespond_false_queue_no_notifications(intake_key):
    body = (
        '{"name": "A", "email": "quiet@example.com", "subject": "S", "message": "m", '
        '"alert": false, "autorespond": "false"}'
    )
    response = _post("tickets.json", body, intake_key)
    assert response.status_code == 201
    assert not Notification.objects.exists()
    loud = body.replace('"alert": false, "autorespond": "false"', '"alert": true')
    assert _post("tickets.json", loud, intake_key).status_code == 201
    assert Notification.objects.filter(kind="new_ticket_ack").exists()


def test_the_published_xml_example_opens_a_ticket(intake_key):
    response = _post("tickets.xml", PUBLISHED_XML, intake_key, content_type="application/xml")
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.content.decode())
    assert ticket.subject == "Testing API"
    entry = ticket.entries.get()
    assert entry.body_text == "Message content here"
    files = {a.filename: a for a in entry.attachments.all()}
    assert files["file.txt"].file.read() == b"File content is here and is automatically trimmed"
    assert files["image.gif"].file.read() == base64.b64decode(GIF)


def test_xml_with_a_dtd_or_entities_is_refused(intake_key):
    evil = (
        '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<ticket><name>&x;</name></ticket>"
    )
    response = _post("tickets.xml", evil, intake_key, content_type="application/xml")
    assert response.status_code == 400
    assert "DTD" in response.content.decode()


@pytest.mark.parametrize(
    "body",
    ["<ticket><name>unclosed</ticket>", "<other/>", "", "not xml at all"],
)
def test_broken_xml_is_400(intake_key, body):
    response = _post("tickets.xml", body, intake_key, content_type="application/xml")
    assert response.status_code == 400
    assert response.content.decode().startswith("Invalid XML")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"name": "A", "email": "a@example.com", "subject": "S"}', "message: Required"),
        ('{"name": "A", "email": "nope", "subject": "S", "message": "m"}', "email"),
        ('{"name": "A", "email": "a@x.com", "subject": "S", "message": "m", "topicId": 999}', ""),
        ('{"name": "A", "email": "a@x.com", "subject": "S", "message": "m", "source": "Fax"}', ""),
        ('{"name": 5.5, "email": [], "subject": "S", "message": "m"}', "email: expected text"),
        ('{"name": "A", "email": "a@x.com", "subject": "S", "message": "m", "alert": "maybe"}', ""),
        ('{"name": "A", "email": "a@x.com", "subject": "S", "message": "data:;base64,@@"}', ""),
        ('{"name": "A", "email": "a@x.com", "subject": "S", "message": "m", "attachments": 3}', ""),
        ("[1, 2]", "expected an object"),
        ("", "Invalid JSON"),
    ],
)
def test_bad_input_is_400_with_a_plain_message(intake_key, body, message):
    response = _post("tickets.json", body, intake_key)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("text/plain")
    assert message in response.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("key", [None, "", "hl_wrongwrongwrongwrongwrongwrongwrong", "garbage"])
def test_a_bad_key_is_401(demo, key):
    response = _post("tickets.json", VALID_JSON, key)
    assert response.status_code == 401
    assert "API key not authorized" in response.content.decode()


def test_a_key_without_the_intake_scope_is_403_and_ip_rules_apply(john):
    for scopes in ([Scope.TICKETS_READ], [Scope.TICKETS_READ, Scope.TICKETS_WRITE]):
        _, key = ApiKey.issue(john, scopes=scopes)
        response = _post("tickets.json", VALID_JSON, key)
        assert response.status_code == 403 and "tickets:intake" in response.content.decode()
    _, elsewhere = ApiKey.issue(john, scopes=[Scope.TICKETS_INTAKE], allowed_ips="10.9.9.9")
    response = _post("tickets.json", VALID_JSON, elsewhere)
    assert response.status_code == 403
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("path", ["tickets.json", "tickets.xml", "tickets.email"])
def test_a_requester_key_is_403_even_with_every_scope(karen, path):
    _, key = ApiKey.issue(karen, scopes=list(Scope.values))
    response = _post(path, VALID_JSON, key)
    assert response.status_code == 403
    assert "agents and administrators" in response.content.decode()
    assert not Ticket.objects.exists()


def test_get_is_405(intake_key):
    response = Client().get("/api/tickets.json", headers={"X-API-Key": intake_key})
    assert response.status_code == 405


def test_email_endpoint_takes_a_raw_message(intake_key, karen):
    raw = (
        b"From: Karen Miller <karen@example.com>\r\nTo: support@helpline.example\r\n"
        b"Subject: Printer jams again\r\nMessage-ID: <abc123@example.com>\r\n"
        b"Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\nThe 3rd floor printer jams.\r\n"
    )
    assert _post("tickets.email", raw, None, content_type="message/rfc822").status_code == 401
    response = _post("tickets.email", raw, intake_key, content_type="message/rfc822")
    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("text/plain")
    ticket = Ticket.objects.get(number=response.content.decode())
    assert ticket.requester == karen and ticket.subject == "Printer jams again"
    again = _post("tickets.email", raw, intake_key, content_type="message/rfc822")
    assert again.status_code == 200 and Ticket.objects.count() == 1
    empty = _post("tickets.email", b"  ", intake_key, content_type="message/rfc822")
    assert empty.status_code == 400


# ---------------------------------------------------------------------------------------------
# The parsers alone


def test_data_urls():
    assert parse_data_url("plain text") is None
    assert parse_data_url("data:,Hello%2C%20World") == ("text/plain", b"Hello, World")
    assert parse_data_url("data:text/html,<b>x</b>") == ("text/html", b"<b>x</b>")
    assert parse_data_url("data:text/plain;charset=latin-1,caf%E9") == (
        "text/plain",
        "café".encode(),
    )
    assert parse_data_url("data:image/png;base64,AAEC") == ("image/png", b"\x00\x01\x02")
    with pytest.raises(BadPayload):
        parse_data_url("data:image/png;base64,***")


def test_phone_extension_and_custom_fields():
    request = parse_json(
        b'{"email": "a@x.com", "name": "A", "subject": "S", "message": "m", '
        b'"phone": "3185558634X123", "Account number": "42"}'
    )
    assert request.phone == "3185558634 x123"
    assert request.custom == {"Account number": "42"}
    xml = parse_xml(PUBLISHED_XML.encode())
    assert xml.phone == "318-555-8634 x123" and xml.alert and xml.ip == "123.211.233.122"
