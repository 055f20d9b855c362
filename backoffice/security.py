"""Session checks (revocation, idle and absolute timeouts, first-login confinement) and headers."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from . import clock
from .extensions import db, login_manager

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
FRESH_AUTH = timedelta(minutes=15)
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "static", "healthz", "admin.static"}
CONFINED_ENDPOINTS = {"auth.password", "auth.logout", "static", "admin.static", "healthz"}

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _load_user(user_id: str):
    from .models import Compte
    try:
        ident, generation = user_id.split(":", 1)
        compte = db.session.get(Compte, int(ident))
    except (ValueError, TypeError):
        return None
    if compte is None or str(compte.session_generation) != generation or not compte.is_active:
        return None  # revoked server-side (logout, password change) or deactivated
    return compte


def _unauthorized():
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/admin/api"):
        abort(401)
    flash("Veuillez vous connecter pour accéder à cette page.", "warning")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def is_fresh() -> bool:
    """Re-authentication within 15 minutes, required before sensitive actions."""
    auth_at = session.get("auth_at")
    return bool(auth_at) and clock.now() - datetime.fromisoformat(auth_at) <= FRESH_AUTH


def _check_session():
    if not current_user.is_authenticated:
        return None
    now = clock.now()
    login_at, seen_at = session.get("login_at"), session.get("seen_at")
    expired = (not login_at or not seen_at
               or now - datetime.fromisoformat(seen_at) > IDLE_TIMEOUT
               or now - datetime.fromisoformat(login_at) > ABSOLUTE_TIMEOUT)
    if expired:
        logout_user()
        session.clear()
        flash("Votre session a expiré. Veuillez vous reconnecter.", "warning")
        return redirect(url_for("auth.login"))
    session["seen_at"] = now.isoformat()
    # R66: until the password is changed only the change-password and logout pages are reachable
    if current_user.must_change_password and request.endpoint not in CONFINED_ENDPOINTS:
        return redirect(url_for("auth.password"))
    return None


def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint and not request.endpoint.endswith("static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app) -> None:
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.session_protection = "basic"
    app.before_request(_check_session)
    app.after_request(_headers)
