"""Activité partielle: establishments (one per SIRET, R62), authorisations (DAP), employees, monthly
claims (DI) and their hours per employee (R71-R74).

A partner's user sees their own establishments (policy.partner_scope); the main contact changes the
referent, and nothing else (R64). A SIRET is never changed: a new SIRET is a new account (R62).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import request
from flask_login import current_user
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import Length, StopValidation, ValidationError

from .. import clock
from .. import models as m
from ..extensions import db
from ..forms import entities
from ..forms.fields import NirField, SiretField
from ..models.enums import AutorisationStatut, DIStatut, Role
from ..workflows import habilitations
from ..workflows.errors import WorkflowError
from . import refs
from .base import SecureModelView


def _periode(view, context, model, name):
    return Markup("{:02d}/{}").format(model.mois, model.annee) if model.mois and model.annee else ""


def _siret_libre(form, field):
    """R62: one account per SIRET; stops before Flask-Admin's generic « Existe déjà »."""
    try:
        habilitations.verifier_siret_libre(db.session, field.data,
                                           sauf_id=getattr(getattr(form, "_obj", None), "id", None))
    except WorkflowError as exc:
        raise StopValidation(str(exc)) from None


# what a partner's main contact may change in their establishment's record (R64)
CHAMPS_PARTENAIRE = ("referent_nom",)


class EtablissementView(SecureModelView):
    form_base_class = entities.EtablissementForm
    column_list = ["id", "siret", "raison_sociale", "code_postal", "ville", "effectif", "email", "referent_nom"]
    column_details_list = ["id", "siret", "raison_sociale", "libelle_voie", "complement_adresse", "code_postal",
                           "ville", "email", "telephone", "effectif", "referent_nom", "created_at", "updated_at"]
    column_searchable_list = ["siret", "raison_sociale"]
    column_filters = ["code_postal", "ville", "effectif"]
    form_columns = ["siret", "raison_sociale", "libelle_voie", "complement_adresse", "code_postal", "ville",
                    "email", "telephone", "effectif", "referent_nom"]
    form_overrides = {"siret": SiretField}
    form_args = {
        "siret": {"validators": [_siret_libre]},
        # R63: the extranet's address lines
        "libelle_voie": {"validators": [Length(max=28, message="Libellé de voie : 28 caractères au maximum (R63).")]},
        "complement_adresse": {"validators": [Length(max=38,
                                                     message="Complément d'adresse : 38 caractères au maximum (R63).")]},
        "code_postal": {"validators": [Length(min=5, max=5, message="Code postal : 5 chiffres.")]},
    }
    column_descriptions = {"referent_nom": "Personne à contacter ; le contact principal du compte peut la changer "
                                           "(R64)."}

    def _partenaire(self) -> bool:
        return getattr(current_user, "role", None) == Role.PARTENAIRE

    def get_one(self, id):
        obj = super().get_one(id)
        # a partner opens the edit page of an establishment they are the main contact of, no other (R64)
        if (obj is not None and self._partenaire() and request.endpoint == f"{self.endpoint}.edit_view"
                and not habilitations.peut_changer_referent(self.session, current_user, obj.id)):
            return None
        return obj

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for field in list(form):
            if field.name in ("csrf_token", "version_vue"):
                continue
            # R62: the SIRET of an account never changes; R64: a partner changes the referent only
            if field.name == "siret" or (self._partenaire() and field.name not in CHAMPS_PARTENAIRE):
                delattr(form, field.name)
        return form

    def on_model_change(self, form, model, is_created):
        if not is_created:
            state = sa.inspect(model)
            changed = {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}
            if "siret" in changed:
                raise ValidationError(habilitations.MSG_SIRET_FIGE)
            if self._partenaire():
                if not habilitations.peut_changer_referent(self.session, current_user, model.id):
                    raise ValidationError(habilitations.MSG_REFERENT)
                if changed - set(CHAMPS_PARTENAIRE) - {"version", "updated_at"}:
                    raise ValidationError(habilitations.MSG_REFERENT)
        super().on_model_change(form, model, is_created)


