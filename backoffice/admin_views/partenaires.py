"""Partenaires (CNAF Afas): declarations, venues, activity lines per venue, anomalies (R56-R61)."""

from __future__ import annotations

from wtforms import SelectField, TextAreaField

from .. import models as m
from ..models.enums import DeclarationStatut, TypeStructure
from . import refs
from .base import SecureModelView
from .filters import structure_filter


class DeclarationPartenaireView(SecureModelView):
    column_list = ["id", "partenaire", "exercice", "type", "statut", "budget", "charges", "produits",
                   "droit_estime", "approuvee_par"]
    column_details_list = column_list + ["created_at", "updated_at"]
    column_searchable_list = ["partenaire.nom"]
    column_filters = ["statut", "type", "exercice",
                      structure_filter(m.DeclarationPartenaire.partenaire_id, "Partenaire", [TypeStructure.PARTENAIRE_AFAS])]
    column_labels = {"partenaire.nom": "Partenaire"}
    # the estimate is computed (R59) and the approver written by the approval transition
    form_columns = ["partenaire", "exercice", "type", "budget", "charges", "produits"]
    form_args = {"partenaire": {"query_factory": refs.structures(TypeStructure.PARTENAIRE_AFAS)},
                 "exercice": {"description": "Année de l'exercice (AAAA)."}}
    editable_statuts = frozenset({DeclarationStatut.EN_SAISIE})
    editable_message = "Une déclaration contrôlée ou transmise ne se modifie plus."


class LieuAccueilView(SecureModelView):
    column_list = ["id", "nom", "partenaire", "mode", "commune"]
    column_details_list = column_list + ["created_at"]
    column_searchable_list = ["nom", "commune"]
    column_filters = ["mode", structure_filter(m.LieuAccueil.partenaire_id, "Partenaire",
                                               [TypeStructure.PARTENAIRE_AFAS])]
    form_columns = ["partenaire", "nom", "mode", "commune"]
    form_args = {"partenaire": {"query_factory": refs.structures(TypeStructure.PARTENAIRE_AFAS)}}


class LigneActiviteView(SecureModelView):
    column_list = ["id", "declaration", "lieu", "semestre", "heures_rencontres", "heures_entretiens",
                   "heures_organisation"]
    column_details_list = column_list
    column_filters = ["semestre", "declaration_id"]
    column_labels = {"declaration_id": "N° de déclaration"}
    form_columns = ["declaration", "lieu", "semestre", "heures_rencontres", "heures_entretiens",
                    "heures_organisation"]
    form_ajax_refs = {"declaration": refs.declaration(), "lieu": refs.lieu_accueil()}
    form_overrides = {"semestre": SelectField}
    form_args = {"semestre": {"choices": [(1, "1er semestre"), (2, "2e semestre")], "coerce": int}}


class AnomalieView(SecureModelView):
    column_list = ["id", "declaration", "code", "libelle", "justification"]
    column_details_list = column_list
    column_searchable_list = ["code", "libelle"]
    column_filters = ["code", "declaration_id"]
    column_labels = {"declaration_id": "N° de déclaration"}
    form_columns = ["declaration", "code", "libelle", "justification"]
    form_ajax_refs = {"declaration": refs.declaration()}
    form_overrides = {"justification": TextAreaField}
    column_descriptions = {"justification": "Toute anomalie est justifiée avant la transmission (R59)."}
