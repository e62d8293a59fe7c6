"""Strict input: ids are ASCII digits, bodies are JSON objects, cursors are bounded, and what the
OpenAPI schema allows is what validation accepts (the fuzzer's findings, one by one)."""

import pytest

from helpline.api.schemas import CURSOR_MAX_LENGTH
from helpline.api.v1 import api
from helpline.tickets import actions
from helpline.tickets.access import parse_id
from helpline.tickets.models import Event, Ticket

UNICODE_DIGITS = ["²", "٣", "３", "①"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 7),
        (" 7 ", 7),
        ("007", 7),
        (7, 7),
        ("9" * 18, int("9" * 18)),
        ("9" * 19, None),
        (2**63, None),
        ("0", None),
        (0, None),
        (-3, None),
        (True, None),
        ("", None),
        ("+7", None),
        ("1_000", None),
        ("7.0", None),
        (None, None),
        *((digit, None) for digit in UNICODE_DIGITS),
    ],
)
def test_parse_id_takes_ascii_digits_only(text, expected):
    assert parse_id(text) == expected


def _open(user, subject="Printer jams"):
    return actions.open_ticket(user, requester=user, subject=subject, body="Details inside.")


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
@pytest.mark.parametrize("field", ["priority", "department", "team", "sla_plan", "help_topic"])
def test_unicode_digits_on_create_name_nothing(john_api, digit, field):
    response = john_api.post("/tickets", {"subject": "Hi", "body": "x", field: digit})
    assert response.status_code == 404, response.content
    assert response.json()["errors"] == {field: [f"There is no {_label(field)} “{digit}”."]}
    assert not Ticket.objects.exists()


def _label(field: str) -> str:
    return {"sla_plan": "SLA plan", "help_topic": "help topic"}.get(field, field)


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_on_transfer_change_nothing(john_api, karen, org, digit):
    ticket = _open(karen)
    events = Event.objects.filter(ticket=ticket).count()
    # Before: "٣" was read as id 3 and the ticket really moved; "²" was a 500.
    response = john_api.post(f"/tickets/{ticket.number}/transfer", {"department": digit})
    assert response.status_code == 404, response.content
    assert "department" in response.json()["errors"]
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.department_id == ticket.department_id and fresh.version == ticket.version
    assert Event.objects.filter(ticket=ticket).count() == events


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_in_paths_and_queries(john_api, karen, digit):
    ticket = _open(karen)
    assert john_api.get(f"/tickets/{digit}").status_code == 404
    removed = john_api.delete(f"/tickets/{ticket.number}/collaborators/{digit}")
    assert removed.status_code == 422 and list(removed.json()["errors"]) == ["user_id"]
    assert john_api.get(f"/webhooks/{digit}/deliveries").status_code == 422
    for query in ({"status": digit}, {"limit": digit}, {"assignee": digit}):
        response = john_api.get("/tickets", query)
        assert response.status_code == 422, (query, response.content)
        assert list(response.json()["errors"]) == list(query)


def test_a_whole_number_written_as_a_json_schema_integer_is_taken(john_api):
    # JSON Schema's `integer` allows 25.0; "+25", "25_0" and " 25" are not integers anywhere.
    assert john_api.get("/tickets", {"limit": "25.0"}).status_code == 200
    for written in ("+25", "2_5", " 25", "25.5", "true"):
        assert john_api.get("/tickets", {"limit": written}).status_code == 422, written


@pytest.mark.parametrize("body", ["null", "[]", '"text"', "3", "true", "{not json", ""])
@pytest.mark.parametrize("path", ["/tickets", "/tickets/{number}/release", "/users"])
def test_a_body_that_is_not_a_json_object_is_400(john_api, karen, body, path):
    ticket = _open(karen)
    response = john_api.post(path.format(number=ticket.number), body)
    if body:
        assert response.status_code == 400, response.content
        assert response.json()["detail"].startswith("The request body")
    else:  # No body at all: the schema's requestBody is required.
        assert response.status_code in (400, 422) and response.json()["detail"]
    assert Ticket.objects.count() == 1


def test_null_says_what_it_is(john_api):
    response = john_api.post("/tickets", "null")
    assert response.json()["detail"] == "The request body must be a JSON object, not null."


