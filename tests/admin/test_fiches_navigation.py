"""Issue 18 §3: a record page walks the list the user came from (previous / next with the same filters, search and
sort, one keyset query each, within the user's scope) and tells « Tout ce qui est arrivé à … » the record and its
related records, from the audit journal, in one query a page, without the events of records out of the user's scope."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import AllocationStatut as S
from backoffice.workflows import audit
from tests import factories as f
from tests.admin.test_fiches import _youth_with_everything
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated


def _view(app, endpoint):
    return next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == endpoint)


def _qpv_arg(view):
    from flask_admin.contrib.sqla import filters as sqla_filters
    for index, flt in enumerate(view._filters):
        if getattr(getattr(flt, "column", None), "key", None) == "qpv" and type(flt) is not sqla_filters.FilterNotEqual \
                and "Not" not in type(flt).__name__ and "Equal" in type(flt).__name__:
            return f"flt0_{view.get_filter_arg(index, flt)}"
    raise LookupError("pas de filtre QPV")


def _sort_index(view, column):
    return next(i for i, (c, _l) in enumerate(view._list_columns) if c == column)


def _nav(html):
    block = unescape(re.search(r'id="fiche-navigation"(.*?)</nav>', html, re.S)[1])
    prev = re.search(r'id="fiche-precedente" rel="prev" href="([^"]+)"', block)
    nxt = re.search(r'id="fiche-suivante" rel="next" href="([^"]+)"', block)
    back = re.search(r'id="retour-liste" href="([^"]+)"', block)[1]
    ident = lambda x: int(re.search(r"[?&]id=(\d+)", x[1])[1]) if x else None  # noqa: E731
    return ident(prev), ident(nxt), back, (prev[1] if prev else None), (nxt[1] if nxt else None)


@pytest.fixture
def youths(db, ref):
    """ZZNAV youths: A, C, E in the north (QPV), B in the north (not QPV), D in the south (QPV); their i-milo
    identifiers sort B D A E C (not the order of their ids)."""
    out = {}
    for letter, antenne, qpv, rang in (("A", ref.nord, True, 3), ("B", ref.nord, False, 1), ("C", ref.nord, True, 5),
                                       ("D", ref.sud, True, 2), ("E", ref.nord, True, 4)):
        b = f.make_beneficiaire(db.session, antenne, nom=f"Zznav{letter}", nom_recherche=f"ZZNAV{letter} LEA", qpv=qpv,
                                identifiant_imilo=f"ZZNAV{rang}")
        out[letter] = b.id
    db.session.commit()
    return out


def test_previous_next_respect_the_lists_filter_search_and_sort(app, youths, clients):
    view = _view(app, "beneficiaire")
    c = clients["siege"]
    # the list: QPV youths named ZZNAV…, by i-milo identifier descending: C, E, A, D (B is filtered out)
    args = {"search": "ZZNAV", "sort": _sort_index(view, "identifiant_imilo"), "desc": 1, _qpv_arg(view): "1"}
    list_url = "/admin/beneficiaire/?" + urlencode(args)
    listing = c.get(list_url).get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'/admin/beneficiaire/details/\?id=(\d+)', unescape(listing))]
    assert [i for i in dict.fromkeys(shown)] == [youths[x] for x in "CEAD"]
    page = c.get("/admin/beneficiaire/details/?" + urlencode({"id": youths["A"], "url": list_url}))
    prev, nxt, back, prev_url, next_url = _nav(page.get_data(as_text=True))
    assert (prev, nxt) == (youths["E"], youths["D"])  # B sorts between D and A but is not QPV
    assert back == list_url  # « Retour à la liste » keeps the filter, the search and the sort
    # the walk carries the list along: from D (the last) there is no « Suivant », from C (the first) no « Précédent »
    last = c.get(next_url).get_data(as_text=True)
    assert _nav(last)[:2] == (youths["A"], None)
    first = c.get("/admin/beneficiaire/details/?" + urlencode({"id": youths["C"], "url": list_url}))
    assert _nav(first.get_data(as_text=True))[:2] == (None, youths["E"])
    # ascending, the neighbours swap
    asc = "/admin/beneficiaire/?" + urlencode({**args, "desc": 0})
    page = c.get("/admin/beneficiaire/details/?" + urlencode({"id": youths["A"], "url": asc}))
    assert _nav(page.get_data(as_text=True))[:2] == (youths["D"], youths["E"])


def test_a_conseillers_previous_next_never_reach_another_antennes_record(app, youths, clients):
    view = _view(app, "beneficiaire")
    list_url = "/admin/beneficiaire/?" + urlencode({"search": "ZZNAV", "sort": _sort_index(view, "identifiant_imilo"),
                                                    "desc": 1, _qpv_arg(view): "1"})
    c = clients["conseiller"]  # the north antenne: D (south) is not in their list C, E, A
    html = c.get("/admin/beneficiaire/details/?" + urlencode({"id": youths["A"], "url": list_url})).get_data(as_text=True)
    assert _nav(html)[:2] == (youths["E"], None)
    html = c.get("/admin/beneficiaire/details/?" + urlencode({"id": youths["E"], "url": list_url})).get_data(as_text=True)
    assert _nav(html)[:2] == (youths["C"], youths["A"])


def test_a_return_url_of_another_grid_gives_no_neighbours_and_the_default_list_walks_by_id(youths, clients):
    c = clients["siege"]
    html = c.get("/admin/beneficiaire/details/?" + urlencode({"id": youths["C"], "url": "/admin/allocation/?search=ZZNAV"}))
    assert _nav(html.get_data(as_text=True))[:2] == (None, None)
    html = c.get(f"/admin/beneficiaire/details/?id={youths['C']}").get_data(as_text=True)
    prev, nxt, back, _p, _n = _nav(html)
    assert (prev, nxt) == (youths["D"], youths["B"]) and back == "/admin/beneficiaire/"  # id descending


def test_neighbours_cost_one_query_each(app, youths, clients, count_queries):
    view = _view(app, "beneficiaire")
    c = clients["siege"]
    list_url = "/admin/beneficiaire/?" + urlencode({"search": "ZZNAV", "sort": _sort_index(view, "identifiant_imilo"),
                                                    "desc": 1})
    url = "/admin/beneficiaire/details/?" + urlencode({"id": youths["C"], "url": list_url})
    c.get(url)
    with count_queries() as n:
        c.get(url)
        with_list = n()
    url = f"/admin/beneficiaire/details/?id={youths['C']}"
    c.get(url)
    with count_queries() as n:
        c.get(url)
        without = n()
    assert with_list == without  # the list's filters change the two neighbour queries, never add one


def _history(html):
    return unescape(re.search(r'id="table-historique">(.*?)</table>', html, re.S)[1])


def test_a_youths_history_includes_its_related_records_events(db, ref, clients):
    rec = _youth_with_everything(db, ref)
    c = clients["siege"]
    page = c.get(f"/admin/allocation/details/?id={rec['a2']}").get_data(as_text=True)
    c.post("/admin/allocation/workflow/valider/row",
           data={"id": rec["a2"], "version": rec["a2_version"], "csrf_token": csrf_from(page)})
    html = c.get(f"/admin/beneficiaire/details/?id={rec['b']}").get_data(as_text=True)
    assert "Tout ce qui est arrivé à" in html
    history = _history(html)
    siege = db.session.execute(sa.select(m.Compte).where(m.Compte.login == "siege")).scalar_one()
    # the allocation's validation, in words, linked to the allocation's page
    row = re.search(r'<tr data-action="valider" data-entite="allocation">(.*?)</tr>', history, re.S)
    assert row, history
    assert re.search(rf"Validée siège par {siege.prenom} {siege.nom} le \d\d/\d\d/\d{{4}}", row[1])
    assert f'<a href="/admin/allocation/details/?id={rec["a2"]}">Allocation n° {rec["a2"]}</a>' in row[1]


def test_history_lines_of_records_out_of_scope_are_not_shown(db, ref, clients):
    rec = _youth_with_everything(db, ref)
    i, cerfa = db.session.get(m.Inscription, rec["i"]), db.session.get(m.Cerfa, rec["c"])
    # an allocation of this north youth filed in the south antenne, and an event on the youth's payment
    sud = f.make_allocation(db.session, i, cerfa, statut=S.ENREGISTREE, mois=date(2025, 6, 1), antenne_id=ref.sud.id,
                            montant=Decimal("100.00"))
    sud_id = sud.id
    for entity, ident in (("allocation", sud_id), ("paiement", rec["p"]), ("allocation", rec["a1"])):
        audit.record(db.session, entity=entity, entity_id=ident, action="modifier", actor_id=None,
                     diff={"motif_blocage": [None, "test"]} if entity == "allocation" else None)
    db.session.commit()
    siege = _history(clients["siege"].get(f"/admin/beneficiaire/details/?id={rec['b']}").get_data(as_text=True))
    assert f"Allocation n° {sud_id}" in siege and f"Paiement n° {rec['p']}" in siege
    html = clients["conseiller"].get(f"/admin/beneficiaire/details/?id={rec['b']}").get_data(as_text=True)
    mine = _history(html)
    assert f"Allocation n° {rec['a1']}" in mine  # their antenne's allocation: shown
    assert f"Allocation n° {sud_id}" not in mine  # another antenne's: not shown
    assert f"Paiement n° {rec['p']}" not in mine  # a grid the conseiller may not open: not shown


def _youth_with_phone_changes(db, ref, count: int, prefix: str) -> dict:
    """_youth_with_everything, whose phone number was changed `count` times (« <prefix>00 », « <prefix>01 » …)."""
    rec = _youth_with_everything(db, ref)
    for k in range(count):
        audit.record(db.session, entity="beneficiaire", entity_id=rec["b"], action="modifier", actor_id=None,
                     diff={"telephone": [None, f"{prefix}{k:02d}"]})
    db.session.commit()
    return rec


def test_history_is_paginated_newest_first(db, ref, clients):
    rec = _youth_with_phone_changes(db, ref, 25, "06000000")
    c = clients["siege"]
    html = c.get(f"/admin/beneficiaire/details/?id={rec['b']}").get_data(as_text=True)
    first = _history(html)
    assert "0600000024" in first and "0600000004" not in first
    assert first.index("0600000024") < first.index("0600000023")  # newest first
    older = unescape(re.search(r'id="historique-anciens" href="([^"]+)"', html)[1])
    page2 = c.get(older).get_data(as_text=True)
    second = _history(page2)
    assert "0600000004" in second and "0600000024" not in second
    assert 'id="historique-recent"' in page2


def test_history_is_one_query_whatever_the_related_records(db, ref, clients, count_queries):
    rec = _youth_with_everything(db, ref)
    c = clients["siege"]
    url = f"/admin/beneficiaire/details/?id={rec['b']}"
    c.get(url)
    with count_queries() as n:
        c.get(url)
        before = n()
    i, cerfa = db.session.get(m.Inscription, rec["i"]), db.session.get(m.Cerfa, rec["c"])
    for month in (5, 6, 7):
        a = f.make_allocation(db.session, i, cerfa, statut=S.ENREGISTREE, mois=date(2025, month, 1))
        audit.record(db.session, entity="allocation", entity_id=a.id, action="creer", actor_id=None)
    db.session.commit()
    with count_queries() as n:
        html = c.get(url).get_data(as_text=True)
        after = n()
    assert after == before and html.count('data-entite="allocation"') >= 3


# ---- issue 20: a record page's statements are built once per view and user, the record bound at execution ------

def _youth_in(db, ref, antenne, allocation_antennes):
    """A youth of `antenne` with one allocation filed in each of `allocation_antennes`, each with an audit event."""
    b, _cb, i, c = f.make_parcours_cej(db.session, antenne, ref.dispositifs)
    ids = []
    for k, where in enumerate(allocation_antennes):
        a = f.make_allocation(db.session, i, c, statut=S.ENREGISTREE, mois=date(2025, 3 + k, 1), antenne_id=where.id,
                              montant=Decimal("100.00"))
        audit.record(db.session, entity="allocation", entity_id=a.id, action="modifier", actor_id=None,
                     diff={"motif_blocage": [None, f"cache {a.id}"]})
        ids.append(a.id)
    db.session.commit()
    return b.id, ids


def test_two_conseillers_of_different_antennes_never_share_a_record_pages_scope_issue20(db, ref, clients):
    """The history and the sections are built once per view and user: the north conseiller's statement (its
    antenne bound in the scope) must never serve the south conseiller, who opens a page of the same grid next."""
    north_youth, (north_alloc,) = _youth_in(db, ref, ref.nord, [ref.nord])
    south_youth, (south_own, south_filed_north) = _youth_in(db, ref, ref.sud, [ref.sud, ref.nord])
    url = "/admin/beneficiaire/details/?id={}"
    html = clients["conseiller"].get(url.format(north_youth)).get_data(as_text=True)
    assert f"Allocation n° {north_alloc}" in _history(html)
    html = clients["conseiller2"].get(url.format(south_youth)).get_data(as_text=True)
    history = _history(html)
    assert f"Allocation n° {south_own}" in history  # their antenne's allocation
    assert f"Allocation n° {south_filed_north}" not in history  # filed in the north: another antenne's
    tab = clients["conseiller2"].get(url.format(south_youth) + "&onglet=allocations").get_data(as_text=True)
    assert f"/admin/allocation/details/?id={south_own}" in tab
    assert f"/admin/allocation/details/?id={south_filed_north}" not in tab
    # and back to the north conseiller: their own scope still, not the south one's
    html = clients["conseiller"].get(url.format(north_youth)).get_data(as_text=True)
    assert f"Allocation n° {north_alloc}" in _history(html)
    assert clients["conseiller"].get(url.format(south_youth)).status_code in (302, 404)  # out of scope: no page


def test_one_users_record_pages_in_turn_each_show_their_own_records_events_issue20(db, ref, clients):
    """The record's id is a parameter of the reused statement: the second page shows its events, not the first's."""
    first, (a_first,) = _youth_in(db, ref, ref.nord, [ref.nord])
    second, (a_second,) = _youth_in(db, ref, ref.nord, [ref.nord])
    c = clients["siege"]
    for youth, mine, other in ((first, a_first, a_second), (second, a_second, a_first), (first, a_first, a_second)):
        html = c.get(f"/admin/beneficiaire/details/?id={youth}").get_data(as_text=True)
        history = _history(html)
        assert f"Allocation n° {mine}" in history and f"Allocation n° {other}" not in history
        tab = c.get(f"/admin/beneficiaire/details/?id={youth}&onglet=allocations").get_data(as_text=True)
        assert f"/admin/allocation/details/?id={mine}" in tab and f"/admin/allocation/details/?id={other}" not in tab
        # the record itself is read by a reused statement too (its id bound): the page is this youth's
        imilo = {y: db.session.get(m.Beneficiaire, y).identifiant_imilo for y in (first, second)}
        assert imilo[youth] in html and imilo[first if youth == second else second] not in html
    a_page = c.get(f"/admin/allocation/details/?id={a_first}").get_data(as_text=True)
    b_page = c.get(f"/admin/allocation/details/?id={a_second}").get_data(as_text=True)
    assert f"cache {a_first}" in _history(a_page) and f"cache {a_second}" not in _history(a_page)
    assert f"cache {a_second}" in _history(b_page) and f"cache {a_first}" not in _history(b_page)


def test_the_first_history_page_comes_with_the_record_in_the_same_statement_issue20(db, ref, clients):
    """PostgreSQL: the record, its previous / next and the first page of its history are one round trip; the older
    pages (« historique_avant ») are a query of their own."""
    rec = _youth_with_phone_changes(db, ref, 22, "06111111")
    c = clients["siege"]
    url = f"/admin/beneficiaire/details/?id={rec['b']}"

    def statements(target):
        seen = []
        listener = lambda conn, cursor, statement, *a: seen.append(statement)  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            html = c.get(target).get_data(as_text=True)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return html, [s for s in seen if "audit_event" in s]

    html, audit_reads = statements(url)
    assert len(audit_reads) == 1 and "FROM beneficiaire" in audit_reads[0]  # read with the record itself
    first = _history(html)
    assert "0611111121" in first and "0611111101" not in first and first.index("0611111121") < first.index("0611111120")
    older = unescape(re.search(r'id="historique-anciens" href="([^"]+)"', html)[1])
    html, audit_reads = statements(older)
    assert len(audit_reads) == 2  # the record's statement, then the older page's own query
    assert "0611111101" in _history(html) and "0611111121" not in _history(html)
