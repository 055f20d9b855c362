"""Fixtures of the security tests: cheap argon2, one logged-in client per role."""

from __future__ import annotations

import pytest

from tests.auth.conftest import fast_argon2  # noqa: F401  (autouse here too)
from tests.conftest import DEMO_PASSWORD, csrf_from

ROLES = ("admin", "siege", "manager", "support", "comptable", "conseiller")


class RoleClient:
    """A test client logged in through /login, with its CSRF token at hand."""

    def __init__(self, app, username: str | None):
        self.client = app.test_client()
        self.username = username
        page = self.client.get("/login").get_data(as_text=True)
        self.token = csrf_from(page)
        if username:
            resp = self.client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                                    "csrf_token": self.token})
            assert resp.status_code == 302, username
            self.token = csrf_from(self.client.get("/password").get_data(as_text=True))

    def __getattr__(self, name):
        return getattr(self.client, name)


@pytest.fixture
def role_clients(app, ref):
    return {role: RoleClient(app, role) for role in ROLES}
