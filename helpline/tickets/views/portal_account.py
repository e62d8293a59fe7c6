"""Portal accounts: sign in and out, register, password reset (which also claims guest tickets)."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy

from helpline.accounts import registration
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

# The confirmation link signs the new user in directly; the axes backend only guards passwords.
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
    """Register: the answer is "check your email" whether or not the address is known; the mail
    finishes a new account or tells the owner of a known address how to sign in."""
    if "token" in request.GET or "token" in request.POST:
        return _finish_registration(request)
    if request.user.is_authenticated:
        return redirect("portal:my_tickets")
    if request.GET.get("sent"):
        return page(request, "registration/register_sent.html")
    if request.method == "POST":
        form = RegisterForm(request.POST)
        if form.is_valid() and _start_registration(request, form):
            return redirect(reverse("portal:register") + "?sent=1")
    else:
        form = RegisterForm()
    return page(request, "registration/register.html", {"form": form})


def _start_registration(request, form: RegisterForm) -> bool:
    data = form.cleaned_data
    ip = client_ip(request)
    if REGISTRATIONS.exceeded(ip=ip, email=data["email"]):
        form.add_error(
            None,
            "Too many registrations in a short time. Please wait "
            f"{REGISTRATIONS.minutes()} minutes and try again.",
        )
        return False
    REGISTRATIONS.hit(ip=ip, email=data["email"])
    registration.register(data["email"], data["name"], data["password1"])
    return True


def _finish_registration(request) -> HttpResponse:
    """The link from the confirmation mail: a page with a button (mail scanners that follow
    links must not use it up), whose POST sets the chosen password and signs in."""
    source = request.POST if request.method == "POST" else request.GET
    uidb64, token = source.get("account", ""), source.get("token", "")
    user = registration.pending_account(uidb64, token)
    if user is None:
        return page(request, "registration/register_confirm.html", status=404)
    if request.method != "POST":
        context = {"account": user, "uidb64": uidb64, "token": token}
        return page(request, "registration/register_confirm.html", context)
    registration.confirm(user)
    login(request, user, backend=MODEL_BACKEND)
    messages.success(request, "Welcome! Your account is ready.")
    return redirect("portal:my_tickets")


class PortalPasswordResetView(PortalContextMixin, auth_views.PasswordResetView):
    form_class = ClaimingPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset_subject.txt"
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
