"""Référentiel: structures (siège, antennes, partners), the dispositif catalogue, exit reasons."""

from __future__ import annotations

from .. import models as m
from ..forms.fields import BicField, IbanField, SiretField
from . import refs
from .base import SecureModelView
from .filters import dispositif_filter


class StructureView(SecureModelView):
    column_list = ["id", "code", "nom", "type", "parent", "siret", "ville"]
    column_details_list = ["id", "code", "nom", "type", "parent", "siret", "adresse", "code_postal", "ville",
                           "email", "telephone", "iban", "bic", "created_at", "updated_at"]
    column_searchable_list = ["code", "nom", "siret"]
    column_filters = ["type", "ville", "code_postal"]
    form_columns = ["code", "nom", "type", "parent", "siret", "adresse", "code_postal", "ville", "email", "telephone",
                    "iban", "bic"]
    # issue 15: a partner's account, paid its Afas acomptes and balance (R79); schwifty with the RIB key (R76)
    form_overrides = {"siret": SiretField, "iban": IbanField, "bic": BicField}
    column_descriptions = {"iban": "Compte du partenaire (acomptes et solde Afas). Sa modification demande votre "
                                   "mot de passe."}
    form_args = {"parent": {"query_factory": refs.scoped(m.Structure, order_by=lambda s: s.nom)}}


class DispositifView(SecureModelView):
    column_list = ["id", "code", "libelle", "duree_max_mois", "renouvelable", "allocation_autorisee",
                   "longueur_max_titulaire", "france_travail_requis", "actif"]
    column_details_list = ["id", "code", "libelle", "duree_min_jours", "duree_max_mois", "renouvelable",
                           "nb_renouvellements_max", "duree_renouvellement_mois", "allocation_autorisee",
                           "longueur_max_titulaire", "france_travail_requis", "sortie_positive", "pilote_code",
                           "age_min", "age_max", "nature_action", "actions_min", "actions_max", "heures_par_action",
                           "actif", "created_at", "updated_at"]
    column_searchable_list = ["code", "libelle"]
    column_filters = ["actif", "allocation_autorisee", "renouvelable", "france_travail_requis"]
    form_columns = ["code", "libelle", "duree_min_jours", "duree_max_mois", "renouvelable", "nb_renouvellements_max",
                    "duree_renouvellement_mois", "allocation_autorisee", "longueur_max_titulaire",
                    "france_travail_requis", "sortie_positive", "pilote_code", "age_min", "age_max",
                    "nature_action", "actions_min", "actions_max", "heures_par_action", "actif"]
    # issue 17: the actions an enrolment records (R8 parrainage, R11 Avenir Pro workshops, R12 Déclic days)
    form_choices = {"nature_action": [("", "— aucune —")] + [(k, v) for k, v in m.beneficiaires.NATURES_ACTION.items()]}
    form_args = {"nature_action": {"coerce": lambda v: v or None}}
    column_labels = {"nature_action": "Actions enregistrées", "actions_min": "Actions minimum pour valider (R8)",
                     "actions_max": "Actions au plus (R11)", "heures_par_action": "Heures par action (R12)"}


class MotifSortieView(SecureModelView):
    column_list = ["id", "dispositif", "libelle", "sortie_positive"]
    column_details_list = column_list
    column_searchable_list = ["libelle"]
    column_filters = [dispositif_filter(m.MotifSortie.dispositif_id), "sortie_positive"]
    form_columns = ["dispositif", "libelle", "sortie_positive"]
    form_args = {"dispositif": {"query_factory": refs.scoped(m.Dispositif, order_by=lambda d: d.code)}}
