"""Allocations: monthly allowance requests, their declared resources, hors-délai requests (R48).

The amount (`montant`) is computed by the rules and moved by the workflow: it is shown, never typed.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms import TextAreaField
from wtforms.validators import ValidationError

from .. import clock, models as m
from ..forms import entities
from ..models.enums import AllocationNature, AllocationStatut, HorsDelaiStatut
from . import refs
from .base import SecureModelView
from .fiche import Lie, Related
from .filters import antenne_filter, dispositif_filter, mois_filters


class AllocationView(SecureModelView):
    form_base_class = entities.AllocationForm
    # issue 18 §3: resources, payment and its batch, corrections, hors-délai request, reversement: one query each
    related_sections = (
        Related("ressources", "Ressources déclarées", "ressource", m.Ressource,
                lambda a: m.Ressource.allocation_id == a.id, ("type_ressource", "categorie", "montant", "mois_reference"),
                order=lambda: m.Ressource.id),
        Related("paiements", "Paiements et lots", "paiement", m.Paiement, lambda a: m.Paiement.allocation_id == a.id,
                ("end_to_end_id", "lot", "lot.date_execution", "montant", "statut", "motif_rejet"),
                options=lambda: (joinedload(m.Paiement.lot),)),
        Related("corrections", "Versions rectificatives", "allocation", m.Allocation,
                lambda a: m.Allocation.corrige_id == a.id, ("mois", "nature", "montant", "statut")),
        Related("hors_delai", "Demande hors délai", "demande_hors_delai", m.DemandeHorsDelai,
                lambda a: m.DemandeHorsDelai.id == a.demande_hors_delai_id,
                ("mois", "montant_demande", "montant_approuve", "statut", "decision_at")),
        Related("reversement", "Ordre de reversement", "reversement", m.Reversement,
                lambda a: m.Reversement.allocation_id == a.id, ("numero", "montant", "montant_rembourse", "statut")),
    )
    # « Tout ce qui est arrivé à … » (issue 18): its versions (the one it corrects, its corrections, R46), its
    # resources, payment and the payment's lot, its hors-délai request (R48), its reversement
    history_related = (
        Lie("allocation", m.Allocation, lambda a: sa.or_(m.Allocation.corrige_id == a.id,
                                                         m.Allocation.id == a.corrige_id)),
        Lie("ressource", m.Ressource, lambda a: m.Ressource.allocation_id == a.id),
        Lie("paiement", m.Paiement, lambda a: m.Paiement.allocation_id == a.id),
        Lie("lot_paiement", m.LotPaiement, lambda a: m.LotPaiement.id.in_(
            sa.select(m.Paiement.lot_id).where(m.Paiement.allocation_id == a.id))),
        Lie("demande_hors_delai", m.DemandeHorsDelai, lambda a: m.DemandeHorsDelai.id == a.demande_hors_delai_id),
        Lie("reversement", m.Reversement, lambda a: m.Reversement.allocation_id == a.id),
    )
    column_list = ["id", "beneficiaire", "dispositif", "mois", "nature", "montant_forfaitaire", "montant",
                   "statut", "hors_delai", "antenne"]
    column_details_list = ["id", "beneficiaire", "inscription", "cerfa", "dispositif", "antenne", "mois", "nature",
                           "statut", "montant_forfaitaire", "ressources_differentielles", "montant", "motif_blocage",
                           "motif_refus", "hors_delai", "corrige", "soumise_at", "validee_at", "transmise_at",
                           "versee_at", "created_at", "updated_at"]
    # sorts an index serves: (montant, id), (statut, mois, id); a sort on mois alone would need (mois, id)
    column_sortable_list = ["id", "montant", "statut"]
    column_searchable_list = ["beneficiaire.nom_recherche", "beneficiaire.identifiant_imilo"]
    column_filters = ["statut", *mois_filters(m.Allocation.mois), dispositif_filter(m.Allocation.dispositif_id),
                      antenne_filter(m.Allocation.antenne_id), "nature", "hors_delai", "montant"]
    column_labels = {"beneficiaire.nom_recherche": "Nom du jeune",
                     "beneficiaire.identifiant_imilo": "Identifiant i-milo"}
    form_columns = ["inscription", "cerfa", "mois", "nature", "montant_forfaitaire", "ressources_differentielles",
                    "motif_blocage"]
    form_ajax_refs = {"inscription": refs.inscription(), "cerfa": refs.cerfa()}
    # a rectificative version is created by the correction workflow (R46), never by hand; a hors-délai
    # one by the manager's approval of a request (R48)
    form_enum_exclude = {"nature": {AllocationNature.RECTIFICATIVE.value, AllocationNature.HORS_DELAI.value}}
    form_args = {"mois": {"description": "Mois de l'allocation, MM/AAAA."},
                 "ressources_differentielles": {"description": "Montant déjà versé à reprendre (R47)."}}
    # R46: only a saved (not yet submitted) allocation is edited; later, a corrective version
    editable_statuts = frozenset({AllocationStatut.ENREGISTREE})
    editable_message = ("Seule une allocation enregistrée se modifie ; une allocation soumise ou validée ne se "
                        "modifie pas, une allocation acceptée, versée ou refusée se corrige par une version "
                        "rectificative (R46).")

    def on_model_change(self, form, model, is_created):
        # denormalised fields, nature (R42-R44) and the amount from the rules (R21-R34): never typed
        from ..workflows.errors import TransitionRefused
        from ..workflows.saisie import completer
        if not is_created and model.statut not in self.editable_statuts:
            raise ValidationError(self.editable_message)  # R46, before anything is recomputed
        mois_avant = None
        if not is_created:
            from sqlalchemy import inspect
            hist = inspect(model).attrs.mois.history
            mois_avant = hist.deleted[0] if hist.deleted else None
        try:
            # R35/R48: a month past its deadline is refused here and sent to « Demander un versement hors délai »
            completer(self.session, model, is_created=is_created, aujourd_hui=clock.now().date(),
                      mois_avant=mois_avant)
        except (TransitionRefused, ValueError) as exc:  # the rules' own French messages
            raise ValidationError(str(exc)) from None
        if is_created:
            model.cree_par_id = current_user.id
        super().on_model_change(form, model, is_created)


class RessourceView(SecureModelView):
    column_list = ["id", "allocation", "type_ressource", "categorie", "montant", "mois_reference"]
    column_details_list = column_list
    column_searchable_list = ["type_ressource"]
    column_filters = ["categorie", *mois_filters(m.Ressource.mois_reference, "Mois de référence"), "montant"]
    form_columns = ["allocation", "type_ressource", "categorie", "montant", "mois_reference"]
    form_ajax_refs = {"allocation": refs.allocation()}
    form_args = {"mois_reference": {"description": "Mois des ressources, en général le mois précédent (R28)."}}


def _ressources(view, context, model, name):
    lignes = model.ressources_declarees or []
    if not lignes:
        return "aucune"
    from decimal import Decimal

    from ..i18n import format_montant

    def ligne(item):
        try:
            t, v = item
            return f"{t} : {format_montant(Decimal(str(v)))}"
        except (TypeError, ValueError, ArithmeticError):  # not a (type, amount) pair: shown as text, escaped
            return str(item)
    return " ; ".join(ligne(i) for i in lignes) if isinstance(lignes, list) else str(lignes)


class DemandeHorsDelaiView(SecureModelView):
    """« Demander un versement hors délai » (R48): the month as it should have been, the amount the rules
    compute on it (what the manager approves), the decision."""

    form_base_class = entities.DemandeHorsDelaiForm
    column_list = ["id", "inscription", "mois", "montant_demande", "montant_calcule", "statut", "demandeur",
                   "approbateur", "decision_at"]
    column_details_list = ["id", "inscription", "mois", "ressources_declarees", "montant_demande", "montant_calcule",
                           "motif_calcul", "motif", "statut", "demandeur", "approbateur", "decision_at",
                           "montant_approuve", "mois_approuve", "motif_refus", "created_at", "updated_at"]
    column_searchable_list = ["inscription.numero"]
    column_filters = ["statut", *mois_filters(m.DemandeHorsDelai.mois), antenne_filter(m.DemandeHorsDelai.antenne_id),
                      "montant_demande"]
    column_labels = {"inscription.numero": "N° de parcours", "mois_approuve": "Mois approuvé",
                     "montant_calcule": "Montant calculé (à approuver)", "motif_calcul": "Pourquoi ce montant",
                     "ressources_declarees": "Ressources du mois précédent", "montant_demande": "Montant demandé"}
    column_formatters = {"ressources_declarees": _ressources}
    # the approver, the approved month and amount are written by the manager's transition (R48); the
    # computed amount by the rules (R21-R34), never typed
    form_columns = ["inscription", "mois", "montant_demande", "motif"]
    form_ajax_refs = {"inscription": refs.inscription()}
    form_overrides = {"motif": TextAreaField}
    form_args = {"montant_demande": {"description": "PACEA : le montant demandé, borné par les plafonds (R33, R34). "
                                     "CEJ : indicatif, le montant approuvé est celui des règles (R21-R25)."}}
    # R48: an approved request may still be corrected while its allocation is not submitted: the edit
    # sends it back to the manager
    editable_statuts = frozenset({HorsDelaiStatut.EN_ATTENTE, HorsDelaiStatut.APPROUVEE})
    editable_message = "Une demande hors délai refusée ou annulée ne se modifie plus."

    def on_form_prefill(self, form, id):
        model = self.get_one(id)
        from decimal import Decimal, InvalidOperation
        lignes = model.ressources_declarees if isinstance(model.ressources_declarees, list) else []
        for k, item in enumerate(lignes[:3], start=1):
            try:  # only well-formed (type, amount) pairs are put back in the form
                t, v = item
                montant = Decimal(str(v))
            except (TypeError, ValueError, InvalidOperation):
                continue
            getattr(form, f"ressource_type_{k}").data = t
            getattr(form, f"ressource_montant_{k}").data = montant
        super_prefill = getattr(super(), "on_form_prefill", None)
        if super_prefill:
            super_prefill(form, id)

    def on_model_change(self, form, model, is_created):
        from ..workflows.errors import TransitionRefused
        from ..workflows.hors_delai import allocation_de, completer_demande, modifier_demande
        if model.inscription is not None:
            model.antenne_id = model.inscription.antenne_id
        if is_created:
            model.demandeur_id = current_user.id  # four eyes (R48): the requester never approves
        super().on_model_change(form, model, is_created)
        if not is_created and model.statut == HorsDelaiStatut.APPROUVEE:
            a = allocation_de(self.session, model.id)
            if a is not None and a.statut != AllocationStatut.ENREGISTREE:
                raise ValidationError(f"L'allocation hors délai n° {a.id} est déjà soumise : la demande ne se "
                                      "modifie plus (une allocation payée se corrige par une version rectificative, R46).")
        try:
            completer_demande(self.session, model, form.lignes(), aujourd_hui=clock.now().date())
            if not is_created:
                modifier_demande(self.session, model, current_user)  # R48: back to the manager
        except (TransitionRefused, ValueError) as exc:
            raise ValidationError(str(exc)) from None