class AutorisationAPView(SecureModelView):
    form_base_class = entities.AutorisationAPForm
    column_list = ["id", "numero", "etablissement", "motif", "date_debut", "date_fin", "nb_salaries",
                   "heures_prevues", "statut", "decision_at"]
    # the 10-character secret code (R71) is a secret (issue 12): on the decision notice only, on no screen
    column_details_list = ["id", "numero", "etablissement", "motif", "date_debut", "date_fin", "nb_salaries",
                           "heures_prevues", "avis_cse", "statut", "deposee_at", "decision_at"]
    column_searchable_list = ["numero", "etablissement.siret"]
    column_filters = ["statut", "motif", "date_debut", "date_fin", "nb_salaries"]
    column_labels = {"etablissement.siret": "SIRET"}
    # the decision, its date and the secret code come from the administration's answer
    form_columns = ["numero", "etablissement", "motif", "date_debut", "date_fin", "nb_salaries", "heures_prevues",
                    "avis_cse"]
    form_ajax_refs = {"etablissement": refs.etablissement()}
    form_overrides = {"avis_cse": TextAreaField}
    editable_statuts = frozenset({AutorisationStatut.DEPOSEE})
    editable_message = "Une autorisation décidée ne se modifie plus."

    def on_model_change(self, form, model, is_created):
        if is_created and model.deposee_at is None:
            model.deposee_at = clock.now()
        super().on_model_change(form, model, is_created)


class SalarieView(SecureModelView):
    column_list = ["id", "nom", "prenom", "etablissement", "taux_horaire_brut", "heures_contrat_mensuelles",
                   "apprenti"]
    column_details_list = ["id", "nom", "prenom", "etablissement", "numero_securite_sociale", "taux_horaire_brut",
                           "heures_contrat_mensuelles", "apprenti", "created_at"]
    column_export_list = column_list
    column_searchable_list = ["nom", "etablissement.siret"]
    column_filters = ["apprenti", "taux_horaire_brut"]
    column_labels = {"etablissement.siret": "SIRET de l'établissement"}
    form_columns = ["etablissement", "nom", "prenom", "numero_securite_sociale", "taux_horaire_brut",
                    "heures_contrat_mensuelles", "apprenti"]
    form_ajax_refs = {"etablissement": refs.etablissement()}
    form_overrides = {"numero_securite_sociale": NirField}


class DemandeIndemnisationView(SecureModelView):
    column_list = ["id", "autorisation", "periode", "statut", "montant_indemnites", "montant_allocation",
                   "envoyee_at"]
    column_details_list = ["id", "autorisation", "periode", "statut", "montant_indemnites", "montant_allocation",
                           "envoyee_at", "motif_invalidation", "created_at", "updated_at"]
    column_export_list = ["id", "autorisation", "annee", "mois", "statut", "montant_indemnites",
                          "montant_allocation", "envoyee_at"]
    column_searchable_list = ["autorisation.numero"]
    column_filters = ["statut", "annee", "mois", "envoyee_at"]
    column_labels = {"autorisation.numero": "N° d'autorisation"}
    column_formatters = {"periode": _periode}
    # amounts are computed from the hours (R74)
    form_columns = ["autorisation", "annee", "mois"]
    form_ajax_refs = {"autorisation": refs.autorisation()}
    form_args = {"mois": {"description": "1 à 12."}}
    editable_statuts = frozenset({DIStatut.CREEE, DIStatut.EN_SAISIE})
    editable_message = "Une demande envoyée à l'UD ne se modifie plus."


class LigneDIView(SecureModelView):
    column_list = ["id", "demande", "salarie", "heures_travaillees", "heures_chomees", "indemnite", "allocation"]
    column_details_list = column_list
    column_filters = ["demande_id", "heures_chomees"]
    column_labels = {"demande_id": "N° de DI"}
    # the indemnity (60 %) and the allocation (36 %, floor) are computed (R74)
    form_columns = ["demande", "salarie", "heures_travaillees", "heures_chomees"]
    form_ajax_refs = {"demande": refs.demande_indemnisation(), "salarie": refs.salarie()}
