"""The audit journal: append-only in the database, sealed in hash-chained blocks, checked by
`backoffice audit verify`; logins, failures, locks, unlocks and permission refusals are in it."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backoffice import audit_chain
from backoffice.cli_security import audit as audit_cli
from backoffice.models import AuditEvent, AuditSceau
from backoffice.workflows import audit
from tests.auth.conftest import DEMO_PASSWORD, T0, attempt


def _record(db, n=3, action="test"):
    for i in range(n):
        audit.record(db.session, entity="allocation", entity_id=i + 1, action=action, actor_id=None,
                     params={"i": i, "texte": "é\u202f€"})
    db.session.commit()


def _unsealed(db) -> int:
    n = audit_chain.non_scelles(db.session)
    db.session.rollback()
    return n


def _tamper(db, sql: str, **params) -> None:
    """An out-of-band edit by someone who can switch the triggers off (a superuser)."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(sql), params)


def _verify(app):
    return app.test_cli_runner().invoke(audit_cli, ["verify"])


def test_the_database_refuses_update_and_delete_of_audit_events(app, db):
    _record(db, 2)
    ident = db.session.scalar(sa.select(sa.func.min(AuditEvent.id)))
    for statement in (sa.update(AuditEvent).where(AuditEvent.id == ident).values(action="autre"),
                      sa.update(AuditEvent).where(AuditEvent.id == ident).values(xid=0),
                      sa.update(AuditEvent).where(AuditEvent.id == ident).values(xid=None),
                      sa.delete(AuditEvent).where(AuditEvent.id == ident),
                      sa.delete(AuditEvent)):
        with pytest.raises(sa.exc.DBAPIError, match="ajout seul"):
            db.session.execute(statement)
        db.session.rollback()
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.id == ident)) == "test"


def test_each_commit_that_audits_is_sealed_right_after_it(app, db, ref):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditSceau)) or 0
    _record(db, 3)
    blocks = db.session.execute(sa.select(AuditSceau).order_by(AuditSceau.id)).scalars().all()
    assert len(blocks) == before + 1 and blocks[-1].nb >= 3 and _unsealed(db) == 0
    assert blocks[0].prev_hash == audit_chain.GENESIS
    assert [b.prev_hash for b in blocks[1:]] == [b.hash for b in blocks[:-1]]
    assert [b.borne_min for b in blocks[1:]] == [b.borne_max for b in blocks[:-1]]  # contiguous ranges
    # a request that audits (a failed login) is sealed too
    attempt(app, app.test_client(), "faux", T0, username="inconnu")
    assert _unsealed(db) == 0
    assert audit_chain.verifier(db.session).ok


def test_an_event_added_through_the_orm_gets_its_transaction_and_is_sealed(app, db):
    """The ORM must leave `xid` to the database default: an explicit NULL would keep the event out of
    every block (and verify would report it)."""
    db.session.add(AuditEvent(entity="allocation", entity_id=7, action="orm", actor_id=None))
    db.session.commit()
    assert db.session.scalar(sa.select(AuditEvent.xid).where(AuditEvent.action == "orm")) is not None
    assert _unsealed(db) == 0 and audit_chain.verifier(db.session).ok


def test_verify_names_the_first_edited_event_in_french_and_exits_1(app, db):
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    _record(db, 5)
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "5 événement(s) récent(s) scellé(s)" in result.output and "intègre : 5 événement(s)" in result.output
    ids = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()
    _tamper(db, "UPDATE audit_event SET params = '{\"i\": 99}' WHERE id = :i", i=ids[2])
    _tamper(db, "UPDATE audit_event SET action = 'autre' WHERE id = :i", i=ids[3])
    result = _verify(app)
    assert result.exit_code == 1
    assert f"Journal d'audit altéré : premier événement en cause n° {ids[2]} (contenu modifié)" \
        in result.output


