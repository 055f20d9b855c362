"""Payments: one batch per dispositif and date, exactly one payment per allocation, valid SEPA files.

On the populated database (issue 11): the demo's batches, payments and audit lie under the test's rows; every
assertion counts the test's own rows (its allocations' payments and batches).
"""

import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation, LotPaiement, Paiement
from backoffice.models.enums import AllocationStatut as AS, CerfaStatut, LotStatut, PaiementStatut
from backoffice.sepa import lire, verifier, Virement
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.paiements import emettre_lot, rapprocher_lot
from tests import factories as f

pytestmark = pytest.mark.populated

NOW = datetime(2025, 5, 2, 9, 0)  # R41: CEJ batches go on the 15th


def lots_of(ids):
    """The batches holding these allocations' payments (the demo's are elsewhere)."""
    return LotPaiement.id.in_(sa.select(Paiement.lot_id).where(Paiement.allocation_id.in_(ids)))


def validated(db, ref, names):
    ids = []
    for k, (nom, prenom) in enumerate(names):
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, nom=nom, prenom=prenom)
        cb.titulaire = f"{prenom} {nom}"[:49]
        c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=AS.VALIDEE_SIEGE, mois=date(2025, 4, 1),
                                     montant=Decimal("414.06") + k).id)
    db.session.commit()
    return ids


def send(db, ref, ids):
    report = run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), ref.comptes["siege"], now=NOW)
    db.session.commit()
    return report


def test_send_to_payment_puts_allocations_in_the_batch_of_their_dispositif_and_date_R41(db, ref):
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    assert send(db, ref, ids).changed == 2
    lot = db.session.execute(sa.select(LotPaiement).where(lots_of(ids))).scalar_one()
    assert (lot.date_execution, lot.statut, lot.nb_paiements, lot.montant_total) == (
        date(2025, 5, 15), LotStatut.PREPAREE, 2, Decimal("829.12"))
    assert {p.allocation_id for p in db.session.execute(sa.select(Paiement).where(Paiement.lot_id == lot.id))
            .scalars()} == set(ids)


def test_the_same_send_to_payment_posted_twice_concurrently_yields_one_batch_and_one_payment_each(app, db, ref):
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo"), ("Bernard", "Chloé")])
    from backoffice.extensions import db as _db
    barrier = threading.Barrier(2)
    errors = []
    siege_id = ref.comptes["siege"].id
    Compte = type(ref.comptes["siege"])

    def post():
        with app.app_context():
            try:
                barrier.wait()
                run(_db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), _db.session.get(Compte, siege_id),
                    now=NOW)
                _db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the loser may meet a lock; it must not double anything
                errors.append(exc)
                _db.session.rollback()
            finally:
                _db.session.remove()
    threads = [threading.Thread(target=post) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert db.session.execute(sa.select(sa.func.count()).select_from(LotPaiement).where(lots_of(ids))).scalar_one() == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(LotPaiement)
                              .where(LotPaiement.statut == LotStatut.PREPAREE)).scalar_one() == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement)
                              .where(Paiement.allocation_id.in_(ids))).scalar_one() == 3
    assert not errors


def test_two_sends_paid_on_the_same_date_fill_one_batch_side_by_side_without_waiting_issue13(app, db, ref):
    """Two siège agents send different allocations paid on the same date: the second send does not wait for the
    first one's transaction (the batch is opened in a transaction of its own, its totals are added at commit);
    both land in one batch whose totals are exact. Before, the second waited on the open batch's unique index
    until the first committed (the PACEA's sends of one month, R41, ran one after the other)."""
    first = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    second = validated(db, ref, [("Bernard", "Chloé")])
    from backoffice.extensions import db as _db
    siege_id = ref.comptes["siege"].id
    Compte = type(ref.comptes["siege"])
    inside, release, done, errors = threading.Event(), threading.Event(), threading.Event(), []

    def send_in_thread(ids, hold):
        with app.app_context():
            try:
                run(_db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), _db.session.get(Compte, siege_id),
                    now=NOW)
                if hold:
                    inside.set()
                    release.wait(30)
                _db.session.commit()
                done.set() if not hold else None
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                _db.session.rollback()
                inside.set()
            finally:
                _db.session.remove()
    t1 = threading.Thread(target=send_in_thread, args=(first, True))
    t1.start()
    assert inside.wait(30)
    t2 = threading.Thread(target=send_in_thread, args=(second, False))
    t2.start()
    while_first_open = done.wait(10)
    release.set()
    t1.join()
    t2.join()
    assert not errors
    assert while_first_open, "le second envoi a attendu la fin du premier"
    lot = db.session.execute(sa.select(LotPaiement).where(lots_of(first + second))).scalar_one()
    paid = db.session.execute(sa.select(sa.func.count(), sa.func.sum(Paiement.montant))
                              .where(Paiement.lot_id == lot.id)).one()
    assert (lot.statut, lot.nb_paiements, lot.montant_total) == (LotStatut.PREPAREE, 3, paid[1])
    assert paid[0] == 3


