"""Adultes-relais (R52) through its workflows, on the populated database: a month at 80 % paid to the employer,
the monthly run in bulk on a filter with its dry run and a replay, the eligibility refused, a quarter with a month
of absence regularised into an ordre de reversement, a complement, a renewal."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import (ConventionStatut, DeclarationARStatut, EcheanceStatut, Role, SourceEcheance,
                                     TypeStructure)
from backoffice.passwords import hash_password
from backoffice.workflows import Selection, run
from backoffice.workflows import adultes_relais as wf
from backoffice.workflows.errors import TransitionRefused
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.populated

NOW = datetime(2025, 4, 10, 9, 0)
IBAN = "FR1420041010050500013M02606"


def employeur(s, code):
    e = m.Structure(code=code, nom=f"Association {code}", type=TypeStructure.EMPLOYEUR,
                    email=f"{code.lower()}@asso.example.fr")
    s.add(e)
    s.flush()
    c = m.Compte(login=code.lower(), email=f"{code.lower()}@asso.example.fr", nom="Asso", prenom="Ciation",
                 role=Role.PARTENAIRE, structure_id=e.id, password_hash=hash_password(DEMO_PASSWORD),
                 must_change_password=False)
    s.add(c)
    s.flush()
    return e, c


def poste(s, emp, numero, quotite="80", naissance=date(1980, 5, 1), debut=date(2025, 1, 1), qpv=True, iban=IBAN):
    p = m.PosteAdulteRelais(numero_convention=numero, employeur_id=emp.id, salarie_nom="Diallo", salarie_prenom="Awa",
                            salarie_date_naissance=naissance, date_debut=debut,
                            date_fin=date(debut.year + 2, 12, 31), quotite=D(quotite), salarie_qpv=qpv,
                            salarie_sans_emploi=True, iban=iban, aide_annuelle=D("0"), aide_mensuelle=D("0"))
    wf.preparer_poste(p)
    s.add(p)
    s.flush()
    return p


def payer(s, ref, ids, mois, dry_run=False, now=NOW):
    return run(s, wf.POSTE, "payer_mois", ids if isinstance(ids, Selection) else Selection.of_ids(ids),
               ref.comptes["comptable"], params={"mois_paye": mois}, dry_run=dry_run, now=now)


def mois_payes(s, poste_id):
    return s.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS,
                                                 m.Echeance.source_id == poste_id).order_by(m.Echeance.periode)).all()


def test_R52_a_month_at_80_percent_is_paid_to_the_employer(db, ref):
    s = db.session
    emp, _ = employeur(s, "ARA")
    p = poste(s, emp, "AR-T-0001", quotite="80")
    # barème AR_AIDE_ANNUELLE of 2024-01-01: 22 810,61 × 80 / 100 / 12 = 1 520,71 (shown on the post)
    assert (p.aide_annuelle, p.aide_mensuelle) == (D("22810.61"), D("1520.71"))
    report = payer(s, ref, [p.id], "2025-03-01")
    s.commit()
    assert report.changed == 1, report.message()
    [e] = mois_payes(s, p.id)
    assert (e.montant, e.periode, e.payee_type.value, e.payee_id, e.iban, e.statut) == (
        D("1520.71"), date(2025, 3, 1), "partenaire", emp.id, IBAN, EcheanceStatut.EN_LOT)
    assert e.dispositif.code == "AR" and "AR-T-0001 03/2025" in e.libelle


def test_R52_monthly_run_in_bulk_on_a_filter_dry_run_confirmation_and_a_replay(db, ref):
    s = db.session
    emp, _ = employeur(s, "ARB")
    postes = [poste(s, emp, f"AR-T-01{k:02d}", quotite=q) for k, q in enumerate(("100", "80", "50"))]
    hors = poste(s, emp, "AR-T-0199", debut=date(2025, 5, 1))  # starts after March
    s.commit()
    filtre = sa.select(m.PosteAdulteRelais.id).where(m.PosteAdulteRelais.numero_convention.like("AR-T-01%"))
    dry = payer(s, ref, Selection.of_query(filtre), "2025-03-01", dry_run=True)
    assert (dry.total, dry.changed) == (4, 3) and any("hors de la convention" in r for r in dry.refused)
    # 1 900,88 + 1 520,71 + 950,44 (22 810,61 × 50 / 100 / 12 = 950,442…) = 4 372,03
    montants = wf.montants_du_mois(s, dry.eligible_ids, date(2025, 3, 1))
    assert sum(montants.values()) == D("4372.03") and hors.id not in dry.eligible_ids
    # (the demo's own payables lie under the test's rows: only ours are counted)
    ours = m.Echeance.source_id.in_([x.id for x in postes] + [hors.id])
    assert not s.scalar(sa.select(sa.func.count()).select_from(m.Echeance).where(
        m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS, ours))
    report = payer(s, ref, Selection.of_query(filtre), "2025-03-01")
    s.commit()
    assert report.changed == 3
    total = s.scalar(sa.select(sa.func.sum(m.Echeance.montant)).where(
        m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS, ours))
    assert total == D("4372.03")
    # the payables are in the AR batch of the next payment day
    lots = set(s.scalars(sa.select(m.Paiement.lot_id).join(m.Echeance, m.Echeance.id == m.Paiement.echeance_id).where(
        m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS, ours)))
    assert len(lots) == 1 and s.get(m.LotPaiement, lots.pop()).dispositif.code == "AR"
    # a replay changes nothing: the month is paid (unique key), no new payable nor audit event
    events = s.scalar(sa.select(sa.func.count()).select_from(m.AuditEvent))
    replay = payer(s, ref, Selection.of_query(filtre), "2025-03-01")
    s.commit()
    assert replay.changed == 0 and sum(n for r, n in replay.refused.items() if "déjà versée" in r) == 3
    assert s.scalar(sa.select(sa.func.count()).select_from(m.AuditEvent)) == events
    assert [len(mois_payes(s, x.id)) for x in postes] == [1, 1, 1]


def test_R52_eligibility_is_checked_with_the_dated_age_threshold(db, ref):
    s = db.session
    emp, _ = employeur(s, "ARC")
    # 27 on the hiring date 2025-01-01: eligible from 2024 (26), not under the 2015 text (30)
    poste(s, emp, "AR-T-0201", naissance=date(1997, 6, 1))
    with pytest.raises(TransitionRefused, match="moins de 30 ans"):
        poste(s, emp, "AR-T-0202", naissance=date(1997, 6, 1), debut=date(2023, 6, 1))
    with pytest.raises(TransitionRefused, match="QPV"):
        poste(s, emp, "AR-T-0203", qpv=False)
    # a post made ineligible behind the screens is refused by the monthly run, with the reason named
    p = s.scalar(sa.select(m.PosteAdulteRelais).where(m.PosteAdulteRelais.numero_convention == "AR-T-0201"))
    s.execute(sa.update(m.PosteAdulteRelais).where(m.PosteAdulteRelais.id == p.id).values(salarie_sans_emploi=False))
    report = payer(s, ref, [p.id], "2025-03-01")
    assert report.changed == 0 and "salarié non éligible : n'était pas sans emploi" in report.message()


def declarer(s, p, compte, absences=(0, 0, 0), fin_contrat=None, annee=2025, trimestre=1, now=NOW):
    wf.verifier_declaration(s, actor=compte, poste_id=p.id, annee=annee, trimestre=trimestre, absences=absences,
                            date_fin_contrat=fin_contrat)
    d = m.DeclarationAdulteRelais(poste_id=p.id, annee=annee, trimestre=trimestre, absences_mois_1=absences[0],
                                  absences_mois_2=absences[1], absences_mois_3=absences[2], date_fin_contrat=fin_contrat)
    s.add(d)
    s.flush()
    report = run(s, wf.DECLARATION, "deposer", Selection.of_ids([d.id]), compte, now=now)
    assert report.changed == 1, report.message()
    return d


def test_R52_a_quarter_with_a_month_of_absence_leads_to_a_reversement(db, ref):
    s = db.session
    emp, compte = employeur(s, "ARD")
    p = poste(s, emp, "AR-T-0301", quotite="80")
    d = declarer(s, p, compte, absences=(0, 28, 0))  # February: 28 days of unpaid absence out of 28
    # the months must be paid first
    early = run(s, wf.DECLARATION, "regulariser", Selection.of_ids([d.id]), ref.comptes["comptable"], now=NOW)
    assert early.changed == 0 and "n'a pas encore été payé" in early.message()
    for mois in ("2025-01-01", "2025-02-01", "2025-03-01"):
        assert payer(s, ref, [p.id], mois).changed == 1
    report = run(s, wf.DECLARATION, "regulariser", Selection.of_ids([d.id]), ref.comptes["comptable"], now=NOW)
    s.commit()
    assert report.changed == 1, report.message()
    s.refresh(d)
    # barème of 2024-01-01 at 80 %: 3 × 1 520,71 = 4 562,13 paid; due 1 520,71 + 0,00 + 1 520,71 = 3 041,42;
    # gap 3 041,42 − 4 562,13 = −1 520,71 → an ordre de reversement of 1 520,71 owed by the employer
    assert (d.statut, d.montant_verse, d.montant_du, d.ecart) == (
        DeclarationARStatut.REGULARISEE, D("4562.13"), D("3041.42"), D("-1520.71"))
    ordre = s.get(m.Reversement, d.reversement_id)
    assert (ordre.montant, ordre.debiteur_type, ordre.debiteur_id, ordre.origine, ordre.dispositif.code) == (
        D("1520.71"), "partenaire", emp.id, "regularisation", "AR")
    assert not s.scalar(sa.select(sa.func.count()).select_from(m.Echeance).where(
        m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_REGUL, m.Echeance.source_id == d.id))
    # replay: nothing more
    again = run(s, wf.DECLARATION, "regulariser", Selection.of_ids([d.id]), ref.comptes["comptable"], now=NOW)
    assert again.changed == 0 and s.scalar(sa.select(sa.func.count()).select_from(m.Reversement).where(
        m.Reversement.debiteur_type == "partenaire", m.Reversement.debiteur_id == emp.id)) == 1


def test_R52_a_quarter_paid_short_gives_a_complement_and_a_contract_end_stops_the_payments(db, ref):
    s = db.session
    emp, compte = employeur(s, "ARE")
    p = poste(s, emp, "AR-T-0401", quotite="100")
    for mois in ("2025-01-01", "2025-02-01", "2025-03-01"):
        payer(s, ref, [p.id], mois)
    # one month's payable cancelled (rejected and never repaid): 2 × 1 900,88 = 3 801,76 paid
    [jan] = [e for e in mois_payes(s, p.id) if e.periode == date(2025, 1, 1)]
    s.execute(sa.update(m.Echeance).where(m.Echeance.id == jan.id).values(statut=EcheanceStatut.ANNULEE, motif="test"))
    # the contract ended on 15/03/2025: March due 1 900,88 × 15 / 31 = 919,78
    d = declarer(s, p, compte, fin_contrat=date(2025, 3, 15))
    run(s, wf.DECLARATION, "regulariser", Selection.of_ids([d.id]), ref.comptes["comptable"], now=NOW)
    s.commit()
    s.refresh(d)
    # due 1 900,88 + 1 900,88 + 919,78 = 4 721,54; paid 3 801,76; complement 919,78
    assert (d.montant_du, d.montant_verse, d.ecart) == (D("4721.54"), D("3801.76"), D("919.78"))
    [c] = s.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_REGUL,
                                                m.Echeance.source_id == d.id)).all()
    assert (c.montant, c.source_id, c.periode, c.payee_id) == (D("919.78"), d.id, date(2025, 1, 1), emp.id)
    s.refresh(p)
    assert p.date_fin_contrat == date(2025, 3, 15)
    after = payer(s, ref, [p.id], "2025-04-01")
    assert after.changed == 0 and "contrat de travail terminé" in after.message()
    assert run(s, wf.POSTE, "terminer", Selection.of_ids([p.id]), ref.comptes["siege"], now=NOW).changed == 1


def test_R52_a_quarter_is_declared_once_over_and_an_agreement_renewed_for_three_years(db, ref):
    s = db.session
    emp, compte = employeur(s, "ARF")
    p = poste(s, emp, "AR-T-0501")
    d = m.DeclarationAdulteRelais(poste_id=p.id, annee=2025, trimestre=2)
    s.add(d)
    s.flush()
    early = run(s, wf.DECLARATION, "deposer", Selection.of_ids([d.id]), compte, now=datetime(2025, 6, 30, 18))
    assert early.changed == 0 and "pas terminé" in early.message()
    assert run(s, wf.DECLARATION, "deposer", Selection.of_ids([d.id]), compte, now=datetime(2025, 7, 1, 8)).changed == 1
    # renewal: only in the last 6 months (ends 31/12/2027)
    assert run(s, wf.POSTE, "renouveler", Selection.of_ids([p.id]), ref.comptes["siege"], now=NOW).changed == 0
    report = run(s, wf.POSTE, "renouveler", Selection.of_ids([p.id]), ref.comptes["siege"], now=datetime(2027, 9, 1))
    s.commit()
    s.refresh(p)
    assert report.changed == 1 and (p.date_fin, p.renouvellements) == (date(2030, 12, 31), 1)
    # another employer's post is a missing one
    _, autre = employeur(s, "ARG")
    with pytest.raises(TransitionRefused, match="Poste introuvable"):
        wf.verifier_declaration(s, actor=autre, poste_id=p.id, annee=2025, trimestre=1, absences=(0, 0, 0),
                                date_fin_contrat=None)
