"""The `backoffice` console command: demo, run, worker, seed, db (Alembic via Flask-Migrate)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, with_appcontext

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
@with_appcontext
def demo(host: str, port: int, reset: bool) -> None:
    """Crée la base (SQLite sous instance/ par défaut), la migre, charge la démo et sert l'application."""
    from flask import current_app

    from .extensions import db
    from .queue import redis_ping

    app = current_app._get_current_object()
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
    worker = None
    if app.config.get("JOBS_MODE") == "inline":
        click.echo("Jobs : exécutés dans le processus web (JOBS_MODE=inline).")
    elif redis_ping(app.config["REDIS_URL"]):
        worker = subprocess.Popen([sys.executable, "-m", "backoffice.cli", "worker", "--with-scheduler"],
                                  env=dict(os.environ, DATABASE_URL=uri, PUBLIC_URL=app.config["PUBLIC_URL"]))
        click.echo(f"Jobs : worker RQ lancé (Redis {app.config['REDIS_URL']}, pid {worker.pid}).")
    else:
        app.config["JOBS_MODE"] = "inline"
        click.echo("Jobs : Redis ne répond pas, les jobs s'exécutent dans le processus web.")
    click.echo(f"\nBack-office : http://{host}:{port}/admin/")
    click.echo(f"Comptes de démonstration (mot de passe {DEMO_PASSWORD}) : "
               "admin, siege, manager, support, comptable, conseiller, conseiller2")
    try:
        _serve(app, host, port)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=10)


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
@click.option("--queues", "-q", default="payments,mail,bulk,default", show_default=True)
@click.option("--with-scheduler/--without-scheduler", default=True, show_default=True)
@click.option("--burst", is_flag=True, help="S'arrête quand les files sont vides.")
@click.option("--interval", default=15, show_default=True, type=int, help="Période des tâches périodiques (s).")
@with_appcontext
def worker(queues: str, with_scheduler: bool, burst: bool, interval: int) -> None:
    """Lance un worker RQ sur les files choisies (paiements d'abord)."""
    from flask import current_app
    from rq import Worker
    from sqlalchemy.orm import configure_mappers

    from .queue import _redis

    configure_mappers()  # before forking (redash/cli/rq.py)
    names = [q.strip() for q in queues.split(",") if q.strip()]
    app = current_app._get_current_object()
    app.config["JOBS_MODE"] = "rq"
    conn = _redis(app.config["REDIS_URL"])
    # The app context pushed by with_appcontext is inherited by RQ's forked work-horses; each
    # work-horse must not reuse the parent's pooled connections.
    from .extensions import db
    db.engine.dispose(close=False)
    # Everything loaded so far (the app, Flask-Admin, the models) leaves the garbage collector's generations:
    # a forked work-horse's collections no longer touch those objects, so their memory pages stay shared
    # with the worker instead of being copied on write, job after job (measured: -0.8 s of 9 s on the
    # payments benchmark, 2 workers).
    import gc
    gc.collect()
    gc.freeze()
    w = Worker(names, connection=conn)
    if with_scheduler and not burst:
        _start_periodic(app, interval)
    click.echo(f"Worker RQ sur {', '.join(names)} ({app.config['REDIS_URL']})")
    w.work(with_scheduler=with_scheduler, burst=burst)


PERIODIC = [  # (job, queue): idempotent, so a missed or doubled tick is harmless
    ("backoffice.jobs.paiements.relay_outbox", "default"),
    ("backoffice.jobs.mail.send_pending_mail", "mail"),
    ("backoffice.jobs.paiements.emit_due_batches", "payments"),
    ("backoffice.jobs.parcours.close_ended_enrolments", "default"),  # issue 17: automatic ends (R17)
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
                        get_queue(queue, app).enqueue(func, job_timeout=300, result_ttl=60, failure_ttl=3600)
                    except Exception as exc:  # noqa: BLE001 - Redis away: try again next tick
                        click.echo(f"tâche périodique {func} reportée : {exc}", err=True)
            time.sleep(interval)
    threading.Thread(target=loop, name="periodique", daemon=True).start()


from .cli_security import audit as _audit_group  # noqa: E402
main.add_command(_audit_group)


if __name__ == "__main__":
    main()
