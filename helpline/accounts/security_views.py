"""The agent's Security page (two-factor sign-in, sign out everywhere) and the sign-in code page.

Thin views: the rules live in `helpline.accounts.twofactor` and on the User model.
"""

import django_otp
from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice

from helpline.accounts import twofactor
from helpline.tickets.views.staff import agent_required

LOW_ON_RECOVERY_CODES = 3


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
        error_messages={"required": "Enter the code."},
    )


class IdentityForm(forms.Form):
    secret = forms.CharField(
        label="Your password or a code from your app",
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Enter your password or a code from your app."},
    )


def _security_context(request: HttpRequest, **extra) -> dict:
    user = request.user
    device = twofactor.authenticator(user)
    context = {
        "active_queue": "security",
        "device": device,
        "codes_left": twofactor.recovery_codes_left(user) if device else 0,
        "identity_form": IdentityForm(),
    }
    pending = None if device else twofactor.pending_authenticator(user)
    if pending is not None:
        context.update(
            pending=pending,
            qr_svg=twofactor.qr_svg(pending),
            secret=twofactor.secret_text(pending),
            code_form=CodeForm(),
        )
    context.update(extra)
    return context


@never_cache
@agent_required
def security(request: HttpRequest) -> HttpResponse:
    """Two-factor sign-in (set up, recovery codes, turn off) and signing out other browsers."""
    return render(request, "staff/security.html", _security_context(request))


@require_POST
@agent_required
def setup_start(request: HttpRequest) -> HttpResponse:
    """A new secret to scan; two-factor stays off until the app's first code is typed."""
    if twofactor.has_two_factor(request.user):
        messages.info(request, "Two-factor sign-in is already on.")
    else:
        twofactor.start_setup(request.user)
    return redirect("staff:security")


@require_POST
@agent_required
def setup_cancel(request: HttpRequest) -> HttpResponse:
    """Forget an unfinished set-up."""
    twofactor.cancel_setup(request.user)
    messages.info(request, "Two-factor set-up cancelled; nothing changed.")
    return redirect("staff:security")


@never_cache
@require_POST
@agent_required
def setup_confirm(request: HttpRequest) -> HttpResponse:
    """The first code from the app turns two-factor on and shows the recovery codes once."""
    if twofactor.pending_authenticator(request.user) is None:
        return redirect("staff:security")
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            confirmed = twofactor.confirm_setup(request.user, form.cleaned_data["code"])
        except twofactor.CodeThrottled as exc:
            form.add_error("code", exc.message)
        else:
            if confirmed is None:
                form.add_error(
                    "code",
                    "That code does not match. Check that the app shows this help desk's "
                    "entry and type its current 6-digit code.",
                )
            else:
                device, codes = confirmed
                # This browser just proved it holds the app: keep it signed in as verified.
                django_otp.login(request, device)
                return _show_recovery_codes(request, codes, first_time=True)
    context = _security_context(request, code_form=form)
    return render(request, "staff/security.html", context, status=400)


def _show_recovery_codes(request: HttpRequest, codes: list[str], first_time: bool) -> HttpResponse:
    # Rendered straight from the POST: the codes are never stored anywhere readable.
    context = {"codes": codes, "first_time": first_time, "active_queue": "security"}
    return render(request, "staff/security_codes.html", context)


def _identity_confirmed(request: HttpRequest, form: IdentityForm) -> bool:
    """Check the password-or-code form; on failure the form carries the error."""
    if not form.is_valid():
        return False
    user = request.user
    password_before = user.password
    try:
        confirmed = twofactor.confirm_identity(user, form.cleaned_data["secret"])
    except twofactor.CodeThrottled as exc:
        form.add_error("secret", exc.message)
        return False
    if user.password != password_before:
        # check_password upgraded the stored hash: keep this session valid.
        update_session_auth_hash(request, user)
    if not confirmed:
        form.add_error("secret", "That is neither your password nor a current code from your app.")
    return confirmed


def _refused_without_identity(request: HttpRequest, identity_for: str) -> HttpResponse | None:
    """For changes to two-factor itself: the answer when it is off or the password/code given
    is wrong (the Security page with the error, 400); None when the change may go ahead."""
    if not twofactor.has_two_factor(request.user):
        return redirect("staff:security")
    form = IdentityForm(request.POST)
    if _identity_confirmed(request, form):
        return None
    context = _security_context(request, identity_form=form, identity_for=identity_for)
    return render(request, "staff/security.html", context, status=400)


@never_cache
@sensitive_post_parameters("secret")
@require_POST
@agent_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes replace the old ones (after the password or a code)."""
    refused = _refused_without_identity(request, "codes")
    if refused is not None:
        return refused
    return _show_recovery_codes(request, twofactor.new_recovery_codes(request.user), False)


@sensitive_post_parameters("secret")
@require_POST
@agent_required
def turn_off(request: HttpRequest) -> HttpResponse:
    """Two-factor off (after the password or a code): the password alone signs in again."""
    refused = _refused_without_identity(request, "off")
    if refused is not None:
        return refused
    twofactor.turn_off(request.user)
    messages.success(request, "Two-factor sign-in is off. Your password alone signs you in now.")
    return redirect("staff:security")


@require_POST
@agent_required
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """End every other session of this person; this browser stays signed in."""
    user = request.user
    user.end_all_sessions()
    # A new session key and the new hash for this browser only.
    update_session_auth_hash(request, user)
    messages.success(request, "Signed out everywhere else. This browser stays signed in.")
    return redirect("staff:security")


# ---------------------------------------------------------------------------------------------
# The code page after the password


@never_cache
def verify(request: HttpRequest) -> HttpResponse:
    """Second step of signing in: a code from the authenticator app or a recovery code."""
    user = request.user
    default = reverse("staff:dashboard")
    next_url = twofactor.safe_next(
        request, request.POST.get("next") or request.GET.get("next"), default
    )
    if not user.is_authenticated:
        return redirect(f"{reverse('staff:login')}?next={default}")
    if getattr(user, "otp_device", None) is not None or not twofactor.has_two_factor(user):
        return redirect(next_url)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = twofactor.check_code(user, form.cleaned_data["code"])
        except twofactor.CodeThrottled as exc:
            form.add_error("code", exc.message)
        else:
            if device is not None:
                return _verified(request, device, next_url)
            form.add_error(
                "code",
                "Wrong code. Type the current 6-digit code from your authenticator app, "
                "or one of your recovery codes.",
            )
    context = {"form": form, "next": next_url}
    return render(request, "staff/login_verify.html", context, status=400 if form.errors else 200)


def _verified(request: HttpRequest, device, next_url: str) -> HttpResponse:
    # A step up in trust: new session key and CSRF token, as at sign-in.
    request.session.cycle_key()
    rotate_token(request)
    django_otp.login(request, device)
    if isinstance(device, StaticDevice):
        left = twofactor.recovery_codes_left(request.user)
        level = messages.WARNING if left < LOW_ON_RECOVERY_CODES else messages.INFO
        messages.add_message(
            request,
            level,
            f"You signed in with a recovery code; {left} left. "
            "Make new ones on the Security page of your profile.",
        )
    return redirect(next_url)
