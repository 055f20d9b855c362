"""An Afas forecast end to end in a real browser (issue 15): the activity provider types the activity, the
financial provider the finances, the approver checks, approves and transmits, a Caf agent processes it, and the
first acompte (R79) is sent to payment and carried by the SEPA file (pain.001) of an AFAS batch."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import (DeclarationStatut as S, DeclarationType as DT, LotStatut,
                                     SourceEcheance as SE)
from backoffice.sepa import lire
from backoffice.workflows import afas
from tests.browser.conftest import login
from tests.workflows.test_afas import IBAN_ER, T0, Service


def _set(page, selector, value):
    """A hidden (ajax) or select2-enhanced field: its value set as the widget would."""
    page.evaluate("([s, v]) => { const e = document.querySelector(s); e.value = v; "
                  "e.dispatchEvent(new Event('change', {bubbles: true})); }", [selector, str(value)])


def _logout(page, base):
    page.context.clear_cookies()


def _bouton(page, base, url, transition):
    page.goto(f"{base}{url}")
    page.click(f".bo-row-actions button[data-transition={transition}]")
    page.wait_for_load_state()


def test_afas_forecast_filled_approved_processed_and_its_first_acompte_in_a_sepa_batch(app, db, ref, live_server,
                                                                                       page):
    app.config["NOW_OVERRIDE"] = T0
    svc = Service(db.session, ref)
    d = afas.creer_declaration(db.session, actor=svc.fin, partenaire_id=svc.p.id, exercice=2025,
                               type=DT.PREVISIONNELLE, now=T0)
    db.session.commit()
    did, lieu = d.id, svc.lieu.id

    # 1. the activity provider: both half-years of the venue (R57, R58)
    login(page, live_server, svc.act.login)
    for semestre in (1, 2):
        page.goto(f"{live_server}/admin/ligne_activite/new/")
        _set(page, "#declaration", did)
        _set(page, "#lieu", lieu)
        _set(page, "#semestre", semestre)
        page.fill("#heures_rencontres", "400")
        page.fill("#heures_entretiens", "100")
        page.fill("#heures_organisation", "100")
        page.locator("form.admin-form [type=submit]").first.click()
        page.wait_for_load_state()
        assert "Erreur" not in page.inner_text("body") or "enregistr" in page.inner_text("body")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.LigneActivite)
                             .where(m.LigneActivite.declaration_id == did)) == 2
    _logout(page, live_server)

    # 2. the financial provider: the finances; the estimate appears on the declaration (R78)
    login(page, live_server, svc.fin.login)
    page.goto(f"{live_server}/admin/declaration_partenaire/edit/?id={did}")
    for champ in ("budget", "charges", "produits"):
        page.fill(f"#{champ}", "30000")
    page.locator("form.admin-form [type=submit]").first.click()
    page.wait_for_load_state()
    page.goto(f"{live_server}/admin/declaration_partenaire/details/?id={did}")
    assert "18\u202f000,00\u00a0€" in page.inner_text("#estimation")  # 60 % × 25 €/h × 1 200 h
    _logout(page, live_server)

    # 3. the approver: checks, approves, transmits to the Caf
    login(page, live_server, svc.app.login)
    for transition in ("controler", "approuver", "transmettre"):
        _bouton(page, live_server, "/admin/declaration_partenaire/", transition)
    db.session.expire_all()
    assert db.session.get(m.DeclarationPartenaire, did).statut == S.TRANSMISE
    _logout(page, live_server)

    # 4. the Caf agent: takes it and processes it, retaining the estimate
    login(page, live_server, "caf")
    _bouton(page, live_server, "/admin/declaration_partenaire/", "prendre_en_traitement")
    _bouton(page, live_server, "/admin/declaration_partenaire/", "traiter")
    page.wait_for_selector("#apercu")
    page.click("#bouton-confirmer")
    page.wait_for_selector("#resultat")
    db.session.expire_all()
    decl = db.session.get(m.DeclarationPartenaire, did)
    assert decl.statut == S.TRAITEE and decl.droit_retenu == Decimal("18000.00")
    _logout(page, live_server)

    # 5. the accountant: the 1st acompte (35 % × 18 000 = 6 300, a new service) sent to payment, its batch emitted
    [ech] = db.session.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == SE.AFAS_ACOMPTE,
                                                           m.Echeance.source_id == did)).all()
    assert ech.montant == Decimal("6300.00") and ech.iban == IBAN_ER
    login(page, live_server, "comptable")
    _bouton(page, live_server, "/admin/echeance/", "mettre_en_lot")
    db.session.expire_all()
    pay = db.session.scalars(sa.select(m.Paiement).where(m.Paiement.echeance_id == ech.id)).one()
    lot = db.session.get(m.LotPaiement, pay.lot_id)
    assert lot.dispositif.code == "AFAS"
    _bouton(page, live_server, "/admin/lot_paiement/", "emettre")
    page.wait_for_selector("#apercu")  # money leaves: the same dry run and confirmation as in bulk (issue 18)
    page.click("#bouton-confirmer")
    page.wait_for_selector("#resultat")
    db.session.expire_all()
    lot = db.session.get(m.LotPaiement, pay.lot_id)
    assert lot.statut == LotStatut.EMISE
    assert (pay.end_to_end_id, Decimal("6300.00")) in lire(lot.fichier_sepa)
    sepa = page.request.get(f"{live_server}/admin/lot_paiement/sepa/{lot.id}")
    assert sepa.ok and IBAN_ER in sepa.text() and pay.end_to_end_id in sepa.text()
    # the partner's tableau de suivi: retained, made payable, in payment
    _logout(page, live_server)
    login(page, live_server, svc.app.login)
    page.goto(f"{live_server}/admin/declaration_partenaire/suivi")
    row = page.inner_text(f"tr[data-id='{did}']")
    assert "18\u202f000,00\u00a0€" in row and "6\u202f300,00\u00a0€" in row
