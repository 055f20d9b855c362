"""Scheduler: the automatic ends of enrolments (issue 17: maximum duration or age reached, PACEA permit R17)."""

from __future__ import annotations

from . import require_app_context


def close_ended_enrolments() -> dict:
    """Idempotent: a closed enrolment is never selected again; a missed or doubled tick is harmless."""
    require_app_context()
    from backoffice import clock
    from backoffice.extensions import db
    from backoffice.workflows.parcours import cloturer_parcours_echus
    report = cloturer_parcours_echus(db.session, now=clock.now())
    db.session.commit()
    return report
