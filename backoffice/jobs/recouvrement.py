"""relancer_echeances: the scheduler's reminder of missed instalments (R47), idempotent."""

from __future__ import annotations

from . import require_app_context


def relancer_echeances() -> dict:
    """The orders with a missed, not yet reminded instalment (one SELECT) go through the `relancer`
    transition as the system: one mail per instalment, keyed by it, so a second tick sends nothing."""
    require_app_context()
    from backoffice import clock
    from backoffice.extensions import db
    from backoffice.workflows.engine import run
    from backoffice.workflows.recouvrement import ordres_a_relancer
    from backoffice.workflows.reversements import REVERSEMENT
    from backoffice.workflows.selection import Selection
    now = clock.now()
    ids = ordres_a_relancer(db.session, now.date())
    report = run(db.session, REVERSEMENT, "relancer", Selection.of_ids(ids), None, now=now, system=True)
    db.session.commit()
    return report.as_dict()
