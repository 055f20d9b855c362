"""Forms of the public extranet pages: the employer's sign-up (R62, R63) and the partner's recovery (R69, R70).

Every text field gets the project's hygiene (trimmed, no control character, a maximum length, e-mail format);
the e-mails typed twice are compared here and again in workflows.inscriptions.
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..rules.identifiants import IdentifiantInvalide, verifier_telephone_fixe
from ..workflows.inscriptions import QUESTIONS, REPONSE_MAX, REPONSE_MIN
from .fields import Obligatoire, SansControle, courriel, longueur, nettoyer

SANS_COLLER = {"data-sans-coller": "1", "autocomplete": "off"}  # R63: typed, not pasted (script in the page)


def _texte(label, max_length, *, requis=True, **kw):
    validators = [SansControle(), Obligatoire() if requis else Optional(), longueur(max_length)]
    validators += kw.pop("validators", [])
    return StringField(label, filters=[nettoyer], validators=validators, **kw)


def _email(label, **kw):
    return _texte(label, 254, validators=[courriel()], **kw)


class _Fixe:
    """R63: a landline number, stored as 10 digits."""

    def __call__(self, form, field):
        if field.data:
            try:
                field.data = verifier_telephone_fixe(field.data)
            except IdentifiantInvalide as exc:
                raise ValidationError(exc.message) from None


class _QuestionField(SelectField):
    """The list of secret questions, refused in French when the value is not one of them."""

    def pre_validate(self, form):
        if self.data not in QUESTIONS:
            raise ValidationError("Choisissez une question secrète dans la liste.")


class CaptchaMixin:
    cle_captcha = HiddenField()
    captcha = StringField("Code de sécurité (6 chiffres de l'image ou de l'enregistrement audio)", filters=[nettoyer],
                          validators=[DataRequired("Recopiez le code de sécurité."), Length(max=12)],
                          render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"})


class InscriptionSiretForm(CaptchaMixin, FlaskForm):
    """R63, steps 1 to 3: the SIRET, the captcha, the terms of use."""

    siret = _texte("SIRET de l'établissement (14 chiffres)", 20, render_kw={"inputmode": "numeric"})
    cgu = BooleanField("J'accepte les conditions générales d'utilisation (CGU)",
                       validators=[DataRequired("Acceptez les conditions générales d'utilisation pour continuer.")])


class RattachementForm(FlaskForm):
    """R63, the establishment's part of the form; alone, a tiers déclarant's further establishment (R64): its
    contact is the logged-in account, whose name, first name, e-mail and secrets do not change."""

    raison_sociale = _texte("Dénomination de l'établissement *", 120)
    libelle_voie = _texte("Libellé de voie *", 28, validators=[
        Length(max=28, message="Libellé de voie : 28 caractères au maximum (R63).")], render_kw={"maxlength": 28})
    complement_adresse = _texte("Complément d'adresse", 38, requis=False, validators=[
        Length(max=38, message="Complément d'adresse : 38 caractères au maximum (R63).")],
        render_kw={"maxlength": 38})
    code_postal = _texte("Code postal *", 5, validators=[Regexp(r"^\d{5}$", message="Code postal : 5 chiffres.")])
    ville = _texte("Ville *", 80)
    email_etablissement = _email("Adresse e-mail de l'établissement *", render_kw=SANS_COLLER)
    email_etablissement_confirmation = _email("Adresse e-mail de l'établissement (confirmation) *",
                                              render_kw=SANS_COLLER)
    telephone_etablissement = _texte("Téléphone fixe de l'établissement *", 20, validators=[_Fixe()])
    effectif = IntegerField("Effectif de l'établissement *", validators=[
        DataRequired("Indiquez l'effectif."), NumberRange(min=1, max=1_000_000, message="Effectif : 1 ou plus.")])
    contact_telephone = _texte("Téléphone fixe de la personne à contacter *", 20, validators=[_Fixe()])

    # R63: each e-mail typed twice, compared on the server
    def validate_email_etablissement_confirmation(self, field):
        if (field.data or "").casefold() != (self.email_etablissement.data or "").casefold():
            raise ValidationError("Les deux saisies de l'adresse e-mail de l'établissement ne correspondent pas (R63).")


class InscriptionForm(RattachementForm):
    """R63, the form: mandatory fields (*), the e-mails typed twice, landlines, address lengths, secret Q/A."""

    contact_nom = _texte("Nom de la personne à contacter *", 80)
    contact_prenom = _texte("Prénom de la personne à contacter *", 80)
    contact_email = _email("Adresse e-mail de la personne à contacter *", render_kw=SANS_COLLER)
    contact_email_confirmation = _email("Adresse e-mail de la personne à contacter (confirmation) *",
                                        render_kw=SANS_COLLER)
    question_secrete = _QuestionField("Question secrète *", choices=[("", "— choisissez —")] + [(q, q) for q in QUESTIONS],
                                   validators=[DataRequired("Choisissez une question secrète.")])
    reponse_secrete = PasswordField("Réponse à la question secrète *", validators=[
        DataRequired("Saisissez la réponse à la question secrète."),
        Length(min=REPONSE_MIN, max=REPONSE_MAX, message=f"Réponse : {REPONSE_MIN} à {REPONSE_MAX} caractères.")],
        render_kw={"autocomplete": "off"})

    def validate_contact_email_confirmation(self, field):
        if (field.data or "").casefold() != (self.contact_email.data or "").casefold():
            raise ValidationError("Les deux saisies de l'adresse e-mail de la personne à contacter ne correspondent "
                                  "pas (R63).")


class RecuperationForm(CaptchaMixin, FlaskForm):
    """R69, step 1: the login and the captcha."""

    username = _texte("Identifiant", 64, validators=[], render_kw={"autocomplete": "username"})


class IdentifiantRecuperationForm(CaptchaMixin, FlaskForm):
    """R70, step 1: the e-mail address and the captcha."""

    email = _email("Adresse e-mail (celle de votre inscription)")


class ReponseSecreteForm(FlaskForm):
    reponse = PasswordField("Réponse à votre question secrète", validators=[
        DataRequired("Saisissez la réponse."), Length(max=REPONSE_MAX, message="Réponse trop longue.")],
        render_kw={"autocomplete": "off"})


def siret_saisi(texte: str | None) -> str:
    return re.sub(r"[\s.]", "", texte or "")


class ChoixSecretForm(FlaskForm):
    """R69 (S004 2.9): a partner without secrets (an added user) chooses them after the first password change."""

    question_secrete = _QuestionField("Question secrète", choices=[("", "— choisissez —")] + [(q, q) for q in QUESTIONS],
                                      validators=[DataRequired("Choisissez une question secrète.")])
    reponse_secrete = PasswordField("Réponse", validators=[
        DataRequired("Saisissez la réponse à la question secrète."),
        Length(min=REPONSE_MIN, max=REPONSE_MAX, message=f"Réponse : {REPONSE_MIN} à {REPONSE_MAX} caractères.")],
        render_kw={"autocomplete": "off"})
