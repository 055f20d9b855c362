"""NACRE (R51) through its workflows, on the populated database: the advance at the first contract, the monthly
run in bulk on a filter (dry run, confirmation, payables in the SEPA batch, a replay that changes nothing), the
expertise with its attachments, the excess advance recovered at the end."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import (ConventionStatut, EcheanceStatut, EtatActiviteStatut, LotStatut, Role,
                                     SourceEcheance, TypeStructure)
from backoffice.passwords import hash_password
from backoffice.workflows import Selection, run
from backoffice.workflows import nacre as wf
from backoffice.workflows.paiements import emettre_lot
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 16, 9, 0)
IBANS = ("FR1420041010050500013M02606", "FR7630006000011234567890189")
PDF = b"%PDF-1.4\n% piece\n%%EOF\n"


def operateur(s, code, iban=IBANS[0]):
    """An operator (structure), its partner account (login = code in lower case) and nothing else."""
    op = m.Structure(code=code, nom=f"Opérateur {code}", type=TypeStructure.OPERATEUR_NACRE,
                     email=f"{code.lower()}@operateur.example.fr")
    s.add(op)
    s.flush()
    c = m.Compte(login=code.lower(), email=f"{code.lower()}@operateur.example.fr", nom="Opé", prenom="Rateur",
                 role=Role.PARTENAIRE, structure_id=op.id, password_hash=hash_password(DEMO_PASSWORD),
                 must_change_password=False)
    s.add(c)
    s.flush()
    return op, c


def convention(s, op, numero, subvention="90000.00", debut=date(2025, 1, 1), fin=date(2027, 12, 31), iban=IBANS[0]):
    c = m.ConventionNacre(numero=numero, operateur_id=op.id, subvention_annuelle=D(subvention), date_debut=debut,
                          date_fin=fin, tarif_phase_1=D("120.00"), tarif_phase_2=D("80.00"), tarif_phase_3=D("45.00"),
                          iban=iban, bic="PSSTFRPPLIL")
    s.add(c)
    s.flush()
    return c


def signer(s, ref, conv, jour=date(2025, 2, 15), now=NOW):
    return run(s, wf.CONVENTION, "signer_premier_contrat", Selection.of_ids([conv.id]), ref.comptes["siege"],
               params={"date_premier_contrat": jour}, now=now)


def etat(s, ref, conv, compte, mois, p1, p2, p3, valider=True, now=NOW):
    e = m.EtatActiviteNacre(convention_id=conv.id, mois=mois, nb_phase_1=p1, nb_phase_2=p2, nb_phase_3=p3)
    s.add(e)
    s.flush()
    assert run(s, wf.ETAT, "transmettre", Selection.of_ids([e.id]), compte, now=now).changed == 1
    if valider:
        assert run(s, wf.ETAT, "valider", Selection.of_ids([e.id]), ref.comptes["siege"], now=now).changed == 1
    return e


def echeances(s, source, source_id=None):
    q = sa.select(m.Echeance).where(m.Echeance.source_type == source)
    if source_id is not None:  # the demo's own payables lie under the test's rows (populated database)
        ids = source_id if isinstance(source_id, (list, tuple, set)) else [source_id]
        q = q.where(m.Echeance.source_id.in_(list(ids)))
    return s.scalars(q.order_by(m.Echeance.periode)).all()


def test_R51_the_advance_is_paid_once_the_first_contract_is_signed(db, ref):
    s = db.session
    op, _ = operateur(s, "OPA")
    conv = convention(s, op, "NACRE-T-0001")
    # nothing before the first contract: no advance typed, no monthly payment
    assert conv.avance_versee == D("0.00") and not echeances(s, SourceEcheance.NACRE_AVANCE, conv.id)
    dry = run(s, wf.CONVENTION, "signer_premier_contrat", Selection.of_ids([conv.id]), ref.comptes["siege"],
              params={"date_premier_contrat": date(2025, 2, 15)}, dry_run=True, now=NOW)
    assert dry.changed == 1 and not echeances(s, SourceEcheance.NACRE_AVANCE, conv.id)
    report = signer(s, ref, conv)
    assert report.changed == 1, report.message()
    s.commit()
    s.refresh(conv)
    # R51, barème NACRE_TAUX_AVANCE of 2009-01-01 (25 %): 90 000,00 × 0,25 = 22 500,00
    assert conv.avance_versee == D("22500.00") and conv.date_premier_contrat == date(2025, 2, 15)
    [e] = echeances(s, SourceEcheance.NACRE_AVANCE, conv.id)
    assert (e.montant, e.periode, e.payee_type.value, e.payee_id, e.statut) == (
        D("22500.00"), date(2025, 2, 1), "partenaire", op.id, EcheanceStatut.EN_LOT)
    # once: a second signature is refused, nothing more is owed
    again = signer(s, ref, conv, jour=date(2025, 3, 1))
    assert again.changed == 0 and "avance déjà versée" in again.message() and "(R51)" in again.message()
    assert len(echeances(s, SourceEcheance.NACRE_AVANCE, conv.id)) == 1
    # a date outside the convention is refused
    other = convention(s, op, "NACRE-T-0002")
    out = signer(s, ref, other, jour=date(2024, 12, 31))
    assert out.changed == 0 and "hors de la période" in out.message()
    # the payment officer cannot sign; the audit names the transition
    with pytest.raises(Exception):
        run(s, wf.CONVENTION, "signer_premier_contrat", Selection.of_ids([other.id]), ref.comptes["conseiller"],
            params={"date_premier_contrat": date(2025, 2, 15)}, now=NOW)
    assert s.scalar(sa.select(sa.func.count()).select_from(m.AuditEvent).where(
        m.AuditEvent.entity == "convention_nacre", m.AuditEvent.entity_id == conv.id,
        m.AuditEvent.action == "signer_premier_contrat")) == 1


def test_R51_monthly_run_in_bulk_on_a_filter_dry_run_then_confirmation_then_sepa_and_a_replay(db, ref):
    s = db.session
    op1, c1 = operateur(s, "OPB")
    op2, c2 = operateur(s, "OPC")
    a = convention(s, op1, "NACRE-T-0101")
    b = convention(s, op2, "NACRE-T-0102", subvention="40000.00", iban=IBANS[1])
    sans_etat = convention(s, op2, "NACRE-T-0103")
    for conv in (a, b, sans_etat):
        assert signer(s, ref, conv).changed == 1
    # advances: A 22 500,00 ; B 40 000 × 0,25 = 10 000,00
    # March: A 40 × 120 + 25 × 80 + 60 × 45 = 9 500 (absorbed: 0 to pay) ; B 100 × 120 = 12 000 → 12 000 − 10 000 = 2 000
    etat(s, ref, a, c1, date(2025, 3, 1), 40, 25, 60)
    etat(s, ref, b, c2, date(2025, 3, 1), 100, 0, 0)
    s.commit()
    filtre = sa.select(m.ConventionNacre.id).where(m.ConventionNacre.numero.like("NACRE-T-01%"))
    comptable = ref.comptes["comptable"]
    dry = run(s, wf.CONVENTION, "payer_mois", Selection.of_query(filtre), comptable,
              params={"mois_paye": "2025-03-01"}, dry_run=True, now=NOW)
    assert (dry.total, dry.changed) == (3, 2), dry.message()
    assert any("aucun état d'activité validé" in r for r in dry.refused)
    assert wf.montants_du_mois(s, dry.eligible_ids, date(2025, 3, 1)) == {
        a.id: (s.scalar(sa.select(m.EtatActiviteNacre.id).where(m.EtatActiviteNacre.convention_id == a.id)), D("0.00")),
        b.id: (s.scalar(sa.select(m.EtatActiviteNacre.id).where(m.EtatActiviteNacre.convention_id == b.id)), D("2000.00"))}
    ours = [a.id, b.id, sans_etat.id]
    assert not echeances(s, SourceEcheance.NACRE_MENSUALITE, ours)  # the dry run wrote nothing
    report = run(s, wf.CONVENTION, "payer_mois", Selection.of_query(filtre), comptable, params={"mois_paye": "2025-03-01"},
                 now=NOW)
    s.commit()
    assert report.changed == 2
    [e] = echeances(s, SourceEcheance.NACRE_MENSUALITE, ours)
    assert (e.source_id, e.montant, e.periode, e.statut) == (b.id, D("2000.00"), date(2025, 3, 1), EcheanceStatut.EN_LOT)
    etats = {x.convention_id: x for x in s.scalars(sa.select(m.EtatActiviteNacre).where(
        m.EtatActiviteNacre.convention_id.in_([a.id, b.id])))}
    assert {k: (v.statut, v.montant_verse) for k, v in etats.items()} == {
        a.id: (EtatActiviteStatut.VERSE, D("0.00")), b.id: (EtatActiviteStatut.VERSE, D("2000.00"))}
    # the replay changes nothing: the statements are paid, no new payable, no new audit event
    events = s.scalar(sa.select(sa.func.count()).select_from(m.AuditEvent))
    replay = run(s, wf.CONVENTION, "payer_mois", Selection.of_query(filtre), comptable, params={"mois_paye": "2025-03-01"},
                 now=NOW)
    s.commit()
    assert replay.changed == 0 and len(echeances(s, SourceEcheance.NACRE_MENSUALITE, ours)) == 1
    assert s.scalar(sa.select(sa.func.count()).select_from(m.AuditEvent)) == events
    # April for A: 9 500 + 9 500 + 9 500 = 28 500 of activity paid so far − 22 500 − 0 = 6 000… after two more months
    etat(s, ref, a, c1, date(2025, 4, 1), 40, 25, 60)
    run(s, wf.CONVENTION, "payer_mois", Selection.of_ids([a.id]), comptable, params={"mois_paye": "2025-04-01"}, now=NOW)
    etat(s, ref, a, c1, date(2025, 5, 1), 40, 25, 60)
    run(s, wf.CONVENTION, "payer_mois", Selection.of_ids([a.id]), comptable, params={"mois_paye": "2025-05-01"}, now=NOW)
    s.commit()
    [mai] = echeances(s, SourceEcheance.NACRE_MENSUALITE, a.id)
    assert (mai.periode, mai.montant) == (date(2025, 5, 1), D("6000.00"))  # 28 500 − 22 500
    # the NACRE batch goes into a SEPA file with the advances and the monthly payments
    lot = s.get(m.LotPaiement, s.scalar(sa.select(m.Paiement.lot_id).where(m.Paiement.echeance_id == e.id)))
    assert emettre_lot(s, lot.id, now=NOW, actor=comptable).changed == 1
    s.commit()
    s.refresh(lot)
    assert lot.statut == LotStatut.EMISE and b"2000.00" in lot.fichier_sepa.encode() if isinstance(
        lot.fichier_sepa, str) else b"2000.00" in lot.fichier_sepa
    assert lot.dispositif.code == "NACRE"


def test_R51_expertise_is_paid_on_its_contract_and_invoice_within_the_subsidy(db, ref):
    s = db.session
    op, compte = operateur(s, "OPD")
    conv = convention(s, op, "NACRE-T-0201", subvention="10000.00", fin=date(2025, 12, 31))
    signer(s, ref, conv)  # 2 500,00 advance, subsidy 10 000,00 (one year)
    e1 = wf.deposer_expertise(s, actor=compte, convention_id=conv.id, prestataire="Cabinet Conseil", objet="Étude de marché",
                              montant_contrat=D("3000.00"), montant_facture=D("3600.00"), date_facture=date(2025, 4, 10),
                              contrat=(PDF, "contrat.pdf"), facture=(PDF, "facture.pdf"), now=NOW)
    e2 = wf.deposer_expertise(s, actor=compte, convention_id=conv.id, prestataire="Expert-comptable",
                              objet="Prévisionnel", montant_contrat=D("9000.00"), montant_facture=D("9000.00"),
                              date_facture=date(2025, 4, 20), contrat=(PDF, "c2.pdf"), facture=(PDF, "f2.pdf"), now=NOW)
    report = run(s, wf.EXPERTISE, "valider", Selection.of_ids([e1.id, e2.id]), ref.comptes["siege"], now=NOW)
    s.commit()
    assert report.changed == 2
    # e1: min(contract 3 000, invoice 3 600) = 3 000 ; e2: 10 000 − 2 500 − 3 000 = 4 500 left of the subsidy
    s.refresh(e1), s.refresh(e2)
    assert (e1.montant_paye, e2.montant_paye) == (D("3000.00"), D("4500.00"))
    assert [x.montant for x in echeances(s, SourceEcheance.NACRE_EXPERTISE, [e1.id, e2.id])] == [D("3000.00"),
                                                                                               D("4500.00")]
    # the subsidy is spent: a third expertise is refused, nothing payable
    e3 = wf.deposer_expertise(s, actor=compte, convention_id=conv.id, prestataire="X", objet="Y",
                              montant_contrat=D("100.00"), montant_facture=D("100.00"), date_facture=date(2025, 5, 2),
                              contrat=(PDF, "c3.pdf"), facture=(PDF, "f3.pdf"), now=NOW)
    refus = run(s, wf.EXPERTISE, "valider", Selection.of_ids([e3.id]), ref.comptes["siege"], now=NOW)
    assert refus.changed == 0 and "subvention de la convention épuisée" in refus.message()
    # no invoice, no expertise; another operator's convention is a missing one
    from backoffice.workflows.errors import TransitionRefused
    with pytest.raises(TransitionRefused, match="Joignez le contrat"):
        wf.deposer_expertise(s, actor=compte, convention_id=conv.id, prestataire="X", objet="Y",
                             montant_contrat=D("1.00"), montant_facture=D("1.00"), date_facture=date(2025, 5, 2),
                             contrat=(PDF, "c.pdf"), facture=None, now=NOW)
    _, autre = operateur(s, "OPE")
    with pytest.raises(TransitionRefused, match="Convention introuvable"):
        wf.deposer_expertise(s, actor=autre, convention_id=conv.id, prestataire="X", objet="Y",
                             montant_contrat=D("1.00"), montant_facture=D("1.00"), date_facture=date(2025, 5, 2),
                             contrat=(PDF, "c.pdf"), facture=(PDF, "f.pdf"), now=NOW)


def test_R51_the_excess_of_the_advance_over_the_activity_is_recovered_at_the_end(db, ref):
    s = db.session
    op, compte = operateur(s, "OPF")
    conv = convention(s, op, "NACRE-T-0301", debut=date(2024, 1, 1), fin=date(2024, 12, 31))
    signer(s, ref, conv, jour=date(2024, 2, 1), now=datetime(2024, 2, 1, 9))  # 22 500,00
    etat(s, ref, conv, compte, date(2024, 3, 1), 40, 25, 60, now=datetime(2024, 4, 2, 9))  # 9 500,00
    run(s, wf.CONVENTION, "payer_mois", Selection.of_ids([conv.id]), ref.comptes["comptable"],
        params={"mois_paye": "2024-03-01"}, now=datetime(2024, 4, 5, 9))
    pending = etat(s, ref, conv, compte, date(2024, 4, 1), 1, 0, 0, valider=False, now=datetime(2024, 5, 2, 9))
    blocked = run(s, wf.CONVENTION, "terminer", Selection.of_ids([conv.id]), ref.comptes["siege"], now=NOW)
    assert blocked.changed == 0 and "attend encore" in blocked.message()
    run(s, wf.ETAT, "rejeter", Selection.of_ids([pending.id]), ref.comptes["siege"], now=NOW,
        params={"motif_rejet": "Doublon"})
    report = run(s, wf.CONVENTION, "terminer", Selection.of_ids([conv.id]), ref.comptes["siege"], now=NOW)
    s.commit()
    assert report.changed == 1
    # 22 500,00 of advance − 9 500,00 of activity paid = 13 000,00 owed by the operator
    [ordre] = s.scalars(sa.select(m.Reversement).where(m.Reversement.debiteur_type == "partenaire",
                                                       m.Reversement.debiteur_id == op.id)).all()
    assert (ordre.montant, ordre.origine, ordre.dispositif.code, ordre.statut.value) == (
        D("13000.00"), "regularisation", "NACRE", "emis")
    s.refresh(conv)
    assert conv.statut == ConventionStatut.TERMINEE
    # replay: nothing more
    assert run(s, wf.CONVENTION, "terminer", Selection.of_ids([conv.id]), ref.comptes["siege"], now=NOW).changed == 0
    assert s.scalar(sa.select(sa.func.count()).select_from(m.Reversement).where(
        m.Reversement.debiteur_type == "partenaire", m.Reversement.debiteur_id == op.id)) == 1
    # the recovery chain takes it from there
    from backoffice.workflows.reversements import REVERSEMENT
    assert run(s, REVERSEMENT, "notifier", Selection.of_ids([ordre.id]), ref.comptes["comptable"], now=NOW).changed == 1
