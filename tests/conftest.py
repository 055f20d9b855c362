"""Fixtures: a real PostgreSQL database migrated by Alembic once per run, emptied after each test.

Vocabulary (A1/A6): `app`, `db`, `client`, `login_as(role)`, `count_queries`, factories in
tests/factories.py. In CI (CI=true) a missing service fails the run instead of skipping.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from datetime import date

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


@pytest.fixture(scope="session")
def _demo_snapshot(app, _tables):
    """The deterministic demo data (`seeds`, through the real workflows), loaded once per run into the empty
    database and kept as one COPY image per table, so `populated_db` can lay it under a test in a fraction of
    a second instead of replaying the workflows (≈ 7 s) for every test."""
    from backoffice.extensions import db as _db
    from seeds import load_demo
    with app.app_context():
        # a fixed `today` (the demo's reference day): the tests that read demo values stay stable (issue 19)
        load_demo(_db.session, seed=2026, today=date(2025, 6, 16))
        _db.session.commit()
        _db.session.remove()
        image = {}
        raw = _db.engine.raw_connection()
        try:
            cur = raw.cursor()
            for table in _tables:
                with cur.copy(f'COPY "{table}" TO STDOUT') as copy:
                    image[table] = b"".join(bytes(chunk) for chunk in copy)
            raw.commit()
        finally:
            raw.close()
        with _db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in _tables) + " RESTART IDENTITY CASCADE"))
    return image


@pytest.fixture
def populated_db(db, _demo_snapshot, _tables):
    """`db` with the demo data under the test's own rows: 300 youths in three antennes, their cerfa, 1 338
    allocations, payment batches, corrections, reversements, hors-délai requests, programmes' records, audit.
    Money and workflow tests use it so that a query which forgets its correlation, or sums the whole table,
    sees other people's rows and fails (issue 11). The test's own factories (`ref`) reuse its structures,
    catalogue and demo accounts."""
    db.session.remove()
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET session_replication_role = replica")  # FK and triggers off while the image loads
        for table in _tables:
            if _demo_snapshot[table]:
                with cur.copy(f'COPY "{table}" FROM STDIN') as copy:
                    copy.write(_demo_snapshot[table])
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("""
            SELECT c.relname, a.attname,
                   pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
              -- schema-qualified: the planner may evaluate this before the schema filter (information_schema)
              AND pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname)
                  IS NOT NULL""")
        for table, column, seq in cur.fetchall():
            cur.execute(f'SELECT setval(%s, coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)', (seq,))
        raw.commit()
    finally:
        raw.close()
    return db


@pytest.fixture
def ref(request, db):
    """The reference data most tests need: a siège, two antennes, the catalogue, one account per role.
    Asked together with `populated_db` (or under the `populated` marker), it is the demo's own."""
    from tests import factories as f
    if "populated_db" in request.fixturenames or request.node.get_closest_marker("populated"):
        request.getfixturevalue("populated_db")
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
    """with count_queries() as n: ...; n() -> number of SQL statements run (A6), n.statements -> their text."""
    @contextmanager
    def _count():
        statements = []

        def before(conn, cursor, statement, *args):
            statements.append(statement)
        sa.event.listen(db.engine, "before_cursor_execute", before)
        n = lambda: len(statements)  # noqa: E731
        n.statements = statements
        try:
            yield n
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", before)
    return _count


@pytest.fixture
def live_server(app, db):
    """A real server (werkzeug, in a thread, on the PostgreSQL test database): each request its own application
    context, torn down as in production, which the test client (reusing the test's context) does not do."""
    import threading

    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
