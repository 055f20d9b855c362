"""Corrections (R46) and reversements (R47): worked examples E5 and E6, repayments, settlement.

On the populated database (issue 11): the demo's own corrections, payments and reversements lie under the
test's rows, so an expression that sums the whole table instead of this youth's earlier versions fails here.
"""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation, Paiement, Reversement
from backoffice.models.enums import (AllocationStatut as AS, CerfaStatut, LotStatut, PaiementStatut,
                                     ReversementStatut as RS)
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION, differentiel_expr
from backoffice.workflows.errors import TransitionRefused
from backoffice.workflows.reversements import REVERSEMENT, enregistrer_remboursement
from backoffice.workflows.saisie import corriger_allocation
from tests import factories as f

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 20, 9, 0)


def paid_allocation(db, ref, montant="561.68", mois=date(2025, 5, 1), salaire=None):
    from backoffice.models import LotPaiement, Ressource
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.ACCEPTE
    c.montant_prevu = Decimal("561.68")
    a = f.make_allocation(db.session, i, c, mois=mois, statut=AS.VERSEE, montant=Decimal(montant))
    if salaire is not None:
        db.session.add(Ressource(allocation_id=a.id, type_ressource="Salaire", categorie="degressive",
                                 montant=Decimal(salaire), mois_reference=date(mois.year, mois.month - 1, 1)))
    lot = LotPaiement(reference=f"LOT-T-{a.id}", dispositif_id=i.dispositif_id, date_execution=date(2025, 6, 1),
                      statut=LotStatut.RAPPROCHEE, fichier_sha256="0" * 64)
    db.session.add(lot)
    db.session.flush()
    e = f.make_echeance_allocation(db.session, a, cb, montant=Decimal(montant))
    db.session.add(Paiement(lot_id=lot.id, echeance_id=e.id, allocation_id=a.id, beneficiaire_id=b.id,
                            antenne_id=b.antenne_id, end_to_end_id=f"E2E-{a.id}", montant=Decimal(montant), titulaire=cb.titulaire,
                            iban=cb.iban, libelle="ALLOC CEJ", statut=PaiementStatut.EXECUTE))
    db.session.commit()
    return a


def through_validation(db, ref, alloc_id):
    for name, who in (("soumettre", "conseiller"), ("valider", "siege")):
        report = run(db.session, ALLOCATION, name, Selection.of_ids([alloc_id]), ref.comptes[who], now=NOW)
        assert report.changed == 1, report.refused
    db.session.commit()


def test_undeclared_pay_gives_a_trop_percu_of_246_04_E5(db, ref):
    a = paid_allocation(db, ref)
    new = corriger_allocation(db.session, a.id, lignes=[("Salaire", Decimal("800.00"))], actor=ref.comptes["conseiller"])
    db.session.commit()
    assert new.montant == Decimal("315.64")  # 561,68 − 500 × 561,68 / 1 141,44
    assert db.session.execute(sa.select(differentiel_expr()).where(Allocation.id == new.id)).scalar_one() == Decimal("-246.04")
    through_validation(db, ref, new.id)
    # a trop-perçu is never paid: sending it to payment is refused, the officer issues a reversement
    refused = run(db.session, ALLOCATION, "transmettre", Selection.of_ids([new.id]), ref.comptes["siege"], now=NOW)
    assert refused.changed == 0 and any("(R47)" in r for r in refused.refused)
    issued = run(db.session, ALLOCATION, "emettre_reversement", Selection.of_ids([new.id]), ref.comptes["comptable"], now=NOW)
    db.session.commit()
    assert issued.changed == 1
    rev = db.session.query(Reversement).filter_by(allocation_id=new.id).one()
    assert (rev.montant, rev.statut) == (Decimal("246.04"), RS.EMIS)


def test_full_reversement_with_differential_resources_E6_R47(db, ref):
    a = paid_allocation(db, ref, montant="414.06", salaire="600.00")  # E2: 414,06 € on 600 € of pay
    new = corriger_allocation(db.session, a.id, ressources_differentielles=Decimal("414.06"),
                              actor=ref.comptes["conseiller"])
    db.session.commit()
    assert new.montant == Decimal("0.00")
    assert db.session.execute(sa.select(differentiel_expr()).where(Allocation.id == new.id)).scalar_one() == Decimal("-414.06")


