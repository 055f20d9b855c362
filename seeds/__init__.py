"""Demo data: load_demo() is what `backoffice demo` and `backoffice seed` call."""

from __future__ import annotations

import sqlalchemy as sa


def demo_already_loaded(session) -> bool:
    from backoffice.models import Compte
    return session.execute(sa.select(Compte.id).where(Compte.login == "siege")).first() is not None


def load_demo(session, seed: int = 2026, today=None) -> dict[str, int]:
    """The demo as of `today` (a date; default: the real today, backoffice.clock), deterministic for a seed and
    a `today`: every date of every programme derives from it (seeds/horloge.py)."""
    from .demo import load
    return load(session, seed=seed, today=today)


def load_volume(session, *, scale: int, seed: int = 2026, progress=print) -> dict[str, int]:
    from .volume import load_volume as _load
    return _load(session, scale=scale, seed=seed, progress=progress)


__all__ = ["demo_already_loaded", "load_demo", "load_volume"]
