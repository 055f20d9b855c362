"""Adultes-relais (R52), issue 16: post agreements (eligibility checked, aid from the dated barème, the monthly
run, renewal, end), the employers' quarterly declarations and their regularisation; and the partners' own payables
and orders (NACRE operators and Adultes-relais employers: policy.programmes_scope)."""

from __future__ import annotations

from decimal import Decimal

from flask_login import current_user

from .. import models as m
from ..forms import entities
from ..forms.fields import BicField, IbanField
from ..models.enums import DeclarationARStatut, TypeStructure
from ..workflows import adultes_relais as wf
from . import refs
from .base import ReadOnlyModelView, SecureModelView
from .filters import structure_filter
from .paie_programmes import PaieMensuelleMixin
from .saisie_workflow import refus_du_workflow


class PosteAdulteRelaisView(PaieMensuelleMixin, SecureModelView):
    programme = "AR"
    form_base_class = entities.PersonneDateeForm
    column_list = ["id", "numero_convention", "employeur", "salarie_nom", "salarie_prenom", "date_debut", "date_fin",
                   "quotite", "aide_mensuelle", "date_fin_contrat", "statut"]
    column_details_list = ["id", "numero_convention", "employeur", "salarie_nom", "salarie_prenom",
                           "salarie_date_naissance", "salarie_qpv", "salarie_sans_emploi", "date_debut", "date_fin",
                           "renouvellements", "quotite", "aide_annuelle", "aide_mensuelle", "date_fin_contrat", "iban",
                           "bic", "statut", "motif_fin", "created_at", "updated_at"]
    column_searchable_list = ["numero_convention", "salarie_nom"]
    column_filters = ["statut", structure_filter(m.PosteAdulteRelais.employeur_id, "Employeur",
                                                 [TypeStructure.EMPLOYEUR]), "date_debut", "date_fin"]
    column_labels = {"salarie_qpv": "Réside en QPV", "salarie_sans_emploi": "Sans emploi à l'embauche",
                     "aide_annuelle": "Aide annuelle (barème au début)", "aide_mensuelle": "Aide mensuelle",
                     "date_fin_contrat": "Fin du contrat de travail", "motif_fin": "Motif de la résiliation"}
    # R52: the aid comes from the dated barème and the working-time ratio, never typed
    form_columns = ["numero_convention", "employeur", "salarie_nom", "salarie_prenom", "salarie_date_naissance",
                    "salarie_qpv", "salarie_sans_emploi", "date_debut", "date_fin", "quotite", "iban", "bic"]
    form_overrides = {"iban": IbanField, "bic": BicField}
    form_args = {"employeur": {"query_factory": refs.structures(TypeStructure.EMPLOYEUR)},
                 "quotite": {"description": "Pourcentage d'un temps plein, de 1 à 100.",
                             "minimum": Decimal("1"), "maximum": Decimal("100")},
                 "date_fin": {"description": "3 ans au plus après le début (renouvelable, R52)."}}

    def montants_paie(self, session, ids, mois):
        return wf.montants_du_mois(session, ids, mois)

    def on_model_change(self, form, model, is_created):
        with refus_du_workflow():
            wf.preparer_poste(model)
        super().on_model_change(form, model, is_created)


class DeclarationAdulteRelaisView(SecureModelView):
    """R52: typed and filed by the employer (its posts only) once the quarter is over; regularised by the agency."""

    form_base_class = entities.EntityForm
    column_list = ["id", "poste", "annee", "trimestre", "absences_mois_1", "absences_mois_2", "absences_mois_3",
                   "date_fin_contrat", "montant_verse", "montant_du", "ecart", "statut"]
    column_details_list = column_list + ["reversement_id", "deposee_at", "regularisee_at", "created_at"]
    column_filters = ["statut", "annee", "trimestre"]
    column_searchable_list = ["poste.numero_convention"]
    column_labels = {"poste.numero_convention": "N° de convention", "annee": "Année", "trimestre": "Trimestre",
                     "absences_mois_1": "Jours d'absence non rémunérée (1er mois)",
                     "absences_mois_2": "Jours d'absence (2e mois)", "absences_mois_3": "Jours d'absence (3e mois)",
                     "date_fin_contrat": "Fin du contrat (si terminé)", "montant_verse": "Versé",
                     "montant_du": "Dû", "ecart": "Écart (complément ou reversement)",
                     "reversement_id": "Ordre de reversement"}
    form_columns = ["poste", "annee", "trimestre", "absences_mois_1", "absences_mois_2", "absences_mois_3",
                    "date_fin_contrat"]
    form_args = {"poste": {"query_factory": refs.scoped(m.PosteAdulteRelais, order_by=lambda p: p.numero_convention)}}
    editable_statuts = frozenset({DeclarationARStatut.EN_SAISIE})
    editable_message = "Une déclaration déposée ne se modifie plus : l'ASP la renvoie pour correction."

    def on_model_change(self, form, model, is_created):
        with refus_du_workflow(), self.session.no_autoflush:
            wf.verifier_declaration(self.session, actor=current_user,
                                    poste_id=model.poste_id or getattr(model.poste, "id", None), annee=model.annee,
                                    trimestre=model.trimestre,
                                    absences=(model.absences_mois_1, model.absences_mois_2, model.absences_mois_3),
                                    date_fin_contrat=model.date_fin_contrat)
        super().on_model_change(form, model, is_created)


class PaiementProgrammeView(ReadOnlyModelView):
    """A partner's payables (NACRE advance, monthly payments, expertise; Adultes-relais months, complements): what is
    owed to it and whether it is paid. Its own only (policy.programmes_scope)."""

    column_list = ["id", "dispositif", "source_type", "periode", "libelle", "montant", "statut"]
    column_details_list = ["id", "dispositif", "source_type", "periode", "libelle", "titulaire", "montant", "statut",
                           "motif", "created_at", "updated_at"]
    column_filters = ["periode", "statut", "source_type"]
    column_sortable_list = ["id", "periode", "montant", "statut"]
    column_labels = {"dispositif": "Programme", "source_type": "Nature", "periode": "Période", "libelle": "Libellé"}


class ReversementProgrammeView(ReadOnlyModelView):
    """The ordres de reversement a partner owes (an advance not absorbed, a quarter regularised): its own only."""

    column_list = ["id", "numero", "dispositif", "origine", "montant", "montant_rembourse", "statut",
                   "date_notification", "date_echeance"]
    column_details_list = column_list + ["montant_remis", "montant_compense", "created_at"]
    column_filters = ["statut"]
    column_labels = {"dispositif": "Programme", "montant_rembourse": "Remboursé"}
