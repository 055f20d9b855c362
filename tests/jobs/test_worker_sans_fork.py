"""Issue 13: `backoffice worker` runs each job in the worker itself (no work-horse forked per job: that fork cost
the workers 3.8 s of their 9 s of CPU on the payments benchmark), each in an application context of its own; with
`--fork`, RQ's work-horse per job as before. Real Redis, real worker processes, the test database."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from backoffice.models import Dispositif
from tests.jobs.conftest import BIN, worker_env
from tests.jobs.taches import REQUETES_PG_SLEEP

ROOT = Path(__file__).resolve().parents[2]


def burst(app, *options, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "worker", "--burst", "-q", "default", "--without-scheduler", *options],
                          env=worker_env(app, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cej(db, ref):
    return db.session.execute(sa.select(Dispositif).where(Dispositif.code == "CEJ")).scalar_one()


@pytest.mark.parametrize("options", [(), ("--fork",)], ids=["sans-fork", "fork"])
def test_a_failed_job_leaves_nothing_to_the_next_job_of_the_same_worker(jobs_app, db, cej, redis_conn, options):
    libelle = cej.libelle
    q = Queue("default", connection=redis_conn)
    echec = q.enqueue("tests.jobs.taches.modifier_puis_echouer", cej.id, "LIBELLÉ D'UN JOB ÉCHOUÉ")
    suivant = q.enqueue("tests.jobs.taches.lire", cej.id)
    encore = q.enqueue("tests.jobs.taches.lire", cej.id)
    out = burst(jobs_app, *options)
    assert out.returncode == 0, out.stdout + out.stderr
    assert Job.fetch(echec.id, connection=redis_conn).get_status() == "failed"
    vu = Job.fetch(suivant.id, connection=redis_conn).return_value()
    # the failed job's flushed change was rolled back with its session, its `g` went with its context
    assert vu["libelle"] == libelle and vu["marque"] is False
    db.session.expire_all()
    assert db.session.get(Dispositif, cej.id).libelle == libelle
    autre = Job.fetch(encore.id, connection=redis_conn).return_value()
    # without fork both jobs ran in the worker's own process; with --fork each in a work-horse of its own
    assert (vu["pid"] == autre["pid"]) is (options == ())


@pytest.mark.parametrize("options", [(), ("--fork",)], ids=["sans-fork", "fork"])
def test_a_job_past_its_timeout_is_stopped_in_the_middle_of_a_query_and_the_worker_goes_on(jobs_app, db, cej,
                                                                                          redis_conn, options):
    q = Queue("default", connection=redis_conn)
    lent = q.enqueue("tests.jobs.taches.attendre_en_base", 30, job_timeout=1)
    suivant = q.enqueue("tests.jobs.taches.lire", cej.id)
    t0 = time.monotonic()
    out = burst(jobs_app, *options)
    assert out.returncode == 0, out.stdout + out.stderr
    assert time.monotonic() - t0 < 25  # interrupted after its second, not after the query's 30
    assert lent.id in FailedJobRegistry("default", connection=redis_conn).get_job_ids()
    assert "JobTimeoutException" in (Job.fetch(lent.id, connection=redis_conn).latest_result().exc_string or "")
    vu = Job.fetch(suivant.id, connection=redis_conn).return_value()
    assert vu["libelle"] == cej.libelle
    # the interrupted query was cancelled on the server with its job, before the next job (the worker still runs)
    assert vu["requetes_en_cours"] == 0


def test_a_worker_killed_in_the_middle_of_a_query_leaves_no_query_running_on_the_server(jobs_app, db, redis_conn):
    """The server checks every 2 s that the client of a running query is still there (client_connection_check_interval,
    set on every connection, app._postgres_options): a killed worker's query stops instead of running on, locks held."""
    import os
    import signal

    Queue("default", connection=redis_conn).enqueue("tests.jobs.taches.attendre_en_base", 60, job_timeout=300)
    worker = subprocess.Popen([str(BIN), "worker", "-q", "default", "--without-scheduler"],
                              env=worker_env(jobs_app, PYTHONPATH=str(ROOT)), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    actives = sa.text(REQUETES_PG_SLEEP)
    try:
        deadline = time.monotonic() + 60
        while db.session.execute(actives).scalar_one() == 0:
            db.session.rollback()
            assert time.monotonic() < deadline, "la requête du job n'a jamais démarré"
            time.sleep(0.1)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    killed = time.monotonic()
    while db.session.execute(actives).scalar_one():
        db.session.rollback()
        assert time.monotonic() - killed < 15, "la requête du worker tué tourne encore sur le serveur"
        time.sleep(0.2)