def test_a_send_rolled_back_leaves_an_empty_open_batch_that_the_next_send_fills_and_the_scheduler_skips(db, ref):
    """The batch opened apart outlives a send that fails afterwards: it stays open and empty, is never emitted by
    the scheduler while empty, and the next send for that programme and date fills it (one batch, exact totals)."""
    from backoffice.jobs.paiements import emit_due_batches
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), ref.comptes["siege"], now=NOW)
    lot_id = db.session.execute(sa.select(Paiement.lot_id).where(Paiement.allocation_id == ids[0])).scalar_one()
    db.session.rollback()  # the send fails after its batch was opened
    lot = db.session.get(LotPaiement, lot_id)
    assert (lot.statut, lot.nb_paiements, lot.montant_total) == (LotStatut.PREPAREE, 0, Decimal("0.00"))
    assert lot_id not in emit_due_batches()
    assert send(db, ref, ids).changed == 2
    db.session.expire_all()
    lot = db.session.get(LotPaiement, lot_id)
    assert (lot.nb_paiements, lot.montant_total) == (2, Decimal("829.12"))
    assert lot_id in emit_due_batches()


def test_batch_emission_writes_an_xsd_valid_pain001_with_exact_totals_even_with_accents_R77(db, ref):
    ids = validated(db, ref, [("Ñúñez-O'Brien & Co", "Zoë"), ("Żółć", "Łukasz"), ("Lefèvre", "Anaïs")])
    send(db, ref, ids)
    lot_id = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    report = emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert report.changed == 1
    lot = db.session.get(LotPaiement, lot_id)
    transfers = lire(lot.fichier_sepa)
    assert sorted(e for e, _ in transfers) == sorted(f"ALLOC-{i}" for i in ids)
    assert sum(a for _, a in transfers) == Decimal("414.06") * 3 + 3 == lot.montant_total
    assert lot.statut == LotStatut.EMISE and len(lot.fichier_sha256) == 64
    assert {a.statut for a in db.session.execute(sa.select(Allocation).where(Allocation.id.in_(ids))).scalars()} == {
        AS.ACCEPTEE}
    # a second emission (retried job, double click) changes nothing
    again = emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    assert again.changed == 0 and db.session.get(LotPaiement, lot_id).fichier_sha256 == lot.fichier_sha256


def test_the_emission_rewrites_no_index_entry_of_the_payments_it_emits_issue13(db, ref):
    """Migration 0032: no index reads a payment's status (the exactly-once index reads `motif_rejet IS NULL`), and the
    table leaves room on its pages, so en_attente → emis is a heap-only (HOT) update: PostgreSQL counts them in the
    transaction's statistics. Before, each emitted payment wrote nine index entries (the benchmark's largest write
    after the allocations')."""
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo"), ("Bernard", "Chloé"), ("Petit", "Inès")])
    send(db, ref, ids)
    lot_id = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    assert emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"]).changed == 1
    updated, hot = db.session.execute(sa.text(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'paiement'")).one()
    db.session.commit()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement).where(
        Paiement.lot_id == lot_id, Paiement.statut == PaiementStatut.EMIS)).scalar_one() == 4
    assert (updated, hot) == (4, 4)


