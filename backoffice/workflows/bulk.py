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
    if run.demarre_at is None:  # issue 18: the progress page's rate and time left count from here
        run.demarre_at = now_fn()
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


# ---- outcomes (issue 18): what a dry run or a finished run means in money, per programme and per batch --------

# transitions that put their rows in payment batches, and the payment column that points back at the row
SENDS = {("allocation", "transmettre"): "allocation_id", ("echeance", "mettre_en_lot"): "echeance_id"}


def _programme_join(query, model):
    """`query` joined to the row's programme (Dispositif), directly or through its enrolment; None if it has none."""
    from ..models import Dispositif, Inscription
    if hasattr(model, "dispositif_id"):
        return query.join(Dispositif, Dispositif.id == model.dispositif_id)
    if hasattr(model, "inscription_id"):
        return (query.join(Inscription, Inscription.id == model.inscription_id)
                .join(Dispositif, Dispositif.id == Inscription.dispositif_id))
    return None


def moved_ids(run: BulkRun, wf):
    """The rows a run moved (its audit events), as a subquery: the report of a run done in a job too."""
    from ..models import AuditEvent
    return (sa.select(AuditEvent.entity_id)
            .where(AuditEvent.bulk_run_id == run.id, AuditEvent.entity == wf.entity,
                   AuditEvent.action == run.transition))


def amounts_by_programme(session, wf, ids) -> list[dict]:
    """[{code, libelle, nb, montant}] of the rows `ids` (a list, or a subquery of ids), one SQL GROUP BY."""
    from ..models import Dispositif
    from .engine import id_in
    if not wf.amount_column or ids is None or (isinstance(ids, list) and not ids):
        return []
    model = wf.model
    amount = getattr(model, wf.amount_column)
    where = id_in(session, model.id, ids) if isinstance(ids, list) else model.id.in_(ids)
    query = _programme_join(sa.select(Dispositif.code, Dispositif.libelle, sa.func.count(),
                                      sa.func.coalesce(sa.func.sum(amount), 0)).select_from(model), model)
    if query is None:
        row = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(amount), 0))
                              .where(where)).one()
        return [{"code": "", "libelle": "Tous", "nb": row[0], "montant": row[1]}] if row[0] else []
    rows = session.execute(query.where(where).group_by(Dispositif.code, Dispositif.libelle)
                           .order_by(Dispositif.code)).all()
    return [{"code": c, "libelle": lib, "nb": n, "montant": total} for c, lib, n, total in rows]


def planned_batches(session, wf, t, ids: list[int], today) -> list[dict]:
    """A send's dry run: per programme, the batch its payments will go to (R41 date from the programme's calendar),
    the open one it fills or a new one — what creer_paiements / paiements_echeances will choose."""
    from ..models import Dispositif, LotPaiement
    from ..models.enums import LotStatut
    from .echeances import date_de_lot
    if (wf.name, t.name) not in SENDS or not ids:
        return []
    out = []
    for line in amounts_by_programme(session, wf, ids):
        dispositif_id = session.execute(sa.select(Dispositif.id).where(Dispositif.code == line["code"])).scalar_one()
        execution = date_de_lot(session, dispositif_id, line["code"], today)
        lot = session.execute(sa.select(LotPaiement.id, LotPaiement.reference, LotPaiement.nb_paiements,
                                        LotPaiement.montant_total)
                              .where(LotPaiement.dispositif_id == dispositif_id,
                                     LotPaiement.date_execution == execution,
                                     LotPaiement.statut == LotStatut.PREPAREE)).first()
        out.append({**line, "date_execution": execution, "lot_id": lot[0] if lot else None,
                    "reference": lot[1] if lot else None, "deja": (lot[2], lot[3]) if lot else None})
    return out


def batches_of_run(session, run: BulkRun, wf) -> list[dict]:
    """A finished send: the batches its payments went to, created by it or filled, with this run's share
    (payments and amount) and the execution date."""
    from ..models import LotPaiement, Paiement
    column = SENDS.get((wf.name, run.transition))
    if column is None:
        return []
    rows = session.execute(
        sa.select(LotPaiement.id, LotPaiement.reference, LotPaiement.date_execution, LotPaiement.statut,
                  LotPaiement.created_at, sa.func.count(Paiement.id), sa.func.coalesce(sa.func.sum(Paiement.montant), 0))
        .join(Paiement, Paiement.lot_id == LotPaiement.id)
        .where(getattr(Paiement, column).in_(moved_ids(run, wf)), Paiement.created_at >= run.created_at)
        .group_by(LotPaiement.id).order_by(LotPaiement.date_execution, LotPaiement.id)).all()
    return [{"lot_id": i, "reference": ref, "date_execution": d, "statut": st, "cree": created >= run.created_at,
             "nb": n, "montant": total} for i, ref, d, st, created, n, total in rows]
