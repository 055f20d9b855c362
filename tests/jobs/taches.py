"""Jobs that only the tests enqueue (the worker imports them with the repository on its PYTHONPATH)."""

from __future__ import annotations

import os

# the test jobs' long query, as pg_stat_activity shows it while it runs
REQUETES_PG_SLEEP = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg\\_sleep%'"


def modifier_puis_echouer(dispositif_id: int, libelle: str) -> None:
    """Changes a programme's label in its session (flushed, not committed), marks `g`, then fails."""
    from flask import g

    from backoffice.extensions import db
    from backoffice.models import Dispositif
    db.session.get(Dispositif, dispositif_id).libelle = libelle
    db.session.flush()
    g.marque_du_job_precedent = True
    raise RuntimeError("échec voulu par le test")


def lire(dispositif_id: int) -> dict:
    """What a job sees: the programme's label, whether `g` carries a previous job's mark, its process, and how many
    `pg_sleep` queries are still running on the server."""
    import sqlalchemy as sa
    from flask import g

    from backoffice.extensions import db
    from backoffice.models import Dispositif
    actives = db.session.execute(sa.text(REQUETES_PG_SLEEP)).scalar_one()
    return {"libelle": db.session.get(Dispositif, dispositif_id).libelle,
            "marque": hasattr(g, "marque_du_job_precedent"), "pid": os.getpid(), "requetes_en_cours": actives}


def attendre_en_base(secondes: float) -> None:
    """A query that outlasts its job's timeout (a lock wait, a slow plan)."""
    import sqlalchemy as sa

    from backoffice.extensions import db
    db.session.execute(sa.text("SELECT pg_sleep(:s)"), {"s": secondes})