def test_already_paid_counts_only_this_youths_earlier_versions_amid_other_corrections_R46_R47(db, ref):
    """Issue 11, defect 1: the demo's corrections and another youth's lie under these rows; the net already paid
    of a correction is its own enrolment and month's (payments emis/exécutés − reversements non annulés)."""
    from backoffice.models import AuditEvent, LotPaiement
    assert db.session.execute(sa.select(sa.func.count()).select_from(Allocation)
                              .where(Allocation.corrige_id.is_not(None))).scalar_one() > 0  # the demo's own
    other = paid_allocation(db, ref)  # 561,68 € paid, then 800 € of pay found: trop-perçu 246,04 €
    other_new = corriger_allocation(db.session, other.id, lignes=[("Salaire", Decimal("800.00"))],
                                    actor=ref.comptes["conseiller"])
    mine = paid_allocation(db, ref, montant="315.64", salaire="800.00")  # paid on 800 € of pay, then none
    mine_new = corriger_allocation(db.session, mine.id, lignes=[], actor=ref.comptes["conseiller"])
    db.session.commit()
    assert mine_new.montant == Decimal("561.68")
    diff = dict(db.session.execute(sa.select(Allocation.id, differentiel_expr())
                                   .where(Allocation.id.in_([other_new.id, mine_new.id]))).all())
    assert diff == {other_new.id: Decimal("-246.04"), mine_new.id: Decimal("246.04")}
    # what the audit says was already paid
    audited = dict(db.session.execute(sa.select(AuditEvent.entity_id, AuditEvent.params).where(
        AuditEvent.action == "corriger", AuditEvent.entity_id.in_([other_new.id, mine_new.id]))).all())
    assert Decimal(str(audited[mine_new.id]["deja_verse"])) == Decimal("315.64")
    assert Decimal(str(audited[mine_new.id]["differentiel"])) == Decimal("246.04")
    assert Decimal(str(audited[other_new.id]["deja_verse"])) == Decimal("561.68")
    for a in (other_new, mine_new):
        through_validation(db, ref, a.id)
    # R47 guards: the complement goes to payment, the trop-perçu does not
    sent = run(db.session, ALLOCATION, "transmettre", Selection.of_ids([mine_new.id, other_new.id]),
               ref.comptes["siege"], now=NOW)
    db.session.commit()
    assert sent.changed == 1 and any("(R47)" in r for r in sent.refused), sent.refused
    pay = db.session.execute(sa.select(Paiement).where(Paiement.allocation_id == mine_new.id)).scalar_one()
    assert pay.montant == Decimal("246.04")
    lot = db.session.get(LotPaiement, pay.lot_id)
    assert lot.montant_total == sum(db.session.execute(sa.select(Paiement.montant)
                                                       .where(Paiement.lot_id == lot.id)).scalars())
    issued = run(db.session, ALLOCATION, "emettre_reversement", Selection.of_ids([other_new.id, mine_new.id]),
                 ref.comptes["comptable"], now=NOW)
    db.session.commit()
    assert issued.changed == 1
    rev = db.session.execute(sa.select(Reversement).where(Reversement.allocation_id.in_(
        [other_new.id, mine_new.id]))).scalar_one()
    assert (rev.allocation_id, rev.montant) == (other_new.id, Decimal("246.04"))


@pytest.mark.parametrize("statut", [AS.SOUMISE, AS.VALIDEE_SIEGE, AS.ENREGISTREE, AS.TRANSMISE])
def test_correction_refused_outside_accepted_paid_refused_R46_E6(db, ref, statut):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    a = f.make_allocation(db.session, i, c, statut=statut)
    db.session.commit()
    with pytest.raises(TransitionRefused, match="R46"):
        corriger_allocation(db.session, a.id, actor=ref.comptes["conseiller"])


def test_partial_repayments_then_settlement_and_no_over_recovery(db, ref):
    a = paid_allocation(db, ref)
    new = corriger_allocation(db.session, a.id, lignes=[("Salaire", Decimal("800.00"))], actor=ref.comptes["conseiller"])
    db.session.commit()
    through_validation(db, ref, new.id)
    run(db.session, ALLOCATION, "emettre_reversement", Selection.of_ids([new.id]), ref.comptes["comptable"], now=NOW)
    db.session.commit()
    rev = db.session.query(Reversement).filter_by(allocation_id=new.id).one()
    run(db.session, REVERSEMENT, "notifier", Selection.of_ids([rev.id]), ref.comptes["comptable"], now=NOW)
    db.session.commit()
    enregistrer_remboursement(db.session, rev.id, montant=Decimal("100.00"), date_reception=date(2025, 7, 1),
                              mode="virement", reference="VIR-1", actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    db.session.refresh(rev)
    assert (rev.statut, rev.montant_rembourse) == (RS.EN_RECOUVREMENT, Decimal("100.00"))
    with pytest.raises(TransitionRefused, match="dépasse le reste dû"):
        enregistrer_remboursement(db.session, rev.id, montant=Decimal("146.05"), date_reception=date(2025, 8, 1),
                                  mode="virement", reference="VIR-2", actor=ref.comptes["comptable"], now=NOW)
    db.session.rollback()
    enregistrer_remboursement(db.session, rev.id, montant=Decimal("146.04"), date_reception=date(2025, 8, 1),
                              mode="virement", reference="VIR-3", actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    db.session.refresh(rev)
    assert (rev.statut, rev.montant_rembourse) == (RS.SOLDE, Decimal("246.04"))


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("-1"), Decimal("Infinity"), Decimal("1.001")])
def test_repayment_amount_must_be_a_positive_amount_in_cents(db, ref, bad):
    with pytest.raises(TransitionRefused):
        enregistrer_remboursement(db.session, 1, montant=bad, date_reception=date(2025, 8, 1), mode="virement",
                                  reference=None, actor=ref.comptes["comptable"], now=NOW)
