"""Two-factor sign-in: an authenticator app (TOTP) plus one-time recovery codes (django-otp).

Turning it on is optional and per person (the Security page of the agent panel). Once a person
has a confirmed authenticator, a correct password alone only reaches the code page:
`RequireVerifiedMiddleware` keeps the session away from everything else until a code was given.

Recovery codes live in django-otp's static device, which keeps tokens as plain text. We store a
SHA-256 digest of each code instead (codes carry 60 random bits, so the digest cannot be turned
back into a code) and hash what the person types before asking the device to verify it; the
device still deletes a code once used and throttles wrong guesses.
"""

import hashlib
import math
import re
import secrets
from base64 import b32encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django_htmx.http import HttpResponseClientRedirect
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: no 0/1/8/9 to mistake
RECOVERY_CODE_LENGTH = 12  # 60 random bits, shown as xxxx-xxxx-xxxx
APP_CODE = re.compile(r"[0-9]{6}")  # ASCII digits: "٣" is no code digit


class CodeThrottled(Exception):
    """Too many wrong codes in a row: django-otp refuses to check another one until `until`."""

    def __init__(self, until: datetime):
        super().__init__(until)
        self.until = until

    @property
    def message(self) -> str:
        seconds = max(1, math.ceil((self.until - timezone.now()).total_seconds()))
        return f"Too many wrong codes in a row. Wait {_duration(seconds)} and try again."


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


# ---------------------------------------------------------------------------------------------
# Devices


def authenticator(user) -> TOTPDevice | None:
    """The person's confirmed authenticator app, if two-factor sign-in is on."""
    if not getattr(user, "is_authenticated", False):
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_two_factor(user) -> bool:
    """Whether signing in as `user` needs a code as well as the password."""
    if not getattr(user, "is_authenticated", False):
        return False
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_authenticator(user) -> TOTPDevice | None:
    """The authenticator being set up: created, shown as a QR code, not yet confirmed."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def recovery_device(user) -> StaticDevice | None:
    """The device holding the person's recovery codes (one per person)."""
    return StaticDevice.objects.filter(user=user).order_by("pk").first()


def recovery_codes_left(user) -> int:
    """How many unused recovery codes the person has."""
    return StaticToken.objects.filter(device__user=user).count()


@transaction.atomic
def start_setup(user) -> TOTPDevice:
    """A fresh, unconfirmed authenticator with a new secret (an older unfinished one is dropped)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def cancel_setup(user) -> None:
    """Drop an unfinished set-up; a confirmed authenticator is left alone."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()


def confirm_setup(user, code: str) -> tuple[TOTPDevice, list[str]] | None:
    """Turn two-factor sign-in on if `code` is the app's current code.

    Returns the authenticator and the new recovery codes (shown once), or None for a wrong code.
    Raises CodeThrottled after too many wrong codes.
    """
    device = pending_authenticator(user)
    code = _digits(code)
    if device is None or not APP_CODE.fullmatch(code):
        return None
    _check_allowed(device)
    if verify_token(user, device.persistent_id, code) is None:
        return None
    with transaction.atomic():
        device.refresh_from_db()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # One authenticator per person: a second confirmed one would be a second way in.
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = new_recovery_codes(user)
    return device, codes


@transaction.atomic
def turn_off(user) -> None:
    """Remove the authenticator and the recovery codes: the password alone signs in again."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


# ---------------------------------------------------------------------------------------------
# Recovery codes


def _recovery_digest(code: str) -> str:
    # Fits StaticToken.token (16 characters); 64 bits of a SHA-256 over a 60-bit random code.
    return hashlib.sha256(code.encode()).hexdigest()[:16]


def normalise_recovery_code(text: str) -> str:
    """What a person types ("ABCD-efgh ijkl") → the stored form's input ("abcdefghijkl")."""
    return re.sub(r"[\s-]", "", text or "").lower()


@transaction.atomic
def new_recovery_codes(user) -> list[str]:
    """Replace the person's recovery codes with ten new ones; returns them for showing once.

    The device stays the same, so a session verified with a recovery code stays verified.
    """
    device = recovery_device(user)
    if device is None:
        device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    device.token_set.all().delete()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)))
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=_recovery_digest(normalise_recovery_code(code)))
        for code in codes
    )
    return codes


# ---------------------------------------------------------------------------------------------
# Checking codes


def _digits(text: str) -> str:
    return re.sub(r"\s", "", text or "")


