"""Fixtures for the grid tests: one row of everything, and logged-in clients per role.

The `db` fixture keeps one application context open for the whole test, so Flask's `g` (where
Flask-Login caches current_user) and the scoped session would be shared by every request of every
client. IsolatedClient gives each request what production gives it: no cached user, a fresh session.
"""

from __future__ import annotations

import pytest
from flask import g
from flask.testing import FlaskClient

from tests.conftest import DEMO_PASSWORD, csrf_from

from .data import make_everything

ROLES = ("admin", "siege", "manager", "support", "comptable", "conseiller")


class IsolatedClient(FlaskClient):
    def open(self, *args, **kwargs):
        from backoffice.extensions import db
        for name in list(vars(g)):  # current_user, CSRF token, per-request caches
            delattr(g, name)
        db.session.remove()
        response = super().open(*args, **kwargs)
        response.get_data()  # drain a streamed export now, inside this request's contexts
        return response


def login(app, username: str, password: str = DEMO_PASSWORD) -> IsolatedClient:
    c = IsolatedClient(app, app.response_class, use_cookies=True)
    token = csrf_from(c.get("/login").get_data(as_text=True))
    resp = c.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, f"connexion de {username} refusée ({resp.status_code})"
    return c


@pytest.fixture
def sample(db, ref):
    return make_everything(db.session, ref)


@pytest.fixture
def clients(app, ref):
    """clients['siege'] -> a client logged in as that demo account (logged in once per test)."""
    class _Clients(dict):
        def __missing__(self, username):
            self[username] = login(app, username)
            return self[username]
    return _Clients()
