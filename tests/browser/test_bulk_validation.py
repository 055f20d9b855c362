"""Siège staff validate every submitted allocation a filter matches, across pages, in a real browser."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent
from backoffice.models.enums import AllocationNature as N, AllocationStatut as S, CerfaStatut
from tests import factories as f
from tests.browser.conftest import login


def seed_submitted(db, ref, n_ok: int, n_blocked: int) -> None:
    """n_ok submitted allocations with validated cerfa, n_blocked whose cerfa is not validated (R45)."""
    for k in range(n_ok + n_blocked):
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord if k % 2 else ref.sud, ref.dispositifs)
        if k < n_ok:
            c.statut = CerfaStatut.VALIDE_SIEGE
        f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2025, 3, 1), montant=Decimal("561.68"))
    # noise the filter must leave alone
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    f.make_allocation(db.session, i, c, statut=S.ENREGISTREE, mois=date(2025, 3, 1))
    db.session.commit()


def test_siege_validates_all_filtered_rows_after_a_dry_run(app, db, ref, live_server, page):
    seed_submitted(db, ref, n_ok=37, n_blocked=5)  # 42 matches: three pages of 20
    login(page, live_server, "siege")

    # filter the grid on "Soumise" with the list's own filter
    page.goto(f"{live_server}/admin/allocation/")
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "allocation")
        url = view.filtered_url("statut", "soumise")
    page.goto(f"{live_server}{url}")
    assert page.locator("#menu-toutes-lignes").is_visible()
    page.click("#menu-toutes-lignes > a")
    page.click("#menu-toutes-lignes button[data-transition=valider]")

    # the dry run: nothing changed yet, counts and reasons shown
    page.wait_for_selector("#apercu")
    assert "37" in page.inner_text("#apercu-modifiees")
    assert "5 refusée(s) : cerfa non validé par le siège ou sans RIB (R45)" in page.inner_text("#apercu-refus")
    assert "20\u202f782,16\xa0€" in page.inner_text("#apercu-montant")  # 37 × 561,68 €
    assert db.session.execute(sa.select(sa.func.count()).select_from(Allocation)
                              .where(Allocation.statut == S.VALIDEE_SIEGE)).scalar_one() == 0

    page.click("#bouton-confirmer")
    page.wait_for_selector("#resultat")
    assert "37" in page.inner_text("#resultat-modifiees")
    db.session.expire_all()
    counts = dict(db.session.execute(sa.select(Allocation.statut, sa.func.count()).group_by(Allocation.statut)).all())
    assert counts[S.VALIDEE_SIEGE] == 37 and counts[S.SOUMISE] == 5 and counts[S.ENREGISTREE] == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "valider")).scalar_one() == 37
