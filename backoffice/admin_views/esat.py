"""The ESAT extranet (R53, R54, issue 16): agréments, monthly pay-guarantee declarations (GRTH), the DGF set by the
ARS and its instalments, the EAs' aid-per-post declarations. Each actor sees what its habilitation allows
(policy: the ESAT or EA its own, the ARS its région, the ASP all); the declarations are filed through
workflows.esat (computed at once), validated, refused and liquidated by the workflows' buttons and bulk actions."""

from __future__ import annotations

import sqlalchemy as sa
from flask_login import current_user
from markupsafe import Markup
from wtforms import StringField

from .. import clock
from .. import models as m
from ..forms.fields import parse_mois
from ..i18n import format_montant
from ..models.enums import STATUT_LABELS, TypeStructure
from ..workflows import esat as wf
from ..workflows.errors import WorkflowError
from . import refs
from .base import ReadOnlyModelView, SecureModelView
from .formatters import iban_groupes
from .saisie_workflow import SaisieWorkflowMixin


def _mois(view, context, model, name):
    return f"{model.periode:%m/%Y}"


def _mois_saisi(form):
    return parse_mois(form.mois.data or "")


MOIS_FIELD = {"mois": StringField("Mois déclaré (MM/AAAA)")}


class _DepotView(SaisieWorkflowMixin, SecureModelView):
    """A declaration is filed through the workflow (computed at once); it is never edited, only refused."""

    erreurs_affichees = (WorkflowError, ValueError)  # a month typed wrong (parse_mois) too
    champs_manquants = "Tous les champs chiffrés sont obligatoires."
    message_modification = "Une déclaration déposée ne se modifie pas : l'ASP la refuse, déposez-la de nouveau."


class AgrementEsatView(SaisieWorkflowMixin, SecureModelView):
    column_list = ["id", "numero", "structure", "places", "iban", "created_at"]
    column_details_list = ["id", "numero", "structure", "places", "iban", "bic", "created_at", "updated_at"]
    column_searchable_list = ["numero"]
    column_labels = {"structure": "ESAT ou entreprise adaptée", "numero": "N° FINESS ou d'agrément"}
    column_formatters = {"iban": iban_groupes}
    form_columns = ["structure", "numero", "places", "iban", "bic"]
    form_args = {"structure": {"query_factory": refs.structures(TypeStructure.ESAT, TypeStructure.EA)}}

    message_modification = "Un agrément ne se modifie pas ici."

    def saisir(self, form):
        self.mot_de_passe_recent()  # its IBAN: where the money goes (issue 12)
        return wf.enregistrer_agrement(self.session, actor=current_user,
                                       structure_id=getattr(form.structure.data, "id", None),
                                       numero=form.numero.data or "", places=form.places.data or 0,
                                       iban=form.iban.data or "", bic=form.bic.data)


class DeclarationGarantieView(_DepotView):
    column_list = ["id", "esat", "periode", "nb_travailleurs", "etp", "aide_au_poste", "cotisations_obligatoires",
                   "prevoyance", "formation", "montant", "statut"]
    column_details_list = column_list + ["motif", "created_at", "updated_at"]
    column_export_list = column_list
    column_sortable_list = ["id", "periode", "montant", "statut"]
    column_filters = ["periode", "statut", "esat.nom", "montant"]
    column_labels = {"esat": "ESAT", "esat.nom": "ESAT", "periode": "Mois", "etp": "Équivalents temps plein",
                     "aide_au_poste": "Garantie (aide au poste, R53)", "cotisations_obligatoires":
                     "Cotisations obligatoires", "prevoyance": "Prévoyance (facultative)",
                     "formation": "Formation (facultative)", "montant": "Remboursement"}
    column_formatters = {"periode": _mois}
    form_columns = ["esat", "mois", "nb_travailleurs", "etp", "cotisations_obligatoires", "prevoyance", "formation"]
    form_extra_fields = MOIS_FIELD
    form_args = {"esat": {"query_factory": refs.structures(TypeStructure.ESAT)}}

    def saisir(self, form):
        return wf.deposer_garantie(self.session, actor=current_user, esat_id=getattr(form.esat.data, "id", None),
                                   periode=_mois_saisi(form), nb_travailleurs=form.nb_travailleurs.data,
                                   etp=form.etp.data, cotisations_obligatoires=form.cotisations_obligatoires.data,
                                   prevoyance=form.prevoyance.data or 0, formation=form.formation.data or 0,
                                   now=clock.now())


