"""process_bulk_run(run_id): a bulk transition above the inline threshold, with visible progress.

Jobs run inside the application context that `backoffice worker` pushes before it starts working
(RQ's forked work-horse inherits it), or inside the web request in inline mode.
"""

from __future__ import annotations


def process_bulk_run(run_id: int) -> dict:
    """Loads the run, applies the next chunks, commits each; exceptions escape so RQ retries."""
    from flask import has_app_context
    if not has_app_context():
        raise RuntimeError("Les jobs s'exécutent dans `backoffice worker` (contexte d'application requis).")
    from backoffice import clock
    from backoffice.extensions import db
    from backoffice.workflows.bulk import process
    run = process(db.session, run_id, now_fn=clock.now)
    return {"run": run_id, "modifies": run.modifies if run else 0}
