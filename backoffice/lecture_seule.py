"""A request that only read ends its transaction with COMMIT, not ROLLBACK (issue 20, measured).

psycopg forgets every prepared statement of a connection on ROLLBACK (`PrepareManager.clear`: the rolled-back
transaction might have dropped what they refer to). Flask-SQLAlchemy ends each request with `session.remove()`,
which rolls the request's transaction back, so no statement ever reached psycopg's fifth execution on a connection
and PostgreSQL planned every query of every page again: ≈ 0.35 ms for the history of a youth's page (six scoped
subqueries), ≈ 0.5 ms round trip unprepared against 0.13 ms prepared, measured on the same statement.

A transaction whose statements were all SELECTs, with nothing pending in the session and no exception, is
committed instead: for such a transaction COMMIT and ROLLBACK are the same thing, and psycopg keeps its prepared
statements. Anything else (a write, a statement that is not a SELECT, an error, a pending object, a savepoint)
is left to the rollback as before: nothing that was meant to be discarded can be committed by this."""

from __future__ import annotations

import re

import sqlalchemy as sa

ECRIT = "bo_ecrit"  # on the connection's info: a statement other than a SELECT ran in its transaction
_LECTURE = re.compile(r"\s*SELECT\b", re.IGNORECASE)


def _debut(conn) -> None:
    conn.info[ECRIT] = False


def _requete(conn, cursor, statement, parameters, context, executemany) -> None:
    # a SELECT that sets a setting (set_config: undone by a ROLLBACK, kept by a COMMIT) or takes row locks
    # counts as a write too
    if not _LECTURE.match(statement) or "set_config" in statement or " FOR UPDATE" in statement.upper()[-60:]:
        conn.info[ECRIT] = True


def lecture_seule(session) -> bool:
    """True when the session's transaction ran nothing but SELECTs and holds nothing to flush."""
    tx = session.get_transaction()
    if tx is None or session.in_nested_transaction() or session.new or session.dirty or session.deleted:
        return False
    connexions = [entry[0] for entry in getattr(tx, "_connections", {}).values()]
    return bool(connexions) and not any(c.info.get(ECRIT, True) for c in connexions)


def install(app, db) -> None:
    """Right after db.init_app: Flask runs the application context's teardown functions last registered first,
    so this one runs just before Flask-SQLAlchemy's removal of the session (which rolls back what is left)."""
    with app.app_context():
        engines = set(db.engines.values())
    for engine in engines:
        if not sa.event.contains(engine, "begin", _debut):
            sa.event.listen(engine, "begin", _debut)
            sa.event.listen(engine, "before_cursor_execute", _requete)

    @app.teardown_appcontext
    def _clore_en_lecture(exc):
        if exc is not None or not db.session.registry.has():
            return
        session = db.session()
        try:
            if lecture_seule(session):
                # without expiring what was loaded: the removal that follows detaches it, as a rollback's removal
                # did, and what a streamed response reads after the teardown (the CSV export: the logged-in
                # account's role and scope) must still be there; expired, it could no longer be loaded
                # (DetachedInstanceError in the middle of the stream, tests/admin/test_export_serveur.py)
                expire, session.expire_on_commit = session.expire_on_commit, False
                try:
                    session.commit()
                finally:
                    session.expire_on_commit = expire
        except Exception:  # noqa: BLE001 - the removal that follows rolls back, as it always did
            session.rollback()
