"""Issue 18, in Chromium: the siège sees the filtered total before acting (and the ticked rows' total as they tick);
the comptable emits a SEPA file from the batch's page through the confirmation, and downloads it from there; a
youth's page reaches each of their records."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from backoffice.i18n import format_montant
from backoffice.models import LotPaiement, Paiement
from backoffice.models.enums import AllocationStatut as S, CerfaStatut, LotStatut
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from tests import factories as f
from tests.browser.conftest import login


def _view(app, endpoint):
    return next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == endpoint)


def test_the_siege_sees_the_filtered_total_before_any_action(app, db, ref, live_server, page):
    amounts = [Decimal("561.68"), Decimal("300.00"), Decimal("0.01")]
    for k in range(24):  # two pages of 20
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
        f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2025, 3, 1), montant=amounts[k % 3])
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    f.make_allocation(db.session, i, c, statut=S.ENREGISTREE, mois=date(2025, 3, 1), montant=Decimal("999.99"))
    db.session.commit()
    total = sum(amounts[k % 3] for k in range(24))
    with app.test_request_context():
        url = _view(app, "allocation").filtered_url("statut", "soumise")
    login(page, live_server, "siege")
    page.goto(f"{live_server}{url}")
    bar = page.locator("#totaux-grille")
    assert bar.is_visible()
    row = bar.locator('tr[data-total="montant"]')
    assert row.locator("[data-total-filtre]").inner_text() == format_montant(total)  # the 24, not the page's 20
    page_total = sum(Decimal(v) for v in page.eval_on_selector_all(
        "td.col-montant [data-valeur]", "els => els.map(e => e.getAttribute('data-valeur'))"))
    assert row.locator("[data-total-page]").inner_text() == format_montant(page_total)
    # ticking rows sums them in the browser, to the cent
    boxes = page.locator("input.action-checkbox")
    boxes.nth(0).check()
    boxes.nth(1).check()
    boxes.nth(2).check()
    first_three = page.eval_on_selector_all(
        "tr:has(input.action-checkbox:checked) td.col-montant [data-valeur]",
        "els => els.map(e => e.getAttribute('data-valeur'))")
    expected = format_montant(sum(Decimal(v) for v in first_three))
    page.wait_for_function("([sel, want]) => document.querySelector(sel).textContent === want",
                           arg=['tr[data-total="montant"] [data-total-coches]', expected])
    assert page.locator(".bo-coches-nb").inner_text() == "3"


def test_the_comptable_emits_a_sepa_file_from_the_batch_page_and_downloads_it_there(app, db, ref, live_server, page):
    ids = []
    for _ in range(3):
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
        c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=S.VALIDEE_SIEGE, mois=date(2025, 4, 1),
                                     montant=Decimal("414.06")).id)
    db.session.commit()
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), ref.comptes["siege"])
    db.session.commit()
    lot_id = db.session.execute(sa.select(Paiement.lot_id).where(Paiement.allocation_id == ids[0])).scalar_one()
    lot_url = f"{live_server}/admin/lot_paiement/details/?id={lot_id}"

    login(page, live_server, "comptable")
    page.goto(lot_url)
    assert "Fichier SEPA pas encore émis" in page.inner_text("body")
    page.click('#fiche-actions button[data-transition="emettre"]')
    # not one click: the same dry run and confirmation as in bulk
    page.wait_for_selector("#apercu")
    assert "/workflow/run/" in page.url
    assert format_montant(Decimal("1242.18")) in page.inner_text("#apercu-montant")
    db.session.expire_all()
    assert db.session.get(LotPaiement, lot_id).statut == LotStatut.PREPAREE
    page.click("#bouton-confirmer")
    page.wait_for_selector("#resultat")
    # back to the batch's page, where the file now is
    page.click("#resultat a:has-text('Retour')")
    page.wait_for_url(re.compile(r".*/admin/lot_paiement/details/\?id=%d" % lot_id))
    with page.expect_download() as info:
        page.click("#fichier-sepa")
    body = open(info.value.path(), "rb").read()
    assert b"<NbOfTxs>3</NbOfTxs>" in body and b"<CtrlSum>1242.18</CtrlSum>" in body
    db.session.expire_all()
    assert db.session.get(LotPaiement, lot_id).statut == LotStatut.EMISE


def test_a_youths_page_reaches_each_related_record(app, db, ref, live_server, page):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, c, statut=S.VALIDEE_SIEGE, mois=date(2025, 4, 1), montant=Decimal("414.06"))
    db.session.commit()
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids([a.id]), ref.comptes["siege"])
    db.session.commit()
    youth = f"{live_server}/admin/beneficiaire/details/?id={b.id}"
    login(page, live_server, "siege")
    page.goto(youth)
    reached = {}
    for key in ("parcours", "cerfa", "allocations", "rib", "paiements"):
        page.click(f"#onglet-{key}")  # one tab per related grid, loaded when opened (issue 20)
        link = page.locator(f"#fiche-{key} a[data-lie='{key}']").first
        assert link.is_visible(), key
        link.click()
        page.wait_for_selector("#entete-fiche")
        reached[key] = page.url
        page.goto(youth)
        page.wait_for_selector("#fiche-parcours")
    assert "/admin/inscription/details/" in reached["parcours"] and "/admin/cerfa/details/" in reached["cerfa"]
    assert "/admin/allocation/details/" in reached["allocations"]
    assert "/admin/compte_bancaire/details/" in reached["rib"] and "/admin/paiement/details/" in reached["paiements"]
    # and from the payment, its batch
    page.goto(reached["allocations"])
    page.click("#onglet-paiements")
    page.locator("#fiche-paiements a[href*='/admin/lot_paiement/details/']").first.click()
    page.wait_for_selector("#paiements-du-lot")
