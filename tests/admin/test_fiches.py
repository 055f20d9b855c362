"""Issue 18 §3: record pages — a header (status, amount, the user's transitions; money moves only through the
confirmation page), the related records one query per section, the history in words."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.i18n import format_montant
from backoffice.models.enums import AllocationStatut as S, CerfaStatut, LotStatut
from tests import factories as f
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated


def _youth_with_everything(db, ref):
    """A youth with a CEJ enrolment, its cerfa and RIB, two allocations (one with resources), one paid in a batch."""
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    a1 = f.make_allocation(db.session, i, c, statut=S.TRANSMISE, mois=date(2025, 3, 1), montant=Decimal("561.68"))
    a2 = f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2025, 4, 1), montant=Decimal("400.00"))
    db.session.add(m.Ressource(allocation_id=a2.id, type_ressource="salaire", categorie="deductible",
                               montant=Decimal("161.68"), mois_reference=date(2025, 3, 1)))
    lot = m.LotPaiement(reference="LOT-FICHE-1", dispositif_id=ref.dispositifs["CEJ"].id,
                        date_execution=date(2025, 4, 15), statut=LotStatut.PREPAREE, nb_paiements=1,
                        montant_total=Decimal("561.68"))
    db.session.add(lot)
    db.session.flush()
    e = m.Echeance(dispositif_id=ref.dispositifs["CEJ"].id, source_type="allocation", source_id=a1.id,
                   periode=a1.mois, payee_type="jeune", payee_id=b.id, compte_bancaire_id=cb.id, iban=cb.iban,
                   titulaire=cb.titulaire, libelle="ALLOCATION CEJ", montant=a1.montant, statut="en_lot")
    db.session.add(e)
    db.session.flush()
    p = m.Paiement(lot_id=lot.id, echeance_id=e.id, allocation_id=a1.id, beneficiaire_id=b.id, antenne_id=b.antenne_id,
                   end_to_end_id=f"ALLOC-{a1.id}", montant=a1.montant, titulaire=cb.titulaire, iban=cb.iban,
                   libelle="ALLOCATION CEJ", statut="en_attente")
    db.session.add(p)
    db.session.commit()
    return {"b": b.id, "cb": cb.id, "i": i.id, "c": c.id, "a1": a1.id, "a2": a2.id, "lot": lot.id, "p": p.id,
            "a2_version": a2.version, "lot_version": lot.version}


def _sections(html):
    return dict(re.findall(r'<section class="mt-\d" id="fiche-([a-z_]+)"(.*?)</section>', html, re.S))


def _tabs(html):
    return re.findall(r'id="onglet-([a-z_]+)"', html)


def _tab(client, url, key):
    """The page with the related grid `key`'s tab open (issue 20: only the visible tab is loaded)."""
    html = client.get(f"{url}&onglet={key}").get_data(as_text=True)
    return _sections(html)[key]


def test_a_youths_page_reaches_each_related_record(db, ref, clients):
    rec = _youth_with_everything(db, ref)
    c = clients["siege"]
    url = f"/admin/beneficiaire/details/?id={rec['b']}"
    html = c.get(url).get_data(as_text=True)
    assert set(_tabs(html)) >= {"parcours", "cerfa", "allocations", "rib", "paiements"}
    assert list(_sections(html)) == ["parcours"]  # only the visible tab is loaded
    sections = {key: _tab(c, url, key) for key in _tabs(html)}
    expected = {"parcours": f"/admin/inscription/details/?id={rec['i']}",
                "cerfa": f"/admin/cerfa/details/?id={rec['c']}",
                "allocations": f"/admin/allocation/details/?id={rec['a2']}",
                "rib": f"/admin/compte_bancaire/details/?id={rec['cb']}",
                "paiements": f"/admin/paiement/details/?id={rec['p']}"}
    for key, url in expected.items():
        assert f'href="{url}"' in unescape(sections[key]), key
        assert c.get(url).status_code == 200, key
    assert "LOT-FICHE-1" in sections["paiements"]  # the payment's batch, linked
    assert f'href="/admin/lot_paiement/details/?id={rec["lot"]}"' in unescape(sections["paiements"])


def test_the_conseiller_sees_only_the_sections_of_grids_they_may_open(db, ref, clients):
    rec = _youth_with_everything(db, ref)
    html = clients["conseiller"].get(f"/admin/beneficiaire/details/?id={rec['b']}").get_data(as_text=True)
    assert "allocations" in _tabs(html) and "paiements" not in _tabs(html)
    html = clients["conseiller"].get(f"/admin/beneficiaire/details/?id={rec['b']}&onglet=paiements")
    assert "paiements" not in _sections(html.get_data(as_text=True))  # a tab typed by hand: not opened


