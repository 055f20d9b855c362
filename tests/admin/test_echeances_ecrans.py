"""Screens of issue 13, over HTTP: the payables grid (filters by programme, payee, period, status; the money totals of
the filter) and the batch page (its payments, the link to its SEPA file), on the populated database."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import Dispositif, Echeance, LotPaiement, Paiement
from backoffice.models.enums import SourceEcheance as SE, TypeBeneficiairePaiement as TB
from backoffice.workflows import Selection, run
from backoffice.workflows.echeances import ECHEANCE, LigneEcheance, creer_echeances
from backoffice.workflows.engine import Context
from backoffice.workflows.paiements import emettre_lot

pytestmark = pytest.mark.populated

NOW = datetime(2025, 5, 2, 9, 0)
IBAN = "FR1420041010050500013M02606"


def _view(app, endpoint):
    return next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == endpoint)


def _args(app, **values):
    from backoffice.admin_views.filters import filter_args
    out = {}
    for k, (column, value) in enumerate(values.items()):
        (arg, v), = filter_args(_view(app, "echeance"), column, value).items()
        out[arg.replace("flt0_", f"flt{k}_")] = v
    return out


def _afas(db, ref, montants, payee_id=777001, periode=date(2025, 4, 1), source=SE.AFAS_ACOMPTE):
    c = ref.comptes["comptable"]
    ctx = Context(actor_id=c.id, role=c.role, now=NOW, params={})
    lignes = [LigneEcheance(source_id=900000 + k + payee_id, periode=periode, payee_type=TB.PARTENAIRE,
                            payee_id=payee_id, montant=Decimal(x), iban=IBAN, titulaire="Espace Zoë Lefèvre",
                            libelle="AFAS ACOMPTE") for k, x in enumerate(montants)]
    ids = creer_echeances(db.session, source, lignes, ctx)
    db.session.commit()
    return ids


def test_the_payables_grid_filters_by_programme_payee_period_status_and_totals_the_filter(app, db, ref, login_as):
    _afas(db, ref, ["100.10", "200.20"])
    _afas(db, ref, ["50.00"], payee_id=777002, periode=date(2025, 5, 1))
    sc_id = db.session.execute(sa.select(Dispositif.id).where(Dispositif.code == "AFAS")).scalar_one()
    client = login_as("comptable")
    page = client.get("/admin/echeance/", query_string=_args(app, dispositif_id=sc_id, payee_id="777001",
                                                             statut="a_payer"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Tout le filtre (2)" in html
    assert "300,30" in html
    page = client.get("/admin/echeance/", query_string=_args(app, dispositif_id=sc_id, periode="2025-05-01"))
    html = page.get_data(as_text=True)
    assert "Tout le filtre (1)" in html and "50,00" in html
    # the whole table: the demo's allocation payables too, their sum in the totals
    total = db.session.execute(sa.select(sa.func.sum(Echeance.montant))).scalar_one()
    from backoffice.i18n import format_montant
    assert format_montant(total) in client.get("/admin/echeance/").get_data(as_text=True)


def test_a_conseiller_has_no_payables_grid(login_as, ref):
    assert login_as("conseiller").get("/admin/echeance/").status_code in (302, 403)


def test_the_batch_page_lists_its_payments_and_links_to_its_sepa_file(app, db, ref, login_as):
    # real sources (the payer checks every programme's now, issues 13 and 16): two NACRE conventions whose first
    # accompaniment contract is signed in September, so their advances (25 % of 400,40 and 800,80: 100,10 and
    # 200,20, R51) fill a batch of their own
    from tests.workflows.test_nacre import convention, operateur, signer
    op, _ = operateur(db.session, "OPLOT")
    when = datetime(2025, 9, 3, 9, 0)
    convs = [convention(db.session, op, f"NACRE-LOT-{k}", subvention=x) for k, x in enumerate(["400.40", "800.80"])]
    for c in convs:
        assert signer(db.session, ref, c, jour=date(2025, 9, 1), now=when).changed == 1
    ids = db.session.execute(sa.select(Echeance.id).where(Echeance.source_type == SE.NACRE_AVANCE,
                                                          Echeance.source_id.in_([c.id for c in convs]))
                             ).scalars().all()
    lot_id = db.session.execute(sa.select(Paiement.lot_id).where(Paiement.echeance_id == ids[0])).scalar_one()
    db.session.commit()
    client = login_as("comptable")
    html = client.get(f"/admin/lot_paiement/details/?id={lot_id}").get_data(as_text=True)
    assert "Paiements du lot (2)" in html and "Fichier SEPA pas encore émis" in html
    emettre_lot(db.session, lot_id, now=when, actor=ref.comptes["comptable"])
    db.session.commit()
    html = client.get(f"/admin/lot_paiement/details/?id={lot_id}").get_data(as_text=True)
    ends = db.session.execute(sa.select(Paiement.end_to_end_id).where(Paiement.lot_id == lot_id)).scalars().all()
    assert all(e in html for e in ends) and "200,20" in html
    assert f"/admin/lot_paiement/sepa/{lot_id}" in html
    resp = client.get(f"/admin/lot_paiement/sepa/{lot_id}")
    assert resp.status_code == 200 and resp.data == db.session.get(LotPaiement, lot_id).fichier_sepa
    # the siège sees the batch, not its file (no export right): no link, and the file is refused
    siege = login_as("siege")
    html = siege.get(f"/admin/lot_paiement/details/?id={lot_id}").get_data(as_text=True)
    assert "Paiements du lot (2)" in html and f"/admin/lot_paiement/sepa/{lot_id}" not in html
    assert siege.get(f"/admin/lot_paiement/sepa/{lot_id}").status_code == 403