@pytest.mark.parametrize("tampering, first, reason", [
    ("DELETE FROM audit_event WHERE id = :b", "c", "supprimé juste avant"),
    ("DELETE FROM audit_event WHERE id = :d", "c", "supprimé"),
    ("UPDATE audit_event SET entity_id = 99 WHERE id = :b", "b", "contenu modifié"),
    ("INSERT INTO audit_event (id, at, entity, action, xid) SELECT :b + 100000, now(), 'faux', 'ajout', xid "
     "FROM audit_event WHERE id = :b", "ajout", "ajouté dans une plage déjà scellée"),
    ("UPDATE audit_sceau SET hash = repeat('a', 64) WHERE id = (SELECT max(id) FROM audit_sceau)", "a",
     "chaînage"),
    ("UPDATE audit_sceau SET prev_hash = repeat('a', 64) WHERE id = (SELECT max(id) FROM audit_sceau)", "a",
     "chaînage"),
    ("UPDATE audit_sceau SET borne_max = borne_max + 1000 WHERE id = (SELECT max(id) FROM audit_sceau)", "a",
     "chaînage"),
    ("UPDATE audit_event SET xid = NULL WHERE id = :b", "b", "hors de la chaîne"),
])
def test_verify_detects_edited_deleted_added_and_rechained_events(app, db, tampering, first, reason):
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    _record(db, 4)
    assert audit_chain.sceller(db.session) == 4
    db.session.commit()
    a, b, c, d = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()
    _tamper(db, tampering, b=b, d=d)
    result = audit_chain.verifier(db.session)
    expected = {"a": a, "b": b, "c": c, "ajout": b + 100000}[first]
    assert not result.ok and reason in result.raison and result.premier_id == expected, result


@contextlib.contextmanager
def _slow_transaction(db):
    """A transaction that inserted an event and stays open; rolled back if the test fails before committing
    it (an open transaction would hold the next test's TRUNCATE)."""
    conn = db.engine.connect()
    tx = conn.begin()
    conn.execute(sa.insert(AuditEvent).values(entity="x", action="lent", actor_id=None))
    try:
        yield tx
    finally:
        if tx.is_active:
            tx.rollback()
        conn.close()


def test_a_transaction_still_running_is_sealed_in_a_later_block(app, db):
    """A block only takes events whose transaction has ended: a lower id committed after a sealed
    higher one goes into the next block, and nothing breaks when transactions interleave."""
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    with _slow_transaction(db) as slow:  # takes the lower id
        _record(db, 2)
        assert audit_chain.sceller(db.session) == 0  # the slow one began first: nothing is safe to seal yet
        db.session.commit()
        slow.commit()
    assert audit_chain.sceller(db.session) == 3
    db.session.commit()
    assert audit_chain.sceller(db.session) == 0  # sealed once
    db.session.commit()
    assert audit_chain.verifier(db.session).ok and _unsealed(db) == 0


def test_events_committed_during_a_long_transaction_wait_for_it_then_are_sealed_once(app, db):
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    _record(db, 2)
    with _slow_transaction(db) as slow:
        assert audit_chain.sceller(db.session) == 2  # ended before the slow one began
        db.session.commit()
        _record(db, 1)
        assert audit_chain.sceller(db.session) == 0
        db.session.commit()
        slow.commit()
    assert audit_chain.sceller(db.session) == 2
    db.session.commit()
    blocks = db.session.execute(sa.select(AuditSceau.nb).order_by(AuditSceau.id)).scalars().all()
    assert blocks[-2:] == [2, 2] and audit_chain.verifier(db.session).ok


