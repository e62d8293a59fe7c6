"""What django-axes counts sign-in failures against (settings.AXES_USERNAME_CALLABLE).

Axes keys its counters on the typed sign-in name. Since one account answers to its username and
to its email address in any case, "greg@example.com", "Greg@Example.com" and "greg" would each get
their own counter and multiply the allowed guesses. Counting against the resolved account (or,
for a name no account has, its lower-cased form) makes every spelling share one counter.
"""

from django.http import HttpRequest

from helpline.accounts.models import User

USERNAME_FIELD = "username"  # settings.AXES_USERNAME_FORM_FIELD, django-axes' default


def sign_in_name(request: HttpRequest | None, credentials: dict | None) -> str:
    """The throttle key for this sign-in attempt: the account's username, or the name typed,
    stripped and lower-cased, when it names no single account."""
    if credentials:
        typed = credentials.get(USERNAME_FIELD)
    elif request is not None:
        typed = getattr(request, "data", request.POST).get(USERNAME_FIELD)
    else:
        typed = None
    typed = typed if isinstance(typed, str) else ""
    # Axes asks several times per attempt (check, failure, lockout): resolve once per request.
    memo = getattr(request, "_helpline_throttle_keys", None) if request is not None else None
    if memo is None:
        memo = {}
        if request is not None:
            request._helpline_throttle_keys = memo
    if typed not in memo:
        memo[typed] = User.objects.throttle_key(typed)
    return memo[typed]
