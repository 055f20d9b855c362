"""Payables of three programmes (CEJ and PACEA allocations, Activité partielle claims) to XSD-validated SEPA files,
end to end, with 1 and 2 RQ worker processes.

    python -m benchmarks.payments --rows 100000

Own PostgreSQL database (DATABASE_URL, default backoffice_bench, created if absent). For each run, N real
`backoffice worker` processes (queues payments and bulk) are started and registered first, as in
production where workers are always running (their start-up is printed, outside the clock). Then the
clock runs from the siège's « envoyer en paiement » to the last SEPA file: ten send jobs (one per R41
date: engine, guards, one payment per allocation, the batch of that date), and each date's batch is
queued for emission (payer's controls, SEPA file, lxml XSD validation, totals) as soon as its send is
committed, so sends and emissions overlap on the workers. The tables are vacuumed between runs. Each floor is
measured right after each run (medians reported, every run's figure in the JSON). Two
floors: the issue's (sepaxml export + lxml validation of the same payments alone) and the same with the
direct writer the emission uses for large batches. Issue 13: a fifth of the payables are Activité partielle
claims (their own send job per date: payables created, then « Envoyer en paiement » of the payables' workflow, in
the AP programme's batch), half of the youths are PACEA (their batch on the 1st of the next month), and a second
ratio is reported against a combined floor measured in the same run: the set-based SQL of the same writes (one
UPDATE of the sources, one INSERT of the payments into a table shaped like `paiement`, the audit INSERT … SELECT,
rolled back) plus the direct pain.001 writer and lxml validation. Prints a table, then a JSON line: payments,
seconds, floor_seconds, ratio (against the issue's floor), combined_floor_seconds, ratio_combined, and the details.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from benchmarks.bulk import DEFAULT_URL, make_app, reset_schema, seed

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
BATCHES = 10  # ten R41 dates, so that two workers have work to share
AP_SHARE = 5  # one payable in five is an Activité partielle claim (issue 13: three programmes)
IBAN_AP = "FR1420041010050500013M02606"
SEND_CHUNK = 5000  # rows per engine chunk in a send job (one transaction per job)
ROOT = Path(__file__).resolve().parent.parent


def restore(db) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE paiement, echeance, lot_paiement, audit_event, audit_sceau, job_outbox "
                             "RESTART IDENTITY CASCADE"))
        conn.execute(sa.text("UPDATE allocation SET statut = 'validee_siege', transmise_at = NULL, version = 1"))
    # each run rewrites every allocation 3 times: without this the next run measures the dead tuples
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE allocation, echeance, paiement, lot_paiement, audit_event"))


def seed_programmes(db, rows: int) -> int:
    """Issue 13's three programmes: the even youths' parcours become PACEA, and `rows` validated Activité partielle
    claims (10 months of rows/10 establishments). Returns the claims' count."""
    from backoffice.workflows.echeances import dispositif_programme
    s = db.session
    dispositif_programme(s, "AP")
    s.commit()
    n = max(1, rows // 10)
    # R20's trigger locks each youth until commit (migration 0015): the youths are moved per 2,000, or a large
    # run overflows the server's shared lock table
    hi = s.execute(sa.text("SELECT coalesce(max(beneficiaire_id), 0) FROM inscription")).scalar_one()
    for start in range(0, hi + 1, 4000):
        s.execute(sa.text("""UPDATE inscription SET dispositif_id = (SELECT id FROM dispositif WHERE code = 'PACEA')
                             WHERE beneficiaire_id % 2 = 0 AND beneficiaire_id >= :lo AND beneficiaire_id < :hi"""),
                  {"lo": start, "hi": start + 4000})
        s.commit()
    for sql in [
        """UPDATE allocation SET dispositif_id = (SELECT id FROM dispositif WHERE code = 'PACEA')
           WHERE beneficiaire_id % 2 = 0""",
        """INSERT INTO etablissement (siret, raison_sociale, libelle_voie, code_postal, ville, email, effectif, version,
             created_at, updated_at)
           SELECT lpad(g::text, 14, '0'), 'ENTREPRISE ' || g, 'rue de la Gare', '59000', 'Lille', 'rh@e.example.fr', 12,
                  1, now(), now() FROM generate_series(1, :n) g""",
        """INSERT INTO autorisation_ap (numero, etablissement_id, motif, date_debut, date_fin, nb_salaries,
             heures_prevues, statut, deposee_at, version, created_at, updated_at)
           SELECT 'DAP-' || id, id, '1_conjoncture', DATE '2024-01-01', DATE '2024-12-31', 12, 1000, 'accordee',
                  now(), 1, now(), now() FROM etablissement""",
        """INSERT INTO demande_indemnisation (autorisation_id, annee, mois, statut, montant_indemnites,
             montant_allocation, version, created_at, updated_at)
           SELECT a.id, 2024, m, 'validee', 2000, round((900 + (a.id * 7 + m * 13) % 700)::numeric, 2), 1, now(), now()
           FROM autorisation_ap a CROSS JOIN generate_series(1, 10) m ORDER BY a.id, m LIMIT :rows""",
    ]:
        s.execute(sa.text(sql), {"n": n, "rows": rows})
    s.commit()
    s.execute(sa.text("ANALYZE"))
    s.commit()
    return s.execute(sa.text("SELECT count(*) FROM demande_indemnisation")).scalar_one()


def send_ap(s, di_ids: list[int], when: str, siege_id: int) -> int:
    """One date's Activité partielle claims become payables (one per claim) and are sent to payment by the
    payables' workflow (engine, IBAN guard, payments in the AP batch of that date); not committed."""
    from backoffice.models import Compte, Etablissement
    from backoffice.workflows import Selection, run
    from backoffice.workflows.echeances import ECHEANCE, echeances_demandes_indemnisation
    from backoffice.workflows.engine import Context
    siege = s.get(Compte, siege_id)
    now = datetime.fromisoformat(when)
    comptes = {i: (IBAN_AP, None, f"ENTREPRISE {i}") for i in s.execute(sa.select(Etablissement.id)).scalars()}
    ids = echeances_demandes_indemnisation(s, di_ids, comptes, Context(siege.id, siege.role, now, {}))
    return run(s, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), siege, now=now, chunk_size=SEND_CHUNK).changed


