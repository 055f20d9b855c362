"""Administration: user accounts and partner users' habilitations (R62-R68).

Lock, unlock, deactivation and forced password changes are transitions (workflows.compte_transitions);
the form only holds identity, role and structure. Nobody changes their own role. An establishment's
main contact keeps their name, first name and e-mail (R64). Added users of an establishment are
requested by its main contact and granted by the siège (DemandeHabilitationView, workflows.habilitations).
"""

from __future__ import annotations

from flask import request
from flask_login import current_user
from wtforms import PasswordField, StringField
from wtforms.validators import Email, InputRequired, Length, ValidationError

from .. import models as m
from ..extensions import db
from ..forms import entities
from ..passwords import hash_password
from ..models.enums import Role, RoleEtablissement, TypeStructure
from ..workflows import habilitations
from ..workflows.errors import WorkflowError
from ..workflows.habilitations import HABILITATION
from . import refs
from .base import ScopedAjaxLoader, SecureModelView
from .filters import structure_filter
from .workflow_view import WorkflowModelView


class CompteView(SecureModelView):
    form_base_class = entities.CompteCreationForm
    reauth_views = ("create_view", "edit_view")  # a role is set here
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
        if obj is not None and habilitations.est_contact_principal_quelque_part(self.session, obj.id):
            for name in habilitations.IDENTITE_FIGEE:  # R64: the main contact's identity is frozen
                if hasattr(form, name):
                    delattr(form, name)
        return form

    def on_model_change(self, form, model, is_created):
        password = model.__dict__.pop("mot_de_passe_provisoire", None)
        if is_created:
            model.password_hash = hash_password(password)
            model.must_change_password = True  # R66
        else:
            _refus(habilitations.verifier_identite_figee, self.session, model)  # R64, whatever was posted
        super().on_model_change(form, model, is_created)


def _refus(check, *args, **kwargs):
    """A workflow rule's French refusal, shown next to the form like a validation error."""
    try:
        return check(*args, **kwargs)
    except WorkflowError as exc:
        raise ValidationError(str(exc)) from None


class ComptesPartenairesLoader(ScopedAjaxLoader):
    """Only a partner's account is linked to an establishment: the picker offers no staff account."""

    def get_query(self):
        return super().get_query().filter(m.Compte.role == Role.PARTENAIRE)


class CompteEtablissementView(SecureModelView):
    """Links made by an admin (R64): an establishment's first user, who becomes its main contact, or a
    tiers déclarant (one account, up to 200 establishments). Added users come from granted requests.
    A link is never edited; the main contact's is never deleted."""

    column_list = ["id", "compte", "etablissement", "role", "demande_par", "created_at"]
    column_details_list = column_list
    column_searchable_list = ["compte.login", "etablissement.siret"]
    column_filters = ["role"]
    column_labels = {"compte.login": "Identifiant", "etablissement.siret": "SIRET"}
    form_columns = ["compte", "etablissement", "role"]
    form_ajax_refs = {"compte": ComptesPartenairesLoader("compte", db.session, m.Compte, **refs.compte()),
                      "etablissement": refs.etablissement()}
    form_enum_exclude = {"role": (RoleEtablissement.UTILISATEUR.value,)}
    column_descriptions = {"role": "Le premier utilisateur d'un établissement en devient le contact principal "
                                   "(R64) ; les utilisateurs supplémentaires sont demandés par celui-ci."}

    def on_model_change(self, form, model, is_created):
        if is_created:
            model.role = _refus(habilitations.role_nouvelle_habilitation, self.session, compte=model.compte,
                                etablissement=model.etablissement, role=model.role)
            model.demande_par_id = current_user.id
        super().on_model_change(form, model, is_created)

    def on_model_delete(self, model):
        _refus(habilitations.verifier_suppression_habilitation, model)
        super().on_model_delete(model)


class EtablissementsDuContactLoader(ScopedAjaxLoader):
    """The establishment picker of a request: a partner only finds those they are the main contact of.
    (A posted id outside them but in their scope reaches habilitations.verifier_demande, which says why
    it is refused; outside their scope it is no establishment at all.)"""

    def get_query(self):
        query = super().get_query()
        if (getattr(current_user, "role", None) == Role.PARTENAIRE
                and (request.endpoint or "").endswith(".ajax_lookup")):
            query = query.filter(m.Etablissement.id.in_(habilitations.etablissements_du_contact(current_user.id)))
        return query


class DemandeHabilitationView(WorkflowModelView):
    """Added users of an establishment (R64): its main contact asks (the only creator), the siège or an
    admin grants (the account, its link and the R65 mails are created then) or refuses with a reason;
    the main contact may cancel a pending request. Never edited: statuses move by transitions only."""

    workflow = HABILITATION
    form_base_class = entities.DemandeHabilitationForm
    column_list = ["id", "etablissement", "login", "nom", "prenom", "email", "statut", "demandeur", "decide_par",
                   "decision_at"]
    column_details_list = ["id", "etablissement", "login", "nom", "prenom", "email", "statut", "demandeur",
                           "decide_par", "decision_at", "motif_refus", "compte", "created_at", "updated_at"]
    column_searchable_list = ["login", "nom", "etablissement.siret"]
    column_filters = ["statut", "decision_at"]
    column_labels = {"etablissement.siret": "SIRET", "login": "Identifiant souhaité", "decide_par": "Décidée par",
                     "compte": "Compte créé"}
    # the requester, the decision and the account are written by the server, never by the form
    form_columns = ["etablissement", "login", "nom", "prenom", "email", "confirmation_email"]
    form_extra_fields = {"confirmation_email": StringField(
        "Confirmation de l'e-mail", validators=[InputRequired("Saisissez à nouveau l'adresse e-mail.")],
        description="Saisissez l'adresse une seconde fois (R63).")}
    form_args = {"email": {"validators": [Email("Adresse e-mail invalide.")]},
                 "login": {"validators": [Length(min=3, max=64, message="Identifiant : 3 à 64 caractères.")],
                           "description": "Lettres minuscules, chiffres, point, tiret ou souligné."}}
    form_ajax_refs = {"etablissement": EtablissementsDuContactLoader(
        "etablissement", db.session, m.Etablissement, **refs.etablissement())}

    def on_model_change(self, form, model, is_created):
        model.__dict__.pop("confirmation_email", None)
        if is_created:
            model.login = habilitations.normaliser_login(model.login)
            model.email = (model.email or "").strip()
            model.demandeur_id = current_user.id  # R64: the request is the main contact's own
            _refus(habilitations.verifier_demande, self.session, demandeur=current_user,
                   etablissement_id=model.etablissement.id if model.etablissement else None, login=model.login)
        super().on_model_change(form, model, is_created)
