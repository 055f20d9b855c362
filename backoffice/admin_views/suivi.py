"""Suivi: mail outbox, job outbox, audit trail, bulk runs. Read-only: workers and workflows write them."""

from __future__ import annotations

from .base import ReadOnlyModelView
from .formatters import audit_diff, audit_diff_export, json_pre, mail_sujet, mail_template, statut


class MailOutboxView(ReadOnlyModelView):
    # Never the context: it holds the mail's variables (a reference to a reset token among them, issue
    # 12): the grid shows what was sent to whom (template, recipient, subject), not what is inside.
    column_list = ["id", "destinataire", "template", "sujet", "statut", "tentatives", "prochain_essai_at",
                   "envoye_at", "created_at"]
    column_details_list = ["id", "cle", "destinataire", "template", "sujet", "statut", "tentatives",
                           "derniere_erreur", "prochain_essai_at", "envoye_at", "created_at"]
    column_export_list = column_list
    column_searchable_list = ["destinataire", "cle"]
    column_filters = ["statut", "template", "created_at", "envoye_at"]
    column_formatters = {"sujet": mail_sujet, "template": mail_template}


class JobOutboxView(ReadOnlyModelView):
    column_list = ["id", "fonction", "file", "statut", "job_id", "enqueued_at", "termine_at", "created_at"]
    column_details_list = ["id", "cle", "fonction", "arguments", "file", "statut", "job_id", "enqueued_at",
                           "termine_at", "created_at"]
    column_searchable_list = ["fonction", "cle", "job_id"]
    column_filters = ["statut", "file", "created_at"]


class AuditEventView(ReadOnlyModelView):
    column_list = ["id", "at", "actor", "entity", "entity_id", "action", "from_status", "to_status",
                   "bulk_run_id", "ip"]
    column_details_list = ["id", "at", "actor", "entity", "entity_id", "action", "from_status", "to_status",
                           "params", "diff", "bulk_run_id", "ip"]
    column_export_list = ["id", "at", "actor", "entity", "entity_id", "action", "from_status", "to_status",
                          "bulk_run_id", "ip", "diff"]
    column_searchable_list = ["action", "entity"]
    column_filters = ["entity", "entity_id", "action", "at", "bulk_run_id", "actor_id"]
    column_labels = {"actor_id": "N° de l'auteur"}
    # a diff is shown and exported through audit.diff_visible only: masked per the policy (issue 12 §2)
    column_formatters = {"from_status": statut, "to_status": statut, "params": json_pre, "diff": audit_diff}
    column_formatters_export = {"diff": audit_diff_export}


class AuditSceauView(ReadOnlyModelView):
    """The sealed blocks of the audit journal (backoffice.audit_chain): what `backoffice audit verify` checks.
    The digests themselves (32 bytes per event) never reach a grid."""
    column_list = ["id", "scelle_at", "nb", "borne_min", "borne_max", "hash"]
    column_details_list = ["id", "scelle_at", "nb", "borne_min", "borne_max", "prev_hash", "hash"]
    column_export_list = ["id", "scelle_at", "nb", "borne_min", "borne_max", "prev_hash", "hash"]
    column_default_sort = ("id", True)
    column_filters = ["scelle_at"]
    column_labels = {"id": "Bloc n°", "scelle_at": "Scellé le", "nb": "Événements",
                     "borne_min": "Transactions à partir de", "borne_max": "Jusqu'à (exclue)"}


class BulkRunView(ReadOnlyModelView):
    column_list = ["id", "workflow", "transition", "actor", "statut", "total", "traites", "modifies",
                   "created_at", "termine_at"]
    # the frozen id list can hold 100,000 ids: never in a grid
    column_details_list = ["id", "workflow", "transition", "description", "actor", "statut", "total", "traites",
                           "modifies", "refus", "params", "erreur", "created_at", "termine_at"]
    column_export_list = column_list
    column_searchable_list = ["workflow", "transition"]
    column_filters = ["statut", "workflow", "transition", "created_at"]
