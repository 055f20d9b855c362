"""Transactional outbox for jobs: a row written with the change, enqueued only after the commit.

`relay(session)` enqueues rows still `a_envoyer` (or runs them in-process when Redis is absent).
`redrive(session)` puts back rows whose RQ job vanished (Redis restarted without persistence,
flushed): PostgreSQL is the book of record, every job is idempotent, so re-running is harmless.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ..models import JobOutbox
from ..models.base import utcnow
from ..models.enums import JobOutboxStatut

log = logging.getLogger(__name__)
_DUE = "backoffice_outbox_due"


def enqueue_after_commit(session, *, fonction: str, arguments: list, file: str, cle: str) -> None:
    """Write the job row (idempotent on `cle`); the relay enqueues it once the transaction commits."""
    exists = session.execute(sa.select(JobOutbox.id).where(JobOutbox.cle == cle)).first()
    if exists is None:
        session.add(JobOutbox(cle=cle, fonction=fonction, arguments=list(arguments), file=file,
                              statut=JobOutboxStatut.A_ENVOYER))
        session.flush()
    session.info[_DUE] = True


def relay(session, *, limit: int = 500) -> int:
    """Enqueue the rows left `a_envoyer` (or run them in-process without Redis). Returns the count."""
    from flask import current_app

    from ..queue import get_queue, jobs_are_async, run_inline

    session.info.pop(_DUE, None)
    rows = session.execute(sa.select(JobOutbox).where(JobOutbox.statut == JobOutboxStatut.A_ENVOYER)
                           .order_by(JobOutbox.id).limit(limit).with_for_update(skip_locked=True)).scalars().all()
    if not rows:
        session.rollback()
        return 0
    if jobs_are_async(current_app):
        from rq import Retry
        for row in rows:
            job_id = f"outbox-{row.id}"
            get_queue(row.file).enqueue(row.fonction, *row.arguments, job_id=job_id, job_timeout=600,
                                        retry=Retry(max=4, interval=[10, 30, 120, 600]), result_ttl=3600,
                                        failure_ttl=7 * 24 * 3600)
            row.statut, row.job_id, row.enqueued_at = JobOutboxStatut.EN_FILE, job_id, utcnow()
        session.commit()
        return len(rows)
    # No Redis: run them here, after the commit that decided them. A failing job never fails the
    # user's request: its own rows (mail attempts, batch state) record what happened.
    for row in rows:
        row.statut, row.enqueued_at = JobOutboxStatut.EN_FILE, utcnow()
    session.commit()
    for row in rows:
        try:
            run_inline(row.fonction, *row.arguments)
        except Exception:  # noqa: BLE001 - logged; the outbox row stays visible in the jobs grid
            session.rollback()
            log.exception("job %s en échec (exécution en ligne)", row.fonction)
            continue
        session.execute(sa.update(JobOutbox).where(JobOutbox.id == row.id)
                        .values(statut=JobOutboxStatut.TERMINE, termine_at=utcnow()))
        session.commit()
    return len(rows)


def redrive(session) -> int:
    """Rows `en_file` whose RQ job no longer exists go back to `a_envoyer`; finished ones are closed."""
    from flask import current_app
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from ..queue import _redis, jobs_are_async
    if not jobs_are_async(current_app):
        return 0
    conn = _redis(current_app.config["REDIS_URL"])
    rows = session.execute(sa.select(JobOutbox).where(JobOutbox.statut == JobOutboxStatut.EN_FILE)
                           .with_for_update(skip_locked=True)).scalars().all()
    again = 0
    for row in rows:
        try:
            status = Job.fetch(row.job_id, connection=conn).get_status() if row.job_id else None
        except NoSuchJobError:
            status = None
        if status is None:
            row.statut = JobOutboxStatut.A_ENVOYER
            again += 1
        elif status == JobStatus.FINISHED:
            row.statut, row.termine_at = JobOutboxStatut.TERMINE, utcnow()
    session.commit()
    return again


def install(app, db) -> None:
    """After each request whose commit wrote outbox rows, hand them to RQ (or run them here)."""
    @app.after_request
    def _relay_after_commit(response):
        if db.session.info.get(_DUE) and response.status_code < 500:
            try:
                relay(db.session)
            except Exception:  # noqa: BLE001 - the periodic relay of the worker will pick them up
                db.session.rollback()
                log.exception("relais de l'outbox reporté")
        return response
