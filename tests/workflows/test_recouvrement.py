"""Issue 13, part 2: recovery of reversements of any origin (R47, D5316-15 [W30]) on the populated database:
notification, repayments, instalment plan and its reminders, offsets against the next payment, remises with
four eyes above the threshold, cancellation with a reason; `solde` exactly when nothing is left due."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from lxml import etree

from backoffice.models import (AuditEvent, Compensation, Compte, EcheancierLigne, LotPaiement, MailOutbox, Paiement,
                               RemiseReversement, Reversement)
from backoffice.models.enums import MailStatut, PaiementStatut as PS, ReversementStatut as RS, Role
from backoffice.rules.params import SEUIL_REMISE_DOUBLE_VALIDATION
from backoffice.workflows import Selection, run
from backoffice.workflows.engine import Context
from backoffice.workflows.errors import InvalidParameters, RoleRefused
from backoffice.workflows.paiements import emettre_lot
from backoffice.workflows.reversements import REVERSEMENT, emettre_reversements
from tests.jobs.conftest import smtp_server  # noqa: F401 (fixture: a real SMTP server, aiosmtpd)
from tests.workflows.test_rien_a_payer import send, validated

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 20, 9, 0)


def ctx(ref, who="comptable", now=NOW):
    c = ref.comptes[who]
    return Context(actor_id=c.id, role=c.role, now=now, params={})


def payment(db, ref, montant="561.68"):
    """A youth's validated allocation sent to payment: its `en_attente` payment in the open CEJ batch."""
    aid = validated(db, ref, montant)
    send(db, ref, [aid])
    return db.session.execute(sa.select(Paiement).where(Paiement.allocation_id == aid)).scalar_one()


def debt(db, ref, montant, *, beneficiaire_id=None, dispositif_id=None, origine="controle_r31"):
    if beneficiaire_id is None:
        beneficiaire_id = payment(db, ref).beneficiaire_id
    [rid] = emettre_reversements(db.session, [dict(
        origine=origine, debiteur_type="jeune", debiteur_id=beneficiaire_id, beneficiaire_id=beneficiaire_id,
        dispositif_id=dispositif_id or ref.dispositifs["CEJ"].id, antenne_id=ref.nord.id, montant=Decimal(montant),
        motif="Revenus d'indépendant non déclarés", debiteur_nom="Léa Martin")], ctx(ref))
    db.session.commit()
    return rid


def step(db, actor, name, rid, now=NOW, **params):
    report = run(db.session, REVERSEMENT, name, Selection.of_ids([rid] if isinstance(rid, int) else rid), actor,
                 params=params, now=now)
    db.session.commit()
    return report


def reload(db, rid) -> Reversement:
    db.session.expire_all()
    return db.session.get(Reversement, rid)


def second_manager(db, ref) -> Compte:
    first = ref.comptes["manager"]
    other = db.session.execute(sa.select(Compte).where(Compte.login == "manager2")).scalar_one_or_none()
    if other is None:
        other = Compte(login="manager2", role=Role.MANAGER, prenom="Marc", nom="Second", email="manager2@exemple.fr",
                       structure_id=first.structure_id, password_hash=first.password_hash, must_change_password=False)
        db.session.add(other)
        db.session.commit()
    return other


def notified(db, ref, montant, **kw):
    rid = debt(db, ref, montant, **kw)
    assert step(db, ref.comptes["comptable"], "notifier", rid).changed == 1
    return rid