def test_a_live_payment_never_carries_a_rejection_reason_so_the_exactly_once_index_stays_exact_issue13(db, ref):
    """`uq_paiement_echeance_vivant` holds the payments whose `motif_rejet` is empty: the database refuses a reason on
    a payment that is not rejected (check motif_si_rejete), and a rejected one without a reason (rejet_motive), so
    « no reason » is exactly « not rejected »: a second live payment of the same payable is refused."""
    ids = validated(db, ref, [("Martin", "Léa")])
    send(db, ref, ids)
    p = db.session.execute(sa.select(Paiement).where(Paiement.allocation_id == ids[0])).scalar_one()
    with pytest.raises(sa.exc.IntegrityError, match="motif_si_rejete"):
        db.session.execute(sa.update(Paiement).where(Paiement.id == p.id).values(motif_rejet="AC04 – Compte clôturé"))
    db.session.rollback()
    with pytest.raises(sa.exc.IntegrityError, match="uq_paiement_echeance_vivant"):
        db.session.execute(sa.insert(Paiement).values(
            lot_id=p.lot_id, echeance_id=p.echeance_id, allocation_id=p.allocation_id, end_to_end_id="ALLOC-DOUBLE",
            montant=p.montant, titulaire=p.titulaire, iban=p.iban, libelle=p.libelle, statut=PaiementStatut.EN_ATTENTE,
            created_at=NOW, updated_at=NOW))
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement)
                              .where(Paiement.echeance_id == p.echeance_id)).scalar_one() == 1


def test_a_wrong_rib_key_is_refused_by_the_payer_and_never_paid_R76(db, ref):
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    send(db, ref, ids)
    # the RIB was changed after validation to one whose French RIB key is wrong (E12)
    db.session.execute(sa.update(Paiement).where(Paiement.allocation_id == ids[1])
                       .values(iban="FR0630006000011234567890188"))
    db.session.commit()
    lot_id = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert [e for e, _ in lire(db.session.get(LotPaiement, lot_id).fichier_sepa)] == [f"ALLOC-{ids[0]}"]
    refused = db.session.get(Allocation, ids[1])
    assert refused.statut == AS.REFUSEE and "R76" in refused.motif_refus