def send_job(ids: list[int], when: str, siege_id: int, di_ids: list[int] | None = None) -> int:
    """Worker job of the benchmark: the siège's « envoyer en paiement » of one R41 date, by the engine (guards,
    payments in the open batch of that date): the allocations (CEJ, PACEA), then the date's Activité partielle claims
    (their payables created, then sent by the payables' workflow), committed together. `when` (ISO) stands for
    the moment of the send, so that ten dates make ten batches per programme."""
    from backoffice.extensions import db
    from backoffice.models import Compte
    from backoffice.workflows import Selection, run
    from backoffice.workflows.allocations import ALLOCATION
    s = db.session
    report = run(s, ALLOCATION, "transmettre", Selection.of_ids(ids), s.get(Compte, siege_id),
                 now=datetime.fromisoformat(when), chunk_size=SEND_CHUNK)
    changed = report.changed + (send_ap(s, di_ids, when, siege_id) if di_ids else 0)
    s.commit()
    return changed


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces): state, ppid, …"""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of a process (and of its reaped children) read from /proc: robust to the machine's load."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    ticks = sum(int(x) for x in fields[11:15 if children else 13])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(db, procs) -> tuple[float, float]:
    """(workers' CPU, PostgreSQL's CPU) so far: the workers with their reaped work-horses; the server's postmaster
    with its reaped backends plus the live ones. Local server only (0 for PostgreSQL otherwise)."""
    workers = sum(_cpu(p.pid) for p in procs)
    pg = 0.0
    try:
        backend = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()
        postmaster = int(_stat(backend)[1])
        pg = _cpu(postmaster)
        for child in Path("/proc").iterdir():
            try:
                if child.name.isdigit() and int(_stat(int(child.name))[1]) == postmaster:
                    pg += _cpu(int(child.name), children=False)
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    return workers, pg


def start_workers(app, workers: int) -> tuple[list, float]:
    """`backoffice worker` processes on the payments and bulk queues, ready (registered) before the clock
    starts, as in production where workers are always running. Returns them and their start-up time."""
    from redis import Redis
    from rq import Worker
    conn = Redis.from_url(REDIS)
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=REDIS, JOBS_MODE="rq",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    exe = Path(sys.executable).parent / "backoffice"
    t0 = time.perf_counter()
    procs = [subprocess.Popen([str(exe), "worker", "-q", "payments,bulk", "--without-scheduler"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    while Worker.count(connection=conn) < workers:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("un worker s'est arrêté au démarrage")
        time.sleep(0.01)
    return procs, time.perf_counter() - t0


def stop_workers(procs) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)  # warm shutdown: idle workers leave at once
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def end_to_end(app, db, siege_id: int, workers: int) -> tuple[float, int, float, float, int, tuple[float, float]]:
    """Clock: from the siège's sends (ten jobs, one per R41 date) to the last SEPA file emitted. Each date's
    batch is queued for emission as soon as its send is committed, so sends and emissions overlap on the
    workers. Returns (seconds, payments emitted, seconds until the last send committed, worker start-up,
    audit events the workers had left unsealed when the clock stopped, (workers', PostgreSQL's) CPU seconds while
    the clock ran); checks the audit journal."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job, JobStatus

    from backoffice import audit_chain
    from backoffice.models import Allocation, DemandeIndemnisation, LotPaiement

    conn = Redis.from_url(REDIS)
    from rq import Worker
    while Worker.count(connection=conn):  # another run on this Redis database: wait for its workers to leave
        time.sleep(1)
    conn.flushdb()
    s = db.session
    ids = s.execute(sa.select(Allocation.id).order_by(Allocation.id)).scalars().all()
    dis = s.execute(sa.select(DemandeIndemnisation.id).order_by(DemandeIndemnisation.id)).scalars().all()
    s.remove()
    per = (len(ids) + BATCHES - 1) // BATCHES
    per_ap = (len(dis) + BATCHES - 1) // BATCHES
    procs, boot = start_workers(app, workers)
    try:
        bulk, payments = Queue("bulk", connection=conn), Queue("payments", connection=conn)
        cpu0 = cpu_snapshot(db, procs)
        t0 = time.perf_counter()
        dates = {}
        for k in range(BATCHES):  # the siège sends, over ten payment dates (R41: 2nd and 16th of each month)
            when = datetime(2025, 1 + k // 2, 2 if k % 2 == 0 else 16, 9, 0)
            job = bulk.enqueue("benchmarks.payments.send_job", ids[k * per:(k + 1) * per], when.isoformat(), siege_id,
                               dis[k * per_ap:(k + 1) * per_ap], job_id=f"send-{k}", job_timeout=1800)
            dates[job.id] = when
        emissions, sent_at, queued = [], 0.0, set()
        sends = {Job.fetch(job_id, connection=conn): when for job_id, when in dates.items()}
        while sends or emissions:  # one HGET per job still running, every 10 ms
            for job in list(sends):
                status = job.get_status()
                if status == JobStatus.FINISHED:  # its batch is committed: queue its emission
                    when = sends.pop(job)
                    sent_at = time.perf_counter() - t0
                    lots = s.execute(sa.select(LotPaiement.id).where(
                        LotPaiement.statut == "preparee", LotPaiement.created_at == when)).scalars().all()
                    s.remove()
                    emissions += [payments.enqueue("backoffice.jobs.paiements.emit_batch", lot,
                                                   job_id=f"emit-{lot}", job_timeout=1800)
                                  for lot in lots if lot not in queued]
                    queued.update(lots)
                elif status == JobStatus.FAILED:
                    raise RuntimeError(f"envoi {job.id} en échec : {job.latest_result().exc_string}")
            for job in list(emissions):
                status = job.get_status()
                if status == JobStatus.FINISHED:
                    emissions.remove(job)
                elif status == JobStatus.FAILED:
                    raise RuntimeError(f"émission {job.id} en échec : {job.latest_result().exc_string}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        cpu1 = cpu_snapshot(db, procs)
    finally:
        stop_workers(procs)
    cpu = (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1])
    emitted = s.execute(sa.select(sa.func.coalesce(sa.func.sum(LotPaiement.nb_paiements), 0))
                        .where(LotPaiement.statut == "emise")).scalar_one()
    nb_lots = s.execute(sa.select(sa.func.count()).select_from(LotPaiement).where(LotPaiement.statut == "emise")
                        ).scalar_one()
    left = s.execute(sa.select(sa.func.count()).select_from(LotPaiement).where(LotPaiement.statut == "preparee")
                     ).scalar_one()
    assert left == 0, f"{left} lots restés préparés"
    # the audit journal was sealed by the workers on the way (after each commit), and it holds
    unsealed = audit_chain.non_scelles(s)
    s.remove()
    # a block covers only transactions finished before the oldest one still running in the cluster: on a shared
    # server another database's long transaction delays the last blocks, so sealing is retried (off the clock)
    for _ in range(240):
        audit_chain.sceller(s)
        s.commit()
        if not audit_chain.non_scelles(s):
            break
        s.remove()
        time.sleep(0.5)
    check = audit_chain.verifier(s)
    s.remove()
    # two events per payable (allocations: transmettre, accepter_payeur; AP claims: creer, mettre_en_lot), one per batch
    assert check.ok and check.nb_evenements == 2 * emitted + nb_lots, (check, emitted, nb_lots)
    return elapsed, emitted, sent_at, boot, unsealed, cpu


def send_inline(db, siege_id: int) -> tuple[float, int]:
    """--send-only: the ten sends in this process, one after the other, to iterate on the send alone."""
    from backoffice.models import Allocation
    s = db.session
    ids = s.execute(sa.select(Allocation.id).order_by(Allocation.id)).scalars().all()
    s.remove()
    per = (len(ids) + BATCHES - 1) // BATCHES
    t0 = time.perf_counter()
    for k in range(BATCHES):
        when = datetime(2025, 1 + k // 2, 2 if k % 2 == 0 else 16, 9, 0)
        send_job(ids[k * per:(k + 1) * per], when.isoformat(), siege_id)
    sent = time.perf_counter() - t0
    n = s.execute(sa.select(sa.func.count()).select_from(Allocation).where(Allocation.statut == "transmise")
                  ).scalar_one()
    s.remove()
    return sent, n


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


def floor_sql(db) -> float:
    """The set-based SQL of the same writes, alone (issue 13's combined floor): one UPDATE of the sources (the
    allocations sent), one INSERT … SELECT of all the payments (allocations and AP claims) into a table shaped like
    `paiement` (same columns, checks and indexes), one audit INSERT … SELECT per payment; rolled back."""
    s = db.session
    t0 = time.perf_counter()
    s.execute(sa.text("CREATE TEMP TABLE plancher_paiement (LIKE paiement INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                      "INCLUDING INDEXES)"))
    s.execute(sa.text("UPDATE allocation SET statut = 'transmise', transmise_at = now(), version = version + 1 "
                      "WHERE statut = 'validee_siege'"))
    s.execute(sa.text("""
        INSERT INTO plancher_paiement (lot_id, echeance_id, allocation_id, beneficiaire_id, antenne_id, end_to_end_id,
                                       montant, titulaire, iban, bic, libelle, statut, created_at, updated_at)
        SELECT 1, a.id, a.id, a.beneficiaire_id, a.antenne_id, 'ALLOC-' || a.id, a.montant, substr(cb.titulaire, 1, 70),
               cb.iban, cb.bic, substr('ALLOCATION PARCOURS ' || i.numero, 1, 140), 'en_attente', now(), now()
        FROM allocation a JOIN cerfa c ON c.id = a.cerfa_id JOIN compte_bancaire cb ON cb.id = c.compte_bancaire_id
             JOIN inscription i ON i.id = a.inscription_id
        UNION ALL
        SELECT 2, 100000000 + d.id, NULL, NULL, NULL, 'ECH-' || d.id || '-1', d.montant_allocation, 'ENTREPRISE', :iban, NULL,
               'ACTIVITE PARTIELLE ' || ap.numero, 'en_attente', now(), now()
        FROM demande_indemnisation d JOIN autorisation_ap ap ON ap.id = d.autorisation_id"""), {"iban": IBAN_AP})
    s.execute(sa.text("""
        INSERT INTO audit_event (at, actor_id, entity, entity_id, action, from_status, to_status)
        SELECT now(), 1, 'paiement', id, 'plancher', 'validee_siege', 'transmise' FROM plancher_paiement"""))
    elapsed = time.perf_counter() - t0
    s.rollback()
    s.remove()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, e.g. 2 (the 1,000,000-row run)")
    parser.add_argument("--send-only", action="store_true",
                        help="only « envoyer en paiement » (transmettre), in this process, no worker, no floor")
    args = parser.parse_args()
    app = make_app(os.environ.get("DATABASE_URL", DEFAULT_URL))
    from backoffice.extensions import db
    with app.app_context():
        reset_schema(db)
        ap_rows = args.rows // AP_SHARE
        ids = seed(db, args.rows - ap_rows, statut="validee_siege")
        assert seed_programmes(db, ap_rows) == ap_rows
        if args.send_only:
            sends = []
            for _ in range(args.repeat):
                restore(db)
                send, moved = send_inline(db, ids["siege"])
                assert moved == args.rows - ap_rows, (moved, args.rows - ap_rows)
                sends.append(send)
            print(f"envoi en paiement (transmettre) de {args.rows} allocations : {statistics.median(sends):.2f} s "
                  f"(exécutions : {', '.join(f'{x:.2f}' for x in sends)})")
            print(json.dumps({"allocations": args.rows, "send_seconds": round(statistics.median(sends), 3)}))
            return
        results, sends, boots, unsealed, all_times, cpus = {}, {}, {}, {}, {}, {}
        floors, floors_direct, floors_sql = [], [], []
        for workers in [int(w) for w in args.workers.split(",")]:
            times, sent, boot = [], [], []
            for _ in range(args.repeat):
                restore(db)
                elapsed, emitted, send, b, unsealed[workers], cpu = end_to_end(app, db, ids["siege"], workers)
                assert emitted == args.rows, (emitted, args.rows)
                times.append(elapsed)
                cpus.setdefault(workers, []).append([round(x, 2) for x in cpu])
                sent.append(send)
                boot.append(b)
                # the floors right after each run, on the same payments: a machine whose load changes during the
                # benchmark weighs on both sides of the ratio alike
                fl, fl_direct = floor(db)
                restore(db)
                floors.append(fl)
                floors_direct.append(fl_direct)
                floors_sql.append(floor_sql(db))
            results[workers] = statistics.median(times)
            all_times[workers] = times
            sends[workers], boots[workers] = statistics.median(sent), statistics.median(boot)
        fl, fl_direct, fl_sql = (statistics.median(x) for x in (floors, floors_direct, floors_sql))
        combined = fl_sql + fl_direct
        print(f"{'cas':<64}{'médiane (s)':>12}{'paiements/s':>14}")
        print(f"{'plancher : sepaxml + validation lxml seuls':<64}{fl:>12.2f}{args.rows / fl:>14.0f}")
        print(f"{'plancher : écriture directe + validation lxml seuls':<64}{fl_direct:>12.2f}"
              f"{args.rows / fl_direct:>14.0f}")
        print(f"{'plancher : SQL ensembliste des mêmes écritures':<64}{fl_sql:>12.2f}{args.rows / fl_sql:>14.0f}")
        print(f"{'plancher combiné : SQL + écriture directe + lxml':<64}{combined:>12.2f}{args.rows / combined:>14.0f}")
        for w, t in results.items():
            print(f"{f'nous : envoi + contrôles + fichiers, {w} worker(s)':<64}{t:>12.2f}{args.rows / t:>14.0f}")
            print(f"{'  dont dernier envoi validé à':<64}{sends[w]:>12.2f}")
            print(f"{'  (hors chrono) démarrage des workers':<64}{boots[w]:>12.2f}")
            med_w = statistics.median(c[0] for c in cpus[w])
            med_pg = statistics.median(c[1] for c in cpus[w])
            print(f"{'  CPU pendant le chrono : workers (Python)':<64}{med_w:>12.2f}")
            print(f"{'  CPU pendant le chrono : PostgreSQL':<64}{med_pg:>12.2f}")
            print(f"{'  événements d’audit non scellés à l’arrêt du chrono':<64}{unsealed[w]:>12d}")
        best = min(results.values())
        last = max(results)
        print(json.dumps({"payments": args.rows, "seconds": round(best, 3),
                          **{f"seconds_{w}_worker{'s' if w > 1 else ''}": round(t, 3) for w, t in results.items()},
                          "runs_seconds": {w: [round(x, 3) for x in ts] for w, ts in all_times.items()},
                          f"last_send_committed_{last}_workers": round(sends[last], 3),
                          "worker_startup_seconds": round(boots[last], 3),
                          "floor_seconds": round(fl, 3), "floor_direct_seconds": round(fl_direct, 3),
                          "ratio": round(best / fl, 2), "sql_floor_seconds": round(fl_sql, 3),
                          "combined_floor_seconds": round(combined, 3), "ratio_combined": round(best / combined, 2),
                          "floor_runs_seconds": [round(x, 3) for x in floors],
                          "combined_floor_runs_seconds": [round(a + b, 3) for a, b in zip(floors_sql, floors_direct)],
                          "cpu_seconds_workers_postgres": cpus,
                          "programmes": ["CEJ", "PACEA", "AP"], "ap_payables": ap_rows}))


if __name__ == "__main__":
    main()
