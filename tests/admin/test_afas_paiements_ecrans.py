"""Afas screens for the yearly items (R57, issue 15 §2) and the payments (R79, §6-7), over HTTP on the populated
database: each provider fills in their part of the yearly items, a value out of bounds is refused with nothing
written, the administrator edits the items; the tableau de suivi shows the droit estimated, retained and paid."""

from __future__ import annotations

import html
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import DeclarationType as DT, SourceEcheance as SE
from backoffice.workflows import Selection, run
from backoffice.workflows.afas_items import valeurs
from backoffice.workflows.echeances import ECHEANCE
from backoffice.workflows.paiements import emettre_lot, rapprocher_lot
from seeds.programmes import items_exemple
from tests.security.conftest import RoleClient
from tests.workflows.test_afas import T0, Service

pytestmark = pytest.mark.populated


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _post(client, url, data, **kw):
    return client.post(url, data={**data, "csrf_token": client.token}, **kw)


@pytest.fixture
def reelle(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    svc = Service(db.session, ref)
    d = svc.declaration(2024, DT.REELLE, items=False)
    db.session.commit()
    yield svc, d.id
    app.config.pop("NOW_OVERRIDE", None)


def test_R57_each_provider_fills_in_their_part_of_the_yearly_items_bad_bounds_write_nothing(app, db, reelle):
    svc, did = reelle
    act = RoleClient(app, svc.act.login)
    page = _text(act.get(f"/admin/declaration_partenaire/details/?id={did}"))
    assert "0 sur 21 renseignée(s)" in page and "Saisir les données annuelles" in page
    url = f"/admin/declaration_partenaire/donnees-annuelles/{did}"
    form = _text(act.get(url))
    assert 'name="item-NB_FAMILLES"' in form and "de 0 à 366" in form
    assert 'id="item-PARTICIPATION_FAMILLES" value="" inputmode="decimal" disabled' in form  # the other part
    data = {f"item-{k}": v for k, v in items_exemple(db.session, "activite").items()}
    r = _post(act, url, {**data, "item-JOURS_OUVERTURE": "400"})
    assert r.status_code == 200
    assert "Jours d'ouverture au public dans l'année : 366 au plus." in _text(r)
    db.session.expire_all()
    assert valeurs(db.session, did) == {}
    # a financial item posted by the activity provider (its field is disabled) is not theirs: ignored (R60)
    r = _post(act, url, {**data, "item-PARTICIPATION_FAMILLES": "100"})
    assert r.status_code == 302
    db.session.expire_all()
    codes = {v.item.code for v in valeurs(db.session, did).values()}
    assert "NB_FAMILLES" in codes and "PARTICIPATION_FAMILLES" not in codes
    fin = RoleClient(app, svc.fin.login)
    r = _post(fin, url, {f"item-{k}": v for k, v in items_exemple(db.session, "finances").items()})
    assert r.status_code == 302
    db.session.expire_all()
    page = _text(fin.get(f"/admin/declaration_partenaire/details/?id={did}"))
    assert "21 sur 21 renseignée(s)" in page and "ITEMS-ANNUELS" not in page


def test_R57_the_administrator_edits_the_items_a_partner_cannot(app, db, reelle):
    admin = RoleClient(app, "admin")
    page = _text(admin.get("/admin/item_annuel_afas/"))
    assert "Jours d'ouverture au public dans l'année" in page
    item = db.session.scalars(sa.select(m.ItemAnnuelAfas).where(m.ItemAnnuelAfas.code == "NB_BENEVOLES")).one()
    assert admin.get(f"/admin/item_annuel_afas/edit/?id={item.id}").status_code == 200
    svc, _ = reelle
    assert RoleClient(app, svc.act.login).get("/admin/item_annuel_afas/").status_code == 403


def test_tableau_de_suivi_shows_droit_estimated_retained_and_paid_by_the_payment_chain(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    try:
        svc = Service(db.session, ref)
        p25 = svc.declaration(2025)  # droit 18 000, 1st acompte 6 300 (R79, new service)
        for name, actor in (("controler", svc.fin), ("approuver", svc.app), ("transmettre", svc.app)):
            assert svc.go(p25, name, actor).changed == 1
        [e] = db.session.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == SE.AFAS_ACOMPTE,
                                                             m.Echeance.source_id == p25.id)).all()
        db.session.commit()
        client = RoleClient(app, svc.app.login)
        row = _row(_text(client.get("/admin/declaration_partenaire/suivi")), p25.id)
        assert "18\u202f000,00\u00a0€" in row and 'data-col="paye"></td>' in row
        assert "6\u202f300,00\u00a0€" in row  # made payable, in payment
        comptable = ref.comptes["comptable"]
        run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids([e.id]), comptable, now=T0)
        pay = db.session.scalars(sa.select(m.Paiement).where(m.Paiement.echeance_id == e.id)).one()
        emettre_lot(db.session, pay.lot_id, now=T0, actor=comptable)
        rapprocher_lot(db.session, pay.lot_id, actor=comptable, now=T0)
        db.session.commit()
        row = _row(_text(client.get("/admin/declaration_partenaire/suivi")), p25.id)
        assert 'data-col="paye">6\u202f300,00\u00a0€</td>' in row
        page = _text(client.get(f"/admin/declaration_partenaire/details/?id={p25.id}"))
        assert 'id="paiements-afas"' in page and "1er acompte" in page
    finally:
        app.config.pop("NOW_OVERRIDE", None)


def _row(page: str, did: int) -> str:
    start = page.index(f'<tr data-id="{did}">')
    return page[start:page.index("</tr>", start)]
