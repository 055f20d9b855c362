"""The `backoffice` console command: demo, run, worker, seed, db (Alembic via Flask-Migrate)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, with_appcontext

from .queue import QUEUES

DEMO_PASSWORD = "Demo-2026!"


def _create_app():
    from .app import create_app
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main():
    """Back-office de l'agence de paiement."""


def register_commands(app) -> None:
    """Commands that need only the app (they are also reachable with `flask --app backoffice`)."""
    from flask_migrate.cli import db as db_group

    if "db" not in app.cli.commands:
        app.cli.add_command(db_group, "db")


def _upgrade_database() -> None:
    from flask_migrate import upgrade
    upgrade(revision="heads")


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Recrée la base de démonstration.")
def demo(host: str, port: int, reset: bool) -> None:
    """Crée la base (SQLite sous instance/ par défaut), la migre, charge la démo et sert l'application.

    Sans MAIL_SERVER, un serveur SMTP local (aiosmtpd, port libre de 127.0.0.1) reçoit les mails, lisibles
    dans « Boîte mail de démonstration ». SIGTERM et SIGINT arrêtent la démo, son worker et ce serveur."""
    import signal

    from .app import create_app
    from .config import Config

    sink, workers = None, []
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def _stop(signum, frame):  # SIGTERM as Ctrl-C: serving ends, the finally below cleans up (issue 19)
        raise KeyboardInterrupt
    for s in saved:
        signal.signal(s, _stop)
    try:
        overrides = {}
        if not os.environ.get("MAIL_SERVER"):
            boite = Path(os.environ.get("DEMO_MAILBOX_DIR") or Path(_instance_path()) / "demo-mails")
            if reset:  # a new demo, an empty mailbox
                for old in boite.glob("*.eml"):
                    old.unlink()
            sink = DemoMailSink(boite).start()
            # the demo mailbox exists only here: Config never reads DEMO_MAILBOX_DIR (no such screen in
            # production, where reset links in mails are secrets, issue 12)
            overrides = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port, "MAIL_USE_TLS": False,
                         "MAIL_USERNAME": None, "MAIL_PASSWORD": None, "DEMO_MAILBOX_DIR": str(boite)}
        app = create_app(Config, **overrides)
        with app.app_context():
            _prepare_demo(app, host, port, reset, sink, workers)
            _serve(app, host, port)
    except KeyboardInterrupt:
        pass
    finally:
        for s in saved:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(s, signal.SIG_IGN)
        try:
            for worker in workers:
                _stop_process_group(worker)
            if sink is not None:
                sink.stop()
            click.echo("Démo arrêtée.")
        finally:
            for s, handler in saved.items():
                signal.signal(s, handler)


def _prepare_demo(app, host: str, port: int, reset: bool, sink, workers: list) -> None:
    """Database, demo data and jobs of `backoffice demo`; the worker process, if any, goes in `workers` as
    soon as it exists (a signal may come at any time)."""
    from .extensions import db
    from .queue import redis_ping

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if reset and path.exists():
            path.unlink()
    click.echo(f"Base de données : {_safe_uri(uri)}")
    _upgrade_database()
    from seeds import demo_already_loaded, load_demo
    if demo_already_loaded(db.session):
        click.echo("Données de démonstration déjà présentes.")
    else:
        click.echo("Chargement des données de démonstration…")
        stats = load_demo(db.session, seed=2026)
        click.echo("  " + ", ".join(f"{k} : {v}" for k, v in stats.items()))

    app.config["PUBLIC_URL"] = app.config.get("PUBLIC_URL") or f"http://{host}:{port}"  # links in mails
    if app.config.get("JOBS_MODE") == "inline":
        click.echo("Jobs : exécutés dans le processus web (JOBS_MODE=inline).")
    elif redis_ping(app.config["REDIS_URL"]):
        env = dict(os.environ, DATABASE_URL=uri, PUBLIC_URL=app.config["PUBLIC_URL"])
        if sink is not None:
            env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink.port), MAIL_USE_TLS="false")
            env.pop("MAIL_USERNAME", None)
            env.pop("MAIL_PASSWORD", None)
        # its own process group: the demo stops it with its scheduler and work-horses, whatever stops the demo
        worker = subprocess.Popen([sys.executable, "-m", "backoffice.cli", "worker", "--with-scheduler",
                                   "--parent", str(os.getpid())], env=env, start_new_session=True)
        workers.append(worker)
        click.echo(f"Jobs : worker RQ lancé (Redis {app.config['REDIS_URL']}, pid {worker.pid}).")
    else:
        app.config["JOBS_MODE"] = "inline"
        click.echo("Jobs : Redis ne répond pas, les jobs s'exécutent dans le processus web.")
    if sink is not None:
        click.echo(f"Mails : serveur SMTP de démonstration sur 127.0.0.1:{sink.port} ; les mails reçus se lisent "
                   f"dans http://{host}:{port}/admin/boite-mail/ (admin, support) et sous {sink.dossier}")
    else:
        click.echo(f"Mails : envoyés au serveur SMTP {app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']} "
                   "(MAIL_SERVER).")
    click.echo(f"\nBack-office : http://{host}:{port}/admin/")
    click.echo(f"Comptes de démonstration (mot de passe {DEMO_PASSWORD}) : "
               "admin, siege, manager, support, comptable, conseiller, conseiller2")


