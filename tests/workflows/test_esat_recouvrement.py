"""ESAT and EA as debtors in recovery (issue 16, R53, R54, R47) on the populated database: a GRTH declaration
corrected downwards after payment and an EA declaration whose ≥ 80 % condition fails afterwards each make an ordre
de reversement owed by the structure, notified by mail, offset against its next payable of the same programme;
the ESAT extranet shows each structure its own orders only (by URL too).
SMIC brut mensuel 1 801,80 € (barème du 01/11/2024), aide au poste ESAT 50,7 %, EA 80 % (rules.esat)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice import policy
from backoffice.models.enums import (DeclarationEsatStatut as DS, LotStatut, PaiementStatut, ReversementStatut as RS,
                                     Role, SourceEcheance as SE, TypeStructure)
from backoffice.workflows import Selection, run
from backoffice.workflows import esat as wf
from backoffice.workflows.paiements import emettre_lot
from backoffice.workflows.reversements import REVERSEMENT
from tests.workflows.test_esat import compte, structure

pytestmark = pytest.mark.populated

AVRIL, MAI = datetime(2025, 4, 5, 10, 0), datetime(2025, 5, 6, 10, 0)


@pytest.fixture
def acteurs(db, ref):
    s = db.session
    e1 = structure(s, "R-ESAT1", TypeStructure.ESAT)
    e2 = structure(s, "R-ESAT2", TypeStructure.ESAT)
    ea1 = structure(s, "R-EA1", TypeStructure.EA)
    out = dict(e1=e1, e2=e2, ea1=ea1, u1=compte(s, "r-esat1", Role.PARTENAIRE, e1.id),
               u2=compte(s, "r-esat2", Role.PARTENAIRE, e2.id), uea1=compte(s, "r-ea1", Role.PARTENAIRE, ea1.id))
    s.commit()
    return out


def _payer(s, ref, workflow, decl, source, now):
    """Validated, liquidated, its batch emitted: returns its payable's payment."""
    assert run(s, workflow, "valider", Selection.of_ids([decl.id]), ref.comptes["siege"], now=now).changed == 1
    assert run(s, workflow, "liquider", Selection.of_ids([decl.id]), ref.comptes["comptable"], now=now).changed == 1
    s.commit()
    p = s.scalars(sa.select(m.Paiement).join(m.Echeance, m.Echeance.id == m.Paiement.echeance_id)
                  .where(m.Echeance.source_type == source, m.Echeance.source_id == decl.id)).one()
    assert emettre_lot(s, p.lot_id, now=now, actor=ref.comptes["comptable"]).changed == 1
    s.commit()
    s.refresh(p)
    return p


def _ordre(s, structure_id):
    return s.scalars(sa.select(m.Reversement).where(m.Reversement.debiteur_type == "esat",
                                                    m.Reversement.debiteur_id == structure_id)).one()


