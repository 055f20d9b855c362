"""Configuration read from the environment (names a Flask user expects, see DESIGN.md)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


def _default_database_url(instance_path: str | None = None) -> str:
    base = Path(instance_path or Path.cwd() / "instance")
    return f"sqlite:///{base / 'backoffice.sqlite3'}"


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the user gave (postgres://, postgresql://)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "oui", "on"}


class Config:
    """Production-safe defaults; every value can be overridden by an environment variable."""

    TESTING = False
    DEBUG = False
    SECRET_KEY = os.environ.get("SECRET_KEY")  # filled in create_app when missing (demo only)
    SQLALCHEMY_DATABASE_URI = None  # computed in from_env
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # "auto": RQ when Redis answers, in-process otherwise; "inline": always in-process; "rq": always RQ.
    JOBS_MODE = os.environ.get("JOBS_MODE", "auto")

    # the address of the links in mails (reset, first password), never taken from a request's Host header;
    # unset: http://127.0.0.1:5000 (`backoffice demo` sets it from --host and --port)
    PUBLIC_URL = os.environ.get("PUBLIC_URL")

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "8025"))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "backoffice@agence.example.fr")
    # the folder of `backoffice demo`'s mail sink, shown in « Boîte mail de démonstration » (admin, support);
    # set by the demo command only, never read from the environment: no such screen outside the demo
    # (mails hold reset links, which are secrets, issue 12)
    DEMO_MAILBOX_DIR = None

    SEPA_DEBTOR_NAME = os.environ.get("SEPA_DEBTOR_NAME", "AGENCE DE SERVICES ET DE PAIEMENT")
    SEPA_DEBTOR_IBAN = os.environ.get("SEPA_DEBTOR_IBAN", "FR7630001007941234567890185")
    SEPA_DEBTOR_BIC = os.environ.get("SEPA_DEBTOR_BIC", "BDFEFRPPCCT")

    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    FLASK_ADMIN_SWATCH = "default"

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # token valid for the session's life; the session itself expires
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)

    BULK_INLINE_THRESHOLD = int(os.environ.get("BULK_INLINE_THRESHOLD", "2000"))
    BULK_CHUNK_SIZE = int(os.environ.get("BULK_CHUNK_SIZE", "1000"))
    # rows per committed chunk of a bulk run's job (progress and changes committed together; issue 20)
    BULK_RUN_CHUNK_SIZE = int(os.environ.get("BULK_RUN_CHUNK_SIZE", "10000"))

    @classmethod
    def from_env(cls, instance_path: str | None = None) -> dict:
        values = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
        values["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
            os.environ.get("DATABASE_URL") or _default_database_url(instance_path)
        )
        return values


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    JOBS_MODE = "inline"

    @classmethod
    def from_env(cls, instance_path: str | None = None) -> dict:
        values = super().from_env(instance_path)
        values["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
            os.environ.get(
                "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/backoffice_test"
            )
        )
        return values


def ensure_secret_key(app) -> None:
    """A demo without SECRET_KEY gets a random key kept in instance/ (stable across restarts)."""
    if app.config.get("SECRET_KEY"):
        return
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()
