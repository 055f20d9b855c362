"""Bulk runs: the previewed ids are frozen into a BulkRun; a job works through them chunk by chunk.

Progress (traites, modifies, refus) is committed in the same transaction as each chunk's changes,
so a retried or restarted job resumes where the last commit left off and counts nothing twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from ..models import BulkRun, Compte
from ..models.enums import BulkRunStatut
from .engine import CHUNK_SIZE, Context, Report, apply_chunk, check_params, check_role


def schedule(session, wf, name: str, ids: list[int], actor, *, params: dict | None = None,
             description: str | None = None, now: datetime, run: BulkRun | None = None) -> BulkRun:
    """Freeze `ids` (the previewed set; or confirm the previewed `run`) and queue the job after commit."""
    from .outbox import enqueue_after_commit

    t = wf.transition(name)
    check_role(t, actor)
    params = check_params(t, params)
    if run is None:
        run = BulkRun(workflow=wf.name, transition=name, actor_id=actor.id, ids=sorted(ids), total=len(ids),
                      description=description, created_at=now, refus={})
        session.add(run)
    run.params = params
    run.statut = BulkRunStatut.EN_ATTENTE
    run.updated_at = now
    session.flush()
    enqueue_after_commit(session, fonction="backoffice.jobs.bulk.process_bulk_run", arguments=[run.id],
                         file="bulk", cle=f"bulk-run-{run.id}")
    return run


RUN_CHUNK_SIZE = 10 * CHUNK_SIZE  # rows per committed chunk of a bulk run (config BULK_RUN_CHUNK_SIZE)


def _chunk_size() -> int:
    """Issue 20: 10,000 rows per commit (was 2,000): the per-chunk cost (the run's row locked and updated, the
    commit, the audit block sealed after it) is paid 10 times for 100,000 rows instead of 50; progress is still
    committed with each chunk's changes (a page refresh shows it, a restart resumes after it)."""
    from flask import current_app, has_app_context
    if has_app_context():
        return int(current_app.config.get("BULK_RUN_CHUNK_SIZE") or RUN_CHUNK_SIZE)
    return RUN_CHUNK_SIZE


def process(session, run_id: int, *, now_fn, chunk_size: int | None = None) -> BulkRun | None:
    """Work through a BulkRun; commits after each chunk. Safe to call again (retries, restarts)."""
    from . import registry
    chunk_size = chunk_size or _chunk_size()

    run = session.execute(sa.select(BulkRun).where(BulkRun.id == run_id).with_for_update(skip_locked=True)
                          ).scalar_one_or_none()
    if run is None or run.statut == BulkRunStatut.TERMINE:
        session.rollback()
        return run
    wf = registry()[run.workflow]
    t = wf.transition(run.transition)
    actor = session.get(Compte, run.actor_id)
    ids = list(run.ids)
    run.statut = BulkRunStatut.EN_COURS
    session.commit()
    while run.traites < run.total:
        run = session.execute(sa.select(BulkRun).where(BulkRun.id == run_id).with_for_update()).scalar_one()
        chunk = ids[run.traites: run.traites + chunk_size]
        ctx = Context(actor_id=actor.id, role=actor.role, now=now_fn(), params=run.params or {},
                      bulk_run_id=run.id)
        report = Report(wf.name, t.name, t.label, False)
        apply_chunk(session, wf, t, chunk, ctx, report, actor=actor)
        refus = Counter(run.refus or {})
        refus.update(report.refused)
        run.refus = dict(refus)
        run.traites += len(chunk)
        run.modifies += report.changed
        run.updated_at = now_fn()
        session.commit()  # the chunk's changes and its progress, together
    run.statut = BulkRunStatut.TERMINE
    run.termine_at = now_fn()
    session.commit()
    return run


def report_of(run: BulkRun) -> Report:
    wf_label = run.transition
    r = Report(run.workflow, run.transition, wf_label, False, total=run.total, changed=run.modifies)
    r.refused.update(run.refus or {})
    return r
