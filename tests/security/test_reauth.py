"""Fresh re-authentication (issue 5 §4): approving a hors-délai, emitting a payment batch, setting a role
or changing an IBAN need the password entered within the last 15 minutes; otherwise /reauth first, which
comes back to the same screen, and nothing changes meanwhile."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from backoffice.models import CompteBancaire, DemandeHorsDelai, LotPaiement
from backoffice.models.enums import LotStatut
from tests import factories as f
from tests.auth.conftest import DEMO_PASSWORD, T0, post_form
from tests.conftest import csrf_from


def _login(app, username, at=T0):
    app.config["NOW_OVERRIDE"] = at
    c = app.test_client()
    assert post_form(c, "/login", {"username": username, "password": DEMO_PASSWORD}).status_code == 302
    return c


def _reauth_next(resp) -> str:
    assert resp.status_code == 302, resp.status_code
    parts = urlsplit(resp.headers["Location"])
    assert parts.path == "/reauth", resp.headers["Location"]
    return parse_qs(parts.query)["next"][0]


def _demande(db, ref):
    _b, _cb, i, _c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    d = DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 1, 1),
                         montant_demande=Decimal("561.68"), motif="Oubli de saisie",
                         demandeur_id=ref.comptes["conseiller"].id)
    db.session.add(d)
    db.session.commit()
    return d.id


def _approve(c, demande_id):
    token = csrf_from(c.get("/admin/demande_hors_delai/").get_data(as_text=True))
    return c.post("/admin/demande_hors_delai/workflow/approuver/row",
                  data={"id": demande_id, "csrf_token": token}, headers={"Referer": "http://localhost/admin/demande_hors_delai/"})


def test_approving_a_hors_delai_16_minutes_after_login_asks_for_the_password_first(app, db, ref):
    demande_id = _demande(db, ref)
    c = _login(app, "manager")
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=16)
    resp = _approve(c, demande_id)
    assert _reauth_next(resp) == "/admin/demande_hors_delai/"
    db.session.expire_all()
    assert db.session.get(DemandeHorsDelai, demande_id).statut.value == "en_attente"

    assert post_form(c, "/reauth", {"password": DEMO_PASSWORD}).status_code == 302
    resp = _approve(c, demande_id)
    assert resp.headers["Location"].endswith("/admin/demande_hors_delai/")
    db.session.expire_all()
    demande = db.session.get(DemandeHorsDelai, demande_id)
    assert demande.statut.value == "approuvee" and demande.approbateur_id == ref.comptes["manager"].id


def test_within_15_minutes_of_login_the_approval_needs_no_second_password(app, db, ref):
    demande_id = _demande(db, ref)
    c = _login(app, "manager")
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=15)
    assert urlsplit(_approve(c, demande_id).headers["Location"]).path == "/admin/demande_hors_delai/"
    db.session.expire_all()
    assert db.session.get(DemandeHorsDelai, demande_id).statut.value == "approuvee"


def test_emitting_a_batch_goes_through_reauth_and_back_to_its_confirmation_page(app, db, ref):
    lot = LotPaiement(reference="LOT-REAUTH-1", dispositif_id=ref.dispositifs["CEJ"].id,
                      date_execution=date(2025, 7, 1), statut=LotStatut.PREPAREE)
    db.session.add(lot)
    db.session.commit()
    c = _login(app, "comptable")
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=20)
    token = csrf_from(c.get("/admin/lot_paiement/").get_data(as_text=True))
    preview = c.post("/admin/lot_paiement/action/", data={"action": "wf_emettre", "rowid": [lot.id],
                                                          "csrf_token": token})
    run_url = urlsplit(preview.headers["Location"]).path
    assert "/workflow/run/" in run_url
    assert _reauth_next(c.get(run_url)) == run_url
    db.session.expire_all()
    assert db.session.get(LotPaiement, lot.id).statut == LotStatut.PREPAREE
    post_form(c, "/reauth", {"password": DEMO_PASSWORD})
    assert c.get(run_url).status_code == 200  # the dry run, then the officer confirms


def test_editing_an_account_role_or_an_iban_needs_a_fresh_password(app, db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cb = f.make_compte_bancaire(db.session, b)
    db.session.commit()
    admin = _login(app, "admin")
    conseiller = _login(app, "conseiller")
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=16)
    url = f"/admin/compte/edit/?id={ref.comptes['siege'].id}"
    assert _reauth_next(admin.get(url)) == url
    assert _reauth_next(admin.get("/admin/compte/new/")) == "/admin/compte/new/"
    rib_url = f"/admin/compte_bancaire/edit/?id={cb.id}"
    assert _reauth_next(conseiller.get(rib_url)) == rib_url
    # a POST that slipped past the form (stale tab) changes nothing
    token = csrf_from(conseiller.get("/admin/compte_bancaire/").get_data(as_text=True))
    resp = conseiller.post(rib_url, data={"iban": "FR7630006000011234567890189", "titulaire": "X",
                                          "csrf_token": token})
    _reauth_next(resp)
    db.session.expire_all()
    assert db.session.get(CompteBancaire, cb.id).iban == cb.iban

    post_form(admin, "/reauth", {"password": DEMO_PASSWORD})
    assert admin.get(url).status_code == 200
    # creating a bank account sets no existing IBAN: the conseiller's daily entry is not interrupted
    assert conseiller.get("/admin/compte_bancaire/new/").status_code == 200
