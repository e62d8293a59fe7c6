"""Fixtures of the hostile-input suite.

`desk`: the whole corpus through every channel, built once per test module inside a transaction
that is rolled back when the module ends (tests on it each run in a savepoint of their own).
The browser fixtures live in browser.py and are imported here.
"""

import pytest
from django.db import connection, transaction
from django.test.utils import override_settings

from tests.hostile.browser import (  # noqa: F401  (fixtures of the browser tests)
    browser_context_args,
    browser_type_launch_args,
    hostile_page,
    live_desk,
)
from tests.hostile.corpus import PAYLOADS
from tests.hostile.desk import build_desk


def assert_test_database() -> None:
    name = str(connection.settings_dict["NAME"])
    assert "test" in name or "memory" in name, f"not a test database: {name}"


@pytest.fixture(scope="module")
def desk_settings(tmp_path_factory):
    """The settings tests/conftest.py gives each test, for the module-wide build."""
    media = tmp_path_factory.mktemp("hostile-media")
    with override_settings(
        TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}},
        MEDIA_ROOT=media,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        SITE_URL="http://testserver",
    ):
        yield media


@pytest.fixture(scope="module")
def desk(django_db_setup, django_db_blocker, desk_settings):
    """Every payload through every channel; rolled back at the end of the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        # Only tests marked for the database make pytest-django create the test database;
        # without one this would be the development database.
        assert_test_database()
        built = build_desk(PAYLOADS)
        built.media_root = desk_settings
        yield built
        transaction.set_rollback(True)
