"""RQ queues by kind of work, with an in-process fallback when Redis does not answer (A4)."""

from __future__ import annotations

import functools
import importlib
import logging
from typing import Any

log = logging.getLogger(__name__)

QUEUES = ("payments", "mail", "bulk", "default")


@functools.lru_cache(maxsize=8)
def _redis(url: str):
    from redis import Redis
    return Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=5)


def redis_ping(url: str) -> bool:
    try:
        return bool(_redis(url).ping())
    except Exception:  # noqa: BLE001  (unreachable, refused, timeout: all mean "no Redis")
        return False


def jobs_are_async(app=None) -> bool:
    from flask import current_app
    app = app or current_app
    mode = app.config.get("JOBS_MODE", "auto")
    if mode == "inline":
        return False
    if mode == "rq":
        return True
    return redis_ping(app.config["REDIS_URL"])


def get_queue(name: str, app=None):
    from flask import current_app
    from rq import Queue
    app = app or current_app
    if name not in QUEUES:
        raise ValueError(f"file inconnue : {name}")
    return Queue(name, connection=_redis(app.config["REDIS_URL"]))


def run_inline(func_path: str, *args: Any) -> Any:
    module, _, attr = func_path.rpartition(".")
    return getattr(importlib.import_module(module), attr)(*args)


def enqueue(func_path: str, *args: Any, queue: str = "default", job_id: str | None = None, **options: Any):
    """Enqueue by dotted path (so workflows never import jobs); run in-process without Redis."""
    if not jobs_are_async():
        log.info("job %s exécuté en ligne (pas de Redis)", func_path)
        return run_inline(func_path, *args)
    return get_queue(queue).enqueue(func_path, *args, job_id=job_id, **options)


def worker_class(fork: bool = False):
    """The RQ worker of `backoffice worker`: one line per job in its log (issue 19); jobs run in the worker
    itself unless `fork` (RQ's work-horse per job).

    RQ's own lines (dequeued, "Job OK", result kept…; five a job) are left at WARNING by the command; this
    worker writes one line when a job ends: done with its duration, or failed with its message. A failure
    the code expects (an exception with `attendu = True`, e.g. mails not delivered, which the outbox retries
    by itself) gets that line only; any other exception keeps RQ's traceback, it is a defect to read.
    A periodic job that had nothing to do says nothing (its tick comes back every few seconds)."""
    from rq import Worker
    from rq.job_lifecycle import call_exception_handlers
    from rq.utils import now

    journal = logging.getLogger("backoffice.worker")

    def _duree(job) -> str:
        debut = getattr(job, "started_at", None)
        try:
            secondes = ((job.ended_at or now()) - debut).total_seconds() if debut else 0.0
        except TypeError:  # naive against aware: no duration rather than no line
            secondes = 0.0
        return f"{max(secondes, 0.0):.2f}".replace(".", ",")

    def _fonction(job) -> str:
        try:
            return job.func_name
        except Exception:  # noqa: BLE001 - a job that cannot be deserialized still gets its line
            return "?"

    from rq.timeouts import BaseTimeoutException
    from rq.worker import WorkerStatus
    from rq.worker.worker_classes import SimpleWorker

    class BackofficeWorker(Worker):
        log_result_lifespan = False

        def execute_job(self, job, queue):
            """Without fork (the default): the job runs in the worker, in an application context of its own (its
            own database session, `g`, read-only commit at teardown), so nothing of a job reaches the next one but
            what is worth keeping: the compiled SQL, the open connections, the loaded registries (IBAN, XSD).
            Measured on the payments benchmark (issue 13): a forked work-horse per job cost 3.8 s of the workers'
            9 s of CPU (compilation of every statement again, a new connection, copied memory pages). With
            `fork`, RQ's work-horse per job, as before."""
            if fork:
                return super().execute_job(job, queue)
            from flask import current_app
            execution = self.prepare_execution(job)
            with current_app._get_current_object().app_context():
                self.perform_job(job, queue, execution)
            self.set_state(WorkerStatus.IDLE)

        def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
            # in-process, no heartbeat is sent while the job runs: the key must outlive the job's timeout
            if fork:
                return super().get_heartbeat_ttl(job, working_time)
            return SimpleWorker.get_heartbeat_ttl(self, job, working_time)

        def handle_job_success(self, job, queue, started_job_registry, execution):
            super().handle_job_success(job, queue, started_job_registry, execution)
            if (job.meta or {}).get("periodique") and _rien_fait(job.return_value()):
                return
            journal.info("%s : %s (%s) terminé en %s s", job.origin, _fonction(job), job.id, _duree(job))

        def handle_exception(self, job, *exc_info):
            exc = exc_info[1]
            if isinstance(exc, BaseTimeoutException):
                annuler_requete_en_cours()
            if getattr(exc, "attendu", False):
                journal.warning("%s : %s (%s) en échec : %s", job.origin, _fonction(job), job.id, exc)
                call_exception_handlers(self._exc_handlers, job, *exc_info)
                return
            journal.error("%s : %s (%s) en échec : %s: %s", job.origin, _fonction(job), job.id,
                          type(exc).__name__ if exc is not None else "?", exc)
            super().handle_exception(job, *exc_info)

    return BackofficeWorker


def annuler_requete_en_cours() -> None:
    """A job stopped by its timeout may have been interrupted in the middle of a query: psycopg does not cancel it,
    and the server would run it to its end, locks held (seen: a 30 s query still active after the job's failure).
    The job's session (still in its application context) cancels the query on the server and drops the
    connection, which the pool replaces."""
    from flask import has_app_context
    if not has_app_context():
        return
    from .extensions import db
    session = db.session()
    if not session.in_transaction():
        return
    try:
        conn = session.connection()
        raw = conn.connection.dbapi_connection
        if raw is not None and hasattr(raw, "cancel"):
            raw.cancel()
        conn.invalidate()
    except Exception as exc:  # noqa: BLE001 - the job has failed already; its session is removed after it
        log.warning("requête du job interrompu non annulée : %s", exc)


def _rien_fait(result) -> bool:
    if isinstance(result, dict):
        return not any(result.values())
    return not result


def setup_worker_log() -> None:
    """`HH:MM:SS message` on stdout for the worker's own lines (RQ's format)."""
    import sys
    journal = logging.getLogger("backoffice.worker")
    if not journal.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        journal.addHandler(handler)
    journal.setLevel(logging.INFO)
    journal.propagate = False