def _stop_process_group(proc, timeout: float = 15) -> None:
    """SIGTERM to the worker (RQ's warm shutdown: the current job ends, the scheduler stops), SIGKILL to
    it after `timeout`, then SIGKILL to whatever of its process group is left (a scheduler, a work-horse)."""
    import signal
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _instance_path() -> str:
    """The app's instance folder (where the demo's SQLite and secret key live), before the app exists."""
    from flask import Flask
    return Flask("backoffice.app", instance_relative_config=True).instance_path


class DemoMailSink:
    """The demo's SMTP server (aiosmtpd on a free loopback port): each mail received becomes a file
    `<dossier>/<ns>-<hex>.eml` (0600, the folder 0700: reset links are secrets), read by the demo mailbox."""

    def __init__(self, dossier: Path):
        self.dossier = Path(dossier)
        self.port = 0
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        import time
        import uuid
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.dossier / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(envelope.original_content or envelope.content)
        os.replace(tmp, self.dossier / name)  # the mailbox never sees half a mail
        return "250 Message accepted for delivery"

    def start(self) -> "DemoMailSink":
        import logging
        import socket

        from aiosmtpd.controller import Controller
        self.dossier.mkdir(parents=True, exist_ok=True)
        self.dossier.chmod(0o700)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: five lines per connection
        for _ in range(5):  # a free port, taken between the probe and the bind: try another
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            controller = Controller(self, hostname="127.0.0.1", port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                continue
            self._controller = controller
            return self
        raise click.ClickException("Impossible de démarrer le serveur SMTP de démonstration.")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _safe_uri(uri: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(uri).render_as_string(hide_password=True)


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run(host: str, port: int) -> None:
    """Sert l'application (serveur de développement ; en production utilisez gunicorn)."""
    from flask import current_app
    _serve(current_app._get_current_object(), host, port)


def _serve(app, host: str, port: int) -> None:
    """Werkzeug's threaded server (app.run refuses to run under the flask CLI). Production: gunicorn."""
    from werkzeug.serving import run_simple
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@main.command("seed")
@click.option("--seed", "seed_value", default=2026, show_default=True, type=int, help="Graine (données déterministes).")
@click.option("--scale", default=0, type=int, help="Ajoute N fois le volume de la démo (insertions en masse).")
@with_appcontext
def seed(seed_value: int, scale: int) -> None:
    """Charge les données de démonstration (et du volume pour les benchmarks)."""
    from .extensions import db
    from seeds import demo_already_loaded, load_demo, load_volume
    _upgrade_database()
    if not demo_already_loaded(db.session):
        stats = load_demo(db.session, seed=seed_value)
        click.echo("Démo : " + ", ".join(f"{k} : {v}" for k, v in stats.items()))
    if scale:
        stats = load_volume(db.session, scale=scale, seed=seed_value, progress=click.echo)
        click.echo("Volume : " + ", ".join(f"{k} : {v}" for k, v in stats.items()))


@main.command("worker")
@click.option("--queues", "-q", default=",".join(QUEUES), show_default=True)
@click.option("--with-scheduler/--without-scheduler", default=True, show_default=True)
@click.option("--burst", is_flag=True, help="S'arrête quand les files sont vides.")
@click.option("--interval", default=15, show_default=True, type=int, help="Période des tâches périodiques (s).")
@click.option("--parent", type=int, hidden=True, help="S'arrête quand ce processus (la démo) disparaît.")
@click.option("--fork/--sans-fork", default=False, show_default=True,
              help="Un processus forké par job (work-horse de RQ) ; par défaut chaque job tourne dans le worker, "
                   "dans son propre contexte d'application.")
@click.option("--max-jobs", type=int, default=None,
              help="S'arrête après ce nombre de jobs (le superviseur relance un worker neuf).")
@with_appcontext
def worker(queues: str, with_scheduler: bool, burst: bool, interval: int, parent: int | None, fork: bool,
           max_jobs: int | None) -> None:
    """Lance un worker RQ sur les files choisies (paiements d'abord)."""
    from flask import current_app
    from sqlalchemy.orm import configure_mappers

    from .queue import _redis, setup_worker_log, worker_class

    configure_mappers()  # before forking (redash/cli/rq.py)
    names = [q.strip() for q in queues.split(",") if q.strip()]
    app = current_app._get_current_object()
    app.config["JOBS_MODE"] = "rq"
    conn = _redis(app.config["REDIS_URL"])
    # With --fork the app context pushed by with_appcontext is inherited by RQ's forked work-horses; each
    # work-horse must not reuse the parent's pooled connections. Without fork (the default) each job pushes
    # an application context of its own (queue.worker_class) and the pool is the worker's.
    from .extensions import db
    db.engine.dispose(close=False)
    # Everything loaded so far (the app, Flask-Admin, the models) leaves the garbage collector's generations:
    # its collections no longer walk those objects, job after job (and a forked work-horse's memory pages stay
    # shared with the worker instead of being copied on write: -0.8 s of 9 s on the payments benchmark).
    import gc
    gc.collect()
    gc.freeze()
    w = worker_class(fork)(names, connection=conn)
    if with_scheduler and not burst:
        _start_periodic(app, interval)
    if parent:
        _stop_with_parent(parent)
    setup_worker_log()
    click.echo(f"Worker RQ sur {', '.join(names)} ({app.config['REDIS_URL']})")
    # RQ's own lines (five a job) at WARNING: the worker class writes one line per job (issue 19)
    w.work(with_scheduler=with_scheduler, burst=burst, logging_level="WARNING", max_jobs=max_jobs)
    click.echo("Worker RQ arrêté.")


def _stop_with_parent(parent: int) -> None:
    """The demo's worker stops (warm shutdown) when the demo is gone, even killed with SIGKILL."""
    import signal
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="parent", daemon=True).start()


PERIODIC = [  # (job, queue): idempotent, so a missed or doubled tick is harmless
    ("backoffice.jobs.paiements.relay_outbox", "default"),
    ("backoffice.jobs.mail.send_pending_mail", "mail"),
    ("backoffice.jobs.paiements.emit_due_batches", "payments"),
    ("backoffice.jobs.activite_partielle.accords_implicites", "default"),  # R73: 15 days of silence
    ("backoffice.jobs.recouvrement.relancer_echeances", "default"),  # missed instalments (R47)
    ("backoffice.jobs.parcours.close_ended_enrolments", "default"),  # issue 17: automatic ends (R17)
    # issues 13, 16: each programme's monthly run prepared on its calendar date, as a dry run to confirm
    ("backoffice.jobs.paie_programmes.preparer_paies_mensuelles", "default"),
]


def _start_periodic(app, interval: int) -> None:
    """Enqueue the periodic jobs every `interval` seconds (outbox re-drive, mail retries, R41 batches)."""
    import threading
    import time

    from .queue import get_queue

    def loop():
        while True:
            with app.app_context():
                for func, queue in PERIODIC:
                    try:
                        get_queue(queue, app).enqueue(func, job_timeout=300, result_ttl=60, failure_ttl=3600,
                                                      meta={"periodique": True})
                    except Exception as exc:  # noqa: BLE001 - Redis away: try again next tick
                        click.echo(f"tâche périodique {func} reportée : {exc}", err=True)
            time.sleep(interval)
    threading.Thread(target=loop, name="periodique", daemon=True).start()


from .cli_security import audit as _audit_group  # noqa: E402
main.add_command(_audit_group)


if __name__ == "__main__":
    main()
