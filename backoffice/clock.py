"""The one clock of the application (naive UTC). Tests move it with app.config['NOW_OVERRIDE']."""

from __future__ import annotations

from datetime import datetime

from .models.base import utcnow


def now() -> datetime:
    try:
        from flask import current_app
        override = current_app.config.get("NOW_OVERRIDE")
    except RuntimeError:  # outside an application context (jobs, scripts)
        override = None
    return override or utcnow()
