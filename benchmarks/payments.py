"""Validated allocations to XSD-validated SEPA files, end to end, with 1 and 2 RQ worker processes.

    python -m benchmarks.payments --rows 100000

Own PostgreSQL database (DATABASE_URL, default backoffice_bench, created if absent). For each run:
"send to payment" by the engine (guards, one payment per allocation, batches per R41 date), then
one emission job per batch executed by real `backoffice worker --burst` processes (controls,
SEPA file, lxml XSD validation, totals); the tables are vacuumed between runs. Two floors: the
issue's (sepaxml export + lxml validation of the same payments alone) and the same with the direct
writer the emission uses for large batches. Prints a table (with the send / emission split), then a
JSON line: payments, seconds, floor_seconds, ratio (against the issue's floor), and the details.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from benchmarks.bulk import DEFAULT_URL, make_app, reset_schema, seed

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
BATCHES = 10  # ten R41 dates, so that two workers have work to share


def restore(db) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE paiement, lot_paiement, audit_event, job_outbox RESTART IDENTITY CASCADE"))
        conn.execute(sa.text("UPDATE allocation SET statut = 'validee_siege', transmise_at = NULL, version = 1"))
    # each run rewrites every allocation 3 times: without this the next run measures the dead tuples
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE allocation, paiement, lot_paiement, audit_event"))


def end_to_end(app, db, siege_id: int, workers: int, send_only: bool = False) -> tuple[float, int, float]:
    from redis import Redis
    from rq import Queue

    from backoffice.models import Allocation, Compte, LotPaiement
    from backoffice.workflows import Selection, run
    from backoffice.workflows.allocations import ALLOCATION

    Redis.from_url(REDIS).flushdb()
    s = db.session
    siege = s.get(Compte, siege_id)
    ids = s.execute(sa.select(Allocation.id).order_by(Allocation.id)).scalars().all()
    per = (len(ids) + BATCHES - 1) // BATCHES
    t0 = time.perf_counter()
    for k in range(BATCHES):  # the siège sends, over ten payment dates (R41: 2nd and 16th of each month)
        when = datetime(2025, 1 + k // 2, 2 if k % 2 == 0 else 16, 9, 0)
        run(s, ALLOCATION, "transmettre", Selection.of_ids(ids[k * per:(k + 1) * per]), siege, now=when)
        s.commit()
    sent = time.perf_counter() - t0
    if send_only:
        n = s.execute(sa.select(sa.func.count()).select_from(Allocation).where(Allocation.statut == "transmise")
                      ).scalar_one()
        s.remove()
        return sent, n, sent
    q = Queue("payments", connection=Redis.from_url(REDIS))
    lots = s.execute(sa.select(LotPaiement.id)).scalars().all()
    q.enqueue_many([Queue.prepare_data("backoffice.jobs.paiements.emit_batch", (lot,), job_id=f"emit-{lot}",
                                       timeout=1800) for lot in lots])
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=REDIS, JOBS_MODE="rq")
    exe = Path(sys.executable).parent / "backoffice"
    procs = [subprocess.Popen([str(exe), "worker", "--burst", "-q", "payments", "--without-scheduler"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    for p in procs:
        p.wait()
    elapsed = time.perf_counter() - t0
    s.remove()
    emitted = s.execute(sa.select(sa.func.coalesce(sa.func.sum(LotPaiement.nb_paiements), 0))
                        .where(LotPaiement.statut == "emise")).scalar_one()
    s.remove()
    return elapsed, emitted, sent


def floor(db) -> tuple[float, float]:
    """sepaxml build + lxml XSD validation of the same payments, nothing else (the issue's floor), and
    the same with the direct writer the emission uses from ECRITURE_DIRECTE transfers on."""
    from backoffice.models import Paiement
    from backoffice.sepa import Virement, construire
    rows = db.session.execute(sa.select(Paiement.end_to_end_id, Paiement.montant, Paiement.titulaire, Paiement.iban,
                                        Paiement.bic, Paiement.libelle, Paiement.lot_id)).all()
    db.session.remove()
    by_lot: dict[int, list] = {}
    for r in rows:
        by_lot.setdefault(r.lot_id, []).append(Virement(r[0], r[1], r[2], r[3], r[4], r[5]))
    debiteur = {"name": "AGENCE DE SERVICES ET DE PAIEMENT", "IBAN": "FR7630001007941234567890185", "BIC": "BDFEFRPPCCT"}
    out = []
    for direct in (False, True):
        t0 = time.perf_counter()
        for lot, virements in by_lot.items():
            construire(msg_id=f"FLOOR-{lot}", debiteur=debiteur, execution=date(2025, 5, 15), virements=virements,
                       now=datetime(2025, 5, 2), direct=direct)
        out.append(time.perf_counter() - t0)
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--send-only", action="store_true",
                        help="only « envoyer en paiement » (transmettre), no worker, no floor: to iterate on the send")
    args = parser.parse_args()
    app = make_app(os.environ.get("DATABASE_URL", DEFAULT_URL))
    from backoffice.extensions import db
    with app.app_context():
        reset_schema(db)
        ids = seed(db, args.rows, statut="validee_siege")
        if args.send_only:
            sends = []
            for _ in range(args.repeat):
                restore(db)
                send, moved, _ = end_to_end(app, db, ids["siege"], 0, send_only=True)
                assert moved == args.rows, (moved, args.rows)
                sends.append(send)
            print(f"envoi en paiement (transmettre) de {args.rows} allocations : {statistics.median(sends):.2f} s "
                  f"(exécutions : {', '.join(f'{x:.2f}' for x in sends)})")
            print(json.dumps({"allocations": args.rows, "send_seconds": round(statistics.median(sends), 3)}))
            return
        results, sends = {}, {}
        for workers in (1, 2):
            times, sent = [], []
            for _ in range(args.repeat):
                restore(db)
                elapsed, emitted, send = end_to_end(app, db, ids["siege"], workers)
                assert emitted == args.rows, (emitted, args.rows)
                times.append(elapsed)
                sent.append(send)
            results[workers], sends[workers] = statistics.median(times), statistics.median(sent)
        fl, fl_direct = floor(db)
        print(f"{'cas':<60}{'médiane (s)':>12}{'paiements/s':>14}")
        print(f"{'plancher : sepaxml + validation lxml seuls':<60}{fl:>12.2f}{args.rows / fl:>14.0f}")
        print(f"{'plancher : écriture directe + validation lxml seuls':<60}{fl_direct:>12.2f}"
              f"{args.rows / fl_direct:>14.0f}")
        for w, t in results.items():
            print(f"{f'nous : envoi + contrôles + fichiers, {w} worker(s)':<60}{t:>12.2f}{args.rows / t:>14.0f}")
            print(f"{f'  dont envoi en paiement (transmettre, 100 paquets)':<60}{sends[w]:>12.2f}")
            print(f"{f'  dont émission des {BATCHES} lots par {w} worker(s)':<60}{t - sends[w]:>12.2f}")
        best = min(results.values())
        print(json.dumps({"payments": args.rows, "seconds": round(best, 3), "seconds_1_worker": round(results[1], 3),
                          "seconds_2_workers": round(results[2], 3),
                          "send_seconds": round(min(sends.values()), 3),
                          "emit_seconds_2_workers": round(results[2] - sends[2], 3),
                          "floor_seconds": round(fl, 3), "floor_direct_seconds": round(fl_direct, 3),
                          "ratio": round(best / fl, 2)}))


if __name__ == "__main__":
    main()
