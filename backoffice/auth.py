"""Blueprint "auth" (never "admin": flask-admin #1815): /login, /logout, /password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import clock
from .extensions import db
from .forms.auth import LoginForm, PasswordChangeForm
from .passwords import verify_password
from .workflows import comptes as comptes_wf

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only local paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target:
        return url_for("admin.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("admin.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = comptes_wf.authenticate(db.session, form.username.data, form.password.data,
                                         now=clock.now(), ip=request.remote_addr)
        db.session.commit()
        if result.ok:
            session.clear()  # new session at login: nothing planted before survives
            login_user(result.compte)
            now = clock.now()
            session["login_at"] = now.isoformat()
            session["seen_at"] = now.isoformat()
            session["auth_at"] = now.isoformat()
            session.permanent = True
            if result.compte.must_change_password:
                flash("Vous devez changer votre mot de passe avant de continuer.", "warning")
                return redirect(url_for("auth.password"))
            return redirect(safe_next(request.args.get("next")))
        flash(result.message, "danger")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "GET":
        return render_template("auth/logout.html")
    if current_user.is_authenticated:
        comptes_wf.logout(db.session, current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm(login=current_user.login)
    if form.validate_on_submit():
        compte = current_user._get_current_object()
        if not verify_password(compte.password_hash, form.current_password.data):
            form.current_password.errors.append("Mot de passe actuel incorrect.")
        else:
            comptes_wf.change_password(db.session, compte, form.new_password.data, now=clock.now())
            db.session.commit()
            login_user(compte)  # re-issue the session with the new generation
            session["auth_at"] = clock.now().isoformat()
            flash("Votre mot de passe a été changé.", "success")
            return redirect(url_for("admin.index"))
    return render_template("auth/password.html", form=form), (400 if form.errors else 200)


def init_app(app) -> None:
    app.register_blueprint(bp)
