"""A conseiller never reads another antenne's record: not by list, detail URL, edit URL, ajax lookup,
search or export."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from backoffice.policy import POLICY

# grids a conseiller may open whose rows belong to an antenne
SCOPED = sorted(e for e in ("beneficiaire", "compte_bancaire", "inscription", "cerfa", "allocation", "ressource",
                            "demande_hors_delai", "reversement", "structure")
                if "conseiller" in POLICY[e].view)


def test_conseiller_list_shows_own_antenne_only(sample, clients):
    c = clients["conseiller"]
    for endpoint in SCOPED:
        html = c.get(f"/admin/{endpoint}/").get_data(as_text=True)
        own, other = sample.texts[endpoint]
        assert own in html, endpoint
        assert other not in html, endpoint


@pytest.mark.parametrize("endpoint", SCOPED)
def test_conseiller_cannot_open_another_antennes_record_by_url(endpoint, sample, clients):
    c = clients["conseiller"]
    other_id, other_text = sample.sud(endpoint), sample.texts[endpoint][1]
    for page in ("details", "edit"):
        resp = c.get(f"/admin/{endpoint}/{page}/?id={other_id}")
        assert resp.status_code in (302, 403), (page, resp.status_code)
        assert other_text not in resp.get_data(as_text=True)
        if resp.status_code == 302:
            followed = c.get(resp.headers["Location"]).get_data(as_text=True)
            assert other_text not in followed
    # the other conseiller (ML-ANT-SUD) does see it: the row exists
    assert clients["conseiller2"].get(f"/admin/{endpoint}/details/?id={other_id}").status_code == 200


def test_conseiller_cannot_edit_another_antennes_record_by_post(sample, clients, db):
    from backoffice.models import Beneficiaire
    from tests.conftest import csrf_from

    c = clients["conseiller"]
    token = csrf_from(c.get("/admin/beneficiaire/new/").get_data(as_text=True))
    other = sample.sud("beneficiaire")
    resp = c.post(f"/admin/beneficiaire/edit/?id={other}", data={"csrf_token": token, "nom": "Pirate"})
    assert resp.status_code == 302
    db.session.remove()
    assert db.session.get(Beneficiaire, other).nom != "Pirate"


def _lookup(c, endpoint, name, query):
    resp = c.get(f"/admin/{endpoint}/ajax/lookup/?name={name}&query={query}")
    assert resp.status_code == 200, resp.status_code
    return json.loads(resp.get_data(as_text=True))


def test_ajax_lookups_never_return_another_antennes_rows(sample, clients):
    c = clients["conseiller"]
    own_ident, other_ident = sample.texts["beneficiaire"]
    own_numero, other_numero = sample.texts["inscription"]
    # by identifier
    assert [label for _, label in _lookup(c, "compte_bancaire", "beneficiaire", own_ident)]
    assert _lookup(c, "compte_bancaire", "beneficiaire", other_ident) == []
    # by name prefix, accent and case free: only the NORD youth comes back
    assert _lookup(c, "inscription", "beneficiaire", "sud") == []
    assert _lookup(c, "inscription", "beneficiaire", "nörd")
    # enrolments, through the allocation form
    assert _lookup(c, "allocation", "inscription", other_numero) == []
    assert [n for _, n in _lookup(c, "allocation", "inscription", own_numero)] == [own_numero]
    # by id: a number matches the id only inside the scope
    assert _lookup(c, "ressource", "allocation", str(sample.sud("allocation"))) == []
    assert _lookup(c, "ressource", "allocation", str(sample.nord("allocation")))
    # an unknown field name is a 404, not a leak
    assert c.get("/admin/allocation/ajax/lookup/?name=antenne&query=a").status_code == 404


def test_ajax_lookup_of_a_grid_the_role_cannot_open_is_forbidden(sample, clients):
    resp = clients["conseiller"].get("/admin/compte_etablissement/ajax/lookup/?name=compte&query=a")
    assert resp.status_code == 403


def test_conseiller_export_contains_own_antenne_only(sample, clients):
    c = clients["conseiller"]
    resp = c.get("/admin/beneficiaire/export/csv/")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    own, other = sample.texts["beneficiaire"]
    assert own in body and other not in body
    # and with a search that would match the other antenne's youth
    body = c.get("/admin/beneficiaire/export/csv/?search=SUD").get_data(as_text=True)
    assert other not in body


def test_conseiller_filter_on_another_antenne_returns_nothing(sample, clients, app, ref):
    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "allocation")
    from backoffice.admin_views.filters import RefEqual
    index = next(i for i, f in enumerate(view._filters) if isinstance(f, RefEqual) and f.column.key == "antenne_id")
    html = clients["conseiller"].get(f"/admin/allocation/?flt0_{index}={ref.sud.id}").get_data(as_text=True)
    assert sample.texts["allocation"][1] not in html


def test_conseiller_antenne_filter_offers_own_antenne_only(sample, clients):
    html = clients["conseiller"].get("/admin/allocation/").get_data(as_text=True)
    assert "Antenne Lille Nord" in html
    assert "Antenne Lille Sud" not in html


# ---- inline edit (/ajax/update/) and counts ---------------------------------------------------------

def _nom(db, ident):
    from backoffice.models import Beneficiaire
    db.session.remove()
    return db.session.get(Beneficiaire, ident).nom


def test_inline_update_never_reaches_another_antennes_row(sample, clients, app, db, monkeypatch):
    """Flask-Admin's x-editable endpoint: closed where no column is editable (every grid today), and,
    were a grid to open one, scoped like the edit page (get_one), CSRF-checked and edit-right-checked."""
    from tests.conftest import csrf_from

    c = clients["conseiller"]
    token = csrf_from(c.get("/admin/beneficiaire/new/").get_data(as_text=True))
    own, other = sample.nord("beneficiaire"), sample.sud("beneficiaire")
    before_other = _nom(db, other)
    url = "/admin/beneficiaire/ajax/update/"
    # today: no editable column, so no inline update at all
    assert c.post(url, data={"csrf_token": token, "list_form_pk": str(other), "nom": "Pirate"}).status_code == 404
    # a role without the edit right is stopped by the guard before the view (and it is audited)
    siege = clients["siege"]
    siege_token = csrf_from(siege.get("/password").get_data(as_text=True))
    assert siege.post(url, data={"csrf_token": siege_token, "list_form_pk": str(other), "nom": "Pirate"}
                      ).status_code == 403

    # open inline edition of `nom` on the shared view for this test only
    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "beneficiaire")
    monkeypatch.setattr(view, "column_editable_list", ["nom"])
    monkeypatch.setattr(view, "_list_form_class", view.get_list_form(), raising=False)

    ok = c.post(url, data={"csrf_token": token, "list_form_pk": str(own), "nom": "Inline"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert _nom(db, own) == "Inline"  # the endpoint works inside the scope…
    refused = c.post(url, data={"csrf_token": token, "list_form_pk": str(other), "nom": "Pirate"})
    assert refused.status_code == 404 and before_other not in refused.get_data(as_text=True)
    from backoffice.models import AuditEvent
    refusals = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "acces_refuse")).all()
    assert any((e.params or {}).get("id") == str(other) for e in refusals)  # the attempt is audited
    assert _nom(db, other) == before_other  # …and finds nothing outside it
    # CSRF: no token, a wrong one (form or header) -> 400, nothing written
    for data, headers in (({}, {}), ({"csrf_token": "faux"}, {}), ({}, {"X-CSRFToken": "faux"})):
        resp = c.post(url, data={**data, "list_form_pk": str(own), "nom": "SansJeton"}, headers=headers)
        assert resp.status_code == 400, (data, headers)
    assert _nom(db, own) == "Inline"
    # the other conseiller reaches their own row: the refusal above was the scope, not a broken form
    c2 = clients["conseiller2"]
    token2 = csrf_from(c2.get("/admin/beneficiaire/new/").get_data(as_text=True))
    assert c2.post(url, data={"csrf_token": token2, "list_form_pk": str(other), "nom": "Sud"}).status_code == 200
    assert _nom(db, other) == "Sud"


def test_list_counts_never_include_another_antennes_rows(sample, clients, app, db, ref):
    """The row count (list tab, pager, "toutes les N lignes filtrées") is computed on the scoped query:
    it does not tell a conseiller how many rows another antenne has, with or without a search."""
    import re

    from flask_login import login_user

    from backoffice.models import Allocation, Beneficiaire, Compte
    from tests import factories as f

    for _ in range(4):
        f.make_beneficiaire(db.session, ref.sud, nom="Sudiste", nom_recherche="SUDISTE")
    db.session.commit()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Beneficiaire))
    nord = db.session.scalar(sa.select(sa.func.count()).select_from(Beneficiaire)
                             .where(Beneficiaire.antenne_id == ref.nord.id))
    assert (nord, total) == (1, 6)

    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "beneficiaire")
    conseiller_id = ref.comptes["conseiller"].id
    for search, expected in ((None, nord), ("SUDISTE", 0), ("NORD", nord)):
        with app.test_request_context("/admin/beneficiaire/"):
            login_user(db.session.get(Compte, conseiller_id))
            count, rows = view.get_list(0, None, None, search, [])
            assert (count, len(rows)) == (expected, expected), search

    c = clients["conseiller"]
    html = c.get("/admin/beneficiaire/").get_data(as_text=True)
    tab = re.search(r"Liste\s*\(([^)]*)\)", html)
    assert tab is not None and tab.group(1).strip() == str(nord), tab and tab.group(0)
    assert "Sudiste" not in html and "SUDISTE" not in html
    searched = c.get("/admin/beneficiaire/?search=SUDISTE").get_data(as_text=True)
    assert "Sudiste" not in searched and not re.search(r"Liste\s*\(\s*[1-9]", searched)
    # the workflow grids' "all N filtered rows" menu counts the same scoped rows
    alloc = c.get("/admin/allocation/").get_data(as_text=True)
    filtered = re.search(r"Toutes les lignes filtrées \((\d+)\)", alloc)
    own_allocations = db.session.scalar(sa.select(sa.func.count()).select_from(Allocation)
                                        .where(Allocation.antenne_id == ref.nord.id))
    assert own_allocations < db.session.scalar(sa.select(sa.func.count()).select_from(Allocation))
    assert filtered is not None and int(filtered.group(1)) == own_allocations