def test_an_allocations_page_has_its_header_resources_and_payment(db, ref, clients):
    rec = _youth_with_everything(db, ref)
    html = clients["siege"].get(f"/admin/allocation/details/?id={rec['a2']}").get_data(as_text=True)
    header = unescape(re.search(r'id="entete-fiche">(.*?)</header>', html, re.S)[1])
    assert 'data-statut="soumise"' in header and format_montant(Decimal("400.00")) in header
    assert 'data-transition="valider"' in header and 'data-transition="refuser"' in header
    ressources = _tab(clients["siege"], f"/admin/allocation/details/?id={rec['a2']}", "ressources")
    assert format_montant(Decimal("161.68")) in unescape(ressources)
    paid = _tab(clients["siege"], f"/admin/allocation/details/?id={rec['a1']}", "paiements")
    assert f"ALLOC-{rec['a1']}" in paid and "LOT-FICHE-1" in paid


def test_the_history_says_who_did_what_and_when(db, ref, clients, app):
    rec = _youth_with_everything(db, ref)
    c = clients["siege"]
    page = c.get(f"/admin/allocation/details/?id={rec['a2']}").get_data(as_text=True)
    c.post("/admin/allocation/workflow/valider/row",
           data={"id": rec["a2"], "version": rec["a2_version"], "csrf_token": csrf_from(page)})
    html = c.get(f"/admin/allocation/details/?id={rec['a2']}").get_data(as_text=True)
    history = unescape(re.search(r'id="table-historique">(.*?)</table>', html, re.S)[1])
    siege = db.session.execute(sa.select(m.Compte).where(m.Compte.login == "siege")).scalar_one()
    assert re.search(rf"Validée siège par {siege.prenom} {siege.nom} le \d\d/\d\d/\d{{4}} à \d\d:\d\d", history), \
        history


def test_emitting_a_batch_from_its_page_goes_through_the_confirmation(db, ref, clients):
    rec = _youth_with_everything(db, ref)
    c = clients["comptable"]
    page = c.get(f"/admin/lot_paiement/details/?id={rec['lot']}").get_data(as_text=True)
    header = re.search(r'id="entete-fiche">(.*?)</header>', page, re.S)[1]
    assert 'data-transition="emettre"' in header and "Émettre le fichier SEPA…" in unescape(header)
    resp = c.post("/admin/lot_paiement/workflow/emettre/row",
                  data={"id": rec["lot"], "version": rec["lot_version"], "csrf_token": csrf_from(page)},
                  headers={"Referer": f"http://localhost/admin/lot_paiement/details/?id={rec['lot']}"})
    assert resp.status_code == 302 and "/workflow/run/" in resp.headers["Location"]  # not one click
    db.session.expire_all()
    assert db.session.get(m.LotPaiement, rec["lot"]).statut == LotStatut.PREPAREE


def test_detail_pages_load_each_section_in_one_query(db, ref, clients):
    rec = _youth_with_everything(db, ref)
    c = clients["siege"]
    url = f"/admin/beneficiaire/details/?id={rec['b']}"
    c.get(url)  # warm

    def count():
        statements = []
        listener = lambda conn, cursor, statement, *a: statements.append(statement)  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert c.get(url).status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    before = count()
    i, cerfa = db.session.get(m.Inscription, rec["i"]), db.session.get(m.Cerfa, rec["c"])
    for month in (5, 6, 7, 8):
        f.make_allocation(db.session, i, cerfa, statut=S.ENREGISTREE, mois=date(2025, month, 1))
    db.session.commit()
    assert count() == before  # more rows, not more queries


def test_the_record_page_links_to_everything_that_happened_to_it_in_the_audit_journal(db, ref, clients):
    """Issue 18 §6: « tout ce qui est arrivé à … » in the audit grid, one click from the record: the journal
    filtered on this record (entity and id), its events only; offered to the roles that open the journal."""
    a = db.session.execute(sa.select(m.Allocation).where(m.Allocation.statut == S.VERSEE).limit(1)).scalar_one()
    events = db.session.execute(sa.select(sa.func.count()).select_from(m.AuditEvent).where(
        m.AuditEvent.entity == "allocation", m.AuditEvent.entity_id == a.id)).scalar_one()
    assert events >= 2
    html = clients["manager"].get(f"/admin/allocation/details/?id={a.id}").get_data(as_text=True)
    link = re.search(r'id="historique-journal" href="([^"]+)"', html)
    assert link, "pas de lien vers le journal"
    journal = clients["manager"].get(unescape(link[1]))
    assert journal.status_code == 200
    body = journal.get_data(as_text=True)
    assert f"Tout le filtre ({events})" in body or re.search(r'id="compte-grille">\s*%d\b' % events, body)
    # the siège does not open the journal: no link
    siege = clients["siege"].get(f"/admin/allocation/details/?id={a.id}").get_data(as_text=True)
    assert 'id="historique-journal"' not in siege
