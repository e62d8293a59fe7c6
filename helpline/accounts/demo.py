"""The demo organisation of scenarios.md (loaded by `helpline demo`)."""

DEMO_PASSWORD = "Helpline-demo-1"
DEMO_USERNAMES = ["admin", "john", "jane", "garnet", "karen", "ken", "greg"]


def demo_accounts_with_demo_password() -> list[str]:
    """Usernames of active demo accounts whose password is still the demo password."""
    from helpline.accounts.models import User

    return [
        u.username
        for u in User.objects.filter(username__in=DEMO_USERNAMES, is_active=True)
        if u.check_password(DEMO_PASSWORD)
    ]
