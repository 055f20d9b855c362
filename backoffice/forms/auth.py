"""Login and password-change forms (DESIGN.md: fields username, password, csrf_token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError



class LoginForm(FlaskForm):
    username = StringField("Identifiant", validators=[DataRequired("Saisissez votre identifiant."),
                                                       Length(max=64, message="Identifiant trop long.")])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."),
                                                         Length(max=1024, message="Mot de passe trop long.")])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Mot de passe actuel", validators=[DataRequired("Saisissez votre mot de passe actuel.")])
    new_password = PasswordField("Nouveau mot de passe", validators=[DataRequired("Saisissez un nouveau mot de passe.")])
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
        if field.data == self.current_password.data:
            raise ValidationError("Le nouveau mot de passe doit être différent de l'actuel.")