def test_concurrent_writers_and_sealers_seal_every_event_exactly_once(app, db):
    """Writers commit in any order, some holding their transaction open while sealers run: every event
    ends up in exactly one block (a missed one would sit in a sealed range and fail verify)."""
    import random
    import threading

    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    engine, done, errors = db.engine, threading.Event(), []

    def writer(seed):
        rnd = random.Random(seed)
        try:
            for _ in range(15):
                with engine.begin() as conn:
                    conn.execute(sa.text(
                        "INSERT INTO audit_event (at, entity, entity_id, action) "
                        "SELECT now(), 'allocation', g, 'concurrent' FROM generate_series(1, :n) g"),
                        {"n": rnd.randint(1, 30)})
                    time.sleep(rnd.random() / 50)  # still open while others commit and sealers seal
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def sealer(wait):
        try:
            while not done.is_set():
                with engine.begin() as conn:
                    audit_chain.sceller(conn, attendre=wait)
                time.sleep(0.003)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    sealers = [threading.Thread(target=sealer, args=(w,)) for w in (True, False)]
    for t in writers + sealers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in sealers:
        t.join()
    assert errors == []
    audit_chain.sceller(db.session)
    db.session.commit()
    events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    sealed, blocks = db.session.execute(sa.select(sa.func.sum(AuditSceau.nb), sa.func.count())).one()
    assert events > 60 and sealed == events and blocks > 3
    assert audit_chain.verifier(db.session).ok and _unsealed(db) == 0


@contextlib.contextmanager
def _restored_elsewhere(db):
    """As after a pg_dump restored into another cluster: transaction ids lower than the sealed ranges (a
    negative offset stands for the new cluster's counter); the application's connections are renewed."""
    database = db.session.scalar(sa.text("SELECT current_database()"))
    db.session.remove()

    def setting(sql):
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{database}" {sql}'))
        db.engine.dispose()

    setting(f"SET {audit_chain.DECALAGE} = '-100000000'")
    try:
        yield
    finally:
        db.session.remove()
        setting(f"RESET {audit_chain.DECALAGE}")


def _sealed_history(app, db, n):
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    _record(db, n)
    assert audit_chain.sceller(db.session) == n
    db.session.commit()


def test_a_transaction_counter_gone_back_stops_sealing_loudly_in_french(app, db):
    """New events would fall into ranges already sealed: sealing refuses, and `audit verify` says why."""
    _sealed_history(app, db, 1)
    with _restored_elsewhere(db):
        _record(db, 1)
        with pytest.raises(audit_chain.CompteurEnArriere, match="restaurée par pg_dump"):
            audit_chain.sceller(db.session)
        db.session.rollback()
        result = _verify(app)
        assert result.exit_code == 1 and "audit recaler" in result.output, result.output


def test_recaler_after_a_restore_lets_sealing_go_on_above_the_sealed_ranges(app, db):
    _sealed_history(app, db, 2)
    with _restored_elsewhere(db):
        result = app.test_cli_runner().invoke(audit_cli, ["recaler"])  # before the application restarts
        assert result.exit_code == 0 and "Numérotation décalée de" in result.output, result.output
        db.session.remove()
        db.engine.dispose()  # the application restarts: its connections take the database's new setting
        _record(db, 3)
        assert audit_chain.sceller(db.session) == 3
        db.session.commit()
        result = _verify(app)
        assert result.exit_code == 0 and "intègre : 5 événement(s)" in result.output, result.output
        assert "Rien à recaler" in app.test_cli_runner().invoke(audit_cli, ["recaler"]).output


N_BULK = 20_000  # 100,000 measured by hand: ~4-5 s to seal, ~1.5 s to verify


def test_set_based_inserts_are_sealed_at_more_than_5_000_events_a_second(app, db):
    """A bulk transition writes its audit rows with INSERT … SELECT: sealing them stays set-based."""
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    db.session.execute(sa.text(
        "INSERT INTO audit_event (at, entity, entity_id, action, from_status, to_status, params) "
        "SELECT now(), 'allocation', g, 'valider', 'soumise', 'validee_siege', jsonb_build_object('lot', g % 7) "
        "FROM generate_series(1, :n) AS g"), {"n": N_BULK})
    db.session.commit()
    start = time.perf_counter()
    assert audit_chain.sceller(db.session) == N_BULK
    db.session.commit()
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    result = audit_chain.verifier(db.session)
    verify_elapsed = time.perf_counter() - start
    assert result.ok and result.nb_evenements == N_BULK and result.tete_seq == 1
    print(f"scellement de {N_BULK} événements : {elapsed:.2f} s ; vérification : {verify_elapsed:.2f} s")
    assert N_BULK / elapsed > 5_000 and N_BULK / verify_elapsed > 5_000  # (loaded CI machine: margin x3)