def _check_allowed(device: Device) -> None:
    allowed, info = device.verify_is_allowed()
    if not allowed:
        raise CodeThrottled((info or {}).get("locked_until") or timezone.now())


def check_code(user, text: str) -> Device | None:
    """The device that accepts `text`: a 6-digit app code or a recovery code; None if neither.

    Raises CodeThrottled while the device that would check it is locked after wrong codes.
    A recovery code is used up by a successful check.
    """
    code = _digits(text)
    if APP_CODE.fullmatch(code):
        device = authenticator(user)
        if device is None:
            return None
        _check_allowed(device)
        return verify_token(user, device.persistent_id, code)
    recovery = normalise_recovery_code(text)
    device = recovery_device(user)
    if device is None or not re.fullmatch(rf"[a-z2-7]{{{RECOVERY_CODE_LENGTH}}}", recovery):
        return None
    _check_allowed(device)
    return verify_token(user, device.persistent_id, _recovery_digest(recovery))


def confirm_identity(user, secret: str) -> bool:
    """Is this really the person: their password, or a current code from their app?

    Asked before turning two-factor off or making new recovery codes, so a borrowed session
    cannot do either. Wrong passwords count against the authenticator's throttle as well.
    """
    device = authenticator(user)
    if device is not None:
        _check_allowed(device)
    if device is not None and APP_CODE.fullmatch(_digits(secret)):
        return verify_token(user, device.persistent_id, _digits(secret)) is not None
    if user.check_password(secret or ""):
        return True
    if device is not None:
        device.throttle_increment()
    return False


# ---------------------------------------------------------------------------------------------
# Showing the secret


def config_url(device: TOTPDevice) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    issuer = settings.HELPLINE_HELPDESK_NAME.replace(":", "")
    label = f"{issuer}:{device.user.get_username()}"
    params = urlencode(
        {
            "secret": secret_text(device).replace(" ", ""),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{quote(label)}?{params}"


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app by hand."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_svg(device: TOTPDevice) -> SafeString:
    """The QR code as inline SVG."""
    svg = segno.make(config_url(device), error="m").svg_inline(
        scale=5, dark="#111827", light="#ffffff", border=4
    )
    # segno writes only the code's modules as paths: nothing of the user's text reaches the
    # markup, so the SVG is safe to embed as is.
    return mark_safe(svg)


# ---------------------------------------------------------------------------------------------
# The code page and the middleware that sends people there


def safe_next(request: HttpRequest, target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def verify_url(next_url: str | None = None) -> str:
    """The code page's address, coming back to `next_url` once a code was accepted."""
    url = reverse("staff:verify")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@dataclass(frozen=True)
class _Exempt:
    paths: frozenset[str]
    prefixes: tuple[str, ...]


def _exempt() -> _Exempt:
    static = settings.STATIC_URL or "/static/"
    static = static if static.startswith(("/", "http")) else f"/{static}"
    return _Exempt(
        paths=frozenset(
            {
                reverse("staff:verify"),
                reverse("staff:logout"),
                reverse("portal:logout"),
                reverse("admin:logout"),
                reverse("healthz"),
            }
        ),
        prefixes=(static,) if static.startswith("/") else (),
    )


class RequireVerifiedMiddleware:
    """A signed-in person with two-factor on who has not given a code yet sees only the code page.

    Everything else (agent panel, admin panel, portal, the API through the session) sends them
    there: a redirect for pages, HX-Redirect for htmx requests, a 401 JSON answer for the API.
    The code page, signing out and static files stay reachable. Comes after django-otp's
    OTPMiddleware, which marks a session verified once a code was accepted.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self._exempt_paths: _Exempt | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_verify(request):
            return self._to_code_page(request)
        return self.get_response(request)

    def _must_verify(self, request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        if getattr(user, "otp_device", None) is not None:
            return False
        if self._exempt_paths is None:
            self._exempt_paths = _exempt()
        path = request.path
        if path in self._exempt_paths.paths or path.startswith(self._exempt_paths.prefixes):
            return False
        return has_two_factor(user)

    def _to_code_page(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": "Two-factor sign-in: enter the code from your authenticator app "
                    f"at {reverse('staff:verify')} first."
                },
                status=401,
            )
        back = request.get_full_path() if request.method == "GET" else None
        if request.headers.get("HX-Request") == "true":
            # An htmx fragment is no place to come back to: return to the page it came from.
            back = request.headers.get("HX-Current-URL") or None
            return HttpResponseClientRedirect(verify_url(safe_next(request, back, "") or None))
        return redirect(verify_url(back))
