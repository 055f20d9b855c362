"""Reversements (R47, D5316-15): the orders of any origin, their repayments, and the debtor's account
(what was paid, what is due, the instalment plan, repayments, offsets, remises). The recovery steps are the
REVERSEMENT workflow's transitions (row buttons and bulk actions, workflow_view.with_workflow)."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup

from .. import clock
from .. import models as m
from .. import policy
from ..i18n import format_montant
from ..models.reversements import DEBITEURS, ORIGINE_LABELS
from ..workflows.errors import WorkflowError
from . import refs
from .base import ReadOnlyModelView, SecureModelView
from .filters import antenne_filter, dispositif_filter
from .formatters import money

MODES_REMBOURSEMENT = [("virement", "Virement"), ("cheque", "Chèque"), ("prelevement", "Prélèvement")]
DEBITEUR_LABELS = {"jeune": "Jeune", "etablissement": "Établissement", "partenaire": "Partenaire",
                   "structure_accueil": "Structure d'accueil", "volontaire": "Volontaire"}


def url_compte_debiteur(debiteur_type: str, debiteur_id: int) -> str:
    return url_for("reversement.compte_debiteur", debiteur_type=debiteur_type, debiteur_id=debiteur_id)


def lien_compte_debiteur(view, context, model, name):
    """The debtor's name, linking to their account (from an order, or from a youth's record)."""
    if isinstance(model, m.Beneficiaire):
        kind, ident, label = "jeune", model.id, "Voir le compte débiteur (reversements, échéancier)"
    else:
        kind, ident = model.debiteur_type, model.debiteur_id
        label = model.debiteur_nom or f"{DEBITEUR_LABELS.get(kind, kind)} n° {ident}"
    if not policy.allows("reversement", "view", current_user):
        return label if not isinstance(model, m.Beneficiaire) else ""
    return Markup('<a href="{}" data-lien="compte-debiteur">{}</a>').format(url_compte_debiteur(kind, ident), label)


def _origine(view, context, model, name):
    return ORIGINE_LABELS.get(model.origine, model.origine)


class ReversementView(ReadOnlyModelView):
    column_list = ["id", "numero", "debiteur", "dispositif", "origine", "montant", "montant_rembourse",
                   "montant_compense", "montant_remis", "reste_du", "statut", "date_notification", "date_echeance"]
    column_details_list = ["id", "numero", "debiteur", "debiteur_type", "beneficiaire", "dispositif", "allocation",
                           "origine", "montant", "montant_rembourse", "montant_compense", "montant_remis", "reste_du",
                           "statut", "remise_proposee", "remise_motif", "accord_compensation_at",
                           "accord_compensation_ref", "date_notification", "date_echeance", "motif", "solde_at",
                           "created_at", "updated_at"]
    column_export_list = ["id", "numero", "debiteur_type", "debiteur_id", "debiteur_nom", "origine", "montant",
                          "montant_rembourse", "montant_compense", "montant_remis", "reste_du", "statut",
                          "date_notification", "date_echeance"]
    column_searchable_list = ["numero", "debiteur_nom", "beneficiaire.nom_recherche"]
    column_filters = ["statut", "origine", "debiteur_type", antenne_filter(m.Reversement.antenne_id),
                      dispositif_filter(m.Reversement.dispositif_id), "date_notification", "date_echeance", "montant"]
    column_labels = {"beneficiaire.nom_recherche": "Nom du jeune", "debiteur": "Débiteur",
                     "debiteur_type": "Type de débiteur", "debiteur_nom": "Nom du débiteur",
                     "montant_compense": "Compensé", "remise_proposee": "Remise à valider",
                     "remise_motif": "Motif de la remise", "accord_compensation_at": "Accord de compensation le",
                     "accord_compensation_ref": "Accord de compensation", "reste_du": "Reste dû"}
    column_formatters = {"reste_du": money, "debiteur": lien_compte_debiteur, "origine": _origine,
                         "debiteur_type": lambda v, c, mo, n: DEBITEUR_LABELS.get(mo.debiteur_type, mo.debiteur_type),
                         "remise_proposee": money}

    @expose("/debiteur/<debiteur_type>/<int:debiteur_id>")
    def compte_debiteur(self, debiteur_type, debiteur_id):
        """The debtor's account: only the orders the viewer's scope shows; nothing at all is a 404."""
        from ..workflows.recouvrement import compte_debiteur
        if debiteur_type not in DEBITEURS:
            abort(404)
        account = compte_debiteur(self.session, debiteur_type, debiteur_id, scope=self.scope_clause(),
                                  scope_paiements=policy.row_scope(m.Paiement, current_user),
                                  today=clock.now().date())
        beneficiaire = None
        if debiteur_type == "jeune":
            scope = policy.row_scope(m.Beneficiaire, current_user)
            query = self.session.query(m.Beneficiaire).filter(m.Beneficiaire.id == debiteur_id)
            beneficiaire = (query.filter(scope) if scope is not None else query).one_or_none()
        if not account["ordres"] and beneficiaire is None:
            abort(404)
        nom = (beneficiaire and f"{beneficiaire.prenom} {beneficiaire.nom}") or next(
            (o.debiteur_nom for o in account["ordres"] if o.debiteur_nom), None) or f"n° {debiteur_id}"
        return self.render("admin/compte_debiteur.html", account=account, nom=nom, beneficiaire=beneficiaire,
                           type_label=DEBITEUR_LABELS[debiteur_type], format_montant=format_montant,
                           origines=ORIGINE_LABELS, list_url=self.get_url(".index_view"),
                           detail_url=lambda rid: self.get_url(".details_view", id=rid))


class RemboursementView(SecureModelView):
    """A repayment is recorded through workflows.reversements.enregistrer_remboursement: the `rembourser`
    transition (guarded: status, amount within what is left due, reference not yet used), then `solder`."""

    column_list = ["id", "reversement", "date_reception", "montant", "mode", "reference"]
    column_details_list = ["id", "reversement", "date_reception", "montant", "mode", "reference", "created_at"]
    column_searchable_list = ["reference", "reversement.numero"]
    column_filters = ["mode", "date_reception", "montant"]
    column_labels = {"reversement.numero": "N° d'ordre"}
    form_columns = ["reversement", "date_reception", "montant", "mode", "reference"]
    form_choices = {"mode": MODES_REMBOURSEMENT}
    form_ajax_refs = {"reversement": refs.reversement()}

    def create_model(self, form):
        from ..workflows.reversements import enregistrer_remboursement

        try:
            remboursement = enregistrer_remboursement(
                self.session, form.reversement.data.id, montant=form.montant.data,
                date_reception=form.date_reception.data, mode=form.mode.data,
                reference=form.reference.data or None, actor=current_user, now=clock.now())
            self.session.commit()
        except WorkflowError as exc:
            self.session.rollback()
            flash(str(exc), "error")
            return False
        except Exception as exc:  # noqa: BLE001 (database refusals become a French message)
            self.session.rollback()
            if not self.handle_view_exception(exc):
                raise
            return False
        self.after_model_change(form, remboursement, True)
        return remboursement
