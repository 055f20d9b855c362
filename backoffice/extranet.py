"""Blueprint "extranet": the public pages of the Activité partielle extranet (no login).

- Sign-up per SIRET (R62, R63): SIRET, captcha and terms of use first; then the form, opened once by the solved
  captcha; the sign-up waits for the siège or the UD (workflows.inscriptions.INSCRIPTION, R65).
- Recovery of a partner's password (R69) and login (R70): login (or e-mail) and captcha, then the secret answer;
  the mail carries a single-use link, never a password.
- The captcha's image and audio (workflows.captcha): served only while the challenge is open, never cached.

Every POST is throttled per IP address (in the database, like auth's), and each answer costs a captcha.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError

from . import clock
from .extensions import db
from .models.enums import Role
from .forms.extranet import (IdentifiantRecuperationForm, InscriptionForm, InscriptionSiretForm, RecuperationForm,
                             ReponseSecreteForm, siret_saisi)
from .workflows import captcha
from .workflows import comptes as comptes_wf
from .workflows import inscriptions as wf
from .workflows.errors import TransitionRefused

log = logging.getLogger(__name__)
bp = Blueprint("extranet", __name__, url_prefix="/extranet")

LIMITES_IP = {"inscription": ("LIMITE_INSCRIPTION_IP", (20, 600)),
              "recuperation": ("LIMITE_RECUPERATION_IP", (10, 900))}
MSG_CAPTCHA = "Le code de sécurité est incorrect ou a expiré : recopiez le nouveau code."
MSG_PASSAGE_EXPIRE = "Cette étape a expiré ou a déjà servi : recommencez depuis le début."
MSG_INSCRIPTION_ENVOYEE = ("Votre demande de création de compte est envoyée. Après sa validation, vous recevrez sous "
                           "48 heures trois messages : votre identifiant, un lien pour choisir votre mot de passe et "
                           "la confirmation de votre habilitation (R65).")
MSG_TROP = "Trop de tentatives depuis votre adresse : réessayez dans quelques minutes."


# ---- throttle per IP (fails open: the captcha and the per-target counters still hold) ----------------------

def _cle_ip(nom):
    key, default = LIMITES_IP[nom]
    nombre, secondes = current_app.config.get(key, default)
    return f"{nom}_ip:{request.remote_addr or '-'}", int(nombre), timedelta(seconds=int(secondes))


def _ip_bloquee(nom) -> bool:
    cle, nombre, fenetre = _cle_ip(nom)
    try:
        with db.session.begin_nested():
            return comptes_wf.limite_atteinte(db.session, cle, nombre=nombre, fenetre=fenetre, now=clock.now())
    except SQLAlchemyError:
        log.exception("limitation par adresse indisponible")
        return False


def _compter_ip(nom) -> None:
    cle, _n, fenetre = _cle_ip(nom)
    try:
        with db.session.begin_nested():
            comptes_wf.compter_tentative(db.session, cle, fenetre=fenetre, now=clock.now())
    except SQLAlchemyError:
        log.exception("limitation par adresse indisponible")


def _page_avec_captcha(template, form, usage, status=200, **context):
    """Render a page with a fresh challenge (the previous one is spent once answered)."""
    cle = captcha.creer(db.session, usage, now=clock.now())
    db.session.commit()
    form.cle_captcha.data = cle
    if hasattr(form, "captcha"):
        form.captcha.data = ""
    return render_template(template, form=form, cle_captcha=cle, **context), status


def _trop(template, form, usage):
    flash(MSG_TROP, "danger")
    resp, _ = _page_avec_captcha(template, form, usage, 429)
    return resp, 429, {"Retry-After": "300"}


# ---- the captcha's media --------------------------------------------------------------------------------------

def _media(cle, corps, mimetype):
    if not captcha.defi_ouvert(db.session, cle, now=clock.now()):
        abort(404)
    return Response(corps(cle), mimetype=mimetype, headers={"Cache-Control": "no-store"})


@bp.get("/captcha/<cle>/image.png")
def captcha_image(cle):
    return _media(cle, captcha.image_png, "image/png")


@bp.get("/captcha/<cle>/audio.wav")
def captcha_audio(cle):
    return _media(cle, captcha.audio_wav, "audio/wav")


# ---- sign-up (R62, R63) ---------------------------------------------------------------------------------------

@bp.get("/cgu")
def cgu():
    return render_template("extranet/cgu.html")


@bp.route("/inscription", methods=["GET", "POST"])
def inscription():
    form = InscriptionSiretForm()
    template = "extranet/inscription_siret.html"
    if request.method == "POST" and _ip_bloquee("inscription"):
        return _trop(template, form, "inscription")
    if request.method == "POST":
        _compter_ip("inscription")
        if form.validate_on_submit():
            now = clock.now()
            cle = form.cle_captcha.data
            if not captcha.verifier(db.session, cle, form.captcha.data, "inscription", now=now):
                db.session.commit()
                form.captcha.errors = [MSG_CAPTCHA]
                return _page_avec_captcha(template, form, "inscription", 400)
            try:
                siret = wf.verifier_siret_inscription(db.session, siret_saisi(form.siret.data))
            except TransitionRefused as exc:  # R62: an account exists (its message), or a bad SIRET
                db.session.commit()
                form.siret.errors = [str(exc)]
                return _page_avec_captcha(template, form, "inscription", 400)
            db.session.commit()
            session["inscription_ap"] = {"siret": siret, "cle": cle}
            return redirect(url_for("extranet.inscription_formulaire"))
        db.session.commit()
        return _page_avec_captcha(template, form, "inscription", 400)
    return _page_avec_captcha(template, form, "inscription")


@bp.route("/inscription/formulaire", methods=["GET", "POST"])
def inscription_formulaire():
    etat = session.get("inscription_ap") or {}
    now = clock.now()
    if not etat.get("siret") or not captcha.passage_ouvert(db.session, etat.get("cle"), "inscription", now=now):
        session.pop("inscription_ap", None)
        flash(MSG_PASSAGE_EXPIRE, "warning")
        return redirect(url_for("extranet.inscription"))
    form = InscriptionForm()
    if form.validate_on_submit():
        try:
            if not captcha.consommer(db.session, etat["cle"], "inscription", now=now):
                raise TransitionRefused(MSG_PASSAGE_EXPIRE)
            wf.deposer_inscription(
                db.session, siret=etat["siret"], donnees={k: getattr(form, k).data for k in wf.CHAMPS},
                email_etablissement_confirmation=form.email_etablissement_confirmation.data,
                contact_email_confirmation=form.contact_email_confirmation.data,
                reponse_secrete=form.reponse_secrete.data, now=now, ip=request.remote_addr)
            db.session.commit()
        except TransitionRefused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return render_template("extranet/inscription.html", form=form, siret=etat["siret"]), 400
        session.pop("inscription_ap", None)
        flash(MSG_INSCRIPTION_ENVOYEE, "success")
        return redirect(url_for("auth.login"))
    return render_template("extranet/inscription.html", form=form, siret=etat["siret"]), (400 if form.errors else 200)


# ---- recovery (R69, R70) --------------------------------------------------------------------------------------

def _etape_captcha(form_cls, template, champ, mode, question_de):
    form = form_cls()
    if request.method == "POST" and _ip_bloquee("recuperation"):
        return _trop(template, form, "recuperation")
    if request.method == "POST":
        _compter_ip("recuperation")
        if form.validate_on_submit():
            now = clock.now()
            cle = form.cle_captcha.data
            if not captcha.verifier(db.session, cle, form.captcha.data, "recuperation", now=now):
                db.session.commit()
                form.captcha.errors = [MSG_CAPTCHA]
                return _page_avec_captcha(template, form, "recuperation", 400)
            valeur = getattr(form, champ).data
            _question, refus = question_de(db.session, valeur)
            db.session.commit()
            if refus:  # R69: never logged in: the support desk
                flash(refus, "danger")
                return _page_avec_captcha(template, form, "recuperation", 400)
            session["recuperation_ap"] = {"mode": mode, "valeur": valeur, "cle": cle}
            return redirect(url_for("extranet.question_secrete"))
        db.session.commit()
        return _page_avec_captcha(template, form, "recuperation", 400)
    return _page_avec_captcha(template, form, "recuperation")


@bp.route("/mot-de-passe", methods=["GET", "POST"])
def mot_de_passe_oublie():
    return _etape_captcha(RecuperationForm, "extranet/recuperation.html", "username", "mdp", wf.question_pour_login)


@bp.route("/identifiant", methods=["GET", "POST"])
def identifiant_oublie():
    return _etape_captcha(IdentifiantRecuperationForm, "extranet/recuperation_identifiant.html", "email",
                          "identifiant", wf.question_pour_email)


@bp.route("/question", methods=["GET", "POST"])
def question_secrete():
    etat = session.get("recuperation_ap") or {}
    now = clock.now()
    depart = "extranet.identifiant_oublie" if etat.get("mode") == "identifiant" else "extranet.mot_de_passe_oublie"
    if not etat.get("valeur") or not captcha.passage_ouvert(db.session, etat.get("cle"), "recuperation", now=now):
        session.pop("recuperation_ap", None)
        flash(MSG_PASSAGE_EXPIRE, "warning")
        return redirect(url_for(depart))
    par_email = etat["mode"] == "identifiant"
    question, refus = (wf.question_pour_email if par_email else wf.question_pour_login)(db.session, etat["valeur"])
    if refus:
        session.pop("recuperation_ap", None)
        flash(refus, "danger")
        return redirect(url_for(depart))
    form = ReponseSecreteForm()
    if form.validate_on_submit():
        # one answer per solved captcha: the next try starts again with a new one
        if not captcha.consommer(db.session, etat["cle"], "recuperation", now=now):
            db.session.rollback()
            session.pop("recuperation_ap", None)
            flash(MSG_PASSAGE_EXPIRE, "warning")
            return redirect(url_for(depart))
        action = wf.identifiant_par_reponse if par_email else wf.reinitialiser_par_reponse
        ok, message = action(db.session, etat["valeur"], form.reponse.data, now=now, ip=request.remote_addr)
        db.session.commit()
        session.pop("recuperation_ap", None)
        flash(message, "success" if ok else "danger")
        return redirect(url_for("auth.login" if ok else depart))
    return render_template("extranet/question.html", form=form, question=question), (400 if form.errors else 200)


@bp.route("/secrets", methods=["GET", "POST"])
def choisir_secrets():
    """R69: a partner without a secret question (an added user) chooses one, after the first password change."""
    from flask_login import current_user

    from .forms.extranet import ChoixSecretForm
    compte = current_user._get_current_object()
    if getattr(compte, "role", None) != Role.PARTENAIRE:
        abort(404)
    form = ChoixSecretForm()
    if form.validate_on_submit():
        try:
            wf.choisir_secrets(db.session, compte, form.question_secrete.data, form.reponse_secrete.data)
            db.session.commit()
        except TransitionRefused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash("Votre question secrète est enregistrée : elle vous sera demandée pour retrouver votre mot de passe "
                  "ou votre identifiant.", "success")
            return redirect(url_for("admin.index"))
    return render_template("extranet/secrets.html", form=form), (400 if form.errors else 200)


PUBLIQUES = ("captcha_image", "captcha_audio", "cgu", "inscription", "inscription_formulaire",
             "mot_de_passe_oublie", "identifiant_oublie", "question_secrete")


def init_app(app) -> None:
    from . import security
    app.register_blueprint(bp)
    for nom in PUBLIQUES:
        security.declarer_route(f"extranet.{nom}", "public")
    security.declarer_route("extranet.choisir_secrets", "authentifie")