def test_reconciliation_marks_allocations_paid(db, ref):
    ids = validated(db, ref, [("Martin", "Léa")])
    send(db, ref, ids)
    lot_id = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    rapprocher_lot(db.session, lot_id, actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    assert db.session.get(Allocation, ids[0]).statut == AS.VERSEE
    assert db.session.execute(sa.select(Paiement.statut).where(Paiement.allocation_id.in_(ids))).scalar_one() == (
        PaiementStatut.EXECUTE)


def test_control_totals_are_checked_against_the_decimal_sums():
    from backoffice.sepa import FichierSepaInvalide, construire
    v = [Virement("E2E-1", Decimal("10.10"), "Léa Martin", "FR7630006000011234567890189", None, "Allocation")]
    xml, _ = construire(msg_id="T1", debiteur={"name": "AGENCE", "IBAN": "FR7630001007941234567890185",
                                               "BIC": "BDFEFRPPCCT"}, execution=date(2025, 5, 15), virements=v,
                        now=NOW)
    with pytest.raises(FichierSepaInvalide):
        verifier(xml, v + [Virement("E2E-2", Decimal("0.01"), "X", "FR7630006000011234567890189", None, "x")])


def _canonical(xml: bytes) -> list[tuple[str, str | None, dict]]:
    """Every element in document order, identifiers and dates included (both writers write the same)."""
    from lxml import etree
    return [(el.tag, el.text, dict(el.attrib)) for el in etree.fromstring(xml).iter()]


def _field(xml: bytes, path: str) -> str:
    from lxml import etree

    from backoffice.sepa import NS
    return etree.fromstring(xml).findtext(path, namespaces=NS)


MSG_ID, CRE_DT_TM, EXECUTION = ("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", "p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm",
                                "p:CstmrCdtTrfInitn/p:PmtInf/p:ReqdExctnDt")


def test_direct_writer_equals_sepaxml_for_large_batches_R77():
    """From ECRITURE_DIRECTE transfers on the document is written directly: same XSD-valid content."""
    from backoffice.sepa import ECRITURE_DIRECTE, construire
    names = ["Ñúñez-O'Brien & Co", "Żółć Łukasz", "Lefèvre <Anaïs>", "  Zoë   \"Müller\"; Fils!", "", "Jean_Pierre"]
    v = [Virement(f"ALLOC-{k}", Decimal("414.06") + k + Decimal("0.01") * (k % 7), names[k % len(names)],
                  "FR7630006000011234567890189", "AGRIFRPP882" if k % 3 == 0 else None,
                  f"ALLOCATION CEJ PARCOURS P{k} été")
         for k in range(ECRITURE_DIRECTE + 50)]
    debiteur = {"name": "Agence de services & de paiement", "IBAN": "FR7630001007941234567890185",
                "BIC": "BDFEFRPPCCT"}
    direct, _ = construire(msg_id="LOT-CEJ-20250515-090000", debiteur=debiteur, execution=date(2025, 5, 15),
                           virements=v, now=NOW)
    reference, _ = construire(msg_id="LOT-CEJ-20250515-090000", debiteur=debiteur, execution=date(2025, 5, 15),
                              virements=v, now=NOW, direct=False)
    assert _canonical(direct) == _canonical(reference)
    assert b"<MsgId>LOT-CEJ-20250515-090000</MsgId>" in direct  # deterministic identifiers
    assert b"<CreDtTm>2025-05-02T09:00:00</CreDtTm>" in direct
    again, _ = construire(msg_id="LOT-CEJ-20250515-090000", debiteur=debiteur, execution=date(2025, 5, 15),
                          virements=v, now=NOW)
    assert again == direct
    assert sum(a for _, a in lire(direct)) == sum(x.montant for x in v)


def test_refusals_of_several_reasons_are_set_based_and_audited_R45_R76(db, ref):
    from backoffice.models import AuditEvent, Cerfa
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo"), ("Bernard", "Chloé"), ("Petit", "Jade")])
    send(db, ref, ids)
    db.session.execute(sa.update(Paiement).where(Paiement.allocation_id == ids[1])
                       .values(iban="FR0630006000011234567890188"))
    cerfa_id = db.session.get(Allocation, ids[2]).cerfa_id
    db.session.execute(sa.update(Cerfa).where(Cerfa.id == cerfa_id).values(statut=CerfaStatut.SAISI))
    db.session.commit()
    lot_id = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    lot = db.session.get(LotPaiement, lot_id)
    assert sorted(e for e, _ in lire(lot.fichier_sepa)) == sorted([f"ALLOC-{ids[0]}", f"ALLOC-{ids[3]}"])
    assert (lot.nb_paiements, lot.montant_total) == (2, Decimal("414.06") * 2 + 3)
    a1, a2 = db.session.get(Allocation, ids[1]), db.session.get(Allocation, ids[2])
    assert (a1.statut, a2.statut) == (AS.REFUSEE, AS.REFUSEE)
    assert "R76" in a1.motif_refus and "R45" in a2.motif_refus
    events = db.session.execute(sa.select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.params)
                                .where(AuditEvent.action.in_(["refus_payeur", "accepter_payeur"]),
                                       AuditEvent.entity == "allocation", AuditEvent.entity_id.in_(ids))).all()
    assert sorted((e[0], e[1]) for e in events) == sorted(
        [(ids[0], "accepter_payeur"), (ids[3], "accepter_payeur"), (ids[1], "refus_payeur"), (ids[2], "refus_payeur")])
    assert {e[2]["motif"] for e in events if e[1] == "refus_payeur"} == {
        "IBAN invalide (clé RIB) (R76)", "cerfa non validé (R45)"}
    statuts = dict(db.session.execute(sa.select(Paiement.allocation_id, Paiement.statut)
                                      .where(Paiement.allocation_id.in_(ids))).all())
    assert statuts == {ids[0]: PaiementStatut.EMIS, ids[1]: PaiementStatut.REJETE, ids[2]: PaiementStatut.REJETE,
                       ids[3]: PaiementStatut.EMIS}


