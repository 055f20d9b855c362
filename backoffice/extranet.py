"""Blueprint "extranet": the public pages of the Activité partielle extranet (no login).

- Sign-up per SIRET (R62, R63): SIRET, captcha and terms of use first; then the form, opened once by the solved
  captcha; the sign-up waits for the siège or the UD (workflows.inscriptions.INSCRIPTION, R65). A logged-in
  partner (a tiers déclarant, R64) repeats it for each further establishment: the form asks the establishment
  only, and the validation links it to that account (200 establishments at most).
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
from .forms.extranet import (IdentifiantRecuperationForm, InscriptionForm, InscriptionSiretForm, RattachementForm,
                             RecuperationForm, ReponseSecreteForm, siret_saisi)
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
MSG_RATTACHEMENT_ENVOYE = ("Votre demande de création de compte est envoyée. Après sa validation, l'établissement sera "
                           "rattaché à votre compte (tiers déclarant) : vous recevrez la confirmation de votre "
                           "habilitation ; votre identifiant et votre mot de passe ne changent pas (R64, R65).")
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


def _trop(template, form, usage, **context):
    flash(MSG_TROP, "danger")
    resp, _ = _page_avec_captcha(template, form, usage, 429, **context)
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


# ---- one step « a field + a captcha » (the sign-up's SIRET, the recovery's login or e-mail) ----------------

def _etape_captcha(form, template, usage, apres_captcha, **context):
    """Throttled per IP, the form checked, then the captcha (one answer per challenge); `apres_captcha(cle)`
    returns the next page, or None when it refused (its French message on a field or flashed): the page again,
    with a new challenge. Shared by the sign-up (R63) and the two recoveries (R69, R70)."""
    if request.method != "POST":
        return _page_avec_captcha(template, form, usage, **context)
    if _ip_bloquee(usage):
        return _trop(template, form, usage, **context)
    _compter_ip(usage)
    if not form.validate_on_submit():
        db.session.commit()
        return _page_avec_captcha(template, form, usage, 400, **context)
    cle = form.cle_captcha.data
    if not captcha.verifier(db.session, cle, form.captcha.data, usage, now=clock.now()):
        db.session.commit()
        form.captcha.errors = [MSG_CAPTCHA]
        return _page_avec_captcha(template, form, usage, 400, **context)
    suite = apres_captcha(cle)
    db.session.commit()
    if suite is None:
        return _page_avec_captcha(template, form, usage, 400, **context)
    return suite


# ---- sign-up (R62, R63, R64) ----------------------------------------------------------------------------------

def _tiers():
    """The logged-in partner signing up a further establishment (R64, tiers déclarant), or None."""
    from flask_login import current_user
    if getattr(current_user, "is_authenticated", False) and getattr(current_user, "role", None) == Role.PARTENAIRE:
        return current_user._get_current_object()
    return None


@bp.get("/cgu")
def cgu():
    return render_template("extranet/cgu.html")


@bp.route("/inscription", methods=["GET", "POST"])
def inscription():
    form = InscriptionSiretForm()
    tiers = _tiers()
    context = {"tiers": tiers}
    if tiers is not None:
        context["geres"] = wf.etablissements_geres(db.session, tiers.id)

    def apres_captcha(cle):
        try:
            siret = wf.verifier_siret_inscription(db.session, siret_saisi(form.siret.data))
            if tiers is not None:
                wf.verifier_tiers(db.session, tiers)  # R64: the 201st establishment is refused here already
        except TransitionRefused as exc:  # R62: an account exists (its message), or a bad SIRET; R64
            form.siret.errors = [str(exc)]
            return None
        session["inscription_ap"] = {"siret": siret, "cle": cle, "tiers": getattr(tiers, "id", None)}
        return redirect(url_for("extranet.inscription_formulaire"))

    return _etape_captcha(form, "extranet/inscription_siret.html", "inscription", apres_captcha, **context)


@bp.route("/inscription/formulaire", methods=["GET", "POST"])
def inscription_formulaire():
    etat = session.get("inscription_ap") or {}
    now = clock.now()
    tiers = _tiers()
    if (not etat.get("siret") or not captcha.passage_ouvert(db.session, etat.get("cle"), "inscription", now=now)
            or etat.get("tiers") != getattr(tiers, "id", None)):  # the same person from the SIRET to the form
        session.pop("inscription_ap", None)
        flash(MSG_PASSAGE_EXPIRE, "warning")
        return redirect(url_for("extranet.inscription"))
    form = RattachementForm() if tiers is not None else InscriptionForm()
    page = {"form": form, "siret": etat["siret"], "tiers": tiers}
    if form.validate_on_submit():
        try:
            if not captcha.consommer(db.session, etat["cle"], "inscription", now=now):
                raise TransitionRefused(MSG_PASSAGE_EXPIRE)
            if tiers is not None:  # R64: linked to the tiers déclarant's account on validation
                wf.deposer_rattachement(
                    db.session, compte=tiers, siret=etat["siret"],
                    donnees={k: getattr(form, k).data for k in wf.CHAMPS_RATTACHEMENT},
                    email_etablissement_confirmation=form.email_etablissement_confirmation.data, now=now,
                    ip=request.remote_addr)
            else:
                wf.deposer_inscription(
                    db.session, siret=etat["siret"], donnees={k: getattr(form, k).data for k in wf.CHAMPS},
                    email_etablissement_confirmation=form.email_etablissement_confirmation.data,
                    contact_email_confirmation=form.contact_email_confirmation.data,
                    reponse_secrete=form.reponse_secrete.data, now=now, ip=request.remote_addr)
            db.session.commit()
        except TransitionRefused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return render_template("extranet/inscription.html", **page), 400
        session.pop("inscription_ap", None)
        if tiers is not None:
            flash(MSG_RATTACHEMENT_ENVOYE, "success")
            return redirect(url_for("demande_indemnisation.suivi"))
        flash(MSG_INSCRIPTION_ENVOYEE, "success")
        return redirect(url_for("auth.login"))
    return render_template("extranet/inscription.html", **page), (400 if form.errors else 200)


# ---- recovery (R69, R70): login or e-mail + captcha, then the secret answer ------------------------------------

# mode -> (first step's form, its template, its field, the question for the value, the action on the answer,
#          the first step's endpoint)
RECUPERATIONS = {
    "mdp": (RecuperationForm, "extranet/recuperation.html", "username", wf.question_pour_login,
            wf.reinitialiser_par_reponse, "extranet.mot_de_passe_oublie"),
    "identifiant": (IdentifiantRecuperationForm, "extranet/recuperation_identifiant.html", "email",
                    wf.question_pour_email, wf.identifiant_par_reponse, "extranet.identifiant_oublie"),
}


def _recuperation(mode):
    form_cls, template, champ, question_de, _action, _depart = RECUPERATIONS[mode]
    form = form_cls()

    def apres_captcha(cle):
        valeur = getattr(form, champ).data
        _question, refus = question_de(db.session, valeur)
        if refus:  # R69: never logged in: the support desk
            flash(refus, "danger")
            return None
        session["recuperation_ap"] = {"mode": mode, "valeur": valeur, "cle": cle}
        return redirect(url_for("extranet.question_secrete"))

    return _etape_captcha(form, template, "recuperation", apres_captcha)


@bp.route("/mot-de-passe", methods=["GET", "POST"])
def mot_de_passe_oublie():
    return _recuperation("mdp")


@bp.route("/identifiant", methods=["GET", "POST"])
def identifiant_oublie():
    return _recuperation("identifiant")


@bp.route("/question", methods=["GET", "POST"])
def question_secrete():
    etat = session.get("recuperation_ap") or {}
    now = clock.now()
    mode = etat.get("mode") if etat.get("mode") in RECUPERATIONS else "mdp"
    _f, _t, _c, question_de, action, depart = RECUPERATIONS[mode]
    if not etat.get("valeur") or not captcha.passage_ouvert(db.session, etat.get("cle"), "recuperation", now=now):
        session.pop("recuperation_ap", None)
        flash(MSG_PASSAGE_EXPIRE, "warning")
        return redirect(url_for(depart))
    question, refus = question_de(db.session, etat["valeur"])
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
