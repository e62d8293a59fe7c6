"""Forms of the client portal: opening a ticket, replying, guest status look-up, accounts."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.template import loader
from django.urls import reverse

from helpline.accounts.models import Agent, User
from helpline.tickets import fields as custom_fields
from helpline.tickets import notify, uploads
from helpline.tickets.actions import SUBJECT_MAX
from helpline.tickets.models import ComposedKind, HelpTopic

NAME_MAX = 150
PHONE_MAX = 40
MESSAGE_MAX = 20_000
NUMBER_MAX = 32


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.Field):
    """Any number of files; cleans to a list of actions.NewAttachment within the limits."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Attachments")
        super().__init__(**kwargs)

    def to_python(self, data):
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return uploads.attachments_from_request(files)

    def bound_data(self, data, initial):
        # A browser cannot be given files back; re-rendered forms start with none.
        return initial


def _text(label: str, max_length: int, required_message: str, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        error_messages={"required": required_message},
        **kwargs,
    )


def attachment_help() -> str:
    return f"Optional. {uploads.limits_text()}"


class NewTicketForm(forms.Form):
    """The portal's "Open a new ticket" form. For a signed-in requester, name and email are
    theirs and fixed."""

    name = _text("Your name", NAME_MAX, "Enter your name.")
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter a valid email address, like name@example.com.",
        },
        help_text="We send the ticket number and every answer here.",
    )
    phone = forms.CharField(label="Phone (optional)", max_length=PHONE_MAX, required=False)
    help_topic = forms.ModelChoiceField(
        label="Help topic",
        queryset=HelpTopic.objects.none(),
        empty_label="Choose a help topic",
        error_messages={
            "required": "Choose a help topic.",
            "invalid_choice": "That help topic is not available; choose one from the list.",
        },
    )
    subject = _text("Subject", SUBJECT_MAX, "Enter a subject: a few words about the problem.")
    message = _text(
        "Message",
        MESSAGE_MAX,
        "Describe the problem: what happened, and what you expected.",
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    attachments = AttachmentsField()
    # The honeypot: hidden from people and screen readers, filled in by form-filling bots.
    website = forms.CharField(required=False, label="Leave this field empty")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["help_topic"].queryset = HelpTopic.objects.filter(
            active=True, public=True
        ).order_by("name")
        self.fields["attachments"].help_text = attachment_help()
        self.fields["subject"].widget.attrs["autocomplete"] = "off"
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["phone"].widget = forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"})
        self.signed_in_user = user if user is not None and user.is_authenticated else None
        self.custom_field_names = custom_fields.add_topic_fields(
            self, reverse("portal:new_ticket_fields"), requester_side=True
        )
        if self.signed_in_user is not None:
            for field_name, value in (
                ("name", self.signed_in_user.display_name),
                ("email", self.signed_in_user.email),
            ):
                field = self.fields[field_name]
                field.disabled = True
                field.required = False
                self.initial[field_name] = value
            self.fields["email"].help_text = "Your account's address: answers are sent here."
            if self.signed_in_user.phone:
                self.initial.setdefault("phone", self.signed_in_user.phone)

    @property
    def custom_fields(self) -> list:
        """The bound custom fields of the chosen help topic, for the template."""
        return [self[name] for name in self.custom_field_names]

    @property
    def is_spam(self) -> bool:
        """The honeypot was filled in: pretend success, create nothing."""
        return bool((self.data.get("website") or "").strip())


class ReplyForm(forms.Form):
    message = forms.CharField(
        label="Your reply",
        max_length=MESSAGE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = AttachmentsField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachment_help()

    def clean(self):
        data = super().clean()
        if (
            not self.errors
            and not (data.get("message") or "").strip()
            and not data.get("attachments")
        ):
            self.add_error("message", "Write a reply or attach a file.")
        return data


class StatusLookupForm(forms.Form):
    """A guest's "Check ticket status": the email address and the ticket number."""

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={"required": "Enter the email address the ticket was opened with."},
    )
    number = forms.CharField(
        label="Ticket number",
        max_length=NUMBER_MAX + 2,
        error_messages={"required": "Enter the ticket number from the confirmation email."},
    )

    def clean_number(self) -> str:
        return self.cleaned_data["number"].strip().lstrip("#").strip()


class PortalAuthenticationForm(AuthenticationForm):
    """Django's sign-in form (django-axes throttles it) with the portal's wording."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct username/email and password.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Username or email"


class RegisterForm(forms.Form):
    """A new portal account, finished through a link mailed to the address (which proves it is
    theirs); an address that already has an account gets a mail saying how to sign in."""

    name = _text("Your name", NAME_MAX, "Enter your name.")
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={"required": "Enter your email address."},
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
        error_messages={"required": "Choose a password."},
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": "Enter the password again."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"

    def clean_email(self) -> str:
        # Whether the address has an account (or guest tickets) is told only to that address,
        # by mail (helpline.accounts.registration): the page answers the same either way.
        return self.cleaned_data["email"].strip()

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first and data.get("email"):
            candidate = User(username=data["email"], email=data["email"], name=data.get("name", ""))
            try:
                password_validation.validate_password(first, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class ClaimingPasswordResetForm(PasswordResetForm):
    """Password reset that also reaches requesters created by a guest ticket (no usable
    password yet), so they can claim their address. Staff accounts are left alone."""

    def get_users(self, email):
        for user in User.objects.filter(email__iexact=email, is_active=True):
            if user.has_usable_password() or self._is_claimable(user):
                yield user

    @staticmethod
    def _is_claimable(user: User) -> bool:
        """A requester made by a guest ticket (no password yet); never a staff account."""
        if user.is_staff or user.is_superuser:
            return False
        return not Agent.objects.filter(user=user).exists()

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        """Write the reset mail to the outbox (retried through an SMTP outage) instead of
        sending it from the request, where a failure was only logged."""
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        html = ""
        if html_email_template_name is not None:
            html = loader.render_to_string(html_email_template_name, context)
        notify.queue_mail(
            ComposedKind.PASSWORD_RESET,
            to_email,
            subject,
            body,
            body_html=html,
            recipient=context.get("user"),
            from_email=from_email or "",
        )
