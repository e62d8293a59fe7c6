"""Portal accounts: sign in and out, register, password reset (which also claims guest tickets)."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy

from helpline.accounts.people import get_or_create_requester
from helpline.tickets import access
from helpline.tickets.forms_portal import (
    ClaimingPasswordResetForm,
    PortalAuthenticationForm,
    RegisterForm,
)
from helpline.tickets.views.portal_common import (
    REGISTRATIONS,
    PortalContextMixin,
    client_ip,
    page,
)

# Registration signs the new user in directly; the axes backend only guards password checks.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class PortalLoginView(PortalContextMixin, auth_views.LoginView):
    """Django's LoginView; django-axes throttles it through its authentication backend."""

    template_name = "registration/login.html"
    authentication_form = PortalAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("portal:my_tickets")


class PortalLogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView); back to the portal's home."""

    next_page = reverse_lazy("portal:home")

    def post(self, request, *args, **kwargs):
        signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if signed_in:
            messages.info(request, "You are signed out.")
        else:  # A guest leaving: the ticket links opened in this browser are forgotten.
            messages.info(request, "This browser no longer opens your tickets' links.")
        return response


def register(request) -> HttpResponse:
    """A new account with a password; an address known from guest tickets is claimed through the
    password-reset email instead (see RegisterForm)."""
    if request.user.is_authenticated:
        return redirect("portal:my_tickets")
    if request.method == "POST":
        form = RegisterForm(request.POST)
        if form.is_valid():
            user = _create_account(request, form)
            if user is not None:
                login(request, user, backend=MODEL_BACKEND)
                messages.success(request, "Welcome! Your account is ready.")
                return redirect("portal:my_tickets")
    else:
        form = RegisterForm()
    return page(request, "registration/register.html", {"form": form})


def _create_account(request, form: RegisterForm):
    ip = client_ip(request)
    if REGISTRATIONS.exceeded(ip=ip):
        form.add_error(
            None,
            "Too many new accounts from your network in a short time. Please wait "
            f"{REGISTRATIONS.minutes()} minutes and try again.",
        )
        return None
    data = form.cleaned_data
    try:
        user, created = get_or_create_requester(data["email"], data["name"])
    except ValidationError as exc:
        form.add_error(
            "email", exc.message_dict.get("email") if hasattr(exc, "error_dict") else exc
        )
        return None
    if not created:  # Someone else registered the address a moment ago.
        form.add_error("email", "An account with this address already exists.")
        return None
    user.set_password(data["password1"])
    user.save(update_fields=["password"])
    REGISTRATIONS.hit(ip=ip)
    return user


class PortalPasswordResetView(PortalContextMixin, auth_views.PasswordResetView):
    form_class = ClaimingPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")


class PortalPasswordResetDoneView(PortalContextMixin, auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PortalPasswordResetConfirmView(PortalContextMixin, auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")


class PortalPasswordResetCompleteView(PortalContextMixin, auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"

    def get_context_data(self, **kwargs):
        # Django's version resolves settings.LOGIN_URL, which may name the agent panel's sign-in.
        context = super(auth_views.PasswordResetCompleteView, self).get_context_data(**kwargs)
        context["login_url"] = reverse("portal:login")
        context["viewer_is_agent"] = access.is_agent(self.request.user)
        return context
