"""Issue 20: a bulk run whose worker is killed (SIGKILL) mid-way resumes after its last committed chunk, without
redoing or losing a row — through a real Redis and real `backoffice worker` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent, BulkRun
from backoffice.models.enums import AllocationStatut as AS, BulkRunStatut
from tests.jobs.conftest import BIN, run_worker_burst, worker_env


def _progress(db, run_id, ids):
    """(traites, modifies, rows moved, audit events) read in ONE statement, so from one snapshot."""
    run = sa.select(BulkRun).where(BulkRun.id == run_id).subquery()
    moved = (sa.select(sa.func.count()).select_from(Allocation)
             .where(Allocation.id.in_(ids), Allocation.statut == AS.VALIDEE_SIEGE).scalar_subquery())
    events = (sa.select(sa.func.count()).select_from(AuditEvent)
              .where(AuditEvent.bulk_run_id == run_id, AuditEvent.action == "valider").scalar_subquery())
    row = db.session.execute(sa.select(run.c.traites, run.c.modifies, moved, events)).one()
    db.session.rollback()
    return tuple(row)


N = 10_000  # rows: 100 chunks of 100, so that the kill lands well inside the run


def test_a_bulk_run_killed_mid_way_resumes_without_redoing_or_losing_a_row(jobs_app, db, ref, redis_conn):
    from rq import Queue

    from benchmarks.bulk import seed
    before = db.session.execute(sa.select(sa.func.coalesce(sa.func.max(Allocation.id), 0))).scalar_one()
    seed(db, N, statut="soumise")  # submitted CEJ allocations, cerfa validated with a RIB
    ids = db.session.execute(sa.select(Allocation.id).where(Allocation.id > before, Allocation.statut == AS.SOUMISE)
                             .order_by(Allocation.id)).scalars().all()
    assert len(ids) == N
    run = BulkRun(workflow="allocation", transition="valider", actor_id=ref.comptes["siege"].id, ids=ids,
                  total=len(ids), statut=BulkRunStatut.EN_ATTENTE, refus={}, params={})
    db.session.add(run)
    db.session.commit()
    q = Queue("bulk", connection=redis_conn)
    q.enqueue("backoffice.jobs.bulk.process_bulk_run", run.id, job_id=f"bulk-{run.id}")

    # small chunks so that the kill lands between two commits
    worker = subprocess.Popen([str(BIN), "worker", "-q", "bulk", "--without-scheduler"],
                              env=worker_env(jobs_app, BULK_RUN_CHUNK_SIZE=100), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        # only the run's own progress row, read by primary key: on a quiet machine a chunk of 100 takes a few
        # milliseconds, so the poll must be cheaper than that to land mid-run
        traites = sa.select(BulkRun.traites).where(BulkRun.id == run.id)
        while time.time() < deadline and (db.session.execute(traites).scalar_one() or 0) < 300:
            db.session.rollback()
            time.sleep(0.002)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work-horse, mid-chunk or between two
        worker.wait()
    time.sleep(0.5)  # a COMMIT the server had already received when the work-horse died completes anyway
    traites, modifies, moved, events = _progress(db, run.id, ids)
    assert 300 <= traites < len(ids), traites  # killed partway
    # what was committed is exactly the progress: changes and progress go together, nothing half done
    assert traites == modifies == moved == events

    # an operator re-queues the abandoned job; the new worker resumes after the last committed chunk
    q.enqueue("backoffice.jobs.bulk.process_bulk_run", run.id, job_id=f"bulk-{run.id}-bis")
    run_worker_burst(jobs_app, "bulk", timeout=300, BULK_RUN_CHUNK_SIZE=100)
    db.session.expire_all()
    done = db.session.get(BulkRun, run.id)
    assert (done.statut, done.traites, done.modifies, done.refus) == (BulkRunStatut.TERMINE, len(ids), len(ids), {})
    # every row moved once, one audit event each: none redone, none lost
    assert _progress(db, run.id, ids)[2:] == (len(ids), len(ids))
    per_row = db.session.execute(sa.select(AuditEvent.entity_id, sa.func.count()).where(
        AuditEvent.bulk_run_id == run.id).group_by(AuditEvent.entity_id).having(sa.func.count() > 1)).all()
    assert per_row == []
