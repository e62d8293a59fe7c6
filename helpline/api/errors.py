"""Every error of /api/v1/ as JSON: {"detail": "...", "errors": {"field": ["message", ...]}}.

400 bad request (not JSON, not a JSON object, a page link not made by Helpline), 401 no or bad
credentials, 403 not allowed, 404 no such thing (also a ticket the caller may not see, and an id
or name in the input that names nothing: `errors` names the field), 409 stale update, 413 too
large, 422 invalid fields (what the OpenAPI schema refuses, and what the help desk's rules refuse:
an empty message, a custom field's value), 429 rate limited, 503 attachment storage refusing
writes (nothing saved; Retry-After).
"""

import json
import logging
from functools import partial

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from helpline.api.auth import RateLimited
from helpline.api.refs import UnknownReference
from helpline.tickets.access import AccessDenied
from helpline.tickets.actions import StaleTicket
from helpline.tickets.files import StorageUnavailable

log = logging.getLogger(__name__)


class InvalidJson(ValueError):
    """The body is not JSON; the message says where it breaks."""


class JsonParser(Parser):
    """ninja's parser, but keeping the JSON error's position for the 400 message."""

    def parse_body(self, request: HttpRequest):
        try:
            data = json.loads(request.body)
        except UnicodeDecodeError:
            raise InvalidJson("The request body is not valid UTF-8.")
        except ValueError as exc:
            raise InvalidJson(f"The request body is not valid JSON: {exc}.")
        # Every body of this API is an object: `null` is not "all defaults", nor is `[]`.
        if not isinstance(data, dict):
            raise InvalidJson(f"The request body must be a JSON object, not {_json_type(data)}.")
        return data


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "an array"}.get(type(value), "that")


def error_body(detail: str, errors: dict[str, list[str]] | None = None) -> dict:
    return {"detail": detail, "errors": errors or {}}


def field_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as {field: [messages]} ("__all__" for non-field errors)."""
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


# pydantic names the member of a union that refused a value ("priority.int"): not a field.
_UNION_MEMBERS = {"bool", "int", "float", "str", "none", "constrained-str", "constrained-int"}


def _location(loc) -> str:
    # ("body", "payload", "subject") → "subject"; ("query", "limit") → "limit";
    # ("body", "payload", "priority", "function-before[_integer(), constrained-int]") → "priority".
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts.pop(0)
        if parts and parts[0] == "payload":
            parts.pop(0)
    kept: list[str] = []
    for part in parts:
        if "[" in part or (part in _UNION_MEMBERS and kept and kept[-1] != "fields"):
            continue
        kept.append(part)
    return ".".join(kept) or "__all__"


def _respond(api: NinjaAPI, request, status: int, detail: str, errors=None) -> HttpResponse:
    return api.create_response(request, error_body(detail, errors), status=status)


def _invalid_input(api: NinjaAPI, request, exc: NinjaValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        message = str(error.get("msg", "Invalid value."))
        errors.setdefault(_location(error.get("loc", ())), []).append(message)
    return _respond(api, request, 422, "Some fields are not valid.", errors)


def _invalid_action(api: NinjaAPI, request, exc: DjangoValidationError) -> HttpResponse:
    errors = field_errors(exc)
    first = next(iter(errors.values()), ["Some fields are not valid."])[0]
    return _respond(api, request, 422, first, errors)


def _unknown_reference(api: NinjaAPI, request, exc: UnknownReference) -> HttpResponse:
    return _respond(api, request, 404, exc.message, {exc.field: [exc.message]})


def _stale(api: NinjaAPI, request, exc: StaleTicket) -> HttpResponse:
    return _respond(api, request, 409, str(exc), {"version": [f"Now {exc.ticket.version}."]})


def _denied(api: NinjaAPI, request, exc: AccessDenied) -> HttpResponse:
    return _respond(api, request, 403, exc.message)


def _forbidden(api: NinjaAPI, request, exc: PermissionDenied) -> HttpResponse:
    return _respond(api, request, 403, str(exc) or "Not allowed.")


def _not_found(api: NinjaAPI, request, exc: Http404) -> HttpResponse:
    return _respond(api, request, 404, str(exc) or "Not found.")


def _too_big(api: NinjaAPI, request, exc: RequestDataTooBig) -> HttpResponse:
    return _respond(api, request, 413, "The request body is too large.")


def _rate_limited(api: NinjaAPI, request, exc: RateLimited) -> HttpResponse:
    response = _respond(api, request, 429, exc.message)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _unauthenticated(api: NinjaAPI, request, exc: AuthenticationError) -> HttpResponse:
    detail = "Authentication required: send `Authorization: Bearer <API key>`."
    response = _respond(api, request, 401, detail)
    response["WWW-Authenticate"] = 'Bearer realm="helpline"'
    return response


def _http_error(api: NinjaAPI, request, exc: HttpError) -> HttpResponse:
    detail = str(exc)
    if isinstance(exc.__cause__, InvalidJson):
        detail = str(exc.__cause__)
    response = _respond(api, request, exc.status_code, detail)
    if exc.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="helpline"'
    return response


def _storage(api: NinjaAPI, request, exc: StorageUnavailable) -> HttpResponse:
    response = _respond(api, request, 503, f"{exc.reason}. Nothing was saved; try again later.")
    response["Retry-After"] = "120"
    response._has_been_logged = True  # logged, and the admins told, by storage_failed
    return response


def _unexpected(api: NinjaAPI, request, exc: Exception) -> HttpResponse:
    log.exception("Unexpected error in %s %s", request.method, request.path)
    return _respond(api, request, 500, "Something went wrong on our side; it has been logged.")


# Which handler answers which exception (ninja picks the closest class in the exception's MRO).
HANDLERS = (
    (NinjaValidationError, _invalid_input),
    (DjangoValidationError, _invalid_action),
    (UnknownReference, _unknown_reference),
    (StaleTicket, _stale),
    (AccessDenied, _denied),
    (PermissionDenied, _forbidden),
    (Http404, _not_found),
    (RequestDataTooBig, _too_big),
    (RateLimited, _rate_limited),
    (AuthenticationError, _unauthenticated),
    (HttpError, _http_error),
    (StorageUnavailable, _storage),
    (Exception, _unexpected),
)


def install(api: NinjaAPI) -> None:
    """Register the handlers on `api`."""
    for exc_class, handler in HANDLERS:
        api.add_exception_handler(exc_class, partial(handler, api))