def test_a_send_after_the_emission_opens_a_new_batch_never_the_emitted_one(db, ref):
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    send(db, ref, ids[:1])
    first = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    emettre_lot(db.session, first, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    send(db, ref, ids[1:])
    lots = db.session.execute(sa.select(LotPaiement.id, LotPaiement.statut, LotPaiement.nb_paiements)
                              .where(lots_of(ids)).order_by(LotPaiement.id)).all()
    assert [(s, n) for _, s, n in lots] == [(LotStatut.EMISE, 1), (LotStatut.PREPAREE, 1)]
    assert db.session.execute(sa.select(Paiement.lot_id).where(Paiement.allocation_id == ids[1])).scalar_one() != first


def test_send_refuses_a_wrong_rib_key_in_one_statement_audits_moved_rows_only_and_is_idempotent_R76(
        db, ref, monkeypatch):
    from backoffice.models import AuditEvent, Cerfa, CompteBancaire
    from backoffice.workflows import engine
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo"), ("Bernard", "Chloé")])
    cb_id = db.session.get(Cerfa, db.session.get(Allocation, ids[1]).cerfa_id).compte_bancaire_id
    db.session.execute(sa.update(CompteBancaire).where(CompteBancaire.id == cb_id)
                       .values(iban="FR0630006000011234567890188"))  # mod 97 right, French RIB key wrong (E12)
    db.session.commit()
    fast = []
    real = engine._apply_chunk_pg
    monkeypatch.setattr(engine, "_apply_chunk_pg", lambda *a, **kw: fast.append(1) or real(*a, **kw))
    report = send(db, ref, ids)
    assert fast, "the IBAN guard, resolved once per distinct IBAN, must let the engine take its fast path"
    assert report.changed == 2 and report.refused == {"IBAN du RIB invalide (clé RIB ou format) (R76)": 1}
    assert db.session.get(Allocation, ids[1]).statut == AS.VALIDEE_SIEGE
    mine = Paiement.allocation_id.in_(ids)
    assert sorted(db.session.execute(sa.select(Paiement.allocation_id).where(mine)).scalars()) == [ids[0], ids[2]]
    own_events = sa.and_(AuditEvent.action == "transmettre", AuditEvent.entity == "allocation",
                         AuditEvent.entity_id.in_(ids))
    audited = db.session.execute(sa.select(AuditEvent.entity_id).where(own_events)).scalars()
    assert sorted(audited) == [ids[0], ids[2]]
    lot = db.session.execute(sa.select(LotPaiement).where(lots_of(ids))).scalar_one()
    assert lot.nb_paiements == 2 and lot.montant_total == Decimal("414.06") + Decimal("416.06")

    again = send(db, ref, ids)
    assert again.changed == 0 and again.refused["IBAN du RIB invalide (clé RIB ou format) (R76)"] == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement).where(mine)).scalar_one() == 2
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(own_events)).scalar_one() == 2


def test_the_iban_guard_rechecks_the_account_in_sql_an_iban_changed_after_the_python_check_is_refused_R76(db, ref):
    from backoffice.models import Cerfa, CompteBancaire
    from backoffice.workflows.allocations import RIB_VALIDE
    from backoffice.workflows.engine import Context
    ids = validated(db, ref, [("Martin", "Léa")])
    ctx = Context(actor_id=None, role=None, now=NOW, params={})
    clause = RIB_VALIDE.resolve(db.session, ids, ctx)  # schwifty ran on the IBAN of this moment
    assert db.session.execute(sa.select(Allocation.id).where(Allocation.id == ids[0], clause)).scalar() == ids[0]
    cb_id = db.session.get(Cerfa, db.session.get(Allocation, ids[0]).cerfa_id).compte_bancaire_id
    db.session.execute(sa.update(CompteBancaire).where(CompteBancaire.id == cb_id)
                       .values(iban="FR7630001007941234567890185"))  # valid, but never checked by this chunk
    assert db.session.execute(sa.select(Allocation.id).where(Allocation.id == ids[0], clause)).scalar() is None


