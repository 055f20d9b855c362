"""Programmes: service-civique contracts (R55). NACRE (R51) and Adultes-relais (R52): admin_views/nacre.py and
admin_views/adultes_relais.py (issue 16)."""

from __future__ import annotations


from .. import models as m
from ..forms import entities
from ..models.enums import TypeStructure
from . import refs
from .base import SecureModelView
from .filters import structure_filter


class ContratServiceCiviqueView(SecureModelView):
    form_base_class = entities.PersonneDateeForm
    column_list = ["id", "numero", "organisme", "volontaire_nom", "volontaire_prenom", "date_debut", "date_fin",
                   "majoration_sociale", "indemnite_mensuelle", "statut"]
    column_details_list = ["id", "numero", "organisme", "volontaire_nom", "volontaire_prenom",
                           "volontaire_date_naissance", "date_debut", "date_fin", "majoration_sociale",
                           "indemnite_mensuelle", "prestation_accueil", "statut", "created_at", "updated_at"]
    column_searchable_list = ["numero", "volontaire_nom"]
    column_filters = ["statut", structure_filter(m.ContratServiceCivique.organisme_id, "Organisme d'accueil",
                                                 [TypeStructure.ORGANISME_ACCUEIL]),
                      "majoration_sociale", "date_debut", "date_fin"]
    form_columns = ["numero", "organisme", "volontaire_nom", "volontaire_prenom", "volontaire_date_naissance",
                    "date_debut", "date_fin", "majoration_sociale", "indemnite_mensuelle", "prestation_accueil"]
    form_args = {"organisme": {"query_factory": refs.structures(TypeStructure.ORGANISME_ACCUEIL)}}
