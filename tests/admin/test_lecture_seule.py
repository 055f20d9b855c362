"""Issue 20: a request that only read ends with COMMIT (psycopg keeps its prepared statements: a ROLLBACK makes it
forget them all, so PostgreSQL planned every query of every page again); anything else is rolled back as before."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.lecture_seule import lecture_seule
from tests import factories as f
from tests.conftest import DEMO_PASSWORD, csrf_from

pytestmark = pytest.mark.populated


@pytest.fixture
def ends(db):
    """The transaction ends seen by the engine: ["commit", "rollback", …]."""
    seen = []
    commit, rollback = (lambda conn: seen.append("commit")), (lambda conn: seen.append("rollback"))
    sa.event.listen(db.engine, "commit", commit)
    sa.event.listen(db.engine, "rollback", rollback)
    yield seen
    sa.event.remove(db.engine, "commit", commit)
    sa.event.remove(db.engine, "rollback", rollback)


def _in_own_context(work):
    """Run `work` in a thread of its own: no application context pushed by the test, so each request has its
    own, and its session, as in production (the `db` fixture's context would otherwise be shared)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def test_a_record_page_ends_its_read_only_transaction_with_a_commit_issue20(app, db, ref, ends):
    youth = f.make_beneficiaire(db.session, ref.nord, nom="Zzlecture")
    db.session.commit()
    url = f"/admin/beneficiaire/details/?id={youth.id}"

    def pages():
        c = app.test_client()
        token = csrf_from(c.get("/login").get_data(as_text=True))
        assert c.post("/login", data={"username": "siege", "password": DEMO_PASSWORD,
                                      "csrf_token": token}).status_code == 302
        c.get(url)
        ends.clear()
        return [c.get(url) for _ in range(3)]
    for resp in _in_own_context(pages):
        assert resp.status_code == 200 and "Zzlecture" in resp.get_data(as_text=True)
    assert ends == ["commit"] * 3  # no ROLLBACK: the connection's prepared statements survive the page


@pytest.fixture
def ident(db, ref):
    """A committed youth « Zzavant », the session emptied: what each request below may or may not change."""
    youth = f.make_beneficiaire(db.session, ref.nord, nom="Zzavant")
    db.session.commit()
    out = youth.id
    db.session.remove()
    return out


def test_a_request_that_wrote_without_committing_is_rolled_back_not_committed(app, db, ident):
    with app.app_context(), app.test_request_context("/"):
        db.session.execute(sa.update(m.Beneficiaire).where(m.Beneficiaire.id == ident).values(nom="Zzapres"))
        assert not lecture_seule(db.session())  # an UPDATE ran: not a read-only transaction
    db.session.remove()
    assert db.session.get(m.Beneficiaire, ident).nom == "Zzavant"


def test_pending_or_dirty_objects_and_locks_are_never_committed_by_the_teardown(app, db, ident):
    with app.app_context(), app.test_request_context("/"):
        b = db.session.get(m.Beneficiaire, ident)  # a SELECT: read-only so far
        assert lecture_seule(db.session())
        b.nom = "Zzmodifie"  # changed, not flushed
        assert not lecture_seule(db.session())
    db.session.remove()
    with app.app_context(), app.test_request_context("/"):
        db.session.execute(sa.select(m.Beneficiaire.id).where(m.Beneficiaire.id == ident).with_for_update())
        assert not lecture_seule(db.session())  # a row lock: left to the rollback
    with app.app_context(), app.test_request_context("/"):
        db.session.execute(sa.text("SELECT set_config('application_name', 'zz', false)"))
        assert not lecture_seule(db.session())  # a setting a ROLLBACK undoes and a COMMIT would keep
    db.session.remove()
    assert db.session.get(m.Beneficiaire, ident).nom == "Zzavant"
