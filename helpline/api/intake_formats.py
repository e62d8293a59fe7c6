"""osTicket's ticket-creation payloads (JSON and XML) → one plain request. Pure: no database.

Follows osTicket's documented API: fields email, name, subject, message (plain text or an RFC 2397
data URL such as `data:text/html,...`), alert, autorespond, source, topicId, priorityId, ip,
phone (extension after an `X`, or `phone_ext`), attachments, and custom fields by name. Anything
that does not parse raises BadPayload with a message meant for the integrator.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from helpline.tickets.access import parse_id

KNOWN_FIELDS = {
    "email",
    "name",
    "subject",
    "message",
    "alert",
    "autorespond",
    "source",
    "topicId",
    "priorityId",
    "ip",
    "phone",
    "phone_ext",
    "attachments",
}
_DATA_URL = re.compile(r"^data:(?P<meta>[^,]*?),(?P<data>.*)$", re.DOTALL)


class BadPayload(ValueError):
    """The request cannot be read; the message says why."""


@dataclass
class FileIn:
    filename: str
    content: bytes
    content_type: str = "text/plain"


@dataclass
class IntakeRequest:
    email: str = ""
    name: str = ""
    subject: str = ""
    message: str = ""
    message_is_html: bool = False
    alert: bool = True
    autorespond: bool = True
    source: str = "API"
    topic_id: int | None = None
    priority_id: int | None = None
    ip: str = ""
    phone: str = ""
    attachments: list[FileIn] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)


def parse_data_url(value: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of a data URL, None if `value` is not one; BadPayload if broken."""
    match = _DATA_URL.match(value.strip()) if value.lstrip().startswith("data:") else None
    if match is None:
        return None
    meta = [p.strip() for p in match["meta"].split(";")]
    is_base64 = bool(meta) and meta[-1].lower() == "base64"
    if is_base64:
        meta = meta[:-1]
    content_type = (meta[0] if meta and "/" in meta[0] else "text/plain").lower()
    charset = next(
        (p.split("=", 1)[1].strip() for p in meta if p.lower().startswith("charset=")), ""
    )
    data = match["data"]
    if is_base64:
        try:
            raw = base64.b64decode(re.sub(r"\s+", "", data), validate=True)
        except (binascii.Error, ValueError):
            raise BadPayload("Incorrectly encoded base64 data.")
    else:
        raw = unquote_to_bytes(data)
    if charset and content_type.startswith("text/"):
        try:
            raw = raw.decode(charset).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            raise BadPayload(f"Cannot decode data as {charset[:40]}.")
    return content_type, raw


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadPayload(f"{name}: expected text.")
    text = str(value)
    if "\x00" in text:
        raise BadPayload(f"{name}: contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadPayload(f"{name}: is not valid Unicode.")
    return text


def _flag(value, name: str, default: bool = True) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "0", "no", "off"}:
        return False
    raise BadPayload(f"{name}: expected true or false.")