class DeclarationEAView(_DepotView):
    column_list = ["id", "ea", "periode", "effectif_total", "effectif_th", "part_th", "postes_etp", "montant",
                   "statut"]
    column_details_list = column_list + ["motif", "created_at", "updated_at"]
    column_export_list = ["id", "ea", "periode", "effectif_total", "effectif_th", "postes_etp", "montant", "statut"]
    column_sortable_list = ["id", "periode", "montant", "statut"]
    column_filters = ["periode", "statut", "ea.nom", "montant"]
    column_labels = {"ea": "Entreprise adaptée", "ea.nom": "Entreprise adaptée", "periode": "Mois",
                     "effectif_th": "Dont travailleurs handicapés", "part_th": "Part (R54 : 80 % au moins)",
                     "postes_etp": "Postes aidés (ETP)", "montant": "Aide au poste (R54)"}
    column_formatters = {"periode": _mois, "part_th": lambda v, c, mo, n: (
        f"{(mo.effectif_th * 100 / mo.effectif_total):.1f} %".replace(".", ",") if mo.effectif_total else "")}
    form_columns = ["ea", "mois", "effectif_total", "effectif_th", "postes_etp"]
    form_extra_fields = MOIS_FIELD
    form_args = {"ea": {"query_factory": refs.structures(TypeStructure.EA)}}

    def saisir(self, form):
        return wf.deposer_ea(self.session, actor=current_user, ea_id=getattr(form.ea.data, "id", None),
                             periode=_mois_saisi(form), effectif_total=form.effectif_total.data,
                             effectif_th=form.effectif_th.data, postes_etp=form.postes_etp.data, now=clock.now())


def _versements(view, context, model, name):
    rows = view.session.execute(sa.select(m.VersementDGF).where(m.VersementDGF.dotation_id == model.id)
                                .order_by(m.VersementDGF.rang)).scalars().all()
    lignes = [Markup("<tr><td>{}</td><td>{:%m/%Y}</td><td class=\"text-right\">{}</td><td>{}</td></tr>").format(
        r.rang, r.periode, format_montant(r.montant), STATUT_LABELS.get(r.statut.value, r.statut.value)) for r in rows]
    return Markup('<table class="table table-sm" id="versements-dgf"><thead><tr><th>Versement</th><th>Mois</th>'
                  '<th class="text-right">Montant</th><th>Statut</th></tr></thead><tbody>{}</tbody></table>').format(
        Markup("").join(lignes))


class DotationDGFView(SaisieWorkflowMixin, SecureModelView):
    column_list = ["id", "esat", "exercice", "montant", "nb_versements", "fixee_at"]
    column_details_list = ["id", "esat", "exercice", "montant", "nb_versements", "fixee_at", "versements"]
    column_filters = ["exercice", "esat.nom"]
    column_labels = {"esat": "ESAT", "esat.nom": "ESAT", "montant": "DGF fixée par l'ARS (R53)",
                     "nb_versements": "Versements", "fixee_at": "Fixée le", "versements": "Échéancier"}
    column_formatters = {"versements": _versements}
    form_columns = ["esat", "exercice", "montant", "nb_versements"]
    form_args = {"esat": {"query_factory": refs.structures(TypeStructure.ESAT)},
                 "nb_versements": {"description": "12 (mensuels), 4 (trimestriels)…"}}

    champs_manquants = "Exercice et montant obligatoires."
    message_modification = "Une DGF fixée ne se modifie pas ici."

    def saisir(self, form):
        return wf.fixer_dgf(self.session, actor=current_user, esat_id=getattr(form.esat.data, "id", None),
                            exercice=form.exercice.data, montant=form.montant.data,
                            nb_versements=form.nb_versements.data or 12, now=clock.now())


class VersementDGFView(ReadOnlyModelView):
    column_list = ["id", "dotation", "dotation.esat", "rang", "periode", "montant", "statut"]
    column_details_list = column_list + ["created_at", "updated_at"]
    column_sortable_list = ["id", "periode", "montant", "statut"]
    column_filters = ["periode", "statut", "dotation.esat.nom", "dotation.exercice"]
    column_labels = {"dotation": "DGF", "dotation.esat": "ESAT", "dotation.esat.nom": "ESAT", "rang": "Versement n°",
                     "periode": "Mois", "dotation.exercice": "Exercice"}
    column_formatters = {"periode": _mois}


class ReversementEsatView(ReadOnlyModelView):
    """The ESAT extranet's ordres de reversement (issue 16): what an ESAT owes after a GRTH declaration corrected
    downwards (R53), what an EA owes when the 80 % condition failed afterwards (R54), and how it is recovered
    (repaid, offset against its next payment, remitted). Its own only (policy.programmes_scope): another ESAT's
    order answers as a missing one, in the grid and by its URL."""

    column_list = ["id", "numero", "dispositif", "origine", "montant", "montant_rembourse", "montant_compense",
                   "statut", "date_notification", "date_echeance"]
    column_details_list = column_list + ["montant_remis", "created_at"]
    column_filters = ["statut"]
    column_labels = {"dispositif": "Programme", "montant_rembourse": "Remboursé", "montant_compense": "Compensé"}
