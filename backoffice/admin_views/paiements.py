"""Paiements: SEPA batches and payments (read-only: the payment workflow writes them), ordres de
reversement and the repayments recorded against them."""

from __future__ import annotations

from flask import flash
from flask_login import current_user

from .. import clock
from .. import models as m
from ..workflows.errors import WorkflowError
from . import refs
from .base import ReadOnlyModelView, SecureModelView
from .filters import antenne_filter, dispositif_filter
from .formatters import iban_groupes, money

MODES_REMBOURSEMENT = [("virement", "Virement"), ("cheque", "Chèque"), ("prelevement", "Prélèvement"),
                       ("compensation", "Compensation")]


class LotPaiementView(ReadOnlyModelView):
    column_list = ["id", "reference", "dispositif", "date_execution", "nb_paiements", "montant_total", "statut",
                   "emis_at", "rapproche_at"]
    # the SEPA file itself (deferred LargeBinary) is never loaded by a grid
    column_details_list = ["id", "reference", "dispositif", "date_execution", "statut", "nb_paiements",
                           "montant_total", "fichier_sha256", "emis_at", "rapproche_at", "created_at"]
    column_searchable_list = ["reference"]
    column_filters = ["statut", dispositif_filter(m.LotPaiement.dispositif_id), "date_execution", "montant_total"]
    column_labels = {"dispositif": "Programme"}
    PAIEMENTS_AFFICHES = 500

    def paiements_du_lot(self, lot):
        """The batch page (issue 13): its payments (the first 500, by id) and the link to its SEPA file (export
        right, as the file endpoint checks)."""
        import sqlalchemy as sa
        from flask import url_for
        rows = self.session.execute(
            sa.select(m.Paiement.id, m.Paiement.end_to_end_id, m.Paiement.titulaire, m.Paiement.iban,
                      m.Paiement.montant, m.Paiement.statut, m.Paiement.motif_rejet)
            .where(m.Paiement.lot_id == lot.id).order_by(m.Paiement.id).limit(self.PAIEMENTS_AFFICHES)).all()
        nb = self.session.execute(sa.select(sa.func.count()).select_from(m.Paiement)
                                  .where(m.Paiement.lot_id == lot.id)).scalar_one()
        sepa = (url_for(".sepa_file", lot_id=lot.id)
                if lot.fichier_sha256 and hasattr(self, "sepa_file") and self._allowed("export") else None)
        return {"rows": rows, "nb": nb, "sepa_url": sepa}


class PaiementView(ReadOnlyModelView):
    column_list = ["id", "end_to_end_id", "lot", "echeance", "beneficiaire", "allocation", "montant", "iban", "statut"]
    column_details_list = ["id", "end_to_end_id", "lot", "echeance", "allocation", "beneficiaire", "montant", "titulaire",
                           "iban", "bic", "libelle", "statut", "motif_rejet", "created_at", "updated_at"]
    column_searchable_list = ["end_to_end_id", "iban", "beneficiaire.nom_recherche"]
    column_sortable_list = ["id", "end_to_end_id", "montant", "statut"]  # sorts an index serves (issue 6)
    column_filters = ["statut", antenne_filter(m.Paiement.antenne_id), "montant", "created_at"]
    column_labels = {"beneficiaire.nom_recherche": "Nom du jeune", "libelle": "Libellé du virement"}
    column_formatters = {"iban": iban_groupes}


class ReversementView(ReadOnlyModelView):
    column_list = ["id", "numero", "beneficiaire", "origine", "montant", "montant_rembourse", "montant_remis",
                   "reste_du", "statut", "date_notification", "date_echeance"]
    column_details_list = ["id", "numero", "beneficiaire", "allocation", "origine", "montant", "montant_rembourse",
                           "montant_remis", "reste_du", "statut", "date_notification", "date_echeance", "motif",
                           "solde_at", "created_at", "updated_at"]
    column_export_list = ["id", "numero", "beneficiaire", "origine", "montant", "montant_rembourse",
                          "montant_remis", "reste_du", "statut", "date_notification", "date_echeance"]
    column_searchable_list = ["numero", "beneficiaire.nom_recherche"]
    column_filters = ["statut", "origine", antenne_filter(m.Reversement.antenne_id), "date_notification",
                      "date_echeance", "montant"]
    column_labels = {"beneficiaire.nom_recherche": "Nom du jeune"}
    column_formatters = {"reste_du": money}


class RemboursementView(SecureModelView):
    """A repayment is recorded through workflows.reversements.enregistrer_remboursement, which checks
    the order's status and the amount left due in one conditional UPDATE, then settles the order."""

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
