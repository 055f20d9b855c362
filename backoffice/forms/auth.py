"""Forms of the auth pages (DESIGN.md: login fields username, password, csrf_token).

Nothing is ever truncated: an over-long value is refused with a French message before any hashing
(1024 characters for a password typed to log in; R67's own limit for a new one).
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from .fields import SansControle, courriel, nettoyer

MOT_DE_PASSE_SAISI_MAX = 1024
TROP_LONG = "Mot de passe trop long (1024 caractères au plus)."


def _saisie(label: str, requis: str) -> PasswordField:
    return PasswordField(label, validators=[DataRequired(requis),
                                            Length(max=MOT_DE_PASSE_SAISI_MAX, message=TROP_LONG)])


def _identifiant() -> StringField:
    """A login typed in: trimmed, no control character (finding 8, issue 12), 64 characters at most."""
    return StringField("Identifiant", filters=[nettoyer],
                       validators=[DataRequired("Saisissez votre identifiant."), SansControle(),
                                   Length(max=64, message="Identifiant trop long.")])


class LoginForm(FlaskForm):
    # unchanged on purpose: any typed login gets the same answer and the same argon2 work as a wrong
    # password (tests/auth/test_lockout.py), and nothing typed here is ever stored
    username = StringField("Identifiant", validators=[DataRequired("Saisissez votre identifiant."),
                                                       Length(max=64, message="Identifiant trop long.")])
    password = _saisie("Mot de passe", "Saisissez votre mot de passe.")


class ReauthForm(FlaskForm):
    password = _saisie("Mot de passe", "Saisissez votre mot de passe.")


class _NouveauMotDePasse(FlaskForm):
    new_password = _saisie("Nouveau mot de passe", "Saisissez un nouveau mot de passe.")
    confirm_password = PasswordField(
        "Confirmation",
        validators=[DataRequired("Confirmez le nouveau mot de passe."),
                    EqualTo("new_password", message="Les deux saisies ne correspondent pas.")],
    )

    def __init__(self, *args, login: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._login = login

    def validate_new_password(self, field) -> None:
        from ..rules.motdepasse import verifier_mot_de_passe

        # R67: ≥ 8 characters with a digit and a special character, common passwords refused
        erreurs = verifier_mot_de_passe(field.data or "", login=self._login)
        if erreurs:
            raise ValidationError(" ".join(erreurs))


class PasswordChangeForm(_NouveauMotDePasse):
    current_password = _saisie("Mot de passe actuel", "Saisissez votre mot de passe actuel.")

    def validate_new_password(self, field) -> None:
        super().validate_new_password(field)
        if field.data == self.current_password.data:
            raise ValidationError("Le nouveau mot de passe doit être différent de l'actuel.")


class ReinitialisationForm(_NouveauMotDePasse):
    """New password through an e-mailed link (R69): no current password, the mailbox proved it."""


class MotDePasseOublieForm(FlaskForm):
    username = _identifiant()


class IdentifiantOublieForm(FlaskForm):
    email = StringField("Adresse e-mail", filters=[nettoyer],
                        validators=[DataRequired("Saisissez votre adresse e-mail."), SansControle(),
                                    Length(max=254, message="Adresse trop longue."), courriel()])
