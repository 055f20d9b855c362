"""Queue health for admins: counts per queue and registry, oldest waiting job, failed jobs to requeue."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from .. import policy
from ..queue import QUEUES, _redis, redis_ping


class FilesView(BaseView):
    policy_endpoint = "files"

    def is_accessible(self):
        return policy.allows(self.policy_endpoint, "view", current_user)

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            abort(403)
        return redirect(url_for("auth.login", next=request.full_path))

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
            rows.append({"name": name, "waiting": q.count,
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
                    failed.append({"queue": name, "id": j.id, "func": j.func_name,
                                   "error": error.strip().splitlines()[-1] if error.strip() else ""})
        return self.render("admin/files.html", redis=True, queues=rows, failed=failed, url=url)

    @expose("/relancer", methods=["POST"])
    def requeue(self):
        from rq.registry import FailedJobRegistry
        queue, job_id = request.form.get("queue"), request.form.get("job_id")
        if queue not in QUEUES or not job_id:
            abort(400)
        try:
            FailedJobRegistry(queue, connection=_redis(current_app.config["REDIS_URL"])).requeue(job_id)
            flash(f"Job {job_id} remis dans la file « {queue} ».", "success")
        except Exception as exc:  # noqa: BLE001 - shown to the admin as it is
            flash(f"Impossible de relancer le job : {exc}", "error")
        return redirect(url_for(".index"))
