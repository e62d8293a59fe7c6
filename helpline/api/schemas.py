"""The shapes that go in and out of /api/v1/. Inputs are bounded so that no value can reach the
database in a form it would choke on (NUL bytes, lone surrogates, integers beyond 64 bits), and
the OpenAPI document says exactly what validation accepts: a request the schema allows is taken
(or refused only for what no schema can know: a name that names nothing is a 404, a ticket that
changed meanwhile a 409), and a request it does not allow is a 400 or 422.

Numbers are JSON numbers in bodies and ASCII digits in paths and query strings ("٣", "+3",
"3_000" and `true` are not numbers here); booleans are JSON booleans, or `true`/`false` in a
query string; dates and times are RFC 3339.
"""

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from helpline.tickets.models import Source

MAX_ID = 2**63 - 1
# Python's str.isspace() also counts the information separators U+001C-U+001F, and ECMA-262's
# \s (JSON Schema's) also the byte order mark U+FEFF: naming both keeps "not blank" the same
# everywhere.
NOT_BLANK = r"[^\s\x1c-\x1f\ufeff]"
# Text: no NUL characters (PostgreSQL refuses them). Words: that, and something said.
NO_NUL = r"^[^\x00]*$"
SAYS_SOMETHING = r"^[^\x00]*[^\s\x1c-\x1f\ufeff\x00][^\x00]*$"
# Dates between these years: date ranges add a day and convert time zones.
YEARS = r"(?:19[0-9]{2}|[2-8][0-9]{3})"
DAY_PATTERN = rf"^{YEARS}-[0-9]{{2}}-[0-9]{{2}}$"
MOMENT_PATTERN = (
    rf"^{YEARS}-[0-9]{{2}}-[0-9]{{2}}[Tt][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?:\.[0-9]{{1,6}})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
# `$(?!\n)`: Python's `$` also matches before a final newline, ECMA-262's (JSON Schema's) does
# not; the lookahead makes both read the pattern the same (patterns are checked with Python's re).
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$(?!\n)"
CURSOR_MAX_LENGTH = 2048


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("Text cannot contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("Text must be valid Unicode (no lone surrogates).")
    return value


def _not_blank(value: str) -> str:
    if not value.strip().strip("\ufeff").strip():
        raise ValueError("This cannot be empty or only spaces.")
    return value


def _email(value: str) -> str:
    # Django's validator (as every channel uses), on the value as sent: no spaces around it,
    # ASCII only (an internationalised domain is written in punycode), as `format: email` says.
    try:
        if not value.isascii():
            raise DjangoValidationError("not ASCII")
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("This is not a valid email address.")
    return value


def _integer(value: Any) -> Any:
    # JSON numbers as they are (pydantic refuses fractions); text only as ASCII digits: pydantic
    # alone would take " 3", "+3", "3_000" and "3.0" in a path or query string, and `true`.
    if isinstance(value, bool):
        raise ValueError("Expected a number, not true or false.")
    if isinstance(value, str):
        # "28.0" too: JSON Schema's `integer` allows it.
        if not re.fullmatch(r"-?[0-9]{1,19}(?:\.0{1,20})?", value):
            raise ValueError("Use the digits 0-9 only.")
        return int(value.partition(".")[0])
    return value


def _flag(value: Any) -> Any:
    # A query string's boolean: `true` or `false`, as the schema's type says (not "yes", "1").
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if isinstance(value, bool):
        return value
    raise ValueError("Use true or false.")


def matching(pattern: str, message: str) -> Any:
    """A string the pattern (Python's re, as schemathesis reads it) finds in, else `message`."""

    def check(value: str) -> str:
        if not re.search(pattern, value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _rfc3339(pattern: str, what: str):
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ValueError(f"Use an RFC 3339 {what} with a year from 1900 to 8999.")
        return value.upper()

    return check


Text = Annotated[str, Field(json_schema_extra={"pattern": NO_NUL}), AfterValidator(_clean_text)]


def words(max_length: int | None = None) -> Any:
    """Text that must say something: not empty, not only spaces."""
    limits = Field(
        min_length=1, max_length=max_length, json_schema_extra={"pattern": SAYS_SOMETHING}
    )
    return Annotated[str, limits, AfterValidator(_clean_text), AfterValidator(_not_blank)]


Subject = words(255)
# A ticket number as callers write it ("123", "#123", "HL-00042").
TicketNumber = words(40)
Email = Annotated[
    str, Field(max_length=254, json_schema_extra={"format": "email"}), AfterValidator(_email)
]
Integer = Annotated[int, BeforeValidator(_integer)]
Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integer)]
Version = Annotated[
    int,
    Field(ge=1, le=MAX_ID, description="The ticket's version you last saw."),
    BeforeValidator(_integer),
]
Flag = StrictBool
QueryFlag = Annotated[bool, BeforeValidator(_flag)]
Day = Annotated[
    date,
    Field(json_schema_extra={"pattern": DAY_PATTERN}),
    BeforeValidator(_rfc3339(DAY_PATTERN, "date")),
]
Moment = Annotated[
    datetime,
    Field(json_schema_extra={"pattern": MOMENT_PATTERN}),
    BeforeValidator(_rfc3339(MOMENT_PATTERN, "date and time")),
]
# A reference to a configured object: its id, or its name (agents: username or email). A name
# that names nothing is a 404 naming the field (helpline.api.refs).
Ref = (
    Id
    | Annotated[
        str,
        Field(min_length=1, max_length=254, json_schema_extra={"pattern": NO_NUL}),
        AfterValidator(_clean_text),
    ]
)
SourceName = Literal[tuple(Source.values)]  # type: ignore[valid-type]


# Custom field values: text, number, yes/no or nothing, by field name.
FieldValues = dict[
    Annotated[str, Field(min_length=1, max_length=40)],
    Annotated[
        str,
        Field(max_length=5000, json_schema_extra={"pattern": NO_NUL}),
        AfterValidator(_clean_text),
    ]
    | StrictBool
    | Annotated[int, Field(ge=-MAX_ID, le=MAX_ID), BeforeValidator(_integer)]
    | float
    | None,
]


def _something_said(body: str, info: ValidationInfo) -> str:
    # Checked on `body`, after `attachments` and `body_html` (declared first), so that the
    # error names a field.
    said = re.compile(NOT_BLANK)
    if said.search(body) or said.search(info.data.get("body_html", "x")):
        return body
    if info.data.get("attachments", [None]):
        return body
    raise ValueError("Write a body (or body_html), or attach a file.")


# What _something_said checks, for the OpenAPI document.
SOMETHING_SAID = {
    "anyOf": [
        {"required": ["body"], "properties": {"body": {"pattern": SAYS_SOMETHING}}},
        {"required": ["body_html"], "properties": {"body_html": {"pattern": SAYS_SOMETHING}}},
        {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}},
    ]
}


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = Field(default_factory=dict)


