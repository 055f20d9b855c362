"""Blueprint "auth" (never "admin": flask-admin #1815): login, logout, password change, fresh
re-authentication, and recovery by e-mailed link (R69, R70).

A per-IP throttle (sliding window in the database, so it holds across processes and without Redis)
stands in front of the login and recovery forms; the account lockout (R68) stands behind it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import SQLAlchemyError

from . import clock
from .extensions import db
from .models.enums import CompteStatut, Role
from .forms.auth import (IdentifiantOublieForm, LoginForm, MotDePasseOublieForm, PasswordChangeForm, ReauthForm,
                         ReinitialisationForm)
from .passwords import verify_password
from .security import safe_next
from .workflows import comptes as comptes_wf

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

# (attempts, seconds) per IP; app.config may override them
LIMITES_IP = {"connexion": ("LIMITE_CONNEXION_IP", (20, 600)),  # failed logins
              "recuperation": ("LIMITE_RECUPERATION_IP", (10, 900))}  # recovery requests

MESSAGE_TROP_DE_TENTATIVES = "Trop de tentatives depuis votre adresse : réessayez dans quelques minutes."
MESSAGE_LIEN_ENVOYE = ("Si un compte correspond à cet identifiant, un lien pour choisir un nouveau mot de passe "
                       "vient d'être envoyé à son adresse e-mail. Il est valable 30 minutes.")
MESSAGE_IDENTIFIANT_ENVOYE = ("Si un compte correspond à cette adresse, son identifiant vient d'y être envoyé.")
MESSAGE_LIEN_INVALIDE = ("Ce lien n'est pas ou plus valable (déjà utilisé ou expiré). "
                         "Demandez-en un nouveau.")


# ---- per-IP throttle (fails open: the lockout in the database still protects each account) ------

def _limite(nom: str) -> tuple[str, int, timedelta]:
    key, default = LIMITES_IP[nom]
    nombre, secondes = current_app.config.get(key, default)
    return f"{nom}_ip:{request.remote_addr or '-'}", int(nombre), timedelta(seconds=int(secondes))


def _ip_bloquee(nom: str) -> bool:
    cle, nombre, fenetre = _limite(nom)
    try:
        with db.session.begin_nested():
            return comptes_wf.limite_atteinte(db.session, cle, nombre=nombre, fenetre=fenetre, now=clock.now())
    except SQLAlchemyError:
        log.exception("limitation par adresse indisponible")
        return False


def _compter_ip(nom: str) -> None:
    cle, _nombre, fenetre = _limite(nom)
    try:
        with db.session.begin_nested():
            comptes_wf.compter_tentative(db.session, cle, fenetre=fenetre, now=clock.now())
    except SQLAlchemyError:
        log.exception("limitation par adresse indisponible")


def _trop_de_tentatives(template: str, form):
    flash(MESSAGE_TROP_DE_TENTATIVES, "danger")
    return render_template(template, form=form), 429, {"Retry-After": "300"}


def _start_session(compte) -> None:
    session.clear()  # a new session at login: nothing planted before survives
    login_user(compte)
    now = clock.now().isoformat()
    session["login_at"] = session["seen_at"] = session["auth_at"] = now
    session.permanent = True


# ---- login / logout ------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if request.method == "POST" and _ip_bloquee("connexion"):
        return _trop_de_tentatives("auth/login.html", form)
    status = 200
    if form.validate_on_submit():
        result = comptes_wf.authenticate(db.session, form.username.data, form.password.data,
                                         now=clock.now(), ip=request.remote_addr)
        if not result.ok:
            _compter_ip("connexion")
        db.session.commit()
        if result.ok:
            _start_session(result.compte)
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


# ---- password change (R66, R67) and fresh re-authentication -------------------------------------

@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    compte = current_user._get_current_object()
    form = PasswordChangeForm(login=compte.login)
    if form.validate_on_submit():
        if not verify_password(compte.password_hash, form.current_password.data):
            form.current_password.errors.append("Mot de passe actuel incorrect.")
        else:
            comptes_wf.change_password(db.session, compte, form.new_password.data, now=clock.now())
            db.session.commit()
            login_user(compte)  # the cookie carries the new generation; every other session is revoked
            session["auth_at"] = clock.now().isoformat()
            flash("Votre mot de passe a été changé.", "success")
            if compte.role == Role.PARTENAIRE and not compte.reponse_secrete_hash:
                # R69: a partner without secrets (an added user) chooses them now, or only support can help
                return redirect(url_for("extranet.choisir_secrets"))
            return redirect(url_for("admin.index"))
    return render_template("auth/password.html", form=form), (400 if form.errors else 200)


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
def reauth():
    """Re-enter the password (security.require_fresh_auth sends here); failures count towards R68."""
    form = ReauthForm()
    target = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        compte = current_user._get_current_object()
        result = comptes_wf.reauthenticate(db.session, compte, form.password.data, now=clock.now(),
                                           ip=request.remote_addr)
        db.session.commit()
        if result.ok:
            session["auth_at"] = clock.now().isoformat()
            return redirect(target)
        if compte.statut != CompteStatut.ACTIF:  # locked by this failure: the session ends too
            comptes_wf.logout(db.session, compte)
            db.session.commit()
            logout_user()
            session.clear()
            flash(comptes_wf.MESSAGE_ECHEC, "danger")
            return redirect(url_for("auth.login"))
        form.password.errors.append("Mot de passe incorrect.")
    return render_template("auth/reauth.html", form=form), (400 if form.errors else 200)


# ---- recovery (R69, R70): same answer whether the account exists or not ---------------------------

@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = MotDePasseOublieForm()
    if request.method == "POST" and _ip_bloquee("recuperation"):
        return _trop_de_tentatives("auth/forgot_password.html", form)
    if form.validate_on_submit():
        _compter_ip("recuperation")
        comptes_wf.demander_reinitialisation(db.session, form.username.data, now=clock.now(),
                                             ip=request.remote_addr)
        db.session.commit()
        flash(MESSAGE_LIEN_ENVOYE, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form), (400 if form.errors else 200)


@bp.route("/login/forgot", methods=["GET", "POST"])
def forgot_login():
    form = IdentifiantOublieForm()
    if request.method == "POST" and _ip_bloquee("recuperation"):
        return _trop_de_tentatives("auth/forgot_login.html", form)
    if form.validate_on_submit():
        _compter_ip("recuperation")
        comptes_wf.envoyer_identifiant(db.session, form.email.data, now=clock.now(), ip=request.remote_addr)
        db.session.commit()
        flash(MESSAGE_IDENTIFIANT_ENVOYE, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_login.html", form=form), (400 if form.errors else 200)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    now = clock.now()
    jeton = comptes_wf.jeton_valide(db.session, token, now=now)
    if jeton is None:
        return render_template("auth/lien_invalide.html", message=MESSAGE_LIEN_INVALIDE), 400
    form = ReinitialisationForm(login=jeton.compte.login)
    if form.validate_on_submit():
        compte = comptes_wf.reinitialiser_mot_de_passe(db.session, token, form.new_password.data, now=now,
                                                       ip=request.remote_addr)
        db.session.commit()
        if compte is None:  # consumed meanwhile (a second click)
            return render_template("auth/lien_invalide.html", message=MESSAGE_LIEN_INVALIDE), 400
        logout_user()
        session.clear()
        flash("Votre mot de passe a été changé. Connectez-vous avec le nouveau.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), (400 if form.errors else 200)


@bp.after_request
def _no_referrer_on_reset(response):
    if request.endpoint == "auth.reset_password":
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def init_app(app) -> None:
    app.register_blueprint(bp)
