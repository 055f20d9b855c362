"""Issue 18 §1: every grid with a money column totals the page, the whole filter (SQL, within the role's scope;
estimated like the count when the count is) and the ticked rows (static/totaux.js, from each cell's exact value)."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.admin_views import grille
from backoffice.admin_views.filters import filter_args
from backoffice.i18n import format_montant
from backoffice.models.enums import AllocationStatut as S

from .test_grille import _allocations, _view

pytestmark = pytest.mark.populated


def _totaux(html, key="montant"):
    row = re.search(r'<tr data-total="%s">(.*?)</tr>' % key, html, re.S)
    assert row, "pas de barre de totaux"
    cells = dict(re.findall(r'data-total-(page|filtre|coches)[^>]*>([^<]*)<', row[1]))
    return {k: unescape(v).strip() for k, v in cells.items()}


def test_page_filter_and_ticked_totals_of_the_allocations_grid(app, db, ref, clients):
    ids = _allocations(db, ref, 25, montants=[Decimal("561.68"), Decimal("100.05"), Decimal("0.01")])
    db.session.execute(sa.update(m.Allocation).where(m.Allocation.id.in_(ids)).values(statut=S.SOUMISE))
    db.session.commit()
    view = _view(app, "allocation")
    with app.test_request_context():
        args = filter_args(view, "statut", "soumise")
    html = clients["siege"].get("/admin/allocation/", query_string=args).get_data(as_text=True)
    # the whole filter, as SQL sums it (the demo's submitted allocations too)
    total = db.session.execute(sa.select(sa.func.sum(m.Allocation.montant))
                               .where(m.Allocation.statut == S.SOUMISE)).scalar_one()
    shown = [Decimal(v) for v in re.findall(r'<td class="col-montant">\s*<span class="bo-montant" data-valeur="([-0-9.]+)"',
                                            html)]
    assert len(shown) == 20
    t = _totaux(html)
    assert t["filtre"] == format_montant(total)
    assert t["page"] == format_montant(sum(shown))
    assert t["coches"] == format_montant(0)  # nothing ticked yet: the browser sums what gets ticked
    assert "totaux.js" in html


def test_the_filter_total_stays_within_the_antenne_scope(app, db, ref, clients):
    antenne = db.session.execute(sa.select(m.Compte.structure_id).where(m.Compte.login == "conseiller")).scalar_one()
    total = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(m.Allocation.montant), 0))
                               .where(m.Allocation.antenne_id == antenne)).scalar_one()
    html = clients["conseiller"].get("/admin/allocation/?compte=exact").get_data(as_text=True)
    everything = db.session.execute(sa.select(sa.func.sum(m.Allocation.montant))).scalar_one()
    assert total != everything
    assert _totaux(html)["filtre"] == format_montant(total)


def test_a_large_result_estimates_its_total_like_its_count_and_sums_exactly_on_request(app, db, ref, clients,
                                                                                      monkeypatch):
    _allocations(db, ref, 30)
    db.session.execute(sa.text("ANALYZE allocation"))
    db.session.commit()
    monkeypatch.setattr(_view(app, "allocation"), "exact_count_under", 5)  # "large" from 5 rows on
    monkeypatch.setattr(grille, "SAMPLE_MIN_MATCHES", 1)
    statements = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)
    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        html = clients["siege"].get("/admin/allocation/").get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    t = _totaux(html)
    assert t["filtre"].startswith("environ ")
    assert any("TABLESAMPLE" in s for s in statements)
    assert not any(re.search(r"sum\(allocation\.montant\)", s) for s in statements if "TABLESAMPLE" not in s)
    exact = _totaux(clients["siege"].get("/admin/allocation/?compte=exact").get_data(as_text=True))
    total = db.session.execute(sa.select(sa.func.sum(m.Allocation.montant))).scalar_one()
    assert exact["filtre"] == format_montant(total)
    # the estimate is the sampled average times the estimated count: close to the real sum
    approx = Decimal(t["filtre"].removeprefix("environ ").replace("\u202f", "").replace("\xa0€", "")
                     .replace("\xa0M€", "e6").replace(",", "."))
    assert abs(approx - total) <= total * Decimal("0.25")


def test_grids_without_money_have_no_totals_bar(clients):
    assert 'id="totaux-grille"' not in clients["admin"].get("/admin/structure/").get_data(as_text=True)


def test_the_lots_grid_totals_its_amounts(db, clients):
    total = db.session.execute(sa.select(sa.func.sum(m.LotPaiement.montant_total))).scalar_one()
    html = clients["comptable"].get("/admin/lot_paiement/?compte=exact").get_data(as_text=True)
    assert _totaux(html, "montant_total")["filtre"] == format_montant(total)



def test_an_estimate_through_a_relation_is_not_joined_to_the_whole_table(app, db, ref, monkeypatch):
    """Issue 20: a search through the youth (a join) escaped the sample's adapter, so the estimate joined the whole
    allocation table to the sample (a cartesian product: 50 s and a wrong figure at 1,000,000 rows, the grids
    benchmark's name search). Such a result is summed exactly (None: the caller's exact sum), never estimated."""
    _allocations(db, ref, 30)
    db.session.execute(sa.text("ANALYZE allocation"))
    db.session.commit()
    monkeypatch.setattr(grille, "SAMPLE_MIN_MATCHES", 1)
    table, cols = m.Allocation.__table__, [m.Allocation.montant]
    plain = db.session.query(m.Allocation).filter(m.Allocation.montant > 0)
    assert grille.estimated_sums(db.session, plain, table, cols, 1000) is not None  # the sample still serves
    joined = (db.session.query(m.Allocation).outerjoin(m.Allocation.beneficiaire)
              .filter(m.Beneficiaire.nom_recherche.like("%A%")))
    statements = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)
    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        assert grille.estimated_sums(db.session, joined, table, cols, 1000) is None
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    assert not any("TABLESAMPLE" in s for s in statements)


def test_a_large_result_through_a_relation_is_totalled_on_request_and_then_exactly(app, db, ref, clients,
                                                                                  monkeypatch):
    """Issue 20: such a result (every allocation of the youths of one antenne found by name) is neither estimated
    (no sample serves a join) nor summed on every page view: the bar offers « calculer », which sums it exactly."""
    _allocations(db, ref, 30)
    db.session.execute(sa.text("ANALYZE allocation"))
    db.session.commit()
    monkeypatch.setattr(_view(app, "allocation"), "exact_count_under", 5)
    nom = "martin"  # the 30 allocations' youths (MARTIN<n> LEA), more than a page: a « large » result
    html = clients["siege"].get("/admin/allocation/", query_string={"search": nom}).get_data(as_text=True)
    assert "son total se calcule sur demande" in html
    row = re.search(r'<tr data-total="montant">(.*?)</tr>', html, re.S)[1]
    assert "compte=exact" in row and "calculer" in row
    exact = _totaux(clients["siege"].get("/admin/allocation/", query_string={"search": nom, "compte": "exact"})
                    .get_data(as_text=True))
    assert exact["filtre"] != "" and "calculer" not in exact["filtre"]
