"""Suivi: mail outbox, job outbox, audit trail, bulk runs. Read-only: workers and workflows write them."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import url_for
from flask_login import current_user
from markupsafe import Markup

from .. import policy
from .base import ReadOnlyModelView
from .files import QUEUE_LABELS, job_label
from .formatters import audit_diff, audit_diff_export, json_pre, mail_sujet, mail_template, statut


# issue 18 §6: the audit trail in words — the grid a record belongs to, the transition's label, a link to the record
def _grid_of_entity(entity: str) -> tuple[str | None, str]:
    from .views import GRIDS
    for _cls, model, endpoint, name, _cat in GRIDS:
        if model.__tablename__ == entity or endpoint == entity:
            return endpoint, name
    return None, entity.replace("_", " ").capitalize()


def _action_label(entity: str, action: str) -> str:
    from ..workflows import registry
    for wf in registry().values():
        if wf.entity == entity and action in wf.transitions:
            return wf.transitions[action].label
    return {"creer": "Création", "modifier": "Modification", "acces_refuse": "Accès refusé",
            "supprimer": "Suppression"}.get(action, action.replace("_", " ").capitalize())


def audit_entity(view, context, model, name):
    return _grid_of_entity(model.entity)[1]


def audit_action(view, context, model, name):
    return Markup('<span title="{}">{}</span>').format(model.action, _action_label(model.entity, model.action))


def audit_objet(view, context, model, name):
    """The record the event is about, linked to its page when the user may open its grid."""
    if model.entity_id is None:
        return ""
    endpoint, _label = _grid_of_entity(model.entity)
    if endpoint and policy.allows(endpoint, "view", current_user):
        return Markup('<a href="{}">n° {}</a>').format(url_for(f"{endpoint}.details_view", id=model.entity_id),
                                                       model.entity_id)
    return f"n° {model.entity_id}"


def audit_bulk_run(view, context, model, name):
    if not model.bulk_run_id:
        return ""
    if policy.allows("bulk_run", "view", current_user):
        return Markup('<a href="{}">n° {}</a>').format(url_for("bulk_run.details_view", id=model.bulk_run_id),
                                                       model.bulk_run_id)
    return f"n° {model.bulk_run_id}"


def job_fonction(view, context, model, name):
    return Markup('<span title="{}">{}</span>').format(model.fonction, job_label(model.fonction))


def job_file(view, context, model, name):
    return QUEUE_LABELS.get(model.file, model.file)


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
    column_formatters = {"fonction": job_fonction, "file": job_file}


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
    column_formatters = {"from_status": statut, "to_status": statut, "params": json_pre, "diff": audit_diff,
                         "entity": audit_entity, "action": audit_action, "entity_id": audit_objet,
                         "bulk_run_id": audit_bulk_run}
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


# ---- the progress of a bulk run (issue 18 §6): what the self-updating progress page shows -----------------

ISSUES = {"echec": "Échec", "refus": "Terminé, avec des lignes refusées", "succes": "Terminé", "en_cours": "En cours…",
          "en_attente": "En attente d'un traitement disponible…"}


def _heure(value: datetime | None) -> str | None:
    from ..i18n import format_date
    return format_date(value) if value else None


def _nombre(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _duree(secondes: float) -> str:
    secondes = max(0, int(round(secondes)))
    if secondes < 60:
        return f"{secondes} s"
    minutes, s = divmod(secondes, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    heures, minutes = divmod(minutes, 60)
    return f"{heures} h {minutes:02d} min"


def progression(run, now: datetime, outcome: dict | None = None, lot_url=None) -> dict:
    """A run's progress as the page and its JSON endpoint show it: rows done / total, the rate (rows per second
    since the job took the run, demarre_at, to its last committed chunk), the estimated end, the refusals so
    far by reason, and once finished the outcome (lots with their links, amounts per programme)."""
    from ..i18n import format_montant
    statut = run.statut.value
    refus = dict(run.refus or {})
    refuses = sum(refus.values())
    termine = statut in ("termine", "echec")
    if statut == "echec":
        issue = "echec"
    elif statut == "termine":
        issue = "refus" if refuses else "succes"
    else:
        issue = "en_attente" if statut == "en_attente" else "en_cours"
    debit = fin = None
    last = (run.termine_at if termine else run.updated_at) or now
    if run.demarre_at is not None and run.traites:
        elapsed = (last - run.demarre_at).total_seconds()
        if elapsed > 0:
            debit = run.traites / elapsed
            if not termine:
                fin = last + timedelta(seconds=(run.total - run.traites) / debit)
    pct = int(100 * run.traites / run.total) if run.total else 100
    out = {
        "id": run.id, "statut": statut, "issue": issue, "libelle": ISSUES[issue], "termine": termine,
        "total": run.total, "traites": run.traites, "modifies": run.modifies, "refuses": refuses,
        "refus": [{"motif": motif, "nb": n} for motif, n in sorted(refus.items(), key=lambda kv: -kv[1])],
        "pourcentage": pct,
        "traites_texte": f"{_nombre(run.traites)} / {_nombre(run.total)} ({pct} %)",
        "debit": round(debit, 1) if debit is not None else None,
        "debit_texte": (f"{debit:,.0f}".replace(",", "\u202f") + " lignes/s") if debit is not None else None,
        "demarre_at": _heure(run.demarre_at), "termine_at": _heure(run.termine_at),
        "fin_estimee": _heure(fin),
        "reste_texte": _duree((fin - now).total_seconds()) if fin is not None else None,
        "erreur": run.erreur if statut == "echec" else None,
        "lots": [], "programmes": [],
    }
    if outcome:
        out["lots"] = [{"reference": lot["reference"], "url": lot_url(lot["lot_id"]) if lot_url else None,
                        "cree": bool(lot.get("cree")), "nb": lot["nb"], "montant": str(lot["montant"]),
                        "montant_texte": format_montant(lot["montant"]),
                        "date_execution": lot["date_execution"].strftime("%d/%m/%Y") if lot.get("date_execution")
                        else None} for lot in outcome.get("lots") or []]
        out["programmes"] = [{"code": p["code"], "libelle": p.get("libelle"), "nb": p["nb"], "montant": str(p["montant"]),
                              "montant_texte": format_montant(p["montant"])} for p in outcome.get("programmes") or []]
    return out
