"""Activité partielle's periodic job (R73): a DAP unanswered for 15 days is accepted (« accord implicite »)."""

from __future__ import annotations

from . import require_app_context


def accords_implicites() -> int:
    require_app_context()
    from .. import clock
    from ..extensions import db
    from ..workflows.activite_partielle import appliquer_accords_implicites
    report = appliquer_accords_implicites(db.session, now=clock.now())
    db.session.commit()
    return report.changed
