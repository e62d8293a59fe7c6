"""Fixtures for the API tests: keys for the demo people and a JSON client that uses them."""

import json

import pytest
from django.core.cache import cache
from django.test import Client

from helpline.api.models import ApiKey, Scope

READ_WRITE = [Scope.TICKETS_READ, Scope.TICKETS_WRITE]


class Api:
    """A test client speaking JSON to /api/v1/ with one API key."""

    def __init__(self, key: str | None, remote_addr: str = "127.0.0.1"):
        self.key = key
        self.client = Client(REMOTE_ADDR=remote_addr)

    def _headers(self, extra=None):
        headers = {}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        headers.update(extra or {})
        return headers

    def get(self, path, params=None, **headers):
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers(headers))

    def _send(self, method, path, data, headers):
        body = data if isinstance(data, str | bytes) else json.dumps(data)
        return getattr(self.client, method)(
            f"/api/v1{path}", body, content_type="application/json", headers=self._headers(headers)
        )

    def post(self, path, data=None, **headers):
        return self._send("post", path, data if data is not None else {}, headers)

    def patch(self, path, data=None, **headers):
        return self._send("patch", path, data if data is not None else {}, headers)

    def delete(self, path, **headers):
        return self.client.delete(f"/api/v1{path}", headers=self._headers(headers))


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_key(demo):
    """make_key(user, scopes=..., **fields) → the key in clear."""

    def make(user, scopes=READ_WRITE, **fields):
        _, key = ApiKey.issue(user, name=f"{user.username} test key", scopes=scopes, **fields)
        return key

    return make


@pytest.fixture
def api_as(make_key):
    """api_as(user, scopes=...) → an Api client with a fresh key of that user."""

    def make(user, scopes=READ_WRITE, remote_addr="127.0.0.1", **fields):
        return Api(make_key(user, scopes, **fields), remote_addr=remote_addr)

    return make


@pytest.fixture
def john_api(api_as, john):
    return api_as(john)


@pytest.fixture
def karen_api(api_as, karen):
    return api_as(karen)