def test_sealing_and_verifying_work_on_sqlite_too(tmp_path):
    """The demo's database: digests computed in Python, the same chain rules."""
    from backoffice.models.base import Base
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(sa.insert(AuditEvent).values(entity="allocation", entity_id=i, action="t",
                                                      params={"é": i}, actor_id=None))
        assert audit_chain.sceller(conn) == 3
        assert audit_chain.verifier(conn).ok
        conn.execute(sa.text("UPDATE audit_event SET action = 'autre' WHERE id = 2"))
        result = audit_chain.verifier(conn)
        assert not result.ok and result.premier_id == 2
    engine.dispose()


def test_two_processes_sealing_the_same_head_on_sqlite_write_one_block_and_no_error(tmp_path):
    """The demo seals from two processes (the web after its commits, the RQ worker after its jobs) and SQLite has
    no advisory lock: both could read the same head. Replayed here deterministically: while sealer A is about to
    write its block, sealer B (another connection, as another process would) seals and commits first. A must then
    write nothing and raise nothing (CI saw `UNIQUE constraint failed: audit_sceau.id` in the demo's output), and
    every event ends up in exactly one block of an intact chain."""
    from backoffice.models.base import Base
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    engine_a, engine_b = sa.create_engine(url), sa.create_engine(url)
    Base.metadata.create_all(engine_a)
    with engine_a.begin() as conn:
        for i in range(3):
            conn.execute(sa.insert(AuditEvent).values(entity="allocation", entity_id=i, action="t", actor_id=None))
    raced = []

    def b_seals_first(conn, cursor, statement, parameters, context, executemany):
        if "INSERT INTO audit_sceau" in statement and not raced:
            raced.append(True)
            with engine_b.begin() as other:
                other.execute(sa.insert(AuditEvent).values(entity="allocation", entity_id=9, action="t",
                                                           actor_id=None))
            with engine_b.begin() as other:
                raced.append(audit_chain.sceller(other))

    sa.event.listen(engine_a, "before_cursor_execute", b_seals_first)
    try:
        with engine_a.begin() as conn:
            assert audit_chain.sceller(conn) == 0  # A lost the race: nothing written, no error
    finally:
        sa.event.remove(engine_a, "before_cursor_execute", b_seals_first)
    assert raced == [True, 4]  # B sealed the 3 events A had read, and its own
    with engine_a.begin() as conn:
        assert audit_chain.sceller(conn) == 0  # nothing left
        assert conn.execute(sa.text("SELECT count(*), sum(nb) FROM audit_sceau")).one() == (1, 4)
        result = audit_chain.verifier(conn)
        assert result.ok and result.nb_evenements == 4 and result.tete_seq == 1
    engine_a.dispose()
    engine_b.dispose()


def test_logins_failures_locks_unlocks_and_refusals_are_audited(app, db, ref):
    c = app.test_client()
    for minute in range(3):
        attempt(app, c, "faux", T0 + timedelta(minutes=minute))
    attempt(app, c, DEMO_PASSWORD, T0 + timedelta(minutes=33))  # auto-unlocked, logged in
    from tests.conftest import csrf_from
    c.get("/admin/lot_paiement/")  # a conseiller may not open the payment batches
    c.post("/logout", data={"csrf_token": csrf_from(c.get("/logout").get_data(as_text=True))})
    events = db.session.execute(sa.select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.params, AuditEvent.ip)
                                .order_by(AuditEvent.id)).all()
    actions = [e.action for e in events]
    assert actions == ["connexion_echec"] * 2 + ["connexion_echec", "verrouillage", "deverrouillage_auto",
                                                 "connexion", "acces_refuse", "deconnexion"]
    refus = events[actions.index("acces_refuse")]
    assert refus.actor_id == ref.comptes["conseiller"].id and refus.params["vue"] == "lot_paiement"
    assert all(e.ip == "127.0.0.1" for e in events if e.action != "deconnexion")
    assert audit_chain.verifier(db.session).ok and _unsealed(db) == 0
