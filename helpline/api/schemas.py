"""The shapes that go in and out of /api/v1/. Inputs are bounded so that no value can reach the
database in a form it would choke on (NUL bytes, lone surrogates, integers beyond 64 bits)."""

from datetime import date, datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, Field

MAX_ID = 2**63 - 1


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("Text cannot contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("Text must be valid Unicode (no lone surrogates).")
    return value


def _sane_date(value: date) -> date:
    # Date ranges add a day and convert time zones: keep well away from year 1 and 9999.
    if not 1900 <= value.year <= 9000:
        raise ValueError("Use a year between 1900 and 9000.")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=1, le=MAX_ID, description="The ticket's version you last saw.")]
Day = Annotated[date, AfterValidator(_sane_date)]
Moment = Annotated[datetime, AfterValidator(lambda v: _sane_date(v.date()) and v)]
# A reference to a configured object: its id, or its name (agents: username).
Ref = Annotated[int, Field(ge=1, le=MAX_ID)] | Annotated[str, AfterValidator(_clean_text)]


# Custom field values: text, number, yes/no or nothing, by field name.
FieldValues = dict[
    Annotated[str, Field(max_length=40)],
    Annotated[str, AfterValidator(_clean_text), Field(max_length=5000)]
    | bool
    | Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]
    | float
    | None,
]


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
    filename: Text = Field(max_length=255)
    content_type: Text = Field("application/octet-stream", max_length=127)
    content_base64: Text = Field(description="The file's bytes, base64-encoded.")


class TicketIn(Schema):
    subject: Text
    body: Text = ""
    body_html: Text = ""
    requester_email: Text | None = Field(
        None, description="Agents: the requester (created if new). Requesters: omit."
    )
    requester_name: Text = Field("", max_length=150)
    help_topic: Ref | None = None
    department: Ref | None = None
    priority: Ref | None = None
    sla_plan: Ref | None = None
    assignee: Ref | None = None
    team: Ref | None = None
    source: Text = "api"
    collaborators: list[Text] = Field(default_factory=list, max_length=50)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)
    alert: bool = True
    autorespond: bool = True
    fields: FieldValues | None = Field(
        None, description="Custom fields of the help topic, by name (required ones included)."
    )


class ReplyIn(Schema):
    body: Text = ""
    body_html: Text = ""
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)
    status: Ref | None = Field(None, description="Set this status with the reply.")
    version: Version | None = None


class NoteIn(Schema):
    body: Text = ""
    body_html: Text = ""
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)
    version: Version | None = None


class MessageIn(Schema):
    body: Text = ""
    body_html: Text = ""
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)


class AssignIn(Schema):
    agent: Ref | None = None
    team: Ref | None = None
    reason: Text = Field("", max_length=500)
    version: Version | None = None


class ReleaseIn(Schema):
    agent: bool = True
    team: bool = True
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

    subject: Text | None = None
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
    email: Text = Field(max_length=254)
    name: Text = Field("", max_length=150)


class MergeIn(Schema):
    into: Text = Field(max_length=32, description="The number of the ticket to merge into.")


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
    email: Text = Field(max_length=254)
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
