"""NACRE (R51), issue 16: conventions (the advance at the first contract, the monthly run, the end), the operator's
monthly activity statements, the expertise with their contract and invoice attached. An operator's user
(`partenaire`, its account's structure) sees its own conventions, statements, expertise, payables and orders; another
operator's row answers as a missing one (policy.programmes_scope)."""

from __future__ import annotations

from flask import abort, request
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from wtforms import FileField
from wtforms.validators import ValidationError

from .. import clock
from .. import models as m
from ..forms import entities
from ..forms.fields import BicField, IbanField
from ..models.enums import EtatActiviteStatut, ExpertiseStatut, TypeStructure
from ..rules import nacre as regles
from ..workflows import nacre as wf
from ..workflows.errors import WorkflowError
from . import refs
from .base import SecureModelView
from .filters import structure_filter
from .paie_programmes import PaieMensuelleMixin
from .saisie_workflow import SaisieWorkflowMixin, refus_du_workflow

def _plafond(view, context, model, name):
    from ..i18n import format_montant
    return format_montant(regles.plafond_subvention(model.subvention_annuelle, model.date_debut, model.date_fin))

class ConventionNacreView(PaieMensuelleMixin, SecureModelView):
    programme = "NACRE"
    form_base_class = entities.EntityForm
    column_list = ["id", "numero", "operateur", "subvention_annuelle", "avance_versee", "date_debut", "date_fin",
                   "date_premier_contrat", "statut"]
    column_details_list = ["id", "numero", "operateur", "subvention_annuelle", "plafond", "tarif_phase_1",
                           "tarif_phase_2", "tarif_phase_3", "date_debut", "date_fin", "date_premier_contrat",
                           "avance_versee", "iban", "bic", "statut", "motif_fin", "created_at", "updated_at"]
    column_searchable_list = ["numero"]
    column_filters = ["statut", structure_filter(m.ConventionNacre.operateur_id, "Opérateur",
                                                 [TypeStructure.OPERATEUR_NACRE]), "date_debut", "date_fin"]
    column_labels = {"plafond": "Subvention totale (plafond des paiements)", "avance_versee": "Avance (25 %)",
                     "tarif_phase_1": "Prix mensuel phase 1 (montage)", "tarif_phase_2": "Prix mensuel phase 2 "
                     "(financement)", "tarif_phase_3": "Prix mensuel phase 3 (suivi)",
                     "date_premier_contrat": "Premier contrat signé le", "motif_fin": "Motif de la résiliation"}
    column_formatters = {"plafond": _plafond}
    # R51: the 25 % advance is paid by the transition « Premier contrat signé », never typed
    form_columns = ["numero", "operateur", "subvention_annuelle", "date_debut", "date_fin", "tarif_phase_1",
                    "tarif_phase_2", "tarif_phase_3", "iban", "bic"]
    form_overrides = {"iban": IbanField, "bic": BicField}
    form_args = {"operateur": {"query_factory": refs.structures(TypeStructure.OPERATEUR_NACRE)}}

    def montants_paie(self, session, ids, mois):
        return {i: montant for i, (_, montant) in wf.montants_du_mois(session, ids, mois).items()}

    def on_model_change(self, form, model, is_created):
        if model.date_debut and model.date_fin and not regles.duree_valide(model.date_debut, model.date_fin):
            raise ValidationError("Une convention NACRE couvre au plus 3 ans d'accompagnement, après son début (R51).")
        super().on_model_change(form, model, is_created)

class EtatActiviteNacreView(SecureModelView):
    """R51: typed by the operator (its conventions only), sent, validated or rejected by the agency; paid by the
    conventions' monthly run."""

    form_base_class = entities.EntityForm
    column_list = ["id", "convention", "mois", "nb_phase_1", "nb_phase_2", "nb_phase_3", "montant_activite",
                   "montant_verse", "statut"]
    column_details_list = column_list + ["motif_rejet", "transmis_at", "created_at", "updated_at"]
    column_filters = ["statut", "mois"]
    column_searchable_list = ["convention.numero"]
    column_labels = {"convention.numero": "N° de convention", "nb_phase_1": "En cours phase 1",
                     "nb_phase_2": "En cours phase 2", "nb_phase_3": "En cours phase 3",
                     "montant_activite": "Activité du mois", "montant_verse": "Versé pour le mois",
                     "motif_rejet": "Motif du rejet"}
    form_columns = ["convention", "mois", "nb_phase_1", "nb_phase_2", "nb_phase_3"]
    form_args = {"convention": {"query_factory": refs.scoped(m.ConventionNacre, order_by=lambda c: c.numero)},
                 "nb_phase_1": {"description": "Accompagnements en cours dans la phase 1 ce mois-ci"}}
    editable_statuts = frozenset({EtatActiviteStatut.EN_SAISIE})
    editable_message = "Un état d'activité transmis ne se modifie plus : l'ASP le rejette pour correction."

    def on_model_change(self, form, model, is_created):
        for n in (model.nb_phase_1, model.nb_phase_2, model.nb_phase_3):
            if n is None or n < 0 or n > 100000:
                raise ValidationError("Nombre d'accompagnements : un entier positif.")
        with refus_du_workflow(), self.session.no_autoflush:
            wf.verifier_etat(self.session, actor=current_user, convention_id=model.convention_id or getattr(
                model.convention, "id", None), mois=model.mois)
        super().on_model_change(form, model, is_created)

