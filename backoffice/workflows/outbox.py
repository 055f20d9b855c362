"""Transactional outbox for jobs: a row written with the change, enqueued only after the commit.

If Redis loses jobs (restart without persistence, flush), `relay(session)` re-drives every row
still marked `a_envoyer` or `en_file` whose job no longer exists: PostgreSQL is the book of record.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..models import JobOutbox
from ..models.base import utcnow
from ..models.enums import JobOutboxStatut

_PENDING_KEY = "backoffice_outbox_pending"


def enqueue_after_commit(session, *, fonction: str, arguments: list, file: str, cle: str) -> None:
    """Write the job row (idempotent on `cle`); the relay enqueues it once the transaction commits."""
    exists = session.execute(sa.select(JobOutbox.id).where(JobOutbox.cle == cle)).first()
    if exists is None:
        session.add(JobOutbox(cle=cle, fonction=fonction, arguments=list(arguments), file=file,
                              statut=JobOutboxStatut.A_ENVOYER))
        session.flush()
    session.info[_PENDING_KEY] = True


def relay(session, *, limit: int = 500) -> int:
    """Enqueue the rows left `a_envoyer` (or run them in-process without Redis). Returns the count."""
    from flask import current_app

    from ..queue import get_queue, jobs_are_async, run_inline

    rows = session.execute(sa.select(JobOutbox).where(JobOutbox.statut == JobOutboxStatut.A_ENVOYER)
                           .order_by(JobOutbox.id).limit(limit).with_for_update(skip_locked=True)).scalars().all()
    if not rows:
        session.rollback()
        return 0
    if jobs_are_async(current_app):
        for row in rows:
            get_queue(row.file).enqueue(row.fonction, *row.arguments, job_id=f"outbox-{row.id}")
            row.statut = JobOutboxStatut.EN_FILE
            row.job_id = f"outbox-{row.id}"
            row.enqueued_at = utcnow()
        session.commit()
        return len(rows)
    # no Redis: run them here, after the commit that decided them
    for row in rows:
        row.statut = JobOutboxStatut.EN_FILE
        row.enqueued_at = utcnow()
    session.commit()
    for row in rows:
        run_inline(row.fonction, *row.arguments)
        session.execute(sa.update(JobOutbox).where(JobOutbox.id == row.id)
                        .values(statut=JobOutboxStatut.TERMINE, termine_at=utcnow()))
        session.commit()
    return len(rows)
