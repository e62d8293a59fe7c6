"""Every error of /api/v1/ as JSON: {"detail": "...", "errors": {"field": ["message", ...]}}.

400 bad request, 401 no or bad credentials, 403 not allowed, 404 no such thing (also a ticket the
caller may not see), 409 stale update, 413 too large, 422 invalid fields, 429 rate limited.
"""

import json
import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from helpline.api.auth import RateLimited
from helpline.tickets.access import AccessDenied
from helpline.tickets.actions import StaleTicket

log = logging.getLogger(__name__)


class InvalidJson(ValueError):
    """The body is not JSON; the message says where it breaks."""


class JsonParser(Parser):
    """ninja's parser, but keeping the JSON error's position for the 400 message."""

    def parse_body(self, request: HttpRequest):
        try:
            return json.loads(request.body)
        except UnicodeDecodeError:
            raise InvalidJson("The request body is not valid UTF-8.")
        except ValueError as exc:
            raise InvalidJson(f"The request body is not valid JSON: {exc}.")


def error_body(detail: str, errors: dict[str, list[str]] | None = None) -> dict:
    return {"detail": detail, "errors": errors or {}}


def field_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as {field: [messages]} ("__all__" for non-field errors)."""
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


def _location(loc) -> str:
    # ("body", "payload", "subject") → "subject"; ("query", "limit") → "limit".
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "payload")]
    return ".".join(parts) or "__all__"


def install(api: NinjaAPI) -> None:
    """Register the handlers on `api`."""

    def respond(request, status: int, detail: str, errors=None) -> HttpResponse:
        return api.create_response(request, error_body(detail, errors), status=status)

    @api.exception_handler(NinjaValidationError)
    def invalid_input(request, exc: NinjaValidationError):
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            message = str(error.get("msg", "Invalid value."))
            errors.setdefault(_location(error.get("loc", ())), []).append(message)
        return respond(request, 422, "Some fields are not valid.", errors)

    @api.exception_handler(DjangoValidationError)
    def invalid_action(request, exc: DjangoValidationError):
        errors = field_errors(exc)
        first = next(iter(errors.values()), ["Some fields are not valid."])[0]
        return respond(request, 422, first, errors)

    @api.exception_handler(StaleTicket)
    def stale(request, exc: StaleTicket):
        return respond(request, 409, str(exc), {"version": [f"Now {exc.ticket.version}."]})

    @api.exception_handler(AccessDenied)
    def denied(request, exc: AccessDenied):
        return respond(request, 403, exc.message)

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc: PermissionDenied):
        return respond(request, 403, str(exc) or "Not allowed.")

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        return respond(request, 404, str(exc) or "Not found.")

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc: RequestDataTooBig):
        return respond(request, 413, "The request body is too large.")

    @api.exception_handler(RateLimited)
    def rate_limited(request, exc: RateLimited):
        response = respond(request, 429, exc.message)
        response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc: AuthenticationError):
        detail = "Authentication required: send `Authorization: Bearer <API key>`."
        response = respond(request, 401, detail)
        response["WWW-Authenticate"] = 'Bearer realm="helpline"'
        return response

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        detail = str(exc)
        if isinstance(exc.__cause__, InvalidJson):
            detail = str(exc.__cause__)
        response = respond(request, exc.status_code, detail)
        if exc.status_code == 401:
            response["WWW-Authenticate"] = 'Bearer realm="helpline"'
        return response

    @api.exception_handler(Exception)
    def unexpected(request, exc: Exception):
        log.exception("Unexpected error in %s %s", request.method, request.path)
        return respond(request, 500, "Something went wrong on our side; it has been logged.")
