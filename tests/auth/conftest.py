"""Helpers of the auth tests: log in through the real form at a controlled time."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import DEMO_PASSWORD, csrf_from

T0 = datetime(2025, 6, 2, 10, 0, 0)


def post_form(client, url: str, data: dict, *, page: str | None = None):
    """GET the page for its CSRF token, then POST the form."""
    token = csrf_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def attempt(app, client, password, at=None, username="conseiller"):
    if at is not None:
        app.config["NOW_OVERRIDE"] = at
    return post_form(client, "/login", {"username": username, "password": password})


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    """argon2id with minimal cost for these tests (verification reads the cost from each hash, so the
    demo accounts hashed by `ref` verify fast too). test_passwords checks the production profile."""
    from argon2 import PasswordHasher

    from backoffice import passwords
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY", cheap.hash("mot de passe factice"))
    return cheap


@pytest.fixture
def at(app):
    """at(datetime) moves the application's clock."""
    def _move(when):
        app.config["NOW_OVERRIDE"] = when
    return _move


__all__ = ["DEMO_PASSWORD", "T0", "attempt", "post_form"]
