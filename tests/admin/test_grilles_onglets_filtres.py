"""Issue 18, grids: status tabs with counts, saved filters per user, a name search that finds any part of a name
with accents and case ignored (trigram on PostgreSQL)."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.admin_views.filters import filter_args
from backoffice.models.enums import AllocationStatut as S
from tests import factories as f
from tests.conftest import csrf_from

from .test_grille import _compte, _ids, _view

pytestmark = pytest.mark.populated

TAB = re.compile(r'<a class="nav-link[^"]*" href="([^"]+)"\s+data-onglet="([^"]*)" data-count="(\d+)"[^>]*>'
                 r'.*?data-compte>([^<]*)<', re.S)


def _tabs(html):
    """{statut ('' for « Tous »): (count, displayed, url)}"""
    return {statut: (int(n), " ".join(unescape(shown).split()), unescape(url))
            for url, statut, n, shown in TAB.findall(html)}


def _detail_ids(html, endpoint):
    return {int(x) for x in re.findall(rf'/admin/{endpoint}/details/\?id=(\d+)&', html)}


def _active_tab(html):
    m_ = re.search(r'class="nav-link[^"]* active[^"]*" href="[^"]+"\s+data-onglet="([^"]*)"', html)
    return m_[1] if m_ else None


# ---- status tabs ----------------------------------------------------------------------------------

def test_tabs_counts_equal_the_filtered_counts_and_each_tab_is_the_status_filter(app, db, ref, clients):
    c = clients["siege"]
    html = c.get("/admin/allocation/").get_data(as_text=True)
    tabs = _tabs(html)
    assert list(tabs)[0] == "" and "Tous" in html  # « Tous » first
    by_status = dict(db.session.execute(sa.select(m.Allocation.statut, sa.func.count())
                                        .group_by(m.Allocation.statut)).all())
    assert set(tabs) == {""} | {s.value for s in S}
    for s in S:
        count, shown, url = tabs[s.value]
        assert count == by_status.get(s, 0), s  # the demo's counts are small: exact, as the grid counts them
        # the tab's URL is the grid filtered on that status: the grid shows the same count
        page = c.get(url).get_data(as_text=True)
        assert _active_tab(page) == s.value
        if count:
            assert _compte(page).startswith(shown), (s, _compte(page), shown)
            assert len(_ids(page)) == min(count, 20)
    tous = tabs[""]
    if tous[1].startswith("≈"):  # above exact_count_under: the planner's estimate, exactly as the grid shows it
        assert sum(by_status.values()) > 1000 and _compte(html).startswith(tous[1])
    else:
        assert tous[0] == sum(by_status.values())


def test_a_tab_combines_with_the_other_filters_and_the_search_and_keeps_them(app, db, ref, clients):
    antenne_id = ref.nord.id
    c = clients["siege"]
    view = _view(app, "allocation")
    with app.test_request_context():
        args = {**filter_args(view, "antenne_id", str(antenne_id)), "search": "M"}
    html = c.get("/admin/allocation/", query_string=args).get_data(as_text=True)
    tabs = _tabs(html)
    q = (sa.select(m.Allocation.statut, sa.func.count()).join(m.Beneficiaire, m.Allocation.beneficiaire)
         .where(m.Allocation.antenne_id == antenne_id,
                sa.or_(m.Beneficiaire.nom_recherche.like("M%"), m.Beneficiaire.identifiant_imilo.like("M%")))
         .group_by(m.Allocation.statut))
    expected = dict(db.session.execute(q).all())
    assert sum(expected.values()) > 0
    for s in S:
        assert tabs[s.value][0] == expected.get(s, 0), s
    url = tabs[S.SOUMISE.value][2]
    assert "search=M" in url and f"={antenne_id}" in url  # the other filter and the search ride along
    # a tab already chosen: the other tabs replace it, « Tous » removes it, the antenne filter stays
    page = c.get(url).get_data(as_text=True)
    tabs2 = _tabs(page)
    assert tabs2 == tabs or {k: v[0] for k, v in tabs2.items()} == {k: v[0] for k, v in tabs.items()}
    assert "soumise" not in tabs2[""][2] and f"={antenne_id}" in tabs2[""][2]


def test_tabs_respect_the_antenne_scope(app, db, ref, clients):
    antenne = db.session.execute(sa.select(m.Compte.structure_id).where(m.Compte.login == "conseiller")).scalar_one()
    tabs = _tabs(clients["conseiller"].get("/admin/allocation/").get_data(as_text=True))
    expected = dict(db.session.execute(sa.select(m.Allocation.statut, sa.func.count())
                                       .where(m.Allocation.antenne_id == antenne).group_by(m.Allocation.statut)).all())
    assert {s: tabs[s.value][0] for s in S} == {s: expected.get(s, 0) for s in S}


@pytest.mark.parametrize("endpoint", ["cerfa", "lot_paiement", "reversement", "demande_indemnisation",
                                      "autorisation_ap", "demande_hors_delai"])
def test_every_workflow_grid_has_its_tabs(app, db, ref, clients, endpoint):
    view = _view(app, endpoint)
    resp = clients["admin"].get(f"/admin/{endpoint}/")
    assert resp.status_code == 200
    tabs = _tabs(resp.get_data(as_text=True))
    total = db.session.execute(sa.select(sa.func.count()).select_from(view.model)).scalar_one()
    assert tabs[""][0] == total if total <= 1000 else tabs[""][1].startswith("≈")
    assert len(tabs) == 1 + len(list(view.model.statut.type.enum_class))


def test_tab_counts_are_estimated_like_the_grid_count_when_huge(app, db, ref, clients, monkeypatch):
    # the grid shows the planner's estimate above exact_count_under rows: the tabs do the same
    view = _view(app, "allocation")
    monkeypatch.setattr(view, "exact_count_under", 50)
    html = clients["siege"].get("/admin/allocation/").get_data(as_text=True)
    tabs = _tabs(html)
    assert tabs[""][1].startswith("≈") and _compte(html).startswith(tabs[""][1])


def test_non_workflow_grids_have_no_tabs(app, db, ref, clients):
    assert "onglets-statut" not in clients["admin"].get("/admin/bulk_run/").get_data(as_text=True)


# ---- saved filters --------------------------------------------------------------------------------

def _save(c, query: str, nom: str):
    html = c.get(f"/admin/allocation/?{query}").get_data(as_text=True)
    action = unescape(re.search(r'<form method="post" action="([^"]+)" id="form-filtre-enregistrer"', html)[1])
    return c.post(action, data={"nom": nom, "csrf_token": csrf_from(html), "url": f"/admin/allocation/?{query}"})


def _menu(html):
    return re.search(r'id="menu-filtres-enregistres">(.*?)</li>', html, re.S)[1]


def test_a_user_saves_finds_opens_and_deletes_a_filter(app, db, ref, clients):
    view = _view(app, "allocation")
    with app.test_request_context():
        flt = filter_args(view, "statut", "soumise")
    col = [c for c, _l in view._list_columns].index("montant")
    query = "&".join(f"{k}={v}" for k, v in flt.items()) + f"&sort={col}&desc=1&search=MARTIN"
    c = clients["siege"]
    resp = _save(c, query, "Soumises à valider")
    assert resp.status_code == 302
    row = db.session.execute(sa.select(m.FiltreEnregistre)).scalar_one()
    assert row.nom == "Soumises à valider" and row.vue == "allocation"
    assert row.etat["tri"] == "montant" and row.etat["desc"] and row.etat["recherche"] == "MARTIN"
    menu = _menu(c.get("/admin/allocation/").get_data(as_text=True))
    assert "Soumises à valider" in menu and f"/admin/allocation/filtres/{row.id}" in menu
    # opening it: the same list, filters, sort and search
    opened = c.get(f"/admin/allocation/filtres/{row.id}")
    assert opened.status_code == 302
    target = unescape(opened.headers["Location"])
    for k, v in flt.items():
        assert f"{k}={v}" in target
    assert f"sort={col}" in target and "desc=1" in target and "search=MARTIN" in target
    html = c.get(target).get_data(as_text=True)
    assert _active_tab(html) == "soumise"
    # deleting it
    menu_html = c.get("/admin/allocation/").get_data(as_text=True)
    resp = c.post(f"/admin/allocation/filtres/{row.id}/supprimer", data={"csrf_token": csrf_from(menu_html)})
    assert resp.status_code == 302
    assert db.session.execute(sa.select(sa.func.count()).select_from(m.FiltreEnregistre)).scalar_one() == 0


def test_another_user_can_neither_see_open_nor_delete_a_saved_filter(app, db, ref, clients):
    _save(clients["siege"], "search=MARTIN", "Mes Martin")
    row = db.session.execute(sa.select(m.FiltreEnregistre)).scalar_one()
    other = clients["admin"]
    html = other.get("/admin/allocation/").get_data(as_text=True)
    assert "Mes Martin" not in _menu(html)
    assert other.get(f"/admin/allocation/filtres/{row.id}").status_code == 404
    assert other.post(f"/admin/allocation/filtres/{row.id}/supprimer",
                      data={"csrf_token": csrf_from(html)}).status_code == 404
    # nor through another grid's URL (a filter belongs to its grid), nor with a forged id
    assert clients["siege"].get(f"/admin/cerfa/filtres/{row.id}").status_code == 404
    assert clients["siege"].get("/admin/allocation/filtres/99999999999").status_code == 404
    db.session.expire_all()
    assert db.session.get(m.FiltreEnregistre, row.id) is not None


def test_a_saved_filter_whose_filter_no_longer_exists_is_shown_invalid_not_a_500(app, db, ref, clients):
    c = clients["siege"]
    compte = db.session.execute(sa.select(m.Compte).where(m.Compte.login == "siege")).scalar_one()
    gone = m.FiltreEnregistre(compte_id=compte.id, vue="allocation", nom="Ancien filtre",
                              etat={"filtres": [{"filtre": "colonne_supprimee|EnumEqual", "libelle": "Ancienne colonne",
                                                 "valeur": "x"}], "tri": None, "desc": False, "recherche": ""})
    badsort = m.FiltreEnregistre(compte_id=compte.id, vue="allocation", nom="Ancien tri",
                                 etat={"filtres": [], "tri": "colonne_disparue", "desc": True, "recherche": ""})
    db.session.add_all([gone, badsort])
    db.session.commit()
    gone_id = gone.id
    resp = c.get("/admin/allocation/")
    assert resp.status_code == 200
    menu = _menu(resp.get_data(as_text=True))
    assert "Ancien filtre — invalide : Le filtre « Ancienne colonne » n&#39;existe plus sur cette liste." in menu
    assert "Ancien tri — invalide : La colonne de tri « colonne_disparue » n&#39;existe plus" in menu
    opened = c.get(f"/admin/allocation/filtres/{gone_id}", follow_redirects=True)
    assert opened.status_code == 200
    assert "Filtre « Ancien filtre » invalide" in unescape(opened.get_data(as_text=True))


def test_saving_without_a_name_is_refused_in_french(app, db, ref, clients):
    resp = _save(clients["siege"], "search=MARTIN", "   ")
    assert resp.status_code == 302
    assert db.session.execute(sa.select(sa.func.count()).select_from(m.FiltreEnregistre)).scalar_one() == 0
    html = clients["siege"].get(resp.headers["Location"]).get_data(as_text=True)
    assert "Donnez au filtre un nom de 1 à 80 caractères." in html


# ---- name search ----------------------------------------------------------------------------------

def _eloise(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord, nom="Duchêne", prenom="Éloïse", nom_recherche="DUCHENE ELOISE")
    i = f.make_inscription(db.session, b, ref.dispositifs["CEJ"])
    a = f.make_allocation(db.session, i)
    db.session.commit()
    return b.id, a.id


@pytest.mark.parametrize("terme", ["eloise", "Éloïse", "ÉLOÏSE", "loïs", "duchene eloise", "chêne"])
def test_the_search_finds_eloise_anywhere_in_the_name_accents_and_case_ignored(app, db, ref, clients, terme):
    b, a = _eloise(db, ref)
    c = clients["siege"]
    assert b in _detail_ids(c.get("/admin/beneficiaire/", query_string={"search": terme}).get_data(as_text=True),
                            "beneficiaire")
    assert a in _ids(c.get("/admin/allocation/", query_string={"search": terme}).get_data(as_text=True))


def test_a_short_term_stays_a_prefix_search(app, db, ref, clients):
    b, _a = _eloise(db, ref)
    c = clients["siege"]
    assert b in _detail_ids(c.get("/admin/beneficiaire/", query_string={"search": "du"}).get_data(as_text=True),
                            "beneficiaire")
    assert b not in _detail_ids(c.get("/admin/beneficiaire/", query_string={"search": "el"}).get_data(as_text=True),
                                "beneficiaire")


def test_the_search_of_an_establishment_finds_its_raison_sociale_and_siret(app, db, ref, clients):
    etab = db.session.execute(sa.select(m.Etablissement).order_by(m.Etablissement.id)).scalars().first()
    if etab is None:
        pytest.skip("pas d'établissement dans la démo")
    etab.raison_sociale = "Boulangerie Hélène Crème"
    etab_id, siret = etab.id, etab.siret
    db.session.commit()
    c = clients["admin"]
    for terme in ("helene creme", "LÈNE", siret[3:10]):
        html = c.get("/admin/etablissement/", query_string={"search": terme}).get_data(as_text=True)
        assert f"/admin/etablissement/details/?id={etab_id}&" in html, terme


def test_the_search_uses_the_trigram_index(app, db, ref):
    # the GIN indexes of migration 0026 serve « anywhere in the name »: on the demo's 300 youths the planner reads
    # the whole small btree instead, so the btrees are dropped in a transaction rolled back (the plan must then be
    # the trigram index, not a sequential scan)
    with db.engine.connect() as conn:
        with conn.begin() as tx:
            conn.execute(sa.text("DROP INDEX ix_beneficiaire_nom_recherche, ix_beneficiaire_nom_motif"))
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(r[0] for r in conn.execute(sa.text(
                "EXPLAIN SELECT id FROM beneficiaire WHERE nom_recherche LIKE '%ELOISE%'")))
            assert "Bitmap Index Scan on ix_beneficiaire_nom_recherche_trgm" in plan, plan
            plan = "\n".join(r[0] for r in conn.execute(sa.text(
                "EXPLAIN SELECT id FROM etablissement WHERE bo_normalise(raison_sociale) LIKE '%HELENE%'")))
            assert "Bitmap Index Scan on ix_etablissement_raison_sociale_trgm" in plan, plan
            tx.rollback()


def test_on_sqlite_the_same_search_runs_with_bo_normalise_as_a_python_function():
    # the demo runs on SQLite: bo_normalise is registered on every SQLite connection (admin_views/grille.py), so
    # `bo_normalise(col) LIKE '%TERME%'` finds names without their accents there too, with a plain LIKE
    import backoffice.admin_views.grille  # noqa: F401  (registers the connect listener)
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT bo_normalise('Duchêne Éloïse')")).scalar() == "DUCHENE ELOISE"
        conn.execute(sa.text("CREATE TABLE t (nom TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('Boulangerie Hélène Crème'), ('Autre')"))
        assert conn.execute(sa.text("SELECT nom FROM t WHERE bo_normalise(nom) LIKE '%LENE CREM%'")).scalars().all() \
            == ["Boulangerie Hélène Crème"]