def test_R53_grth_over_declared_is_recovered_by_offsetting_the_next_reimbursement(db, ref, acteurs):
    s, a = db.session, acteurs
    comptable = ref.comptes["comptable"]
    mars = wf.deposer_garantie(s, actor=a["u1"], esat_id=a["e1"].id, periode=date(2025, 3, 1), nb_travailleurs=12,
                               etp=D("10"), cotisations_obligatoires=D("850.00"), prevoyance=D("40.00"),
                               formation=D("20.00"), now=AVRIL)
    # 10 × 0,507 × 1 801,80 = 9 135,13 ; + 850,00 + 40,00 + 20,00 = 10 045,13 paid
    p = _payer(s, ref, wf.GARANTIE, mars, SE.ESAT_GARANTIE, AVRIL)
    assert (p.montant, p.statut) == (D("10045.13"), PaiementStatut.EMIS)
    # the control finds 8 ETP: 8 × 0,507 × 1 801,80 = 7 308,10 ; + 910,00 = 8 218,10 → 10 045,13 − 8 218,10 = 1 827,03
    params = {"etp": "8", "cotisations_obligatoires": D("850.00"), "prevoyance": D("40.00"), "formation": D("20.00"),
              "motif": "Contrôle sur place : 8 ETP"}
    dry = run(s, wf.GARANTIE, "corriger", Selection.of_ids([mars.id]), ref.comptes["siege"], dry_run=True, now=AVRIL)
    assert dry.changed == 1 and not s.scalars(sa.select(m.Reversement).where(
        m.Reversement.debiteur_type == "esat", m.Reversement.debiteur_id == a["e1"].id)).all()
    # figures that do not reduce the reimbursement are refused, nothing written
    same = run(s, wf.GARANTIE, "corriger", Selection.of_ids([mars.id]), ref.comptes["siege"], now=AVRIL,
               params={**params, "etp": "10"})
    assert same.changed == 0 and "rien à reverser (R53)" in same.message()
    report = run(s, wf.GARANTIE, "corriger", Selection.of_ids([mars.id]), ref.comptes["siege"], now=AVRIL,
                 params=params)
    s.commit()
    assert report.changed == 1, report.message()
    ordre = _ordre(s, a["e1"].id)
    s.refresh(mars)
    assert (ordre.montant, ordre.origine, ordre.dispositif.code, ordre.statut, mars.reversement_id, mars.montant) == (
        D("1827.03"), "correction_declaration", "ESAT", RS.NOTIFIE, ordre.id, D("8218.10"))
    # notified by mail, to the ESAT's address (its account's, the structure having none)
    mail = s.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.cle == f"reversement-notifie-{ordre.id}")).one()
    assert mail.destinataire == "r-esat1@exemple.fr"
    # once per declaration: a replay is refused
    again = run(s, wf.GARANTIE, "corriger", Selection.of_ids([mars.id]), ref.comptes["siege"], now=AVRIL,
                params={**params, "etp": "7"})
    assert again.changed == 0 and "déjà été émis" in again.message()
    # the ESAT agrees to the offset; its April reimbursement pays the rest: 10 045,13 − 1 827,03 = 8 218,10
    assert run(s, REVERSEMENT, "accord_compensation", Selection.of_ids([ordre.id]), comptable, now=MAI,
               params={"reference_accord": "Courrier de l'ESAT du 02/05/2025"}).changed == 1
    avril = wf.deposer_garantie(s, actor=a["u1"], esat_id=a["e1"].id, periode=date(2025, 4, 1), nb_travailleurs=12,
                                etp=D("10"), cotisations_obligatoires=D("850.00"), prevoyance=D("40.00"),
                                formation=D("20.00"), now=MAI)
    p2 = _payer(s, ref, wf.GARANTIE, avril, SE.ESAT_GARANTIE, MAI)
    s.refresh(ordre)
    assert (p2.montant, p2.statut) == (D("8218.10"), PaiementStatut.EMIS)
    assert (ordre.montant_compense, ordre.statut) == (D("1827.03"), RS.SOLDE)
    [comp] = s.scalars(sa.select(m.Compensation).where(m.Compensation.reversement_id == ordre.id)).all()
    assert (comp.paiement_id, comp.montant) == (p2.id, D("1827.03"))
    lot = s.get(m.LotPaiement, p2.lot_id)
    assert lot.statut == LotStatut.EMISE and lot.dispositif.code == "ESAT"
    # the other ESAT's next payment is not touched (same programme, another debtor)
    assert s.scalar(sa.select(sa.func.count()).select_from(m.Reversement).where(
        m.Reversement.debiteur_type == "esat", m.Reversement.debiteur_id == a["e2"].id)) == 0


