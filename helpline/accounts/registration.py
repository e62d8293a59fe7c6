"""Registering on the portal without revealing whether an address already has an account.

Whatever address is typed, the page answers the same ("check your email"); only the mail that
the address receives differs:
- a new address gets a requester account whose chosen password is held back until the link in
  the mail is followed, which proves the address is theirs;
- a known address gets "someone tried to register with your address", with links to sign in and
  to choose a password (for someone who opened tickets as a guest, or forgot it).

The held-back password is stored as an unusable password (Django's "!" prefix) so that it cannot
sign in before the address is confirmed, without a table or migration of its own. The link's
token hashes the stored password, so it works once.

Both mails are written to the outbox in the registration's transaction (tickets.notify), so an
SMTP outage delays them instead of losing them.
"""

import logging

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_decode, urlsafe_base64_encode

from helpline.accounts.models import User
from helpline.accounts.people import get_or_create_requester
from helpline.tickets import notify
from helpline.tickets.models import ComposedKind

log = logging.getLogger(__name__)

PENDING_PREFIX = f"{UNUSABLE_PASSWORD_PREFIX}registration:"


class ConfirmationTokens(PasswordResetTokenGenerator):
    """Password-reset style tokens (valid PASSWORD_RESET_TIMEOUT, once), not interchangeable
    with the password-reset links themselves."""

    key_salt = "helpline.accounts.registration.ConfirmationTokens"


tokens = ConfirmationTokens()


def register(email: str, name: str, password: str) -> None:
    """Start an account for `email`, or tell the address's owner that someone tried.

    The caller answers the same either way; mail goes out once the transaction commits.
    """
    # Hashed for known addresses as well: both answers take about as long.
    pending = PENDING_PREFIX + make_password(password)
    with transaction.atomic():
        try:
            user, created = get_or_create_requester(email, name)
        except ValidationError:
            log.warning("Registration: no account could be made for %r", email[:100])
            return
        if created:
            user.password = pending
            user.save(update_fields=["password"])
            _send_confirmation(user)
        elif user.is_active:
            _send_already_registered(user)


def is_pending(user: User) -> bool:
    return user.is_active and user.password.startswith(PENDING_PREFIX)


def pending_account(uidb64: str, token: str) -> User | None:
    """The account a confirmation link names, if the link is valid and still unused."""
    try:
        pk = int(urlsafe_base64_decode(uidb64 or "").decode())
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError):
        return None
    user = User.objects.filter(pk=pk).first()
    if user is None or not is_pending(user) or not tokens.check_token(user, token or ""):
        return None
    return user


def confirm(user: User) -> None:
    """The address is proven: the password chosen at registration becomes the account's."""
    user.password = user.password.removeprefix(PENDING_PREFIX)
    user.save(update_fields=["password"])


def confirmation_path(user: User) -> str:
    query = urlencode(
        {"account": urlsafe_base64_encode(force_bytes(user.pk)), "token": tokens.make_token(user)}
    )
    return f"{reverse('portal:register')}?{query}"


def _mail(user: User, kind: str, subject: str, template: str, context: dict) -> None:
    context = {
        "user": user,
        "email": user.email,
        "helpdesk": settings.HELPLINE_HELPDESK_NAME,
        "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        **context,
    }
    body = render_to_string(template, context)
    notify.queue_mail(kind, user.email, subject, body.strip() + "\n", recipient=user)


def _send_confirmation(user: User) -> None:
    _mail(
        user,
        ComposedKind.REGISTER_CONFIRM,
        "Finish creating your account",
        "emails/register_confirm.txt",
        {"url": settings.SITE_URL + confirmation_path(user)},
    )


def _send_already_registered(user: User) -> None:
    _mail(
        user,
        ComposedKind.REGISTER_EXISTS,
        "Someone tried to register with your address",
        "emails/register_exists.txt",
        {
            "login_url": settings.SITE_URL + reverse("portal:login"),
            "reset_url": settings.SITE_URL + reverse("portal:password_reset"),
        },
    )