def test_a_long_cursor_is_a_400_saying_so(john_api):
    for length in (CURSOR_MAX_LENGTH + 1, 5000):
        response = john_api.get("/tickets", {"cursor": "a" * length})
        assert response.status_code == 400
        assert response.json()["detail"].startswith(f"That page link is too long ({length} ")
    forged = john_api.get("/tickets", {"cursor": "a" * CURSOR_MAX_LENGTH})
    assert forged.status_code == 400
    assert forged.json()["detail"] == "That page link is not valid any more."
    garbled = john_api.get("/tickets", {"cursor": "not a cursor"})
    assert garbled.status_code == 400 and "not valid" in garbled.json()["detail"]


def test_the_longest_cursor_helpline_gives_fits_the_schema_and_a_request_line(john_api, karen):
    # The longest sort value a cursor carries: a 255-character subject outside the BMP.
    for i in range(2):
        _open(karen, subject="".join(chr(0x1F600 + (i * 7 + k) % 80) for k in range(255)))
    first = john_api.get("/tickets", {"sort": "subject", "limit": 1})
    cursor = first.json()["next_cursor"]
    assert len(cursor) <= CURSOR_MAX_LENGTH
    # gunicorn's default limit_request_line is 4094 bytes for "GET <url> HTTP/1.1".
    assert len(f"GET /api/v1/tickets?sort=subject&limit=1&cursor={cursor} HTTP/1.1") < 4094
    second = john_api.get("/tickets", {"sort": "subject", "limit": 1, "cursor": cursor})
    assert second.status_code == 200 and len(second.json()["items"]) == 1


# The fuzzer's schema-valid-but-refused requests: each is now accepted, or the schema refuses it.


def _schema(name: str) -> dict:
    return api.get_openapi_schema()["components"]["schemas"][name]


def test_the_schema_says_what_validation_refuses():
    ticket_in = _schema("TicketIn")
    assert ticket_in["required"] == ["subject"]
    assert ticket_in["properties"]["subject"]["minLength"] == 1
    assert "pattern" in ticket_in["properties"]["subject"]
    assert ticket_in["properties"]["requester_email"]["anyOf"][0]["format"] == "email"
    assert ticket_in["properties"]["source"]["enum"] == [
        "web",
        "email",
        "api",
        "phone",
        "walk-in",
        "other",
    ]
    assert {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}} in (
        ticket_in["anyOf"]
    )
    assert len(_schema("AssignIn")["anyOf"]) == 2
    assert _schema("CollaboratorIn")["properties"]["email"]["format"] == "email"
    assert _schema("UserIn")["properties"]["email"]["format"] == "email"
    paths = api.get_openapi_schema()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert operation["requestBody"]["required"] is True, (method, path)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "", "body": "x"}, "subject"),
        ({"subject": "   ", "body": "x"}, "subject"),
        ({"subject": "Hi"}, "body"),
        ({"subject": "Hi", "body": " \n"}, "body"),
        ({"subject": "Hi", "body": "x", "requester_email": "karen@"}, "requester_email"),
        ({"subject": "Hi", "body": "x", "requester_email": " k@example.com"}, "requester_email"),
        ({"subject": "Hi", "body": "x", "collaborators": ["nobody"]}, "collaborators.0"),
        ({"subject": "Hi", "body": "x", "source": "API"}, "source"),
        ({"subject": "Hi", "body": "x", "alert": "yes"}, "alert"),
        ({"subject": "Hi", "body": "x", "priority": ""}, "priority"),
    ],
)
def test_what_the_schema_refuses_is_a_422_naming_the_field(john_api, payload, field):
    response = john_api.post("/tickets", payload)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"], response.json()
    assert not Ticket.objects.exists()


def test_what_the_schema_allows_is_taken(john_api, karen):
    # A message with only HTML, or only a file, is a message.
    html = john_api.post("/tickets", {"subject": "Hi", "body_html": "<p>Printer</p>"})
    assert html.status_code == 201, html.content
    attached = john_api.post(
        "/tickets",
        {"subject": "Hi", "attachments": [{"filename": "a.txt", "content_base64": "aGk="}]},
    )
    assert attached.status_code == 201, attached.content
    # `{}` where every field has a default.
    ticket = _open(karen)
    assert john_api.post(f"/tickets/{ticket.number}/release", {}).status_code == 200
    # ... and `{}` where the schema asks for something is refused by the schema.
    assign = john_api.post(f"/tickets/{ticket.number}/assign", {})
    assert assign.status_code == 422 and "anyOf" in _schema("AssignIn")
    assert john_api.post("/users", {"email": "new.person@example.com"}).status_code == 201
