"""Issue 18 §1: dry runs and reports say outcomes — amounts per programme, for a send the batches created or
filled with their execution date (R41) and a link to each; a warning, not a green banner, when rows were refused;
« Retour à la liste » keeps the user's filters."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice.admin_views.filters import filter_args
from backoffice.i18n import format_montant
from backoffice.models import Allocation, LotPaiement, Paiement
from backoffice.models.enums import AllocationStatut as S, CerfaStatut
from tests import factories as f
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated


def _allocations(db, ref, n, statut, cerfa_ok=True, montant="561.68"):
    ids = []
    for _ in range(n):
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
        if cerfa_ok:
            c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=statut, mois=date(2025, 3, 1),
                                     montant=Decimal(montant)).id)
    db.session.commit()
    return ids


def _view(app, endpoint):
    return next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == endpoint)


def _tick(c, app, transition, ids):
    """Tick rows on the list filtered on their status and run `transition` on them: the dry run's page."""
    with app.test_request_context():
        args = filter_args(_view(app, "allocation"), "statut", "validee_siege")
    listing_url = "/admin/allocation/?" + "&".join(f"{k}={v}" for k, v in args.items())
    listing = c.get(listing_url).get_data(as_text=True)
    resp = c.post("/admin/allocation/action/", data={"action": f"wf_{transition}", "rowid": ids,
                                                     "url": listing_url, "csrf_token": csrf_from(listing)})
    assert resp.status_code == 302
    return resp.headers["Location"], listing_url


def test_a_send_to_payment_names_its_batch_amount_and_date_before_and_after(app, db, ref, login_as):
    ids = _allocations(db, ref, 3, S.VALIDEE_SIEGE)
    c = login_as("siege")
    run_url, listing_url = _tick(c, app, "transmettre", ids)
    preview = c.get(run_url).get_data(as_text=True)
    # the dry run: amounts per programme, and the batch the CEJ payments will go to (R41: the 1st or the 15th)
    table = unescape(re.search(r'id="apercu-programmes">(.*?)</table>', preview, re.S)[1])
    assert "CEJ" in table and format_montant(Decimal("1685.04")) in table
    lots = unescape(re.search(r'id="apercu-lots">(.*?)</ul>', preview, re.S)[1])
    assert "CEJ : 3 virements" in lots and "exécution le " in lots
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement)
                              .where(Paiement.allocation_id.in_(ids))).scalar_one() == 0

    done = c.post(run_url, data={"csrf_token": csrf_from(preview)}, follow_redirects=True).get_data(as_text=True)
    lot = db.session.execute(sa.select(LotPaiement).join(Paiement, Paiement.lot_id == LotPaiement.id)
                             .where(Paiement.allocation_id == ids[0])).scalar_one()
    result = unescape(re.search(r'id="resultat-lots">(.*?)</ul>', done, re.S)[1])
    phrase = re.sub(r"[ \n\t]+", " ", result)
    assert re.search(rf"Lot {lot.reference} (créé|complété) : 3 virements, {format_montant(Decimal('1685.04'))}, "
                     rf"exécution le {lot.date_execution:%d/%m/%Y}", re.sub(r"<[^>]+>", "", phrase)), phrase
    assert f'href="/admin/lot_paiement/details/?id={lot.id}' in result
    assert 'data-issue="succes"' in done
    # « Retour à la liste » goes back to the filtered list
    back = unescape(re.findall(r'<a class="btn btn-secondary" href="([^"]+)">Retour à la liste', done)[-1])
    assert back == listing_url


def test_refused_rows_make_a_warning_not_a_green_banner(app, db, ref, login_as):
    ok = _allocations(db, ref, 2, S.SOUMISE)
    blocked = _allocations(db, ref, 1, S.SOUMISE, cerfa_ok=False)  # R45: cerfa not validated
    c = login_as("siege")
    listing = c.get("/admin/allocation/").get_data(as_text=True)
    resp = c.post("/admin/allocation/action/", data={"action": "wf_valider", "rowid": ok + blocked,
                                                     "csrf_token": csrf_from(listing)})
    preview = c.get(resp.headers["Location"]).get_data(as_text=True)
    done = c.post(resp.headers["Location"], data={"csrf_token": csrf_from(preview)}, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert 'data-issue="refus"' in html and "Terminé, avec des lignes refusées" in html
    assert "<strong>2</strong> ligne(s) modifiée(s), <strong>1</strong> refusée(s)" in html
    assert re.search(r'class="alert alert-warning[^"]*"[^>]*>.*?2 ligne\(s\) modifiées', html, re.S)
    assert "alert-success" not in html
    by_programme = unescape(re.search(r'id="resultat-programmes">(.*?)</table>', html, re.S)[1])
    assert format_montant(Decimal("1123.36")) in by_programme  # the two validated, not the refused one
    db.session.expire_all()
    assert [db.session.get(Allocation, i).statut for i in ok + blocked] == [S.VALIDEE_SIEGE] * 2 + [S.SOUMISE]
