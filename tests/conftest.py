"""Fixtures: a real PostgreSQL database migrated by Alembic once per run, emptied after each test.

Vocabulary (A1/A6): `app`, `db`, `client`, `login_as(role)`, `count_queries`, factories in
tests/factories.py. In CI (CI=true) a missing service fails the run instead of skipping.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

IN_CI = os.environ.get("CI", "").lower() == "true"
DEMO_PASSWORD = "Demo-2026!"


def _test_url() -> str:
    from backoffice.config import normalise_database_url
    return normalise_database_url(os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/backoffice_test"))


def _ensure_database(url: str) -> None:
    u = sa.engine.make_url(url)
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                  {"d": u.database}).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{u.database}"'))
    finally:
        admin.dispose()


def service_unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true : aucun test ne doit être sauté)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url():
    url = _test_url()
    try:
        _ensure_database(url)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    except sa.exc.OperationalError as exc:
        service_unavailable(f"PostgreSQL injoignable : {exc.orig}")
    return url


@pytest.fixture(scope="session")
def app(database_url):
    from backoffice import create_app
    from backoffice.config import TestConfig

    config = TestConfig.from_env()
    config["SQLALCHEMY_DATABASE_URI"] = database_url
    application = create_app(config)

    def _fresh_g():
        # Tests keep an app context pushed (the `db` fixture), and Flask reuses it for test-client
        # requests: without this, `g` (Flask-Login's user, Flask-WTF's token) would leak between clients.
        from flask import g
        g.__dict__.clear()
    application.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    with application.app_context():
        from flask_migrate import upgrade
        upgrade(revision="heads")  # the migration chain itself builds the test schema
    return application


@pytest.fixture(scope="session")
def _tables(app):
    from backoffice.extensions import db
    with app.app_context():
        names = [t.name for t in db.metadata.sorted_tables]
    return names


@pytest.fixture
def db(app, _tables):
    """The Flask-SQLAlchemy handle inside an app context; every table emptied after the test."""
    from backoffice.extensions import db as _db
    saved = dict(app.config)
    ctx = app.app_context()
    ctx.push()
    try:
        yield _db
    finally:
        _db.session.rollback()
        _db.session.remove()
        with _db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in _tables) + " RESTART IDENTITY CASCADE"))
        ctx.pop()
        app.config.clear()
        app.config.update(saved)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def ref(db):
    """The reference data most tests need: a siège, two antennes, the catalogue, one account per role."""
    from tests import factories as f
    return f.make_reference(db.session)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "pas de jeton CSRF dans la page"
    return m.group(1) or m.group(2)


@pytest.fixture
def login_as(app, ref):
    """login_as('siege') -> a test client logged in through the real /login form."""
    def _login(login: str, password: str = DEMO_PASSWORD):
        c = app.test_client()
        page = c.get("/login")
        token = csrf_from(page.get_data(as_text=True))
        resp = c.post("/login", data={"username": login, "password": password, "csrf_token": token})
        assert resp.status_code == 302, f"connexion de {login} refusée ({resp.status_code})"
        return c
    return _login


@pytest.fixture
def count_queries(db):
    """with count_queries() as n: ...; n() -> number of SQL statements run (A6)."""
    @contextmanager
    def _count():
        statements = []

        def before(conn, cursor, statement, *args):
            statements.append(statement)
        sa.event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield lambda: len(statements)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", before)
    return _count
