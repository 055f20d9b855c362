"""Queue health for admins: counts per queue and registry, oldest waiting job, failed jobs to requeue."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose

from .page import PolicyPageView
from ..queue import QUEUES, _redis, redis_ping


# the jobs and queues as a user reads them (issue 18 §6): never a dotted path on a screen
JOB_LABELS = {
    "backoffice.jobs.bulk.process_bulk_run": "Traitement de masse",
    "backoffice.jobs.mail.send_pending_mail": "Envoi des mails en file",
    "backoffice.jobs.paiements.emit_batch": "Émission d'un lot SEPA",
    "backoffice.jobs.paiements.emit_due_batches": "Émission des lots arrivés à date",
    "backoffice.jobs.paiements.relay_outbox": "Relais de l'outbox vers les files",
    "backoffice.jobs.parcours.close_ended_enrolments": "Clôture des parcours échus",
    "backoffice.jobs.recouvrement.relancer_echeances": "Relance des échéances de reversement",
    "backoffice.jobs.activite_partielle.accords_implicites": "Accords implicites d'activité partielle (15 jours)",
}
QUEUE_LABELS = {"payments": "Paiements", "mail": "Mails", "bulk": "Traitements de masse", "default": "Général"}


def job_label(func_name: str | None) -> str:
    if not func_name:
        return "—"
    return JOB_LABELS.get(func_name, func_name.rsplit(".", 1)[-1].replace("_", " ").capitalize())


def workers_alive(conn, now) -> list[dict]:
    """The RQ workers registered in Redis (a worker that dies stops its heartbeat and leaves the registry when its
    key expires): name, state, queues served, current job and seconds since the last heartbeat."""
    from rq import Worker
    out = []
    for w in Worker.all(connection=conn):
        beat = w.last_heartbeat
        age = int((now - beat.replace(tzinfo=timezone.utc)).total_seconds()) if beat else None
        job = w.get_current_job()
        out.append({"name": w.name, "etat": {"busy": "occupé", "idle": "en attente de travail", "started": "démarré",
                                             "suspended": "suspendu"}.get(str(w.get_state()), str(w.get_state())),
                    "files": ", ".join(QUEUE_LABELS.get(q, q) for q in w.queue_names()),
                    "job": job_label(job.func_name) if job is not None else "—",
                    "battement": age, "vivant": age is not None and age <= (w.worker_ttl or 420)})
    return out


class FilesView(PolicyPageView):
    policy_endpoint = "files"

    @expose("/")
    def index(self):
        from rq import Queue
        from rq.registry import (DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry,
                                 StartedJobRegistry)
        url = current_app.config["REDIS_URL"]
        if not redis_ping(url):
            return self.render("admin/files.html", redis=False, queues=[], failed=[], url=url)
        conn = _redis(url)
        rows, failed = [], []
        now = datetime.now(timezone.utc)
        for name in QUEUES:
            q = Queue(name, connection=conn)
            first = q.jobs[:1]
            oldest = first[0].enqueued_at if first else None
            registry = FailedJobRegistry(name, connection=conn)
            rows.append({"name": QUEUE_LABELS.get(name, name), "waiting": q.count,
                         "started": StartedJobRegistry(name, connection=conn).count,
                         "scheduled": ScheduledJobRegistry(name, connection=conn).count,
                         "deferred": DeferredJobRegistry(name, connection=conn).count,
                         "finished": FinishedJobRegistry(name, connection=conn).count,
                         "failed": registry.count,
                         "oldest": f"{int((now - oldest.replace(tzinfo=timezone.utc)).total_seconds())} s" if oldest else "—"})
            for job in registry.get_job_ids()[:50]:
                j = q.fetch_job(job)
                if j is not None:
                    error = (j.latest_result().exc_string if j.latest_result() else "") or ""
                    ended = j.ended_at.replace(tzinfo=timezone.utc).astimezone().strftime("%d/%m/%Y %H:%M") \
                        if j.ended_at else "—"
                    failed.append({"queue": name, "queue_label": QUEUE_LABELS.get(name, name), "id": j.id,
                                   "func": job_label(j.func_name), "at": ended,
                                   "error": error.strip().splitlines()[-1] if error.strip() else ""})
        return self.render("admin/files.html", redis=True, queues=rows, failed=failed, url=url,
                           workers=workers_alive(conn, now))

    @expose("/relancer", methods=["POST"])
    def requeue(self):
        from rq.registry import FailedJobRegistry
        queue, job_id = request.form.get("queue"), request.form.get("job_id")
        if queue not in QUEUES or not job_id:
            abort(400)
        try:
            FailedJobRegistry(queue, connection=_redis(current_app.config["REDIS_URL"])).requeue(job_id)
            flash(f"Job {job_id} remis dans la file « {QUEUE_LABELS.get(queue, queue)} ».", "success")
        except Exception as exc:  # noqa: BLE001 - shown to the admin as it is
            flash(f"Impossible de relancer le job : {exc}", "error")
        return redirect(url_for(".index"))
