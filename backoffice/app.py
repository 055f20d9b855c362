"""create_app: configuration → extensions → admin → auth → CLI. Nothing happens at import time (A1)."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter


def _postgres_options(app) -> None:
    """PostgreSQL sessions without JIT (issue 13, measured): the set-based statements of the bulk and payment paths
    (guards with correlated sub-plans on allocations) are costed above `jit_above_cost`, and compiling them took
    ≈ 0.3 s per statement, more than running them (EXPLAIN ANALYZE: JIT « Emission 274 ms » for a 480 ms INSERT of
    800 payables). Our statements are short OLTP ones, run often: JIT never pays for itself here."""
    uri = str(app.config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not uri.startswith("postgresql"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    if "jit" not in connect_args.get("options", ""):
        connect_args["options"] = (connect_args.get("options", "") + " -c jit=off").strip()
    # a client gone in the middle of a query (a worker killed, a request's process stopped) is noticed by the server
    # within 2 s and its query cancelled, instead of running to its end with its locks held
    if "client_connection_check_interval" not in connect_args["options"]:
        connect_args["options"] += " -c client_connection_check_interval=2000"
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def create_app(config: dict[str, Any] | type | None = None, **overrides: Any):
    from flask import Flask, jsonify, redirect, url_for

    from . import models  # noqa: F401  (registers every mapper)
    from .config import Config, ensure_secret_key
    from .extensions import babel, csrf, db, login_manager, migrate

    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = IdConverter  # before any route: every <int:…> is an INTEGER id
    if config is None:
        config = Config
    if isinstance(config, type):
        app.config.from_mapping(config.from_env(app.instance_path))
    else:
        app.config.from_mapping(config)
    app.config.update(overrides)
    ensure_secret_key(app)
    _postgres_options(app)

    db.init_app(app)
    from . import lecture_seule
    lecture_seule.install(app, db)  # a request that only read commits: psycopg keeps its prepared statements
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: "fr", timezone_selector=lambda: "Europe/Paris")

    from . import auth, i18n, security, statique
    i18n.init_app(app)
    login_manager.init_app(app)
    auth.init_app(app)
    from . import extranet
    extranet.init_app(app)  # the Activité partielle extranet's public pages (sign-up, recovery R69/R70)
    security.init_app(app)
    statique.init_app(app)  # hashed static URLs cached a year, gzip (issue 19 §5)
    from . import accessibilite
    accessibilite.init_app(app)  # the « Accessibilité » page (issue 19 §4)

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
    register_error_pages(app)
    return app


# ---- hostile integers and error pages (finding 6, issue 12) ----------------------------------------

class IdConverter(IntegerConverter):
    """`<int:x>` in a route: ASCII digits, 0 … 2³¹−1 (a PostgreSQL INTEGER); anything else is a 404."""

    def __init__(self, map, fixed_digits=0, min=0, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


ERREURS = {
    400: ("Requête invalide", "La requête contient une valeur invalide (identifiant, numéro de page, filtre ou champ) : "
          "rien n'a été modifié."),
    404: ("Page introuvable", "Cette page ou cet enregistrement est introuvable."),
    405: ("Méthode non autorisée", "Cette adresse ne s'utilise pas ainsi (requête invalide)."),
    413: ("Requête trop volumineuse", "Les données envoyées dépassent la taille autorisée (requête invalide)."),
    500: ("Erreur interne", "Une erreur inattendue est survenue ; elle a été enregistrée. Rien n'a été modifié : "
          "réessayez, ou signalez-la au support si elle se reproduit."),
}


def render_error(code: int, detail: str | None = None):
    """The French error page, inside the back-office layout (menu, user) for a logged-in user."""
    from flask import current_app, render_template, request
    from flask_login import current_user

    titre, message = ERREURS.get(code, ERREURS[500])
    context = {"code": code, "titre": titre, "message": message, "detail": detail}
    try:
        admins = current_app.extensions.get("admin") or []
        if admins and current_user.is_authenticated and not current_user.must_change_password \
                and request.blueprint != "auth":
            return admins[0].index_view.render("erreurs/admin.html", **context), code
    except Exception:  # noqa: BLE001 - the page must render whatever broke
        current_app.logger.exception("page d'erreur avec navigation impossible")
    return render_template("erreurs/simple.html", **context), code


def register_error_pages(app) -> None:
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    from .extensions import db

    def _detail(exc) -> str | None:
        # only a description we wrote (abort(400, description="… en français")), never Werkzeug's
        own = getattr(exc, "description", None)
        return own if own and own != type(exc).description else None

    def http_error(exc: HTTPException):
        return render_error(exc.code, _detail(exc))

    def csrf_error(exc):
        return render_error(400, "Le formulaire a expiré ou son jeton de sécurité manque : rechargez la page "
                                 "et recommencez.")

    def internal_error(exc):
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001
            pass
        return render_error(500)

    for code in (400, 404, 405, 413):
        app.register_error_handler(code, http_error)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(500, internal_error)


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
