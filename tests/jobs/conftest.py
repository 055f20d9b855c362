"""Real Redis (database 1, flushed before and after), real worker processes, a real SMTP server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import service_unavailable

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
BIN = Path(sys.executable).parent / "backoffice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_conn():
    from redis import Redis
    conn = Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except Exception as exc:  # noqa: BLE001
        service_unavailable(f"Redis injoignable : {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()


class Inbox:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def jobs_app(app, redis_conn):
    """The app in RQ mode on the test Redis; restored after the test by the `db` fixture."""
    app.config.update(JOBS_MODE="rq", REDIS_URL=REDIS_URL)
    return app


def worker_env(app, **extra) -> dict:
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=REDIS_URL, JOBS_MODE="rq",
               SECRET_KEY=app.config["SECRET_KEY"])  # the web's key: links in mails are derived from it
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_worker_burst(app, queues="payments,mail,bulk,default", timeout=120, **extra) -> str:
    out = subprocess.run([str(BIN), "worker", "--burst", "-q", queues, "--without-scheduler"],
                         env=worker_env(app, **extra), capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr
