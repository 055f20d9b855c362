"""Request guard (session checks, deny-by-default routes), fresh re-authentication and headers.

Every request goes through `_guard`, in this order:
1. session: revoked (user loader compares session_generation), idle 30 min, absolute 12 h;
2. R66 confinement: until the password is changed only /password and /logout answer;
3. routes: a public route answers everyone; any other needs a login; a Flask-Admin view answers only
   if policy.POLICY has an entry for it that grants the role the right the endpoint needs (view,
   create, edit, delete, export, actions); any other route must be declared (`declarer_route`).
   A refusal is audited and answers 403.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from . import clock, policy
from .extensions import db, login_manager

log = logging.getLogger(__name__)

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
FRESH_AUTH = timedelta(minutes=15)

# Routes outside Flask-Admin, each with its access rule; a route in neither set is refused.
ROUTES_PUBLIQUES = {"auth.login", "auth.logout", "auth.forgot_password", "auth.forgot_login",
                    "auth.reset_password", "static", "admin.static", "healthz"}
ROUTES_AUTHENTIFIEES = {"auth.password", "auth.reauth", "index", "admin.index"}
CONFINED_ENDPOINTS = {"auth.password", "auth.logout", "static", "admin.static", "healthz"}

# Flask-Admin endpoint (method name) -> the policy right it needs; every other one needs "view".
# (ajax_update: Flask-Admin itself only checks column_editable_list, not can_edit.)
DROIT_PAR_METHODE = {"create_view": "create", "edit_view": "edit", "ajax_update": "edit",
                     "delete_view": "delete", "export": "export", "sepa_file": "export",
                     "action_view": "actions"}


def declarer_route(endpoint: str, acces: str = "authentifie") -> None:
    """Declare a non-Flask-Admin route: "public" (anyone) or "authentifie" (any logged-in role)."""
    (ROUTES_PUBLIQUES if acces == "public" else ROUTES_AUTHENTIFIEES).add(endpoint)


# ---- user loading --------------------------------------------------------------------------------

def _load_user(user_id: str):
    from .models import Compte
    try:
        ident, generation = user_id.split(":", 1)
        compte = db.session.get(Compte, int(ident))
    except (ValueError, TypeError):
        return None
    if compte is None or str(compte.session_generation) != generation or not compte.is_active:
        return None  # revoked server-side (logout, password change, reset) or deactivated
    return compte


def _unauthorized():
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/admin/api"):
        abort(401)
    flash("Veuillez vous connecter pour accéder à cette page.", "warning")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


# ---- safe redirects ------------------------------------------------------------------------------

def safe_next(target: str | None, default: str | None = None) -> str:
    """A local path only: no scheme, no host, no protocol-relative, backslash or control-character
    tricks (browsers drop tabs and newlines, so "/\\t/evil" would become "//evil")."""
    fallback = default or url_for("admin.index")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def _local_referrer() -> str | None:
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, default="") or None


def redirect_back(default: str):
    """The one redirect to « where the user came from » (finding 7): the Referer's path when it is
    same-origin and passes safe_next (exactly one leading « / », never « // » nor « /\\ »), else `default`."""
    return redirect(_local_referrer() or default)


# ---- fresh re-authentication ---------------------------------------------------------------------

def is_fresh() -> bool:
    """Password entered (login or /reauth) within the last 15 minutes."""
    auth_at = session.get("auth_at")
    try:
        return bool(auth_at) and clock.now() - datetime.fromisoformat(auth_at) <= FRESH_AUTH
    except (TypeError, ValueError):
        return False


def fresh_auth_redirect(next_url: str | None = None):
    """None when the password was entered within 15 minutes; otherwise the redirect to /reauth
    (which comes back to `next_url`, or to this page for a GET, or to the page the POST came from)."""
    if is_fresh():
        return None
    if next_url is None:
        next_url = request.full_path if request.method == "GET" else _local_referrer()
    flash("Pour cette opération, confirmez d'abord votre mot de passe.", "warning")
    return redirect(url_for("auth.reauth", next=next_url or None))


def require_fresh_auth(view):
    """Decorator for a Flask view or a Flask-Admin `@expose` method: before approving a hors-délai,
    emitting a payment batch, changing a role or an IBAN."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        response = fresh_auth_redirect()
        if response is not None:
            return response
        return view(*args, **kwargs)
    return wrapper


# ---- the guard -----------------------------------------------------------------------------------

def _admin_views() -> dict:
    """Blueprint name -> Flask-Admin view, for every Admin of this app (cached per view count)."""
    admins = current_app.extensions.get("admin", [])
    count = sum(len(a._views) for a in admins)
    cached = current_app.extensions.get("backoffice_vues")
    if cached is None or cached[0] != count:
        views = {}
        for a in admins:
            for v in a._views:
                if v.blueprint is not None:
                    views[v.blueprint.name] = v
        cached = current_app.extensions["backoffice_vues"] = (count, views)
    return cached[1]


def _refuse(vue: str, droit: str):
    from .workflows import audit
    g.acces_refuse_pour = (vue, droit)  # the 403 page names the roles that may (issue 19 §2)
    try:
        audit.record(db.session, entity="acces", entity_id=None, action="acces_refuse", actor_id=current_user.id,
                     params={"vue": vue, "droit": droit, "url": request.full_path[:200],
                             "methode": request.method}, ip=request.remote_addr)
        db.session.commit()
        g.acces_refuse_audite = True
    except Exception:  # noqa: BLE001 - the refusal stands even if its audit row cannot be written
        db.session.rollback()
        log.exception("audit du refus d'accès impossible")
    abort(403)


def _check_session():
    now = clock.now()
    login_at, seen_at = session.get("login_at"), session.get("seen_at")
    try:
        expired = (not login_at or not seen_at
                   or now - datetime.fromisoformat(seen_at) > IDLE_TIMEOUT
                   or now - datetime.fromisoformat(login_at) > ABSOLUTE_TIMEOUT)
    except (TypeError, ValueError):
        expired = True
    if expired:
        logout_user()
        session.clear()
        flash("Votre session a expiré. Veuillez vous reconnecter.", "warning")
        return redirect(url_for("auth.login"))
    session["seen_at"] = now.isoformat()
    return None


def _guard():
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404/405: nothing to protect
    if current_user.is_authenticated:
        response = _check_session()
        if response is not None:
            return response
        # R66: until the password is changed only the change-password and logout pages answer
        if current_user.must_change_password and endpoint not in CONFINED_ENDPOINTS:
            return redirect(url_for("auth.password"))
    if endpoint in ROUTES_PUBLIQUES:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if endpoint in ROUTES_AUTHENTIFIEES:
        return None
    blueprint, _, method = endpoint.partition(".")
    view = _admin_views().get(blueprint)
    if view is None:
        return _refuse(endpoint, "route non déclarée")
    key = getattr(view, "policy_endpoint", view.endpoint)
    droit = DROIT_PAR_METHODE.get(method, "view")
    if key not in policy.POLICY or not policy.allows(key, "view", current_user) \
            or not policy.allows(key, droit, current_user):
        return _refuse(key, droit)
    return None


def _forbidden(exc):
    """403 anywhere (a transition the role may not run…): audited once, answered in French."""
    if current_user.is_authenticated and not g.get("acces_refuse_audite"):
        from .workflows import audit
        try:
            db.session.rollback()
            audit.record(db.session, entity="acces", entity_id=None, action="acces_refuse",
                         actor_id=current_user.id, params={"url": request.full_path[:200], "methode": request.method},
                         ip=request.remote_addr)
            db.session.commit()
        except Exception:  # noqa: BLE001
            db.session.rollback()
            log.exception("audit du refus d'accès impossible")
    return _page_refus(), 403


def _roles_requis() -> str | None:
    """« Administrateur, Support »: the roles the policy lets open the page that was refused, if we know it."""
    from .models.enums import ROLE_LABELS
    vue, droit = g.get("acces_refuse_pour") or (None, None)
    regle = policy.POLICY.get(vue) if vue else None
    if regle is None:
        return None
    roles = set(regle.view) & set(getattr(regle, droit, regle.view) if droit in DROIT_PAR_METHODE.values()
                                  else regle.view)
    noms = sorted(ROLE_LABELS.get(r, str(r)) for r in roles)
    return ", ".join(noms) if noms else None


def _page_refus():
    """French 403 inside the back-office layout (menu, user) for a logged-in user, with the roles needed."""
    message = "Votre rôle ne permet pas d'ouvrir cette page ou de faire cette opération. Le refus a été enregistré."
    roles = _roles_requis()
    detail = f"Rôles autorisés : {roles}." if roles else None
    try:
        admins = current_app.extensions.get("admin") or []
        if admins and current_user.is_authenticated and not current_user.must_change_password \
                and request.blueprint != "auth":
            return admins[0].index_view.render("erreurs/admin.html", code=403, titre="Accès refusé",
                                               message=message, detail=detail)
    except Exception:  # noqa: BLE001 - the refusal must render whatever broke
        log.exception("page de refus avec navigation impossible")
    return render_template("auth/refus.html", detail=detail)


# ---- headers -------------------------------------------------------------------------------------

def csp_nonce() -> str:
    """Per-request nonce for an inline <script> (templates: {{ csp_nonce() }}; Flask-Admin:
    Admin(csp_nonce_generator=security.csp_nonce))."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str | None = None) -> str:
    # Flask-Admin's own JS is all in files ('self'); its templates still carry inline event handlers
    # (the bulk-action menu's onclick, the delete confirmation), hence script-src-attr
    # 'unsafe-inline'. <script> elements (CSP3 script-src-elem) must come from 'self' or carry the
    # nonce: an injected <script> never runs. script-src is the fallback of CSP2-only browsers.
    elem = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; "
            f"script-src-elem {elem}; script-src-attr 'unsafe-inline'; "
            "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


CSP = content_security_policy()


def _headers(response):
    response.headers.setdefault("Content-Security-Policy", content_security_policy(g.get("csp_nonce")))
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint and not request.endpoint.endswith("static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# ---- access logs: the token of a reset link never reaches a log line (issue 12) --------------------

_LIEN_AVEC_JETON = re.compile(r"(/password/reset/)[^\s?#\"']+")
LOGGERS_D_ACCES = ("werkzeug", "gunicorn.access")


class MasquerJetons(logging.Filter):
    """Rewrites a record whose message holds /password/reset/<token>: the path stays, the token goes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        if "/password/reset/" in message:
            record.msg, record.args = _LIEN_AVEC_JETON.sub(r"\1[masqué]", message), None
        return True


def masquer_jetons_dans_les_journaux() -> None:
    """Installed at the first request, not at app creation: Alembic's fileConfig (run after create_app
    by `backoffice demo` and the tests) disables every logger that exists by then."""
    for name in LOGGERS_D_ACCES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MasquerJetons) for f in logger.filters):
            logger.addFilter(MasquerJetons())


_masquage_installe = False


def _masquer_une_fois() -> None:
    global _masquage_installe
    if not _masquage_installe:
        masquer_jetons_dans_les_journaux()
        _masquage_installe = True


def init_app(app) -> None:
    from . import audit_chain

    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.session_protection = "basic"
    app.before_request(_guard)
    app.after_request(_headers)
    app.register_error_handler(403, _forbidden)
    app.add_template_global(csp_nonce)
    app.before_request_funcs.setdefault(None, []).insert(0, _masquer_une_fois)
    audit_chain.install(db)
