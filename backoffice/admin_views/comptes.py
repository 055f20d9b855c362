"""Administration: user accounts and partner users' habilitations (R62-R68).

Lock, unlock, deactivation and forced password changes are transitions (workflows.compte_transitions);
the form only holds identity, role and structure. Nobody changes their own role.
"""

from __future__ import annotations

from flask_login import current_user
from wtforms import PasswordField
from wtforms.validators import Email, InputRequired

from .. import models as m
from ..forms import entities
from ..passwords import hash_password
from ..models.enums import TypeStructure
from . import refs
from .base import SecureModelView
from .filters import structure_filter


class CompteView(SecureModelView):
    form_base_class = entities.CompteCreationForm
    column_list = ["id", "login", "nom", "prenom", "email", "role", "structure", "statut", "failed_attempts",
                   "locked_until", "last_login_at"]
    # never the password hash, nor the session generation
    column_details_list = ["id", "login", "nom", "prenom", "email", "role", "structure", "statut",
                           "must_change_password", "failed_attempts", "last_failed_at", "locked_at", "locked_until",
                           "last_login_at", "password_changed_at", "created_at", "updated_at"]
    column_export_list = ["id", "login", "nom", "prenom", "email", "role", "structure", "statut", "locked_until",
                          "last_login_at"]
    column_searchable_list = ["login", "nom", "email"]
    column_filters = ["role", "statut", structure_filter(m.Compte.structure_id, "Structure",
                                                         [TypeStructure.SIEGE, TypeStructure.ANTENNE]),
                      "must_change_password", "locked_until", "last_login_at"]
    form_columns = ["login", "nom", "prenom", "email", "role", "structure", "mot_de_passe_provisoire"]
    form_extra_fields = {"mot_de_passe_provisoire": PasswordField(
        "Mot de passe provisoire", validators=[InputRequired("Saisissez un mot de passe provisoire.")],
        description="À changer à la première connexion (R66) ; 8 caractères au moins, dont un chiffre "
                    "et un caractère spécial (R67).")}
    form_args = {"email": {"validators": [Email("Adresse e-mail invalide.")]},
                 "structure": {"query_factory": refs.structures(TypeStructure.SIEGE, TypeStructure.ANTENNE)}}

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        del form.mot_de_passe_provisoire  # a reset goes through the "forcer_changement" transition
        if obj is not None and obj.id == getattr(current_user, "id", None):
            del form.role  # nobody changes their own role
        return form

    def on_model_change(self, form, model, is_created):
        password = model.__dict__.pop("mot_de_passe_provisoire", None)
        if is_created:
            model.password_hash = hash_password(password)
            model.must_change_password = True  # R66
        super().on_model_change(form, model, is_created)


class CompteEtablissementView(SecureModelView):
    column_list = ["id", "compte", "etablissement", "role", "created_at"]
    column_details_list = column_list
    column_searchable_list = ["compte.login", "etablissement.siret"]
    column_filters = ["role"]
    column_labels = {"compte.login": "Identifiant", "etablissement.siret": "SIRET"}
    form_columns = ["compte", "etablissement", "role"]
    form_ajax_refs = {"compte": refs.compte(), "etablissement": refs.etablissement()}

    def on_model_change(self, form, model, is_created):
        if is_created:
            model.demande_par_id = current_user.id
        super().on_model_change(form, model, is_created)

