import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpline.settings")
application = get_wsgi_application()


def _refuse_demo_passwords() -> None:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    from helpline.accounts.demo import demo_accounts_with_demo_password

    if settings.DEBUG:
        return
    try:
        users = demo_accounts_with_demo_password()
    except DatabaseError:
        return
    if users:
        raise ImproperlyConfigured(
            "Refusing to start: demo accounts still use the demo password ("
            + ", ".join(users)
            + "). Change or deactivate them, or set DEBUG=1 for a demo."
        )


_refuse_demo_passwords()
