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