# ---- any origin, any debtor -------------------------------------------------------------------------
def test_a_debt_of_any_origin_and_any_debtor_is_notified_by_mail_R47(db, ref):
    youth = notified(db, ref, "120.00", origine="ecart_afas")
    [org] = emettre_reversements(db.session, [dict(
        origine="regularisation", debiteur_type="etablissement", debiteur_id=4242, dispositif_id=ref.dispositifs["CEJ"].id,
        antenne_id=ref.nord.id, montant=Decimal("980.50"), debiteur_nom="Association Relais", 
        debiteur_email="compta@relais.example.fr")], ctx(ref))
    db.session.commit()
    assert step(db, ref.comptes["comptable"], "notifier", org).changed == 1
    r = reload(db, org)
    assert (r.beneficiaire_id, r.debiteur_type, r.numero) == (None, "etablissement", f"OR-2025-R{org:08d}")
    mails = {m.cle: m for m in db.session.execute(sa.select(MailOutbox).where(
        MailOutbox.cle.in_([f"reversement-notifie-{youth}", f"reversement-notifie-{org}"]))).scalars()}
    assert mails[f"reversement-notifie-{org}"].destinataire == "compta@relais.example.fr"
    assert mails[f"reversement-notifie-{org}"].contexte["origine"] == "Régularisation"
    assert mails[f"reversement-notifie-{youth}"].contexte["origine"] == "Écart Afas non justifié"
    with pytest.raises(Exception):  # an unknown origin is refused whole
        emettre_reversements(db.session, [dict(origine="caprice", debiteur_type="jeune", debiteur_id=1,
                                               dispositif_id=1, antenne_id=ref.nord.id, montant=Decimal("1.00"))],
                             ctx(ref))
    db.session.rollback()


# ---- instalments and their reminder ------------------------------------------------------------------
def test_instalments_a_missed_due_date_is_reminded_once_by_the_scheduler_job_over_smtp_R47(db, ref, app,
                                                                                          smtp_server):  # noqa: F811
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    comptable = ref.comptes["comptable"]
    rid = notified(db, ref, "300.00")
    assert step(db, comptable, "accorder_echeancier", rid, nombre_echeances="3",
                premiere_echeance=date(2025, 7, 5)).changed == 1
    lines = db.session.execute(sa.select(EcheancierLigne.rang, EcheancierLigne.date_echeance, EcheancierLigne.montant)
                               .where(EcheancierLigne.reversement_id == rid).order_by(EcheancierLigne.rang)).all()
    assert [tuple(x) for x in lines] == [(1, date(2025, 7, 5), Decimal("100.00")),
                                         (2, date(2025, 8, 5), Decimal("100.00")),
                                         (3, date(2025, 9, 5), Decimal("100.00"))]
    assert reload(db, rid).statut == RS.EN_RECOUVREMENT
    # a second plan on the same order is refused (a replay changes nothing)
    assert step(db, comptable, "accorder_echeancier", rid, nombre_echeances="2",
                premiere_echeance=date(2025, 7, 5)).refused
    # the first instalment is paid on time, the second is missed
    assert step(db, comptable, "rembourser", rid, now=datetime(2025, 7, 4, 10), montant="100,00",
                date_reception=date(2025, 7, 4), mode="virement", reference="VIR-ECH-1").changed == 1

    from backoffice.jobs.recouvrement import relancer_echeances
    app.config["NOW_OVERRIDE"] = datetime(2025, 7, 20, 6)  # nothing missed yet
    relancer_echeances()
    assert not db.session.execute(sa.select(MailOutbox.id).where(MailOutbox.template == "reversement_relance",
                                                                 MailOutbox.contexte["numero"].as_string()
                                                                 == reload(db, rid).numero)).first()
    app.config["NOW_OVERRIDE"] = datetime(2025, 8, 10, 6)
    first = relancer_echeances()
    again = relancer_echeances()  # the next tick: never twice for the same instalment
    assert first["changed"] >= 1 and again["changed"] == 0
    [line2] = db.session.execute(sa.select(EcheancierLigne).where(EcheancierLigne.reversement_id == rid,
                                                                  EcheancierLigne.rang == 2)).scalars()
    mails = db.session.execute(sa.select(MailOutbox).where(MailOutbox.cle.like("echeance-relance-%"),
                                                           MailOutbox.cle == f"echeance-relance-{line2.id}")).scalars().all()
    assert len(mails) == 1 and mails[0].template == "reversement_relance"
    from backoffice.jobs.mail import send_pending_mail
    send_pending_mail(limit=100000, raise_on_failure=False)  # the mail job (inline after the commit, or the worker)
    db.session.expire_all()
    assert db.session.get(MailOutbox, mails[0].id).statut == MailStatut.ENVOYE
    others = db.session.execute(sa.select(EcheancierLigne.relance_at).where(EcheancierLigne.reversement_id == rid,
                                                                            EcheancierLigne.rang != 2)).scalars().all()
    assert others == [None, None]
    numero = reload(db, rid).numero
    subjects = sorted(m["Subject"] for m in inbox.messages if numero in m["Subject"])
    assert subjects == [f"Ordre de reversement n° {numero}", f"Relance : échéance impayée de l'ordre de reversement "
                        f"n° {numero}", f"Échéancier de l'ordre de reversement n° {numero}"]
    received = [m for m in inbox.messages if m["Subject"].startswith("Relance") and numero in m["Subject"]]
    body = received[0].get_content()
    assert "100,00" in body and "05/08/2025" in body
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "reversement", AuditEvent.entity_id == rid,
        AuditEvent.action == "relance_echeance")).scalar_one() == 1


