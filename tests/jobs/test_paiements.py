"""Payments: one batch per dispositif and date, exactly one payment per allocation, valid SEPA files."""

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

NOW = datetime(2025, 5, 2, 9, 0)  # R41: CEJ batches go on the 15th


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
    lot = db.session.execute(sa.select(LotPaiement)).scalar_one()
    assert (lot.date_execution, lot.statut, lot.nb_paiements, lot.montant_total) == (
        date(2025, 5, 15), LotStatut.PREPAREE, 2, Decimal("829.12"))
    assert {p.allocation_id for p in db.session.execute(sa.select(Paiement)).scalars()} == set(ids)


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
    assert db.session.execute(sa.select(sa.func.count()).select_from(LotPaiement)).scalar_one() == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement)).scalar_one() == 3
    assert not errors


def test_batch_emission_writes_an_xsd_valid_pain001_with_exact_totals_even_with_accents_R77(db, ref):
    ids = validated(db, ref, [("Ñúñez-O'Brien & Co", "Zoë"), ("Żółć", "Łukasz"), ("Lefèvre", "Anaïs")])
    send(db, ref, ids)
    lot_id = db.session.execute(sa.select(LotPaiement.id)).scalar_one()
    report = emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert report.changed == 1
    lot = db.session.get(LotPaiement, lot_id)
    transfers = lire(lot.fichier_sepa)
    assert sorted(e for e, _ in transfers) == sorted(f"ALLOC-{i}" for i in ids)
    assert sum(a for _, a in transfers) == Decimal("414.06") * 3 + 3 == lot.montant_total
    assert lot.statut == LotStatut.EMISE and len(lot.fichier_sha256) == 64
    assert {a.statut for a in db.session.execute(sa.select(Allocation)).scalars()} == {AS.ACCEPTEE}
    # a second emission (retried job, double click) changes nothing
    again = emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    assert again.changed == 0 and db.session.get(LotPaiement, lot_id).fichier_sha256 == lot.fichier_sha256


def test_a_wrong_rib_key_is_refused_by_the_payer_and_never_paid_R76(db, ref):
    ids = validated(db, ref, [("Martin", "Léa"), ("Dupont", "Hugo")])
    send(db, ref, ids)
    # the RIB was changed after validation to one whose French RIB key is wrong (E12)
    db.session.execute(sa.update(Paiement).where(Paiement.allocation_id == ids[1])
                       .values(iban="FR0630006000011234567890188"))
    db.session.commit()
    lot_id = db.session.execute(sa.select(LotPaiement.id)).scalar_one()
    emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert [e for e, _ in lire(db.session.get(LotPaiement, lot_id).fichier_sepa)] == [f"ALLOC-{ids[0]}"]
    refused = db.session.get(Allocation, ids[1])
    assert refused.statut == AS.REFUSEE and "R76" in refused.motif_refus


def test_reconciliation_marks_allocations_paid(db, ref):
    ids = validated(db, ref, [("Martin", "Léa")])
    send(db, ref, ids)
    lot_id = db.session.execute(sa.select(LotPaiement.id)).scalar_one()
    emettre_lot(db.session, lot_id, now=NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    rapprocher_lot(db.session, lot_id, actor=ref.comptes["comptable"], now=NOW)
    db.session.commit()
    assert db.session.get(Allocation, ids[0]).statut == AS.VERSEE
    assert db.session.execute(sa.select(Paiement.statut)).scalar_one() == PaiementStatut.EXECUTE


def test_control_totals_are_checked_against_the_decimal_sums():
    from backoffice.sepa import FichierSepaInvalide, construire
    v = [Virement("E2E-1", Decimal("10.10"), "Léa Martin", "FR7630006000011234567890189", None, "Allocation")]
    xml, _ = construire(msg_id="T1", debiteur={"name": "AGENCE", "IBAN": "FR7630001007941234567890185",
                                               "BIC": "BDFEFRPPCCT"}, execution=date(2025, 5, 15), virements=v,
                        now=NOW)
    with pytest.raises(FichierSepaInvalide):
        verifier(xml, v + [Virement("E2E-2", Decimal("0.01"), "X", "FR7630006000011234567890189", None, "x")])
