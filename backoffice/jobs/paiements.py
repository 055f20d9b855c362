"""emit_batch: the payment job: controls, SEPA file and emission of one batch, in one transaction."""

from __future__ import annotations

from . import require_app_context


def emit_batch(lot_id: int) -> dict:
    """Idempotent: an emitted batch is left as it is; a killed run left nothing (one transaction)."""
    require_app_context()
    from backoffice import clock
    from backoffice.extensions import db
    from backoffice.workflows.paiements import emettre_lot
    report = emettre_lot(db.session, lot_id, now=clock.now())
    db.session.commit()
    return report.as_dict()


def emit_due_batches() -> list[int]:
    """Scheduler (R41): batches whose execution date is near are emitted, one job each."""
    require_app_context()
    from datetime import timedelta

    import sqlalchemy as sa

    from backoffice import clock
    from backoffice.extensions import db
    from backoffice.models import LotPaiement
    from backoffice.models.enums import LotStatut
    from backoffice.workflows.outbox import enqueue_after_commit
    due = db.session.execute(sa.select(LotPaiement.id).where(
        LotPaiement.statut == LotStatut.PREPAREE, LotPaiement.nb_paiements > 0,  # an empty open batch: nothing to emit
        LotPaiement.date_execution <= clock.now().date() + timedelta(days=2))).scalars().all()
    for lot_id in due:
        enqueue_after_commit(db.session, fonction="backoffice.jobs.paiements.emit_batch", arguments=[lot_id],
                             file="payments", cle=f"emit-batch-{lot_id}")
    db.session.commit()
    return due


def relay_outbox() -> int:
    require_app_context()
    from backoffice.extensions import db
    from backoffice.workflows.outbox import redrive, relay
    return redrive(db.session) + relay(db.session)