def test_R54_ea_condition_failing_afterwards_is_recovered_on_the_next_aid(db, ref, acteurs):
    s, a = db.session, acteurs
    mars = wf.deposer_ea(s, actor=a["uea1"], ea_id=a["ea1"].id, periode=date(2025, 3, 1), effectif_total=20,
                         effectif_th=16, postes_etp=D("15"), now=AVRIL)
    p = _payer(s, ref, wf.EA, mars, SE.EA_AIDE_POSTE, AVRIL)
    assert p.montant == D("21621.60")  # 15 × 0,80 × 1 801,80
    # still 80 % (16 / 20): nothing owed
    ok = run(s, wf.EA, "constater_sous_80", Selection.of_ids([mars.id]), ref.comptes["siege"], now=AVRIL,
             params={"effectif_total": "20", "effectif_th": "16", "motif": "Contrôle"})
    assert ok.changed == 0 and "remplit la condition des 80 %" in ok.message()
    # the control finds 15 / 20 = 75 % < 80 %: the whole aid of March is owed back (R54)
    report = run(s, wf.EA, "constater_sous_80", Selection.of_ids([mars.id]), ref.comptes["siege"], now=AVRIL,
                 params={"effectif_total": "20", "effectif_th": "15", "motif": "Contrôle de l'effectif"})
    s.commit()
    assert report.changed == 1, report.message()
    ordre = _ordre(s, a["ea1"].id)
    s.refresh(mars)
    assert (ordre.montant, ordre.dispositif.code, ordre.statut, mars.effectif_th) == (
        D("21621.60"), "EA", RS.NOTIFIE, 15)
    run(s, REVERSEMENT, "accord_compensation", Selection.of_ids([ordre.id]), ref.comptes["comptable"], now=MAI,
        params={"reference_accord": "Accord de l'EA"})
    # April: 20 aided posts (20 / 25 = 80 %): 20 × 0,80 × 1 801,80 = 28 828,80 − 21 621,60 = 7 207,20 transferred
    avril = wf.deposer_ea(s, actor=a["uea1"], ea_id=a["ea1"].id, periode=date(2025, 4, 1), effectif_total=25,
                          effectif_th=20, postes_etp=D("20"), now=MAI)
    p2 = _payer(s, ref, wf.EA, avril, SE.EA_AIDE_POSTE, MAI)
    s.refresh(ordre)
    assert (p2.montant, ordre.montant_compense, ordre.statut) == (D("7207.20"), D("21621.60"), RS.SOLDE)


def test_esat_extranet_shows_each_esat_its_own_orders_only_by_url_too(db, ref, acteurs, login_as):
    s, a = db.session, acteurs
    d = wf.deposer_garantie(s, actor=a["u1"], esat_id=a["e1"].id, periode=date(2025, 3, 1), nb_travailleurs=12,
                            etp=D("10"), cotisations_obligatoires=D("850.00"), now=AVRIL)
    _payer(s, ref, wf.GARANTIE, d, SE.ESAT_GARANTIE, AVRIL)
    assert run(s, wf.GARANTIE, "corriger", Selection.of_ids([d.id]), ref.comptes["siege"], now=AVRIL,
               params={"etp": "9", "cotisations_obligatoires": D("850.00"), "motif": "Contrôle"}).changed == 1
    s.commit()
    # the ASP's button on the declaration (its page), the ESAT's user has none
    html = login_as(ref.comptes["siege"].login).get(f"/admin/declaration_garantie/details/?id={d.id}")
    assert 'data-transition="corriger"' in html.get_data(as_text=True)
    html = login_as("r-esat1").get(f"/admin/declaration_garantie/details/?id={d.id}")
    assert html.status_code == 200 and 'data-transition="corriger"' not in html.get_data(as_text=True)
    ordre = _ordre(s, a["e1"].id)
    numero = ordre.numero
    assert ordre.id in s.scalars(sa.select(m.Reversement.id).where(policy.row_scope(m.Reversement, a["u1"]))).all()
    assert ordre.id not in s.scalars(sa.select(m.Reversement.id).where(
        policy.row_scope(m.Reversement, a["u2"]))).all()
    own = login_as("r-esat1")
    page = own.get("/admin/reversement_esat/")
    assert page.status_code == 200 and numero in page.get_data(as_text=True)
    detail = own.get(f"/admin/reversement_esat/details/?id={ordre.id}")
    assert detail.status_code == 200 and numero in detail.get_data(as_text=True)
    other = login_as("r-esat2")
    page = other.get("/admin/reversement_esat/")
    assert page.status_code == 200 and numero not in page.get_data(as_text=True)
    for url in (f"/admin/reversement_esat/details/?id={ordre.id}", f"/admin/reversement_programme/details/?id={ordre.id}",
                f"/admin/reversement/details/?id={ordre.id}"):
        resp = other.get(url, follow_redirects=True)
        assert numero not in resp.get_data(as_text=True), url
