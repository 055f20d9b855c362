"""Programmes: NACRE conventions (R51), adultes-relais posts (R52); service civique: admin_views/service_civique.py."""

from __future__ import annotations

from decimal import Decimal

from .. import models as m
from ..forms import entities
from ..models.enums import TypeStructure
from . import refs
from .base import SecureModelView
from .filters import structure_filter


class ConventionNacreView(SecureModelView):
    column_list = ["id", "numero", "operateur", "subvention_annuelle", "avance_versee", "date_debut", "date_fin",
                   "date_premier_contrat", "statut"]
    column_details_list = column_list + ["created_at", "updated_at"]
    column_searchable_list = ["numero"]
    column_filters = ["statut", structure_filter(m.ConventionNacre.operateur_id, "Opérateur",
                                                 [TypeStructure.OPERATEUR_NACRE]), "date_debut", "date_fin"]
    # the 25 % advance (R51) is paid by a transition, not typed
    form_columns = ["numero", "operateur", "subvention_annuelle", "date_debut", "date_fin", "date_premier_contrat"]
    form_args = {"operateur": {"query_factory": refs.structures(TypeStructure.OPERATEUR_NACRE)}}


class PosteAdulteRelaisView(SecureModelView):
    form_base_class = entities.PersonneDateeForm
    column_list = ["id", "numero_convention", "employeur", "salarie_nom", "salarie_prenom", "date_debut", "date_fin",
                   "quotite", "aide_mensuelle", "statut"]
    column_details_list = ["id", "numero_convention", "employeur", "salarie_nom", "salarie_prenom",
                           "salarie_date_naissance", "date_debut", "date_fin", "quotite", "aide_annuelle",
                           "aide_mensuelle", "statut", "created_at", "updated_at"]
    column_searchable_list = ["numero_convention", "salarie_nom"]
    column_filters = ["statut", structure_filter(m.PosteAdulteRelais.employeur_id, "Employeur",
                                                 [TypeStructure.EMPLOYEUR]), "date_debut", "date_fin"]
    form_columns = ["numero_convention", "employeur", "salarie_nom", "salarie_prenom", "salarie_date_naissance",
                    "date_debut", "date_fin", "quotite", "aide_annuelle", "aide_mensuelle"]
    form_args = {"employeur": {"query_factory": refs.structures(TypeStructure.EMPLOYEUR)},
                 # R52: a share of a full-time post
                 "quotite": {"description": "Pourcentage d'un temps plein, de 1 à 100.",
                             "minimum": Decimal("1"), "maximum": Decimal("100")}}

