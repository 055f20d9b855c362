"""Bulk "valider" on N submitted allocations: our engine (as the bulk job runs it) vs the SQL floor.

    python -m benchmarks.bulk --rows 100000

Uses its own PostgreSQL database (DATABASE_URL, default backoffice_bench on the local server,
created if absent). Seeds N matching allocations with INSERT … SELECT generate_series, then,
alternating and repeated, times:
  - ours:  the frozen selection of the grid's filter processed chunk by chunk by
           workflows.bulk.process (what the RQ job runs): guards, conditional UPDATE, one audit
           event per row, progress committed per chunk;
  - floor: one set-based UPDATE plus one INSERT … SELECT of the same rows' audit events.
The dry run is excluded. Prints a table, then a JSON line: rows, seconds, floor_seconds, ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date

import sqlalchemy as sa

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/backoffice_bench"


def make_app(url: str):
    from backoffice import create_app
    from backoffice.config import Config, normalise_database_url

    url = normalise_database_url(url)
    u = sa.engine.make_url(url)
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": u.database}).scalar():
            conn.execute(sa.text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()
    config = Config.from_env()
    config.update(SQLALCHEMY_DATABASE_URI=url, JOBS_MODE="inline", SECRET_KEY="bench")
    return create_app(config)


def reset_schema(db) -> None:
    from flask_migrate import upgrade
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(revision="heads")


def seed(db, rows: int, statut: str = "soumise") -> dict:
    """N CEJ allocations (10 months per youth, `statut`) whose cerfa is validated with a RIB."""
    from seeds.comptes import load_demo_accounts
    from seeds.referentiel import load_catalogue, load_structures

    s = db.session
    structures = load_structures(s)
    dispositifs = load_catalogue(s)
    comptes = load_demo_accounts(s, structures)
    s.commit()
    youths = (rows + 9) // 10
    p = {"n": youths, "ant": structures["ML-ANT-NORD"].id, "ant2": structures["ML-ANT-SUD"].id,
         "disp": dispositifs["CEJ"].id, "rows": rows, "statut": statut}
    for sql in [
        """INSERT INTO beneficiaire (identifiant_imilo, nom, prenom, nom_recherche, date_naissance, antenne_id,
             ressortissant_eee, inscrit_france_travail, qpv, rqth, tranche_fiscale, protection_juridique,
             micro_entrepreneur, version, created_at, updated_at)
           SELECT 'B' || g, 'NOM' || g, 'Prenom', 'NOM' || g || ' PRENOM', DATE '2003-01-01',
                  CASE WHEN g % 2 = 0 THEN :ant ELSE :ant2 END, true, true, false, false, 'non_imposable',
                  'aucune', false, 1, now(), now() FROM generate_series(1, :n) g""",
        """INSERT INTO compte_bancaire (beneficiaire_id, iban, titulaire, type_compte, compte_joint, actif, version,
             created_at, updated_at)
           SELECT id, 'FR7630006000011234567890189', 'TITULAIRE ' || id, 'courant', false, true, 1, now(), now()
           FROM beneficiaire""",
        INSCRIPTIONS,
        """INSERT INTO cerfa (numero, inscription_id, antenne_id, type_version, compte_bancaire_id, titulaire_rib,
             rib_imprime, montant_prevu, statut, version, created_at, updated_at)
           SELECT 'C' || i.id, i.id, i.antenne_id, 'initial', cb.id, cb.titulaire, true, 561.68, 'valide_siege', 1,
                  now(), now()
           FROM inscription i JOIN compte_bancaire cb ON cb.beneficiaire_id = i.beneficiaire_id""",
        """INSERT INTO allocation (inscription_id, cerfa_id, beneficiaire_id, dispositif_id, antenne_id, mois, nature,
             statut, montant_forfaitaire, ressources_differentielles, montant, hors_delai, version, created_at,
             updated_at)
           SELECT c.inscription_id, c.id, i.beneficiaire_id, i.dispositif_id, i.antenne_id,
                  DATE '2024-01-01' + (m || ' month')::interval, 'courante', :statut, 561.68, 0,
                  round((300 + (i.id * 7 + m * 13) % 262)::numeric, 2), false, 1, now(), now()
           FROM cerfa c JOIN inscription i ON i.id = c.inscription_id CROSS JOIN generate_series(0, 9) m
           ORDER BY i.id, m LIMIT :rows""",
    ]:
        if sql is INSCRIPTIONS:
            # R20's trigger takes one advisory lock per youth until commit (migration 0015): 10,000 youths in one
            # transaction overflow the server's shared lock table (« out of shared memory »), so per 2,000
            s.commit()
            lo, hi = s.execute(sa.text("SELECT min(id), max(id) FROM beneficiaire")).one()
            for start in range(lo or 0, (hi or -1) + 1, 2000):
                s.execute(sa.text(sql), {**p, "lo": start, "hi": start + 2000})
                s.commit()
            continue
        s.execute(sa.text(sql), p)
    s.commit()
    s.execute(sa.text("ANALYZE"))
    s.commit()
    return {"siege": comptes["siege"].id}


INSCRIPTIONS = """INSERT INTO inscription (numero, beneficiaire_id, dispositif_id, antenne_id, date_debut, date_fin_prevue,
             statut, sortie_positive, nb_renouvellements, version, created_at, updated_at)
           SELECT 'P' || id, id, :disp, antenne_id, DATE '2024-01-01', DATE '2024-12-31', 'ouvert', false, 0, 1,
                  now(), now() FROM beneficiaire b
           WHERE b.id >= :lo AND b.id < :hi
             AND NOT EXISTS (SELECT 1 FROM inscription i WHERE i.beneficiaire_id = b.id)"""


def restore(db) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE allocation SET statut = 'soumise', validee_at = NULL, version = 1"))
        conn.execute(sa.text("TRUNCATE audit_event, bulk_run RESTART IDENTITY CASCADE"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE allocation"))


def run_ours(db, siege_id: int) -> float:
    from backoffice.models import Allocation, Compte
    from backoffice.models.base import utcnow
    from backoffice.workflows.allocations import ALLOCATION
    from backoffice.models import BulkRun
    from backoffice.workflows.bulk import process
    from backoffice.workflows.selection import Selection

    s = db.session
    siege = s.get(Compte, siege_id)
    t0 = time.perf_counter()
    # the grid's filter ("submitted CEJ allocations of 2024"), frozen, then processed as the job does
    query = sa.select(Allocation.id).where(Allocation.statut == "soumise", Allocation.mois >= date(2024, 1, 1))
    ids = Selection.of_query(query).freeze(s)
    run = BulkRun(workflow=ALLOCATION.name, transition="valider", actor_id=siege.id, ids=ids, total=len(ids),
                  statut="en_attente", refus={}, params={})
    s.add(run)
    s.commit()  # what schedule() freezes before enqueuing the job
    process(s, run.id, now_fn=utcnow)
    elapsed = time.perf_counter() - t0
    s.remove()
    return elapsed


def run_floor(db, siege_id: int) -> float:
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            """INSERT INTO audit_event (at, actor_id, entity, entity_id, action, from_status, to_status)
               SELECT now(), :actor, 'allocation', id, 'valider', 'soumise', 'validee_siege'
               FROM allocation WHERE statut = 'soumise' AND mois >= DATE '2024-01-01'"""), {"actor": siege_id})
        conn.execute(sa.text(
            """UPDATE allocation SET statut = 'validee_siege', version = version + 1, validee_at = now()
               WHERE statut = 'soumise' AND mois >= DATE '2024-01-01'"""))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    app = make_app(os.environ.get("DATABASE_URL", DEFAULT_URL))
    from backoffice.extensions import db
    with app.app_context():
        t0 = time.perf_counter()
        reset_schema(db)
        ids = seed(db, args.rows)
        print(f"Données : {args.rows} allocations soumises en {time.perf_counter() - t0:.1f} s")
        ours, floor = [], []
        for _ in range(args.repeat):
            restore(db)
            floor.append(run_floor(db, ids["siege"]))
            restore(db)
            ours.append(run_ours(db, ids["siege"]))
            moved = db.session.execute(sa.text("SELECT count(*) FROM allocation WHERE statut = 'validee_siege'")).scalar()
            events = db.session.execute(sa.text("SELECT count(*) FROM audit_event WHERE action = 'valider'")).scalar()
            db.session.remove()  # no open transaction may hold locks into the next restore()
            assert moved == events == args.rows, (moved, events)
        o, fl = statistics.median(ours), statistics.median(floor)
        print(f"{'cas':<44}{'médiane (s)':>12}{'lignes/s':>12}")
        print(f"{'plancher : UPDATE + INSERT … SELECT':<44}{fl:>12.2f}{args.rows / fl:>12.0f}")
        print(f"{'nous : job de masse (gardes, audit, lots)':<44}{o:>12.2f}{args.rows / o:>12.0f}")
        print(json.dumps({"rows": args.rows, "seconds": round(o, 3), "floor_seconds": round(fl, 3),
                          "ratio": round(o / fl, 2), "runs_seconds": [round(x, 3) for x in ours],
                          "floor_runs_seconds": [round(x, 3) for x in floor],
                          "ratios": [round(a / b, 2) for a, b in zip(ours, floor)]}))


if __name__ == "__main__":
    main()
