"""process_bulk_run(run_id): a bulk transition above the inline threshold, with visible progress."""

from __future__ import annotations

import functools
from contextlib import contextmanager


@functools.lru_cache(maxsize=1)
def _worker_app():
    from backoffice import create_app
    return create_app()


@contextmanager
def app_context():
    """Reuse the caller's app context (inline mode, tests) or build the worker's app once."""
    from flask import has_app_context
    if has_app_context():
        yield
        return
    with _worker_app().app_context():
        yield


def process_bulk_run(run_id: int) -> dict:
    """Loads the run, applies the next chunks, commits each; exceptions escape so RQ retries."""
    with app_context():
        from backoffice import clock
        from backoffice.extensions import db
        from backoffice.workflows.bulk import process
        run = process(db.session, run_id, now_fn=clock.now)
        return {"run": run_id, "modifies": run.modifies if run else 0}
