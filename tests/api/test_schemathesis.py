"""Schemathesis against /api/v1/openapi.json, in process through the WSGI app.

For every operation: the schema's examples, its boundary values (coverage) and generated valid
and invalid inputs, with an agent's key, under every check (as `--checks all`): never a 5xx;
status codes, content types and bodies as documented; what the schema refuses is refused (4xx)
and what it allows is accepted (2xx, or 404 for an id or name that names nothing). Bounded (a few
generated examples per operation, derandomized) so that it is the same run every time.
"""

import pytest

schemathesis = pytest.importorskip("schemathesis")

from django.core import signals  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.errors import FailureGroup  # noqa: E402

from helpline.api.models import ApiKey  # noqa: E402
from helpline.tickets import actions  # noqa: E402


def _load_schema():
    # The document /api/v1/openapi.json serves (test_tickets_api checks it is served), taken from
    # the API object so that loading it needs no database at collection time.
    from django.core.wsgi import get_wsgi_application

    from helpline.api.v1 import api

    loaded = schemathesis.openapi.from_dict(api.get_openapi_schema())
    # Django's own WSGI handler: helpline.wsgi adds a start-up check that reads the database.
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # Django's test client does this around each request: the WSGI handler's end-of-request
    # signal would otherwise close the connection that holds the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def agent_key(john, karen, org):
    # A few tickets, so that list and look-ups have something to find.
    for subject in ("Printer jams", "VPN drops"):
        actions.open_ticket(karen, requester=karen, subject=subject, body="Details.")
    _, key = ApiKey.issue(
        john, scopes=["tickets:read", "tickets:write", "admin:read"], rate_limit=1_000_000
    )
    return key


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_and_matches_its_schema(case, agent_key):
    headers = {"Authorization": f"Bearer {agent_key}"}
    response = case.call(headers=headers)
    try:
        case.validate_response(response, headers=headers)
    except FailureGroup as found:
        if not all(_forged_cursor(case, response, failure) for failure in found.exceptions):
            raise


def _forged_cursor(case, response, failure) -> bool:
    """The one refusal no schema can describe: a page link Helpline did not sign. The schema
    says what a cursor looks like (its characters and length: anything else is a 400 too)."""
    return (
        failure.code == "ST202"
        and case.operation.label == "GET /api/v1/tickets"
        and response.status_code == 400
        and response.json()["detail"] == "That page link is not valid any more."
    )
