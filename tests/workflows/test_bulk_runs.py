"""Bulk runs: the frozen set is processed chunk by chunk, resumable, and safe to run again.

On the populated database (issue 11): the demo's allocations and audit lie under the test's rows.
"""

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent, BulkRun
from backoffice.models.enums import AllocationStatut as S, BulkRunStatut, CerfaStatut
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.bulk import process
from tests import factories as f

pytestmark = pytest.mark.populated

NOW = datetime(2025, 5, 2, 9, 0)


def submitted(db, ref, n):
    ids = []
    for k in range(n):
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
        c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2025, 3, 1)).id)
    db.session.commit()
    return ids


def frozen_run(db, ref, ids):
    run = BulkRun(workflow="allocation", transition="valider", actor_id=ref.comptes["siege"].id, ids=ids,
                  total=len(ids), statut=BulkRunStatut.EN_ATTENTE, refus={}, params={})
    db.session.add(run)
    db.session.commit()
    return run.id


def test_a_bulk_run_processes_its_frozen_ids_in_chunks_with_progress(db, ref):
    ids = submitted(db, ref, 7)
    run_id = frozen_run(db, ref, ids[:6])  # the 7th was not previewed: it must stay untouched
    run = process(db.session, run_id, now_fn=lambda: NOW, chunk_size=4)
    assert (run.statut, run.traites, run.modifies) == (BulkRunStatut.TERMINE, 6, 6)
    assert db.session.get(Allocation, ids[6]).statut == S.SOUMISE
    events = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                                .where(AuditEvent.bulk_run_id == run_id)).scalar_one()
    assert events == 6  # one audit event per row, tied to the run


def test_a_restarted_run_resumes_after_the_last_committed_chunk_and_counts_nothing_twice(db, ref):
    ids = submitted(db, ref, 6)
    run_id = frozen_run(db, ref, ids)
    # a worker that died after committing the first chunk (progress and changes committed together)
    from backoffice.workflows import Selection, run as run_transition
    run_transition(db.session, ALLOCATION, "valider", Selection.of_ids(ids[:3]), ref.comptes["siege"], now=NOW,
                   bulk_run_id=run_id)
    db.session.execute(sa.update(BulkRun).where(BulkRun.id == run_id).values(
        traites=3, modifies=3, statut=BulkRunStatut.EN_COURS))
    db.session.commit()
    run = process(db.session, run_id, now_fn=lambda: NOW, chunk_size=2)
    assert (run.traites, run.modifies, run.refus) == (6, 6, {})
    again = process(db.session, run_id, now_fn=lambda: NOW)  # a retried job: nothing more
    assert again.modifies == 6
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "valider", AuditEvent.entity == "allocation",
                                     AuditEvent.entity_id.in_(ids))).scalar_one() == 6


def test_a_bulk_send_to_payment_pays_what_is_due_and_closes_what_has_nothing_to_pay_R25_R41(db, ref):
    """The bulk path runs the same effects: payments in the open batch, amount 0 closed « rien à payer », every
    audit event (the closure too) tied to the run; the demo's own rows untouched."""
    from decimal import Decimal

    from backoffice.models import LotPaiement, Paiement
    ids, montants = [], [Decimal("414.06"), Decimal("0.00"), Decimal("561.68")]
    for montant in montants:
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
        c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=S.VALIDEE_SIEGE, mois=date(2025, 4, 1),
                                     montant=montant).id)
    db.session.commit()
    demo_waiting = db.session.execute(sa.select(sa.func.count()).select_from(Allocation).where(
        Allocation.statut == S.VALIDEE_SIEGE, Allocation.id.notin_(ids))).scalar_one()
    run = BulkRun(workflow="allocation", transition="transmettre", actor_id=ref.comptes["siege"].id, ids=ids,
                  total=len(ids), statut=BulkRunStatut.EN_ATTENTE, refus={}, params={})
    db.session.add(run)
    db.session.commit()
    done = process(db.session, run.id, now_fn=lambda: NOW, chunk_size=2)
    assert (done.statut, done.traites, done.modifies) == (BulkRunStatut.TERMINE, 3, 3)
    statuts = dict(db.session.execute(sa.select(Allocation.id, Allocation.statut).where(Allocation.id.in_(ids))).all())
    assert statuts == {ids[0]: S.TRANSMISE, ids[1]: S.RIEN_A_PAYER, ids[2]: S.TRANSMISE}
    lot = db.session.execute(sa.select(LotPaiement).where(LotPaiement.id.in_(
        sa.select(Paiement.lot_id).where(Paiement.allocation_id.in_(ids))))).scalar_one()
    assert (lot.nb_paiements, lot.montant_total) == (2, Decimal("975.74"))
    events = db.session.execute(sa.select(AuditEvent.entity_id, AuditEvent.action)
                                .where(AuditEvent.bulk_run_id == run.id)).all()
    assert sorted(events) == sorted([(i, "transmettre") for i in ids] + [(ids[1], "clore_rien_a_payer")])
    assert db.session.execute(sa.select(sa.func.count()).select_from(Allocation).where(
        Allocation.statut == S.VALIDEE_SIEGE, Allocation.id.notin_(ids))).scalar_one() == demo_waiting