@pytest.mark.parametrize("send_at, r41, reqd", [
    (datetime(2025, 4, 20, 10, 0), date(2025, 5, 1), date(2025, 5, 2)),  # 1 May: TARGET2 closed
    (datetime(2025, 3, 3, 10, 0), date(2025, 3, 15), date(2025, 3, 17)),  # a Saturday
    (datetime(2026, 3, 20, 10, 0), date(2026, 4, 1), date(2026, 4, 1)),  # a Wednesday: as it is
])
def test_the_file_asks_for_the_next_target2_business_day_when_the_r41_date_is_closed(db, ref, send_at, r41, reqd):
    """Issue 11, defect 8: ReqdExctnDt is a TARGET2 business day (rules.calendrier.date_execution); the batch
    keeps its R41 date (one open batch per dispositif and date)."""
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), ref.comptes["siege"], now=send_at)
    db.session.commit()
    lot_id = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    emettre_lot(db.session, lot_id, now=send_at, actor=ref.comptes["comptable"])
    db.session.commit()
    lot = db.session.get(LotPaiement, lot_id)
    assert lot.date_execution == r41 and lot.statut == LotStatut.EMISE
    assert _field(lot.fichier_sepa, EXECUTION) == reqd.isoformat()


@pytest.mark.parametrize("direct", [False, True])
def test_christmas_and_a_late_emission_move_the_requested_date_on_both_writers(direct):
    from backoffice.sepa import construire
    v = [Virement("E2E-1", Decimal("10.10"), "Léa Martin", "FR7630006000011234567890189", None, "Allocation")]
    debiteur = {"name": "AGENCE", "IBAN": "FR7630001007941234567890185", "BIC": "BDFEFRPPCCT"}
    noel, _ = construire(msg_id="T1", debiteur=debiteur, execution=date(2025, 12, 25), virements=v,
                         now=datetime(2025, 12, 20, 9, 0), direct=direct)
    assert _field(noel, EXECUTION) == "2025-12-29"  # 25, 26 (TARGET2 holidays), then the weekend
    late, _ = construire(msg_id="T2", debiteur=debiteur, execution=date(2025, 6, 1), virements=v,
                         now=datetime(2025, 6, 3, 9, 0), direct=direct)
    assert _field(late, EXECUTION) == "2025-06-03"  # never a date already past at emission


def test_a_file_built_at_20_02_says_20_02_in_its_msgid_and_credttm_R77(db, ref):
    """Issue 11, defect 8: sepaxml's MsgId used the 12-hour clock (08:02 for a file made at 20:02) and its
    CreDtTm the wall clock; the batch reference (24-hour) and the emission time are written instead."""
    evening = datetime(2025, 5, 2, 20, 2)
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), ref.comptes["siege"], now=evening)
    db.session.commit()
    lot_id = db.session.execute(sa.select(LotPaiement.id).where(lots_of(ids))).scalar_one()
    emettre_lot(db.session, lot_id, now=evening, actor=ref.comptes["comptable"])
    db.session.commit()
    lot = db.session.get(LotPaiement, lot_id)
    msg_id, created = _field(lot.fichier_sepa, MSG_ID), _field(lot.fichier_sepa, CRE_DT_TM)
    assert msg_id == lot.reference and "-200200" in msg_id and "0802" not in msg_id
    assert created == "2025-05-02T20:02:00"


def test_both_writers_agree_on_identifiers_and_dates_from_200_transfers_R77():
    from backoffice.sepa import ECRITURE_DIRECTE, construire
    evening = datetime(2025, 5, 2, 20, 2, 7)
    v = [Virement(f"ALLOC-{k}", Decimal("414.06") + k, f"Jeune {k}", "FR7630006000011234567890189", None,
                  f"ALLOCATION CEJ PARCOURS P{k}") for k in range(ECRITURE_DIRECTE)]
    debiteur = {"name": "Agence de services & de paiement", "IBAN": "FR7630001007941234567890185",
                "BIC": "BDFEFRPPCCT"}
    kw = dict(msg_id="LOT-CEJ-20250601-01-200200000000", debiteur=debiteur, execution=date(2025, 5, 1),
              virements=v, now=evening)
    direct, _ = construire(**kw)  # ≥ ECRITURE_DIRECTE: written directly
    reference, _ = construire(**kw, direct=False)
    assert _canonical(direct) == _canonical(reference)
    for xml in (direct, reference):
        assert (_field(xml, MSG_ID), _field(xml, CRE_DT_TM), _field(xml, EXECUTION)) == (
            "LOT-CEJ-20250601-01-200200000000", "2025-05-02T20:02:07", "2025-05-02")
