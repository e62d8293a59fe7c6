"""Agent panel accounts: sign in (throttled by django-axes; then a code when two-factor sign-in is
on), sign out, password, profile. The Security page lives in helpline/accounts/security_views.py."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy

from helpline.accounts import twofactor
from helpline.accounts.models import Agent
from helpline.tickets import access
from helpline.tickets.views.staff import agent_required


class AgentLoginForm(AuthenticationForm):
    """Username or email and password; only agents get in."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong username or password. Check both and try again.",
        "no_agent_access": (
            "%(name)s has no agent access. The agent panel is for help desk staff; "
            "to follow your own requests, use the client portal."
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Username or email"

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not access.is_agent(user):
            raise ValidationError(
                self.error_messages["no_agent_access"],
                code="no_agent_access",
                params={"name": user.display_name},
            )


class StaffLoginView(auth_views.LoginView):
    """Sign-in page of the agent panel; lands on the dashboard."""

    template_name = "staff/login.html"
    form_class = AgentLoginForm

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET" and access.is_agent(request.user):
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return reverse("staff:dashboard")

    def form_valid(self, form):
        response = super().form_valid(form)
        # The password was right; with two-factor on, the code page comes before the panel.
        if twofactor.has_two_factor(form.get_user()):
            return redirect(twofactor.verify_url(self.get_success_url()))
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        # Someone signed in on the portal who wandered here: say why they cannot go further.
        context["signed_in_without_access"] = user.is_authenticated and not access.is_agent(user)
        return context


login = StaffLoginView.as_view()
logout = auth_views.LogoutView.as_view(next_page=reverse_lazy("staff:login"))
password_change = agent_required(
    auth_views.PasswordChangeView.as_view(
        template_name="staff/password_change.html",
        success_url=reverse_lazy("staff:password_change_done"),
    )
)
password_change_done = agent_required(
    auth_views.PasswordChangeDoneView.as_view(template_name="staff/password_change_done.html")
)


class AgentProfileForm(forms.ModelForm):
    """What an agent sets for themselves; departments and roles are the administrator's."""

    class Meta:
        model = Agent
        fields = ["timezone", "signature"]
        labels = {"timezone": "Time zone", "signature": "Signature"}
        help_texts = {
            "timezone": "Times in the panel are shown in this zone. Empty: the help desk's.",
            "signature": "Added below your replies.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = self.fields["timezone"].choices
        default = f"The help desk’s ({settings.TIME_ZONE})"
        self.fields["timezone"].choices = [("", default), *[c for c in zones if c[0]]]


@agent_required
def profile(request: HttpRequest) -> HttpResponse:
    """The agent's own profile: time zone and signature (a profile, not a ticket: plain save)."""
    agent = access.agent_profile(request.user)
    if agent is None:
        messages.info(
            request,
            "You are an administrator without an agent profile; add one in the admin panel "
            "to set a time zone and signature.",
        )
        return render(request, "staff/profile.html", {"form": None, "active_queue": "profile"})
    form = AgentProfileForm(request.POST or None, instance=agent)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("staff:profile")
    context = {"form": form, "agent": agent, "active_queue": "profile"}
    return render(request, "staff/profile.html", context)
