"""Payables of every programme (issue 13), on the populated database: batches per programme and date, the exactly-once
key on the payable, an Activité partielle claim paid end to end, a rejected payment paid again only after a change
of RIB."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import (AutorisationAP, DemandeIndemnisation, Echeance, Etablissement, LotPaiement, Paiement)
from backoffice.models.enums import (AutorisationStatut, CerfaStatut, DIStatut, EcheanceStatut as ES, LotStatut,
                                     MotifAP, PaiementStatut as PS, SourceEcheance as SE,
                                     TypeBeneficiairePaiement as TB)
from backoffice.sepa import lire
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.echeances import (ECHEANCE, LigneEcheance, creer_echeances, echeances_demandes_indemnisation,
                                            prochaine_date)
from backoffice.workflows.engine import Context
from backoffice.workflows.paiements import emettre_lot, rapprocher_lot, remettre_a_payer
from tests import factories as f

pytestmark = pytest.mark.populated

NOW = datetime(2025, 5, 2, 9, 0)
IBAN_AP = "FR1420041010050500013M02606"


def ctx(ref, now=NOW):
    c = ref.comptes["comptable"]
    return Context(actor_id=c.id, role=c.role, now=now, params={})


def demande_ap(db, montant="1234.50", mois=4, statut=DIStatut.VALIDEE):
    e = Etablissement(siret=f"{next(f._seq):014d}", raison_sociale="Boulangerie Lefèvre & Fils", libelle_voie="rue Nationale",
                      code_postal="59000", ville="Lille", email="rh@lefevre.example.fr")
    db.session.add(e)
    db.session.flush()
    a = AutorisationAP(numero=f"DAP-T-{e.id}", etablissement_id=e.id, motif=MotifAP.CONJONCTURE,
                       date_debut=date(2025, 3, 1), date_fin=date(2025, 6, 30), nb_salaries=3,
                       heures_prevues=Decimal("300"), statut=AutorisationStatut.ACCORDEE, deposee_at=datetime(2025, 2, 20))
    db.session.add(a)
    db.session.flush()
    di = DemandeIndemnisation(autorisation_id=a.id, annee=2025, mois=mois, statut=statut,
                              montant_indemnites=Decimal(montant) * 2, montant_allocation=Decimal(montant))
    db.session.add(di)
    db.session.commit()
    return e, di


def allocation_validee(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, nom="Lefèvre", prenom="Anaïs")
    c.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, c, statut="validee_siege", mois=date(2025, 4, 1), montant=Decimal("414.06"))
    db.session.commit()
    return b, cb, a


def test_the_programme_calendar_as_data_gives_r41_for_cej_and_pacea():
    from backoffice.rules.calendrier import prochaine_date_envoi
    for d in [date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 15), date(2025, 5, 16), date(2025, 12, 31)]:
        assert prochaine_date("1,15", False, d) == prochaine_date_envoi("CEJ", d)
        assert prochaine_date("1", True, d) == prochaine_date_envoi("PACEA", d)
    with pytest.raises(ValueError):
        prochaine_date("31", False, date(2025, 5, 1))


def test_an_activite_partielle_claim_becomes_a_payable_paid_in_its_own_batch_R74(db, ref):
    e, di = demande_ap(db)
    ids = echeances_demandes_indemnisation(db.session, [di.id], {e.id: (IBAN_AP, None, "BOULANGERIE LEFEVRE")}, ctx(ref))
    db.session.commit()
    ech = db.session.get(Echeance, ids[0])
    assert (ech.source_type, ech.periode, ech.payee_type, ech.payee_id, ech.montant, ech.statut) == (
        SE.DI_ACTIVITE_PARTIELLE, date(2025, 4, 1), TB.ETABLISSEMENT, e.id, Decimal("1234.50"), ES.A_PAYER)
    # the same claim again: nothing more (one payable per source and period)
    assert echeances_demandes_indemnisation(db.session, [di.id], {e.id: (IBAN_AP, None, "X")}, ctx(ref)) == []
    report = run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), ref.comptes["siege"], now=NOW)
    db.session.commit()
    assert report.changed == 1
    pay = db.session.execute(sa.select(Paiement).where(Paiement.echeance_id == ids[0])).scalar_one()
    lot = db.session.get(LotPaiement, pay.lot_id)
    assert lot.dispositif.code == "AP" and lot.date_execution == date(2025, 5, 15)
    assert (pay.allocation_id, pay.beneficiaire_id, pay.montant) == (None, None, Decimal("1234.50"))
    emettre_lot(db.session, lot.id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert db.session.get(LotPaiement, lot.id).statut == LotStatut.EMISE
    assert lire(db.session.get(LotPaiement, lot.id).fichier_sepa) == [(pay.end_to_end_id, Decimal("1234.50"))]
    rapprocher_lot(db.session, lot.id, actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    assert db.session.get(Echeance, ids[0]).statut == ES.PAYEE
    # sent again: already paid, nothing moves, no second payment
    again = run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), ref.comptes["siege"], now=NOW)
    assert again.changed == 0
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement)
                              .where(Paiement.echeance_id == ids[0])).scalar_one() == 1


def test_two_programmes_payables_for_the_same_payee_go_into_their_own_batches(db, ref):
    """One establishment owed an Activité partielle claim and a Service civique month (its host organisation
    role): two payables, two batches (one per programme and date), two files."""
    e, di = demande_ap(db)
    c = ctx(ref)
    ap = echeances_demandes_indemnisation(db.session, [di.id], {e.id: (IBAN_AP, None, "LEFEVRE")}, c)
    sc = creer_echeances(db.session, SE.SERVICE_CIVIQUE_MOIS, [LigneEcheance(
        source_id=di.id, periode=date(2025, 4, 1), payee_type=TB.ETABLISSEMENT, payee_id=e.id,
        montant=Decimal("111.45"), iban=IBAN_AP, titulaire="LEFEVRE", libelle="SERVICE CIVIQUE 04/2025")], c)
    db.session.commit()
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ap + sc), ref.comptes["comptable"], now=NOW)
    db.session.commit()
    lots = db.session.execute(sa.select(LotPaiement).where(LotPaiement.id.in_(
        sa.select(Paiement.lot_id).where(Paiement.echeance_id.in_(ap + sc)))).order_by(LotPaiement.id)).scalars().all()
    assert sorted(l.dispositif.code for l in lots) == ["AP", "SC"]
    assert {l.dispositif.code: l.date_execution for l in lots} == {"AP": date(2025, 5, 15), "SC": date(2025, 6, 1)}
    assert all(l.nb_paiements == 1 for l in lots)


def test_one_send_of_cej_and_pacea_allocations_fills_each_programmes_batch_from_what_its_update_returned_R41(
        db, ref, count_queries):
    """Issue 13: « Envoyer en paiement » on CEJ and PACEA allocations together puts each in its programme's batch
    (R41: CEJ on the 15th, PACEA on the 1st of next month), and the programmes are those the UPDATE returned: the
    send does not read the allocations again to group them (one query less per chunk of the payment chain)."""
    _, _, cej = allocation_validee(db, ref)
    b = f.make_beneficiaire(db.session, ref.nord, nom="Martin", prenom="Élodie")
    cb = f.make_compte_bancaire(db.session, b)
    i = f.make_inscription(db.session, b, ref.dispositifs["PACEA"])
    c = f.make_cerfa(db.session, i, cb, statut=CerfaStatut.VALIDE_SIEGE)
    pacea = f.make_allocation(db.session, i, c, statut="validee_siege", mois=date(2025, 4, 1),
                              montant=Decimal("300.00"))
    db.session.commit()
    with count_queries() as n:
        report = run(db.session, ALLOCATION, "transmettre", Selection.of_ids([cej.id, pacea.id]),
                     ref.comptes["siege"], now=NOW)
    db.session.commit()
    assert report.changed == 2
    lots = {p.allocation_id: db.session.get(LotPaiement, p.lot_id) for p in db.session.execute(
        sa.select(Paiement).where(Paiement.allocation_id.in_([cej.id, pacea.id]))).scalars()}
    assert {a: (l.dispositif.code, l.date_execution) for a, l in lots.items()} == {
        cej.id: ("CEJ", date(2025, 5, 15)), pacea.id: ("PACEA", date(2025, 6, 1))}
    regroupements = [s for s in n.statements if "DISTINCT allocation.dispositif_id" in s]
    assert regroupements == []


def test_payables_of_mixed_programmes_send_and_emit_each_in_its_batch_without_double_payment(db, ref):
    _, _, a = allocation_validee(db, ref)
    e, di = demande_ap(db)
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids([a.id]), ref.comptes["siege"], now=NOW)
    ap = echeances_demandes_indemnisation(db.session, [di.id], {e.id: (IBAN_AP, None, "LEFEVRE")}, ctx(ref))
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ap), ref.comptes["siege"], now=NOW)
    db.session.commit()
    # the allocation's payable exists once and its payment too, even sent again
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids([a.id]), ref.comptes["siege"], now=NOW)
    alloc_ech = db.session.execute(sa.select(Echeance).where(Echeance.source_type == SE.ALLOCATION,
                                                             Echeance.source_id == a.id)).scalar_one()
    assert alloc_ech.statut == ES.EN_LOT and alloc_ech.payee_type == TB.JEUNE
    pays = db.session.execute(sa.select(Paiement).where(Paiement.echeance_id.in_([alloc_ech.id] + ap))).scalars().all()
    assert len(pays) == 2 and len({p.lot_id for p in pays}) == 2
    for lot_id in {p.lot_id for p in pays}:
        emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert {db.session.get(LotPaiement, p.lot_id).statut for p in pays} == {LotStatut.EMISE}


def test_a_claim_not_validated_or_above_its_allowance_is_refused_by_the_payer_R74(db, ref):
    e, di = demande_ap(db)
    ids = echeances_demandes_indemnisation(db.session, [di.id], {e.id: (IBAN_AP, None, "LEFEVRE")}, ctx(ref))
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), ref.comptes["siege"], now=NOW)
    db.session.execute(sa.update(DemandeIndemnisation).where(DemandeIndemnisation.id == di.id)
                       .values(montant_allocation=Decimal("1000.00")))  # reduced after the send
    e2, di2 = demande_ap(db, montant="99.99")  # the AP batch must still emit something
    ids2 = echeances_demandes_indemnisation(db.session, [di2.id], {e2.id: (IBAN_AP, None, "AUTRE")}, ctx(ref))
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids2), ref.comptes["siege"], now=NOW)
    db.session.commit()
    lot_id = db.session.execute(sa.select(Paiement.lot_id).where(Paiement.echeance_id == ids[0])).scalar_one()
    emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    refused = db.session.get(Echeance, ids[0])
    assert refused.statut == ES.REJETEE and "R74" in refused.motif
    assert db.session.execute(sa.select(Paiement.statut).where(Paiement.echeance_id == ids[0])).scalar_one() == PS.REJETE


def test_a_rejected_payment_is_paid_again_only_after_the_rib_changed_never_twice(db, ref):
    e, di = demande_ap(db)
    ids = echeances_demandes_indemnisation(db.session, [di.id], {e.id: (IBAN_AP, None, "LEFEVRE")}, ctx(ref))
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), ref.comptes["siege"], now=NOW)
    pay = db.session.execute(sa.select(Paiement).where(Paiement.echeance_id == ids[0])).scalar_one()
    emettre_lot(db.session, pay.lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    # the bank rejects the transfer (what the bank-return import does), then asks to pay it again
    db.session.execute(sa.update(Paiement).where(Paiement.id == pay.id)
                       .values(statut=PS.REJETE, motif_rejet="AC04 : compte clôturé"))
    out = remettre_a_payer(db.session, [pay.id], ctx(ref))
    db.session.commit()
    assert out == {"remises_a_payer": 0, "rib_inchange": 1}
    assert db.session.get(Echeance, ids[0]).statut == ES.REJETEE
    # same RIB: refused again
    assert run(db.session, ECHEANCE, "remettre_a_payer", Selection.of_ids(ids), ref.comptes["comptable"],
               now=NOW).changed == 0
    # the RIB is changed, then it goes back to pay, and is paid in a later batch with a new end-to-end id
    db.session.execute(sa.update(Echeance).where(Echeance.id == ids[0]).values(iban="FR7630006000011234567890189"))
    assert run(db.session, ECHEANCE, "remettre_a_payer", Selection.of_ids(ids), ref.comptes["comptable"],
               now=NOW).changed == 1
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), ref.comptes["comptable"], now=NOW)
    db.session.commit()
    pays = db.session.execute(sa.select(Paiement).where(Paiement.echeance_id == ids[0]).order_by(Paiement.id)
                              ).scalars().all()
    assert [p.statut for p in pays] == [PS.REJETE, PS.EN_ATTENTE]
    assert pays[1].lot_id != pays[0].lot_id and pays[1].iban == "FR7630006000011234567890189"
    assert pays[1].end_to_end_id != pays[0].end_to_end_id
    # a second live payment of the same payable is impossible (the partial unique index)
    assert run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), ref.comptes["comptable"],
               now=NOW).changed == 0


def test_bad_lines_are_refused_whole_and_nothing_is_written(db, ref):
    before = db.session.execute(sa.select(sa.func.count()).select_from(Echeance)).scalar_one()
    with pytest.raises(ValueError, match="rien n'a été créé"):
        creer_echeances(db.session, SE.SERVICE_CIVIQUE_MOIS, [
            LigneEcheance(1, date(2025, 4, 1), TB.VOLONTAIRE, 1, Decimal("10.00"), IBAN_AP, "A", "SC"),
            LigneEcheance(2, date(2025, 4, 1), TB.VOLONTAIRE, 2, Decimal("-1.00"), IBAN_AP, "B", "SC")], ctx(ref))
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Echeance)).scalar_one() == before


def test_the_demo_pays_through_the_workflows_every_payment_has_its_payable(db, ref):
    """The demo data (populated) went through « Envoyer en paiement » and the emission: every payment has its
    payable, allocation payables match their allocation, and the Activité partielle programme has its own batch."""
    orphan = db.session.execute(sa.select(sa.func.count()).select_from(Paiement).outerjoin(
        Echeance, Echeance.id == Paiement.echeance_id).where(Echeance.id.is_(None))).scalar_one()
    assert orphan == 0
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement)).scalar_one() > 100
    codes = set(db.session.execute(sa.select(sa.distinct(LotPaiement.dispositif_id))).scalars())
    from backoffice.models import Dispositif
    assert {"CEJ", "PACEA", "AP"} <= {db.session.get(Dispositif, i).code for i in codes}
    mismatched = db.session.execute(sa.select(sa.func.count()).select_from(Paiement).join(
        Echeance, Echeance.id == Paiement.echeance_id).where(
        Paiement.allocation_id.is_not(None),
        sa.or_(Echeance.source_type != SE.ALLOCATION, Echeance.source_id != Paiement.allocation_id))).scalar_one()
    assert mismatched == 0


def test_a_claim_validated_through_the_ap_workflow_becomes_its_payable_then_paid_R74(db, ref):
    """Merge of issue 13 with the AP workflow: « Valider » a claim makes its payable (the establishment's IBAN copied
    onto it); without an IBAN the validation is refused in French; the payment reconciled, the claim is « payée »."""
    from backoffice.workflows.activite_partielle import DI
    e, di = demande_ap(db, statut=DIStatut.ENVOYEE)
    ud = ref.comptes["ud"]
    refused = run(db.session, DI, "valider", Selection.of_ids([di.id]), ud, now=NOW)
    db.session.commit()
    assert refused.changed == 0
    assert ("compte bancaire (IBAN) de l'établissement non renseigné : impossible de payer la demande (R74)"
            in refused.refused)
    assert db.session.execute(sa.select(sa.func.count()).select_from(Echeance).where(
        Echeance.source_type == SE.DI_ACTIVITE_PARTIELLE, Echeance.source_id == di.id)).scalar_one() == 0
    e = db.session.get(Etablissement, e.id)
    e.iban = IBAN_AP
    db.session.commit()
    assert run(db.session, DI, "valider", Selection.of_ids([di.id]), ud, now=NOW).changed == 1
    db.session.commit()
    ech = db.session.execute(sa.select(Echeance).where(Echeance.source_type == SE.DI_ACTIVITE_PARTIELLE,
                                                       Echeance.source_id == di.id)).scalar_one()
    assert (ech.periode, ech.payee_type, ech.payee_id, ech.montant, ech.iban, ech.statut) == (
        date(2025, 4, 1), TB.ETABLISSEMENT, e.id, Decimal("1234.50"), IBAN_AP, ES.A_PAYER)
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids([ech.id]), ref.comptes["siege"], now=NOW)
    pay = db.session.execute(sa.select(Paiement).where(Paiement.echeance_id == ech.id)).scalar_one()
    emettre_lot(db.session, pay.lot_id, now=NOW, actor=ref.comptes["comptable"])
    rapprocher_lot(db.session, pay.lot_id, actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Echeance, ech.id).statut == ES.PAYEE
    assert db.session.get(DemandeIndemnisation, di.id).statut == DIStatut.PAYEE