def _piece(attr):
    def formatter(view, context, model, name):
        piece = getattr(model, attr)
        if piece is None:
            return ""
        return Markup('<a href="{}" data-piece="{}">{}</a>').format(
            view.get_url(".piece", ident=model.id, quelle=attr), piece.id, piece.nom_fichier)
    return formatter

class ExpertiseNacreView(SaisieWorkflowMixin, SecureModelView):
    """R51: filed by the operator with the expertise contract and the supplier's invoice; validated (and paid within
    the subsidy) or refused by the agency."""

    form_base_class = entities.EntityForm
    column_list = ["id", "convention", "prestataire", "objet", "montant_contrat", "montant_facture", "date_facture",
                   "montant_paye", "statut"]
    column_details_list = column_list + ["piece_contrat", "piece_facture", "motif_refus", "created_at"]
    column_filters = ["statut", "date_facture"]
    column_searchable_list = ["prestataire", "convention.numero"]
    column_labels = {"convention.numero": "N° de convention", "montant_contrat": "Montant du contrat",
                     "montant_facture": "Montant de la facture", "montant_paye": "Payé",
                     "piece_contrat": "Contrat d'expertise", "piece_facture": "Facture du prestataire"}
    column_formatters = {"piece_contrat": _piece("piece_contrat"), "piece_facture": _piece("piece_facture")}
    form_columns = ["convention", "prestataire", "objet", "montant_contrat", "montant_facture", "date_facture",
                    "contrat_fichier", "facture_fichier"]
    form_extra_fields = {"contrat_fichier": FileField("Contrat d'expertise (PDF, PNG ou JPEG, 5 Mo au plus)"),
                         "facture_fichier": FileField("Facture du prestataire (PDF, PNG ou JPEG, 5 Mo au plus)")}
    form_args = {"convention": {"query_factory": refs.scoped(m.ConventionNacre, order_by=lambda c: c.numero)}}
    editable_statuts = frozenset({ExpertiseStatut.DEPOSEE})

    message_modification = "Une expertise déposée ne se modifie pas : l'ASP la refuse, déposez-en une autre."

    def saisir(self, form):
        def fichier(name):
            f = request.files.get(name)
            return (f.read(), f.filename) if f is not None and f.filename else None
        return wf.deposer_expertise(
            self.session, actor=current_user, convention_id=getattr(form.convention.data, "id", None),
            prestataire=form.prestataire.data, objet=form.objet.data, montant_contrat=form.montant_contrat.data,
            montant_facture=form.montant_facture.data, date_facture=form.date_facture.data,
            contrat=fichier("contrat_fichier"), facture=fichier("facture_fichier"), now=clock.now())

    @expose("/piece/<int:ident>/<quelle>")
    def piece(self, ident, quelle):
        """The contract or the invoice of an expertise within the role's scope (another operator's: missing)."""
        from flask import Response
        from werkzeug.utils import secure_filename

        from ..workflows import pieces
        if quelle not in ("piece_contrat", "piece_facture"):
            abort(404)
        expertise = self.get_one(ident)
        piece = getattr(expertise, quelle, None) if expertise is not None else None
        if piece is None:
            abort(404)
        try:
            body = pieces.lire_piece(piece)
        except (OSError, WorkflowError):
            abort(404)
        return Response(body, mimetype=piece.type_mime, headers={
            "Content-Disposition": f'attachment; filename="{secure_filename(piece.nom_fichier) or "piece"}"',
            "X-Content-Type-Options": "nosniff"})

