"""Afas payments through the payment chain (issue 15 §6, R79), on the populated database: the forecast transmitted
makes its 1st acompte a payable of the AFAS programme paid to the service's IBAN, sent to payment and carried by a
SEPA batch (pain.001); both acomptes of a forecast made payable the same month (two payables, told apart by their
period); the 70 % limit; the balance paid; a negative balance becomes an ordre de reversement (R47)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import (DeclarationType as DT, EcheanceStatut as ES, LotStatut, ReversementStatut as RS,
                                     SourceEcheance as SE, TypeBeneficiairePaiement as TB)
from backoffice.sepa import lire
from backoffice.workflows import Selection, afas_paiements, run
from backoffice.workflows.echeances import ECHEANCE
from backoffice.workflows.paiements import emettre_lot, rapprocher_lot
from tests.workflows.test_afas import IBAN_ER, T0, Service

pytestmark = pytest.mark.populated


def transmettre(svc, d):
    for name, actor in (("controler", svc.fin), ("approuver", svc.app), ("transmettre", svc.app)):
        r = svc.go(d, name, actor)
        assert r.changed == 1, r.message()


def echeances(db, source_type, source_id):
    return db.session.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == source_type,
                                                          m.Echeance.source_id == source_id)
                              .order_by(m.Echeance.periode)).all()


def test_R79_forecast_transmitted_first_acompte_payable_sent_to_payment_in_an_afas_sepa_batch(db, ref):
    svc = Service(db.session, ref)
    # forecast 2025: 30 000 € for 1 200 h (25 €/h < 35 €/h ceiling): droit 60 % × 30 000 = 18 000; a new service
    # (no actual droit of 2023): 1st acompte = 35 % × 18 000 = 6 300
    p25 = svc.declaration(2025)
    transmettre(svc, p25)
    db.session.commit()
    [e] = echeances(db, SE.AFAS_ACOMPTE, p25.id)
    assert D("0.35") * D("18000") == D("6300")
    assert (e.periode, e.payee_type, e.payee_id, e.montant, e.iban, e.statut, e.dispositif.code) == (
        date(2025, 1, 1), TB.PARTENAIRE, svc.p.id, D("6300.00"), IBAN_ER, ES.A_PAYER, "AFAS")
    assert e.titulaire == svc.p.nom and "1ER ACOMPTE" in e.libelle
    # « Envoyer en paiement » (the payables' grid): its payment in the open batch of the AFAS programme
    comptable = ref.comptes["comptable"]
    assert run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids([e.id]), comptable, now=T0).changed == 1
    pay = db.session.execute(sa.select(m.Paiement).where(m.Paiement.echeance_id == e.id)).scalar_one()
    lot = db.session.get(m.LotPaiement, pay.lot_id)
    assert lot.dispositif.code == "AFAS" and pay.iban == IBAN_ER and pay.montant == D("6300.00")
    # the payer's controls pass (forecast transmitted, amount within its acompte) and the pain.001 carries it
    emettre_lot(db.session, lot.id, now=T0, actor=comptable)
    db.session.commit()
    lot = db.session.get(m.LotPaiement, lot.id)
    assert lot.statut == LotStatut.EMISE
    assert (pay.end_to_end_id, D("6300.00")) in lire(lot.fichier_sepa)
    assert IBAN_ER.encode() in lot.fichier_sepa
    rapprocher_lot(db.session, lot.id, actor=comptable, now=T0)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(m.Echeance, e.id).statut == ES.PAYEE
    assert afas_paiements.verse_par_declaration(db.session, [p25.id])[p25.id]["paye"] == D("6300.00")
    # sent back by the Caf and transmitted again: the acompte is owed once (exactly-once key, acompte kept)
    svc.go(p25, "renvoyer", svc.caf, motif_renvoi="Budget à détailler.")
    from backoffice.workflows import afas
    afas.enregistrer(db.session, [p25.id], actor=svc.fin, now=T0, part=afas.PART_FINANCES)
    transmettre(svc, p25)
    assert len(echeances(db, SE.AFAS_ACOMPTE, p25.id)) == 1


def test_R79_both_acomptes_in_the_same_month_and_the_70_percent_limit_then_the_balance_is_paid(db, ref):
    svc = Service(db.session, ref)
    p24 = svc.declaration(2024)  # droit 18 000; new service: 1st acompte 6 300
    transmettre(svc, p24)
    p25 = svc.declaration(2025)  # droit 18 000; no actual 2023: 1st acompte 35 % × 18 000 = 6 300
    transmettre(svc, p25)
    # actual 2024 processed the same month, the Caf retains 10 000 (44 % below the forecast 18 000, not
    # justified): 2nd acompte of 2025 = min(35 % × 18 000 = 6 300, 70 % × 10 000 − 6 300 = 700) = 700;
    # balance 2024 = 10 000 − 6 300 paid = 3 700
    r24 = svc.declaration(2024, DT.REELLE)
    svc.through(r24, droit_retenu=D("10000"), motif="Quatre mois de fermeture pour travaux.")
    db.session.commit()
    assert min(D("0.35") * 18000, D("0.70") * 10000 - 6300) == 700 and 10000 - 6300 == 3700
    a1, a2 = echeances(db, SE.AFAS_ACOMPTE, p25.id)  # same source, same month made payable: two payables
    assert (a1.periode, a1.montant, a2.periode, a2.montant) == (date(2025, 1, 1), D("6300.00"), date(2025, 7, 1),
                                                                D("700.00"))
    assert a1.created_at.month == a2.created_at.month == T0.month
    [s24] = echeances(db, SE.AFAS_SOLDE, r24.id)
    assert (s24.periode, s24.montant, s24.payee_id) == (date(2024, 1, 1), D("3700.00"), svc.p.id)
    ids = [a1.id, a2.id, s24.id]
    assert run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), ref.comptes["siege"], now=T0).changed == 3
    pays = db.session.scalars(sa.select(m.Paiement).where(m.Paiement.echeance_id.in_(ids))).all()
    [lot_id] = {p.lot_id for p in pays}
    emettre_lot(db.session, lot_id, now=T0, actor=ref.comptes["comptable"])
    db.session.commit()
    lot = db.session.get(m.LotPaiement, lot_id)
    assert lot.statut == LotStatut.EMISE
    assert {(p.end_to_end_id, p.montant) for p in pays} <= set(lire(lot.fichier_sepa))


def test_R79_payer_refuses_an_afas_payable_above_what_the_declaration_owes(db, ref):
    svc = Service(db.session, ref)
    p25 = svc.declaration(2025)
    transmettre(svc, p25)
    [e] = echeances(db, SE.AFAS_ACOMPTE, p25.id)
    db.session.execute(sa.update(m.Echeance).where(m.Echeance.id == e.id).values(montant=D("9999.00")))
    run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids([e.id]), ref.comptes["comptable"], now=T0)
    pay = db.session.execute(sa.select(m.Paiement).where(m.Paiement.echeance_id == e.id)).scalar_one()
    with pytest.raises(ValueError, match="aucun paiement accepté"):  # the only payment of its batch is refused
        emettre_lot(db.session, pay.lot_id, now=T0, actor=ref.comptes["comptable"])


def test_R79_negative_balance_becomes_an_ordre_de_reversement_of_origin_afas(db, ref):
    svc = Service(db.session, ref)
    p24 = svc.declaration(2024)  # 1st acompte 6 300
    transmettre(svc, p24)
    p25 = svc.declaration(2025)
    transmettre(svc, p25)
    # the Caf retains 5 000 for 2024: 2nd acompte of 2025 = min(6 300, 70 % × 5 000 − 6 300 = −2 800) → 0, nothing
    # payable; balance 2024 = 5 000 − 6 300 = −1 300: an order of 1 300 to recover from the partner
    r24 = svc.declaration(2024, DT.REELLE)
    svc.through(r24, droit_retenu=D("5000"), motif="Activité réduite de moitié.")
    db.session.commit()
    assert D("0.70") * 5000 - 6300 < 0 and 5000 - 6300 == -1300
    assert len(echeances(db, SE.AFAS_ACOMPTE, p25.id)) == 1  # the 1st only: a zero acompte is not a payable
    assert echeances(db, SE.AFAS_SOLDE, r24.id) == []
    db.session.refresh(r24)
    assert r24.solde == D("-1300.00") and r24.reversement_id is not None
    o = db.session.get(m.Reversement, r24.reversement_id)
    assert (o.origine, o.debiteur_type, o.debiteur_id, o.montant, o.statut, o.dispositif.code, o.debiteur_email) == (
        "ecart_afas", "partenaire", svc.p.id, D("1300.00"), RS.EMIS, "AFAS", svc.p.email)
    assert o.origine_label == "Écart Afas non justifié"
    # the accountant notifies it: the recovery workflow takes over (mail to the partner)
    assert run(db.session, __import__("backoffice.workflows.reversements", fromlist=["REVERSEMENT"]).REVERSEMENT,
               "notifier", Selection.of_ids([o.id]), ref.comptes["comptable"], now=T0).changed == 1
    assert db.session.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.cle == f"reversement-notifie-{o.id}")).one() \
        .destinataire == svc.p.email
    assert afas_paiements.verse_par_declaration(db.session, [r24.id])[r24.id]["a_reverser"] == D("1300.00")
    # processed once: no second order
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.Reversement).where(
        m.Reversement.debiteur_type == "partenaire", m.Reversement.debiteur_id == svc.p.id)) == 1


def test_R76_no_payable_without_the_services_valid_iban(db, ref):
    svc = Service(db.session, ref, iban=None)
    p25 = svc.declaration(2025)
    assert svc.go(p25, "controler", svc.fin).changed == 1
    assert svc.go(p25, "approuver", svc.app).changed == 1
    r = svc.go(p25, "transmettre", svc.app)
    assert r.changed == 0
    assert ("IBAN du service absent ou invalide : à renseigner dans sa fiche (Référentiel › Structures) avant tout "
            "paiement (R76)") in r.message()
    svc.p.iban = "FR7630006000011234567890188"  # wrong RIB key
    db.session.flush()
    assert svc.go(p25, "transmettre", svc.app).changed == 0
    svc.p.iban = IBAN_ER
    db.session.flush()
    assert svc.go(p25, "transmettre", svc.app).changed == 1
    assert len(echeances(db, SE.AFAS_ACOMPTE, p25.id)) == 1