def test_the_reminder_job_is_a_periodic_job_of_the_worker():
    from backoffice.cli import PERIODIC
    assert ("backoffice.jobs.recouvrement.relancer_echeances", "default") in PERIODIC


# ---- offsetting against the next payment -----------------------------------------------------------------
def _file_amounts(lot_id, db) -> dict[str, Decimal]:
    xml = db.session.execute(sa.select(LotPaiement.fichier_sepa).where(LotPaiement.id == lot_id)).scalar_one()
    doc = etree.fromstring(xml)
    ns = {"p": doc.nsmap[None]}
    return {tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns): Decimal(tx.findtext("p:Amt/p:InstdAmt", namespaces=ns))
            for tx in doc.iterfind(".//p:CdtTrfTxInf", ns)}


def test_offsetting_300_against_a_payment_of_561_68_pays_261_68_and_settles_the_debt_R47(db, ref):
    p = payment(db, ref)
    rid = notified(db, ref, "300.00", beneficiaire_id=p.beneficiaire_id)
    assert step(db, ref.comptes["comptable"], "accord_compensation", rid,
                reference_accord="Accord écrit du 18/06/2025").changed == 1
    assert step(db, ref.comptes["comptable"], "accord_compensation", rid, reference_accord="bis").changed == 0
    report = emettre_lot(db.session, p.lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert report.changed == 1
    db.session.expire_all()
    p = db.session.get(Paiement, p.id)
    assert (p.statut, p.montant) == (PS.EMIS, Decimal("261.68"))
    assert _file_amounts(p.lot_id, db)[p.end_to_end_id] == Decimal("261.68")
    r = reload(db, rid)
    assert (r.statut, r.montant_compense, r.reste_du) == (RS.SOLDE, Decimal("300.00"), Decimal("0.00"))
    [c] = db.session.execute(sa.select(Compensation).where(Compensation.reversement_id == rid)).scalars()
    assert (c.paiement_id, c.montant, c.montant_paiement_avant) == (p.id, Decimal("300.00"), Decimal("561.68"))
    trail = db.session.execute(sa.select(AuditEvent.entity, AuditEvent.action, AuditEvent.to_status).where(
        sa.or_(sa.and_(AuditEvent.entity == "reversement", AuditEvent.entity_id == rid),
               sa.and_(AuditEvent.entity == "paiement", AuditEvent.entity_id == p.id))).order_by(AuditEvent.id)).all()
    assert [tuple(t) for t in trail][-4:] == [("reversement", "accord_compensation", "en_recouvrement"),
                                              ("reversement", "compensation", None),
                                              ("paiement", "compensation", "en_attente"),
                                              ("reversement", "solder", "solde")]
    lot = db.session.get(LotPaiement, p.lot_id)
    assert lot.montant_total == sum(_file_amounts(p.lot_id, db).values())


def test_a_payment_smaller_than_the_debt_is_wholly_offset_and_never_a_zero_transfer_R47(db, ref):
    other = payment(db, ref, "414.06")  # someone else in the same batch, who owes nothing
    p = payment(db, ref)
    rid = notified(db, ref, "700.00", beneficiaire_id=p.beneficiaire_id)
    step(db, ref.comptes["comptable"], "accord_compensation", rid, reference_accord="Accord téléphonique confirmé")
    emettre_lot(db.session, p.lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    db.session.expire_all()
    p, other = db.session.get(Paiement, p.id), db.session.get(Paiement, other.id)
    assert (p.statut, p.montant) == (PS.COMPENSE, Decimal("561.68"))  # settled by the offset, no transfer
    # issue 13 merge: its payable is paid at once, its allocation accepted, then paid with the batch
    from backoffice.models import Allocation, Echeance
    from backoffice.models.enums import AllocationStatut, EcheanceStatut
    from backoffice.workflows.paiements import rapprocher_lot
    assert db.session.get(Echeance, p.echeance_id).statut == EcheanceStatut.PAYEE
    assert db.session.get(Allocation, p.allocation_id).statut == AllocationStatut.ACCEPTEE
    amounts = _file_amounts(p.lot_id, db)
    assert p.end_to_end_id not in amounts and amounts[other.end_to_end_id] == Decimal("414.06")
    assert all(v > 0 for v in amounts.values())
    r = reload(db, rid)
    assert (r.statut, r.montant_compense, r.reste_du) == (RS.EN_RECOUVREMENT, Decimal("561.68"), Decimal("138.32"))
    lot = db.session.get(LotPaiement, p.lot_id)
    assert (lot.nb_paiements, lot.montant_total) == (len(amounts), sum(amounts.values()))
    rapprocher_lot(db.session, lot.id, actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Allocation, p.allocation_id).statut == AllocationStatut.VERSEE


def test_no_offset_without_agreement_nor_across_dispositifs_R47(db, ref):
    p = payment(db, ref)
    no_agreement = notified(db, ref, "50.00", beneficiaire_id=p.beneficiaire_id)
    pacea = notified(db, ref, "60.00", beneficiaire_id=p.beneficiaire_id, dispositif_id=ref.dispositifs["PACEA"].id)
    step(db, ref.comptes["comptable"], "accord_compensation", pacea, reference_accord="Accord du 01/06/2025")
    emettre_lot(db.session, p.lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Paiement, p.id).montant == Decimal("561.68")
    assert reload(db, no_agreement).reste_du == Decimal("50.00") and reload(db, pacea).reste_du == Decimal("60.00")


def test_an_offset_undone_when_its_payment_is_rejected_gives_the_debt_back(db, ref):
    from backoffice.workflows.recouvrement import annuler_compensations, imputer_compensations
    p = payment(db, ref)
    rid = notified(db, ref, "300.00", beneficiaire_id=p.beneficiaire_id)
    step(db, ref.comptes["comptable"], "accord_compensation", rid, reference_accord="Accord écrit")
    c = ctx(ref)
    assert imputer_compensations(db.session, [p.id], c)["montant"] == Decimal("300.00")
    assert imputer_compensations(db.session, [p.id], c)["compensations"] == 0  # nothing left to offset
    assert reload(db, rid).statut == RS.SOLDE
    assert annuler_compensations(db.session, [p.id], c) == 1
    db.session.commit()
    r = reload(db, rid)
    assert (r.statut, r.reste_du, r.solde_at) == (RS.EN_RECOUVREMENT, Decimal("300.00"), None)


# ---- remises ---------------------------------------------------------------------------------------------
def test_a_partial_remise_decided_by_a_manager_applies_at_once_below_the_threshold_D5316_15(db, ref):
    rid = notified(db, ref, "300.00")
    with pytest.raises(RoleRefused):
        step(db, ref.comptes["comptable"], "accorder_remise", rid, montant="100,00", motif="Situation précaire")
    db.session.rollback()
    with pytest.raises(InvalidParameters, match="Motif"):
        step(db, ref.comptes["manager"], "accorder_remise", rid, montant="100,00", motif="  ")
    db.session.rollback()
    assert step(db, ref.comptes["manager"], "accorder_remise", rid, montant="100,00",
                motif="Situation précaire (remise partielle)").changed == 1
    r = reload(db, rid)
    assert (r.statut, r.montant_remis, r.reste_du, r.remise_proposee) == (RS.EN_RECOUVREMENT, Decimal("100.00"),
                                                                         Decimal("200.00"), None)
    [d] = db.session.execute(sa.select(RemiseReversement).where(RemiseReversement.reversement_id == rid)).scalars()
    assert (d.statut, d.montant, d.propose_par_id, d.decide_par_id) == ("accordee", Decimal("100.00"),
                                                                       ref.comptes["manager"].id,
                                                                       ref.comptes["manager"].id)
    # more than what is left is refused, nothing changes
    assert step(db, ref.comptes["manager"], "accorder_remise", rid, montant="250,00", motif="Trop").refused
    assert reload(db, rid).montant_remis == Decimal("100.00")
    # the rest, total: the order is settled
    assert step(db, ref.comptes["manager"], "accorder_remise", rid, motif="Remise du solde").changed == 1
    r = reload(db, rid)
    assert (r.statut, r.montant_remis, r.reste_du) == (RS.SOLDE, Decimal("300.00"), Decimal("0.00"))


def test_four_eyes_above_the_threshold_the_same_manager_cannot_approve_a_second_can_D5316_15(db, ref):
    assert SEUIL_REMISE_DOUBLE_VALIDATION.valeur(NOW.date()) == Decimal("1500.00")
    manager, manager2 = ref.comptes["manager"], second_manager(db, ref)
    rid = notified(db, ref, "2500.00")
    assert step(db, manager, "accorder_remise", rid, montant="2000,00", motif="Surendettement").changed == 1
    r = reload(db, rid)
    assert (r.statut, r.remise_proposee, r.montant_remis) == (RS.REMISE_A_VALIDER, Decimal("2000.00"), Decimal("0.00"))
    refused = step(db, manager, "approuver_remise", rid)
    assert refused.changed == 0 and any("autre responsable" in k for k in refused.refused)
    assert reload(db, rid).statut == RS.REMISE_A_VALIDER
    # nothing is repaid nor offset on an order whose remise is being decided
    assert step(db, ref.comptes["comptable"], "rembourser", rid, montant="10,00", date_reception=date(2025, 6, 20),
                mode="cheque").changed == 0
    assert step(db, manager2, "approuver_remise", rid).changed == 1
    r = reload(db, rid)
    assert (r.statut, r.montant_remis, r.reste_du) == (RS.EN_RECOUVREMENT, Decimal("2000.00"), Decimal("500.00"))
    [d] = db.session.execute(sa.select(RemiseReversement).where(RemiseReversement.reversement_id == rid)).scalars()
    assert (d.statut, d.propose_par_id, d.decide_par_id) == ("accordee", manager.id, manager2.id)
    assert step(db, manager2, "approuver_remise", rid).changed == 0  # a replay moves nothing


def test_a_remise_above_the_threshold_may_be_refused_with_a_reason(db, ref):
    rid = notified(db, ref, "1600.00")
    step(db, ref.comptes["manager"], "accorder_remise", rid, motif="Remise totale demandée")
    assert reload(db, rid).statut == RS.REMISE_A_VALIDER
    assert step(db, second_manager(db, ref), "refuser_remise", rid, motif="Capacité de remboursement").changed == 1
    r = reload(db, rid)
    assert (r.statut, r.montant_remis, r.reste_du) == (RS.EN_RECOUVREMENT, Decimal("0.00"), Decimal("1600.00"))
    assert db.session.execute(sa.select(RemiseReversement.statut).where(
        RemiseReversement.reversement_id == rid)).scalar_one() == "refusee"


# ---- cancellation, repayments ------------------------------------------------------------------------------
def test_cancellation_needs_a_reason(db, ref):
    rid = notified(db, ref, "80.00")
    with pytest.raises(InvalidParameters, match="Motif"):
        step(db, ref.comptes["comptable"], "annuler", rid)
    db.session.rollback()
    assert reload(db, rid).statut == RS.NOTIFIE
    assert step(db, ref.comptes["comptable"], "annuler", rid, motif="Contrôle R31 infirmé en recours").changed == 1
    r = reload(db, rid)
    assert (r.statut, r.motif) == (RS.ANNULE, "Contrôle R31 infirmé en recours")


def test_repayments_in_bulk_partial_then_the_rest_and_a_replayed_reference_is_refused_R47(db, ref):
    comptable = ref.comptes["comptable"]
    a, b = notified(db, ref, "90.00"), notified(db, ref, "45.50")
    assert step(db, comptable, "rembourser", a, montant="abc", date_reception=date(2025, 6, 20),
                mode="virement").refused
    assert step(db, comptable, "rembourser", a, montant="40,00", date_reception=date(2025, 6, 20),
                mode="virement", reference="VIR-77").changed == 1
    assert step(db, comptable, "rembourser", a, montant="40,00", date_reception=date(2025, 6, 20),
                mode="virement", reference="VIR-77").changed == 0  # the same transfer twice: once
    # in bulk, the amount left empty: each pays what is left, both settled
    report = step(db, comptable, "rembourser", [a, b], date_reception=date(2025, 6, 21), mode="cheque")
    assert report.changed == 2
    ra, rb = reload(db, a), reload(db, b)
    assert (ra.statut, ra.montant_rembourse, rb.statut, rb.montant_rembourse) == (
        RS.SOLDE, Decimal("90.00"), RS.SOLDE, Decimal("45.50"))
    assert sum(x.montant for x in ra.remboursements) == Decimal("90.00")


def test_the_dry_run_of_a_step_with_parameters_previews_without_refusing(db, ref):
    rid = notified(db, ref, "80.00")
    for name, who in (("rembourser", "comptable"), ("accorder_echeancier", "comptable"),
                      ("accorder_remise", "manager"), ("accord_compensation", "comptable")):
        report = run(db.session, REVERSEMENT, name, Selection.of_ids([rid]), ref.comptes[who], dry_run=True, now=NOW)
        assert report.changed == 1, (name, report.refused)
    db.session.rollback()


def test_instalments_are_split_in_cents_with_the_rounding_on_the_last():
    from backoffice.workflows.recouvrement import repartir
    assert repartir(Decimal("100.00"), 3) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert repartir(Decimal("0.02"), 5) == [Decimal("0.01"), Decimal("0.01")]
    assert sum(repartir(Decimal("1234.57"), 36)) == Decimal("1234.57")


def test_the_missed_instalment_is_the_one_not_covered_in_due_date_order(db, ref):
    from backoffice.workflows.recouvrement import compte_debiteur
    rid = notified(db, ref, "90.00")
    step(db, ref.comptes["comptable"], "accorder_echeancier", rid, nombre_echeances="3",
         premiere_echeance=date(2025, 7, 1))
    step(db, ref.comptes["manager"], "accorder_remise", rid, montant="45,00", motif="Remise partielle")
    r = reload(db, rid)
    account = compte_debiteur(db.session, "jeune", r.debiteur_id, today=date(2025, 8, 15))
    states = [etat for o, line, etat in account["echeances"] if o.id == rid]
    assert states == ["payée", "en retard", "à venir"]  # 45 € cover the first (30) and half the second
    assert account["totaux"]["reste"] >= Decimal("45.00")


def test_a_correction_after_an_offset_counts_the_offset_as_paid_never_a_second_payment_R46_R47(db, ref):
    """561,68 € due, 300 € offset on the payment and 261,68 € transferred: the youth got 561,68 €. A correction
    to the same amount has a differential of 0, not a 300 € complement (double payment)."""
    from backoffice.models import Allocation
    from backoffice.workflows.allocations import differentiel_expr
    from backoffice.workflows.paiements import rapprocher_lot
    from backoffice.workflows.saisie import corriger_allocation
    p = payment(db, ref)
    rid = notified(db, ref, "300.00", beneficiaire_id=p.beneficiaire_id)
    step(db, ref.comptes["comptable"], "accord_compensation", rid, reference_accord="Accord écrit")
    emettre_lot(db.session, p.lot_id, now=NOW, actor=ref.comptes["comptable"])
    rapprocher_lot(db.session, p.lot_id, actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    new = corriger_allocation(db.session, p.allocation_id, actor=ref.comptes["conseiller"])
    db.session.commit()
    assert new.montant == Decimal("561.68")
    assert db.session.execute(sa.select(differentiel_expr()).where(Allocation.id == new.id)).scalar_one() == 0
