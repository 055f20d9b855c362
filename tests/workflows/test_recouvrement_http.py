"""Issue 13, part 2 over HTTP (populated database): a manager's remise through the reversements grid, four eyes
above the threshold replayed by the same manager, and the debtor's account reached from the order and from the
youth's record, in French, with its totals; another antenne's conseiller never sees it."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice.models import Reversement
from backoffice.models.enums import ReversementStatut as RS
from tests.conftest import csrf_from
from tests.workflows.test_recouvrement import notified, reload, second_manager, step

pytestmark = pytest.mark.populated


def _row_then_form(c, rid, transition, **fields):
    """The row button (with the version shown), then the confirmation page's parameter form."""
    page = c.get("/admin/reversement/").get_data(as_text=True)
    version = reload_version(rid)
    resp = c.post(f"/admin/reversement/workflow/{transition}/row",
                  data={"id": rid, "version": version, "csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and "/workflow/run/" in resp.headers["Location"], resp.status_code
    run_url = resp.headers["Location"]
    form = c.get(run_url).get_data(as_text=True)
    done = c.post(run_url, data={"csrf_token": csrf_from(form), **fields}, follow_redirects=True)
    return form, unescape(done.get_data(as_text=True))


_db = {}


def reload_version(rid):
    db = _db["db"]
    db.session.expire_all()
    return db.session.get(Reversement, rid).version


@pytest.fixture(autouse=True)
def _keep_db(db):
    _db["db"] = db


def test_a_manager_grants_a_partial_remise_through_the_grid_D5316_15(db, ref, login_as):
    rid = notified(db, ref, "300.00")
    c = login_as("manager")
    listing = c.get(f"/admin/reversement/?search={reload(db, rid).numero}").get_data(as_text=True)
    assert 'data-transition="accorder_remise"' in listing
    form, done = _row_then_form(c, rid, "accorder_remise", montant="120,50", motif="")
    assert "Montant (vide : tout le reste dû)" in form
    assert "est obligatoire" in done and reload(db, rid).montant_remis == Decimal("0.00")  # no reason: nothing
    _, done = _row_then_form(c, rid, "accorder_remise", montant="120,50", motif="Difficultés financières avérées")
    assert "Accorder une remise : 1 ligne(s) modifiées" in done
    r = reload(db, rid)
    assert (r.statut, r.montant_remis, r.reste_du) == (RS.EN_RECOUVREMENT, Decimal("120.50"), Decimal("179.50"))
    # a comptable is not offered the remise, and typing the URL is a 403
    comptable = login_as("comptable")
    assert 'data-transition="accorder_remise"' not in comptable.get("/admin/reversement/").get_data(as_text=True)
    page = comptable.get("/admin/reversement/").get_data(as_text=True)
    assert comptable.post("/admin/reversement/workflow/accorder_remise/row",
                          data={"id": rid, "version": r.version, "csrf_token": csrf_from(page)}).status_code == 403


def test_four_eyes_over_http_the_proposer_cannot_approve_a_second_manager_can(db, ref, login_as):
    rid = notified(db, ref, "2000.00")
    second_manager(db, ref)
    c = login_as("manager")
    _, done = _row_then_form(c, rid, "accorder_remise", montant="", motif="Remise totale : surendettement")
    assert reload(db, rid).statut == RS.REMISE_A_VALIDER and reload(db, rid).remise_proposee == Decimal("2000.00")
    page = c.get("/admin/reversement/").get_data(as_text=True)
    resp = c.post("/admin/reversement/workflow/approuver_remise/row", follow_redirects=True,
                  data={"id": rid, "version": reload_version(rid), "csrf_token": csrf_from(page)})
    assert "autre responsable" in unescape(resp.get_data(as_text=True))
    assert reload(db, rid).statut == RS.REMISE_A_VALIDER
    other = login_as("manager2")
    page = other.get("/admin/reversement/").get_data(as_text=True)
    resp = other.post("/admin/reversement/workflow/approuver_remise/row", follow_redirects=True,
                      data={"id": rid, "version": reload_version(rid), "csrf_token": csrf_from(page)})
    assert resp.status_code == 200
    r = reload(db, rid)
    assert (r.statut, r.montant_remis, r.reste_du) == (RS.SOLDE, Decimal("2000.00"), Decimal("0.00"))


def test_the_debtors_account_from_the_order_and_from_the_youths_record_with_totals(db, ref, login_as):
    rid = notified(db, ref, "300.00")
    step(db, ref.comptes["comptable"], "rembourser", rid, montant="50,00", date_reception="2025-06-20",
         mode="cheque", reference="CHQ-1")
    step(db, ref.comptes["comptable"], "accorder_echeancier", rid, nombre_echeances="5",
         premiere_echeance="2099-01-10")
    step(db, ref.comptes["manager"], "accorder_remise", rid, montant="25,00", motif="Geste partiel")
    r = reload(db, rid)
    c = login_as("comptable")
    detail = c.get(f"/admin/reversement/details/?id={rid}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-lien="compte-debiteur"', detail)
    assert link and link.group(1) == f"/admin/reversement/debiteur/jeune/{r.debiteur_id}"
    youth = c.get(f"/admin/beneficiaire/details/?id={r.beneficiaire_id}").get_data(as_text=True)
    assert f'href="/admin/reversement/debiteur/jeune/{r.debiteur_id}"' in youth
    page = unescape(c.get(link.group(1)).get_data(as_text=True))
    assert "Compte débiteur" in page and r.numero in page
    totals = dict(re.findall(r'data-total="(\w+)">(?:<strong>)?([^<]+)<', page))
    assert totals["rembourse"] == "50,00\u00a0€" or totals["rembourse"].startswith("50,00")
    assert totals["remis"].startswith("25,00") and totals["reste"].startswith("225,00")
    assert page.count("data-echeance=") == 5 and "à venir" in page and "Remboursement (cheque)" in page
    assert "Remise accordée" in page and "Geste partiel" in page
    # another antenne's conseiller: not theirs, a 404 (nothing is shown)
    assert login_as("conseiller2").get(link.group(1)).status_code in (403, 404)
    assert c.get("/admin/reversement/debiteur/inconnu/1").status_code == 404
