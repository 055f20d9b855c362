"""Jobs through a real Redis and real `backoffice worker` processes; mail to a real SMTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import Allocation, JobOutbox, LotPaiement, MailOutbox, Paiement
from backoffice.models.enums import AllocationStatut as AS, CerfaStatut, JobOutboxStatut, LotStatut, MailStatut
from backoffice.sepa import lire
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.outbox import redrive, relay
from tests import factories as f
from tests.conftest import csrf_from
from tests.jobs.conftest import BIN, REDIS_URL, free_port, run_worker_burst, worker_env

NOW = datetime(2025, 5, 2, 9, 0)


def refused_allocation_via_the_grid(db, ref, login_as):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, nom="Lefèvre", prenom="Anaïs")
    c.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, c, statut=AS.SOUMISE, mois=date(2025, 3, 1))
    db.session.commit()
    client = login_as("siege")
    resp = client.post("/admin/allocation/workflow/refuser/row",
                       data={"id": a.id, "version": a.version,
                             "csrf_token": csrf_from(client.get("/admin/allocation/").get_data(as_text=True))})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    client.post(resp.headers["Location"], data={"csrf_token": csrf_from(page),
                                                "motif_refus": "Bulletin de salaire d'avril illisible"})
    return a


def test_a_refusal_mail_reaches_the_smtp_server_through_redis_and_a_worker(jobs_app, db, ref, login_as, smtp_server,
                                                                         redis_conn):
    port, inbox = smtp_server
    refused_allocation_via_the_grid(db, ref, login_as)
    assert redis_conn.llen("rq:queue:mail") == 1  # relayed to Redis after the request's commit
    run_worker_burst(jobs_app, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["Subject"] == "Votre allocation de 03/2025 n'a pas pu être validée"
    assert "Bulletin de salaire d'avril illisible" in msg.get_content() and "Anaïs" in msg.get_content()
    db.session.expire_all()
    assert db.session.execute(sa.select(MailOutbox.statut)).scalar_one() == MailStatut.ENVOYE


def test_a_failing_smtp_server_leads_to_retries_then_echec_and_payments_go_on(jobs_app, db, ref, login_as):
    from backoffice.jobs.mail import MAX_TENTATIVES, send_pending_mail
    jobs_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nothing listens there
    refused_allocation_via_the_grid(db, ref, login_as)
    clock = NOW
    for attempt in range(1, MAX_TENTATIVES + 1):
        clock += timedelta(hours=2)
        jobs_app.config["NOW_OVERRIDE"] = clock
        result = send_pending_mail(raise_on_failure=False)
        assert result["echecs"] == 1
        mail = db.session.execute(sa.select(MailOutbox)).scalar_one()
        assert mail.tentatives == attempt and "SMTP" in mail.derniere_erreur
    assert mail.statut == MailStatut.ECHEC
    # payments do not depend on mail
    b, cb, i, c = f.make_parcours_cej(db.session, ref.sud, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, c, statut=AS.VALIDEE_SIEGE, mois=date(2025, 3, 1))
    db.session.commit()
    assert run(db.session, ALLOCATION, "transmettre", Selection.of_ids([a.id]), ref.comptes["siege"], now=NOW).changed == 1


def test_jobs_lost_by_redis_are_redriven_from_postgresql_once(jobs_app, db, ref, login_as, smtp_server, redis_conn):
    port, inbox = smtp_server
    refused_allocation_via_the_grid(db, ref, login_as)
    redis_conn.flushdb()  # Redis restarted without persistence: the queued job is gone
    assert redrive(db.session) == 1 and relay(db.session) == 1
    assert redrive(db.session) == 0  # the new job exists: nothing more to re-drive
    run_worker_burst(jobs_app, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    run_worker_burst(jobs_app, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    assert len(inbox.messages) == 1  # nothing lost, nothing doubled


def seed_validated(db, n: int) -> list[int]:
    from benchmarks.bulk import seed
    seed(db, n, statut="validee_siege")
    return db.session.execute(sa.select(Allocation.id).order_by(Allocation.id)).scalars().all()


def test_a_worker_killed_mid_batch_never_pays_twice_nor_loses_a_payment(jobs_app, db, ref, redis_conn):
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry
    """Issue 13: on payables of three programmes (CEJ and PACEA allocations, Activité partielle claims)."""
    from benchmarks.payments import IBAN_AP, seed_programmes
    from backoffice.models import DemandeIndemnisation, Echeance
    from backoffice.workflows.echeances import ECHEANCE, echeances_demandes_indemnisation
    from backoffice.workflows.engine import Context
    ids = seed_validated(db, 2000)
    assert seed_programmes(db, 400) == 400  # even youths become PACEA; 400 validated AP claims
    dis = db.session.execute(sa.select(DemandeIndemnisation.id).order_by(DemandeIndemnisation.id)).scalars().all()
    comptes = {i: (IBAN_AP, None, f"ENTREPRISE {i}") for i in db.session.execute(
        sa.text("SELECT id FROM etablissement")).scalars()}
    siege = ref.comptes["siege"]
    # ten R41 dates; each date's batches (CEJ, PACEA, AP) emitted by their own payment jobs
    for k in range(10):
        when = datetime(2025, 1 + k // 2, 2 if k % 2 == 0 else 16, 9, 0)
        run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids[k * 200:(k + 1) * 200]), siege, now=when)
        ap = echeances_demandes_indemnisation(db.session, dis[k * 40:(k + 1) * 40], comptes,
                                              Context(siege.id, siege.role, when, {}))
        run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ap), siege, now=when)
        db.session.commit()
    lots = db.session.execute(sa.select(LotPaiement.id).order_by(LotPaiement.id)).scalars().all()
    assert len(lots) >= 20 and len({l.dispositif.code for l in db.session.execute(sa.select(LotPaiement)).scalars()}) == 3
    q = Queue("payments", connection=redis_conn)
    for lot_id in lots:
        q.enqueue("backoffice.jobs.paiements.emit_batch", lot_id, job_id=f"emit-{lot_id}")

    worker = subprocess.Popen([str(BIN), "worker", "-q", "payments", "--without-scheduler"],
                              env=worker_env(jobs_app), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            done = db.session.execute(sa.select(sa.func.count()).select_from(LotPaiement)
                                      .where(LotPaiement.statut == LotStatut.EMISE)).scalar_one()
            db.session.rollback()
            if done >= 2:
                break
            time.sleep(0.02)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work-horse, mid-way
        worker.wait()
    emitted_before = db.session.execute(sa.select(sa.func.count()).select_from(LotPaiement)
                                        .where(LotPaiement.statut == LotStatut.EMISE)).scalar_one()
    db.session.rollback()
    assert 2 <= emitted_before < len(lots)  # the kill really happened partway through the batches

    # what an operator does after a crash: failed/abandoned jobs back in the queue, then a new worker
    from rq.job import Job
    for registry in (StartedJobRegistry("payments", connection=redis_conn), FailedJobRegistry("payments", connection=redis_conn)):
        for job_id in registry.get_job_ids(cleanup=False):
            dead = Job.fetch(job_id, connection=redis_conn)
            q.enqueue(dead.func_name, *dead.args, job_id=f"{job_id}-bis")  # emission is idempotent
    log = run_worker_burst(jobs_app, "payments", timeout=300)

    db.session.expire_all()
    files = db.session.execute(sa.select(LotPaiement)).scalars().all()
    assert {l.statut for l in files} == {LotStatut.EMISE}, (log[-3000:], [(l.id, l.statut) for l in files],
                                                            redis_conn.keys("rq:*"))
    seen = []
    for lot in files:
        transfers = lire(lot.fichier_sepa)
        assert sum(a for _, a in transfers) == lot.montant_total  # CtrlSum exact, to the cent
        seen += [e for e, _ in transfers]
    assert len(seen) == len(set(seen)) == 2400  # every payment in exactly one file, once
    ap_ids = db.session.execute(sa.select(Echeance.id).where(Echeance.source_type == "di_activite_partielle")
                                ).scalars().all()
    expected = {f"ALLOC-{i}" for i in ids} | {f"ECH-{i}-1" for i in ap_ids}
    assert set(seen) == expected
    assert db.session.execute(sa.select(sa.func.count()).select_from(Paiement)).scalar_one() == 2400