class NamedRef(Schema):
    id: int
    name: str


class PersonRef(Schema):
    id: int
    name: str
    email: str = ""


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class EntryOut(Schema):
    id: int
    kind: str
    author: PersonRef | None
    author_name: str
    body_text: str
    body_html: str
    source: str
    created_at: datetime
    attachments: list[AttachmentOut]


class EventOut(Schema):
    id: int
    kind: str
    actor: str
    before: Any = None
    after: Any = None
    reason: str
    created_at: datetime


class TicketOut(Schema):
    number: str
    subject: str
    state: str
    status: NamedRef
    priority: NamedRef
    department: NamedRef
    help_topic: NamedRef | None
    sla_plan: NamedRef | None
    requester: PersonRef
    assignee: PersonRef | None
    team: NamedRef | None
    source: str
    is_overdue: bool
    due_at: datetime | None
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    url: str


class TicketDetailOut(TicketOut):
    fields: FieldValues = Field(description="Custom field values, by name.")
    merged_into: str | None
    collaborators: list[PersonRef]
    thread: list[EntryOut]
    events: list[EventOut]


class TicketPageOut(Schema):
    items: list[TicketOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class AttachmentIn(Schema):
    filename: words(255)  # type: ignore[valid-type]
    content_type: Text = Field("application/octet-stream", max_length=127)
    content_base64: Annotated[str, matching(BASE64_PATTERN, "This is not valid base64.")] = Field(
        description="The file's bytes, base64-encoded (HELPLINE_MAX_ATTACHMENT_BYTES at most).",
        json_schema_extra={"pattern": BASE64_PATTERN},
    )


class _Message(Schema):
    """Some text or a file: `body`, `body_html` or `attachments`."""

    model_config = {"json_schema_extra": SOMETHING_SAID}

    attachments: list[AttachmentIn] = Field(
        default_factory=list, max_length=50, description="At most HELPLINE_MAX_ATTACHMENTS."
    )
    body_html: Text = ""
    body: Text = Field("", validate_default=True)

    _something_said = field_validator("body")(_something_said)


class TicketIn(_Message):
    subject: Subject
    requester_email: Email | None = Field(
        None, description="Agents: the requester (created if new). Requesters: omit."
    )
    requester_name: Text = Field("", max_length=150)
    help_topic: Ref | None = None
    department: Ref | None = None
    priority: Ref | None = None
    sla_plan: Ref | None = None
    assignee: Ref | None = None
    team: Ref | None = None
    source: SourceName = "api"
    collaborators: list[Email] = Field(default_factory=list, max_length=50)
    alert: Flag = True
    autorespond: Flag = True
    fields: FieldValues | None = Field(
        None, description="Custom fields of the help topic, by name (required ones included)."
    )


class ReplyIn(_Message):
    status: Ref | None = Field(None, description="Set this status with the reply.")
    version: Version | None = None


class NoteIn(_Message):
    version: Version | None = None


class MessageIn(_Message):
    pass


def _agent_or_team(model: Any) -> Any:
    if model.agent is None and model.team is None:
        raise ValueError("Name an agent, a team or both.")
    return model


class AssignIn(Schema):
    """An agent, a team or both."""

    model_config = {
        "json_schema_extra": {
            "anyOf": [
                {"required": ["agent"], "properties": {"agent": {"not": {"type": "null"}}}},
                {"required": ["team"], "properties": {"team": {"not": {"type": "null"}}}},
            ]
        }
    }

    agent: Ref | None = None
    team: Ref | None = None
    reason: Text = Field("", max_length=500)
    version: Version | None = None

    _agent_or_team = model_validator(mode="after")(_agent_or_team)


class ReleaseIn(Schema):
    agent: Flag = True
    team: Flag = True
    version: Version | None = None


class TransferIn(Schema):
    department: Ref
    reason: Text = Field("", max_length=500)
    version: Version | None = None


class StatusIn(Schema):
    status: Ref
    reason: Text = Field("", max_length=500)
    version: Version | None = None


class TicketPatch(Schema):
    """Only the fields present are changed; null clears the SLA plan, help topic or due time."""

    subject: Subject | None = None
    priority: Ref | None = None
    sla_plan: Ref | None = None
    help_topic: Ref | None = None
    due_at: Moment | None = None
    status: Ref | None = None
    fields: FieldValues | None = Field(
        None, description="Custom field values to change, by name; null clears one."
    )
    version: Version | None = None


class CollaboratorIn(Schema):
    email: Email
    name: Text = Field("", max_length=150)


class MergeIn(Schema):
    into: TicketNumber = Field(description="The number of the ticket to merge into.")


class DepartmentOut(Schema):
    id: int
    name: str
    restricted: bool
    email: str


class HelpTopicOut(Schema):
    id: int
    name: str
    department: NamedRef
    public: bool


class PriorityOut(Schema):
    id: int
    name: str
    level: int
    is_default: bool


class StatusOut(Schema):
    id: int
    name: str
    state: str


class SLAPlanOut(Schema):
    id: int
    name: str
    grace_hours: float
    first_response_hours: float | None


class TeamOut(Schema):
    id: int
    name: str


class AgentOut(Schema):
    id: int
    username: str
    name: str
    department: NamedRef
    on_vacation: bool


class UserOut(Schema):
    id: int
    username: str
    name: str
    email: str
    is_agent: bool


class UserIn(Schema):
    email: Email
    name: Text = Field("", max_length=150)


class MeOut(Schema):
    user: UserOut
    scopes: list[str]
    key: str | None = Field(description="The key's name and prefix; null for a browser session.")


class WebhookOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    is_active: bool
    failure_streak: int
    disabled_at: datetime | None


class DeliveryOut(Schema):
    id: str
    event: str
    ticket_number: str
    state: str
    attempts: int
    response_code: int | None
    error: str
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
