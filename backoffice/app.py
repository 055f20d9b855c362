"""create_app: configuration → extensions → admin → auth → CLI. Nothing happens at import time (A1)."""

from __future__ import annotations

from typing import Any


def create_app(config: dict[str, Any] | type | None = None, **overrides: Any):
    from flask import Flask, jsonify, redirect, url_for

    from . import models  # noqa: F401  (registers every mapper)
    from .config import Config, ensure_secret_key
    from .extensions import babel, csrf, db, login_manager, migrate

    app = Flask(__name__, instance_relative_config=True)
    if config is None:
        config = Config
    if isinstance(config, type):
        app.config.from_mapping(config.from_env(app.instance_path))
    else:
        app.config.from_mapping(config)
    app.config.update(overrides)
    ensure_secret_key(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: "fr", timezone_selector=lambda: "Europe/Paris")

    from . import auth, i18n, security, statique
    i18n.init_app(app)
    login_manager.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    statique.init_app(app)  # hashed static URLs cached a year, gzip (issue 19 §5)

    from .admin_views import create_admin
    create_admin(app)

    from .workflows import outbox
    outbox.install(app, db)

    @app.get("/")
    def index():
        return redirect(url_for("admin.index"))

    @app.get("/healthz")
    def healthz():
        from .queue import redis_ping
        database = _database_ok(db)
        redis_ok = redis_ping(app.config["REDIS_URL"])
        body = {
            "status": "ok" if database else "degrade",
            "database": database,
            "redis": redis_ok,
            "jobs": "rq" if redis_ok and app.config.get("JOBS_MODE") != "inline" else "inline",
        }
        return jsonify(body), 200 if database else 503

    from .cli import register_commands
    register_commands(app)
    return app


def _migrations_dir() -> str:
    from pathlib import Path
    return str(Path(__file__).resolve().parent / "migrations")


def _database_ok(db) -> bool:
    import sqlalchemy as sa
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001  (health check: any failure means "not reachable")
        return False
