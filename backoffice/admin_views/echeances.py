"""Payables (échéances) of every programme (issue 13): the grid filtered by programme, payee, period, status and
source, with the money totals of the page, the filter and the ticked rows (every grid's totals bar, grille.py);
each programme's payment calendar (data, edited by the administrator).
Statuses change only through the payables' workflow (row buttons and bulk actions: « Envoyer en paiement »,
« Remettre à payer », « Annuler »)."""

from __future__ import annotations

from wtforms.validators import ValidationError

from .. import models as m
from . import refs
from .base import ReadOnlyModelView, SecureModelView
from .filters import dispositif_filter
from .formatters import iban_groupes


class EcheanceView(ReadOnlyModelView):
    column_list = ["id", "dispositif", "source_type", "source_id", "periode", "payee_type", "payee_id", "titulaire",
                   "montant", "statut", "tentatives"]
    column_details_list = ["id", "dispositif", "source_type", "source_id", "periode", "payee_type", "payee_id",
                           "compte_bancaire_id", "titulaire", "iban", "bic", "libelle", "montant", "statut",
                           "tentatives", "motif", "created_at", "updated_at"]
    column_searchable_list = ["titulaire"]
    column_sortable_list = ["id", "periode", "montant", "statut"]
    column_filters = [dispositif_filter(m.Echeance.dispositif_id, "Programme"), "payee_type", "payee_id", "periode",
                      "statut", "source_type", "montant"]
    column_labels = {"dispositif": "Programme", "source_type": "Source", "source_id": "N° de la source",
                     "periode": "Période", "payee_type": "Type de bénéficiaire", "payee_id": "N° du bénéficiaire",
                     "compte_bancaire_id": "RIB (ligne)", "tentatives": "Paiements", "motif": "Motif"}
    column_formatters = {"iban": iban_groupes}


class CalendrierPaiementView(SecureModelView):
    """R41 for CEJ and PACEA, and each programme's days: the batch of a send goes on the next of these days."""

    column_list = ["id", "dispositif", "jours", "mois_suivant", "commentaire", "updated_at"]
    column_details_list = column_list
    column_labels = {"dispositif": "Programme", "jours": "Jours du mois", "mois_suivant": "Toujours le mois suivant"}
    column_descriptions = {"jours": "jours du mois (1 à 28) séparés par des virgules, par exemple « 1,15 »"}
    form_columns = ["dispositif", "jours", "mois_suivant", "commentaire"]
    form_args = {"dispositif": {"query_factory": refs.scoped(m.Dispositif, order_by=lambda d: d.code)}}

    def on_model_change(self, form, model, is_created):
        from ..workflows.echeances import _jours
        try:
            model.jours = ",".join(str(j) for j in _jours(model.jours or ""))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        super().on_model_change(form, model, is_created)
