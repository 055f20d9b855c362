"""The one clock of the application (naive UTC). Tests move it with app.config['NOW_OVERRIDE']."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from .models.base import HORLOGE_DEPLACEE, utcnow


def now() -> datetime:
    try:
        from flask import current_app
        override = current_app.config.get("NOW_OVERRIDE")
    except RuntimeError:  # outside an application context (jobs, scripts)
        override = None
    return override or utcnow()


@contextmanager
def deplacee(moment: datetime):
    """Move the clock of this thread to `moment` (the demo seed writing its history): utcnow() — the default of
    every created_at/updated_at — and now() read it until the block ends."""
    token = HORLOGE_DEPLACEE.set(moment)
    try:
        yield moment
    finally:
        HORLOGE_DEPLACEE.reset(token)


def deplacer(moment: datetime) -> None:
    """Inside deplacee(): move the clock on to `moment` (the block's end still puts it back). Outside one it would
    stop the clock for good, so it is refused."""
    if HORLOGE_DEPLACEE.get() is None:
        raise RuntimeError("deplacer() ne s'emploie que dans un bloc deplacee()")
    HORLOGE_DEPLACEE.set(moment)
