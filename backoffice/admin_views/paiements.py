"""Paiements: SEPA batches and payments (read-only: the payment workflow writes them). Reversements and
repayments have their screens in admin_views/reversements.py."""

from __future__ import annotations

from .. import models as m
from .base import ReadOnlyModelView
from .filters import antenne_filter, dispositif_filter
from .formatters import iban_groupes


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
