"""Bulk runs: the frozen set is processed chunk by chunk, resumable, and safe to run again."""

from datetime import date, datetime

import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent, BulkRun
from backoffice.models.enums import AllocationStatut as S, BulkRunStatut, CerfaStatut
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.bulk import process
from tests import factories as f

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
                              .where(AuditEvent.action == "valider")).scalar_one() == 6