def _id(value, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip() and not value.strip().strip("0"):
        return None  # "0": osTicket's "none chosen"
    pk = parse_id(value)
    if pk is None:
        raise BadPayload(f"{name}: expected a number.")
    return pk


def _message(request: IntakeRequest, value: str, content_type: str = "") -> None:
    parsed = parse_data_url(value)
    if parsed is not None:
        content_type, raw = parsed
        value = raw.decode("utf-8", errors="replace")
    request.message = value
    request.message_is_html = content_type.split(";")[0].strip().lower() == "text/html"


def _phone(request: IntakeRequest, phone: str, ext: str = "") -> None:
    number, _, embedded = phone.partition("X") if "X" in phone else phone.partition("x")
    ext = ext or embedded
    request.phone = f"{number.strip()} x{ext.strip()}" if ext.strip() else number.strip()


def _fill(request: IntakeRequest, data: dict) -> None:
    request.email = _text(data.get("email"), "email").strip()
    request.name = _text(data.get("name"), "name").strip()
    request.subject = _text(data.get("subject"), "subject").strip()
    request.alert = _flag(data.get("alert"), "alert")
    request.autorespond = _flag(data.get("autorespond"), "autorespond")
    request.source = _text(data.get("source"), "source").strip() or "API"
    request.topic_id = _id(data.get("topicId"), "topicId")
    request.priority_id = _id(data.get("priorityId"), "priorityId")
    request.ip = _text(data.get("ip"), "ip").strip()
    _phone(request, _text(data.get("phone"), "phone"), _text(data.get("phone_ext"), "phone_ext"))
    for key, value in data.items():
        if key not in KNOWN_FIELDS and isinstance(key, str):
            request.custom[key[:100]] = _text(value, key[:100])[:2000] if value else ""


def _json_attachment(item, index: int) -> FileIn:
    where = f"attachments[{index}]"
    if not isinstance(item, dict) or not item:
        raise BadPayload(f'{where}: expected an object like {{"name.txt": "data:..."}}.')
    if "name" in item and "data" in item:  # The long form: name, data, type, encoding.
        name = _text(item["name"], f"{where}.name")
        data = _text(item["data"], f"{where}.data")
        content_type = _text(item.get("type"), f"{where}.type") or "text/plain"
        if str(item.get("encoding", "")).lower() == "base64":
            return FileIn(name, _b64(data, where), content_type)
        parsed = parse_data_url(data)
        if parsed is not None:
            return FileIn(name, parsed[1], parsed[0])
        return FileIn(name, data.encode("utf-8"), content_type)
    if len(item) != 1:
        raise BadPayload(f"{where}: expected one file name and its data URL.")
    ((name, value),) = item.items()
    value = _text(value, where)
    parsed = parse_data_url(value)
    if parsed is None:
        return FileIn(name, value.encode("utf-8"), "text/plain")
    return FileIn(name, parsed[1], parsed[0])


def _b64(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(re.sub(r"\s+", "", data), validate=True)
    except (binascii.Error, ValueError):
        raise BadPayload(f"{where}: incorrectly encoded base64 data.")


def parse_json(body: bytes) -> IntakeRequest:
    """A tickets.json body → IntakeRequest. Invalid JSON is refused, never guessed at."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadPayload("Invalid JSON: the body is not UTF-8.")
    except json.JSONDecodeError as exc:
        hint = ""
        if exc.doc[: exc.pos].rstrip().endswith(","):
            hint = " (JSON allows no comma after the last element)"
        elif "control character" in exc.msg:
            hint = " (JSON allows no raw newlines inside strings)"
        raise BadPayload(f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}.")
    except RecursionError:
        raise BadPayload("Invalid JSON: nested too deeply.")
    if not isinstance(data, dict):
        raise BadPayload("Invalid JSON: expected an object with the ticket's fields.")
    request = IntakeRequest()
    _fill(request, data)
    message = data.get("message")
    _message(request, _text(message, "message"))
    attachments = data.get("attachments") or []
    if not isinstance(attachments, list):
        raise BadPayload("attachments: expected a list.")
    request.attachments = [_json_attachment(a, i) for i, a in enumerate(attachments)]
    return request


def _xml_value(root, name: str) -> str | None:
    child = root.find(name)
    if child is not None:
        return "".join(child.itertext()).strip()
    return root.get(name)


def parse_xml(body: bytes) -> IntakeRequest:
    """A tickets.xml body → IntakeRequest. DTDs and entities are refused outright."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise BadPayload("Invalid XML: DTDs and entity declarations are not accepted.")
    except SafeET.ParseError as exc:
        raise BadPayload(f"Invalid XML: {exc}.")
    if root.tag != "ticket":
        raise BadPayload("Invalid XML: the root element must be <ticket>.")
    data: dict = {k: v for k, v in root.attrib.items()}
    for child in root:
        if child.tag in ("message", "attachments", "phone") or not isinstance(child.tag, str):
            continue
        data[child.tag] = "".join(child.itertext()).strip()
    request = IntakeRequest()
    _fill(request, data)
    phone = root.find("phone")
    if phone is not None:
        _phone(request, "".join(phone.itertext()).strip(), phone.get("ext", ""))
    message = root.find("message")
    if message is not None:
        _message(request, "".join(message.itertext()).strip(), message.get("type", ""))
    elif root.get("message"):
        _message(request, root.get("message", ""))
    attachments = root.find("attachments")
    for index, node in enumerate(attachments if attachments is not None else []):
        where = f"attachments/file[{index + 1}]"
        name = node.get("name", "").strip()
        if not name:
            raise BadPayload(f"{where}: the name attribute is required.")
        content = "".join(node.itertext()).strip()
        content_type = node.get("type", "text/plain")
        if node.get("encoding", "").lower() == "base64":
            raw = _b64(content, where)
        else:
            raw = content.encode("utf-8")
        request.attachments.append(FileIn(name, raw, content_type))
    return request
