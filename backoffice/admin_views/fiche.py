"""Record pages (issue 18 §3): a header (status, amount, the transitions the user may run), the related records in
sections, and the history in words.

A view lists its related sections declaratively (`related_sections`): which model, how it hangs on the record (a SQL
condition), the columns shown and the grid each row opens. Each section is ONE query (LIMIT n + 1), within the
user's row scope (policy.row_scope), shown only to a role that may open that grid, with the columns that grid hides
from the role left out (policy.hidden_columns): a detail page never runs a query per related row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user
from markupsafe import Markup

from .. import policy
from ..i18n import format_montant, format_nombre
from ..models.enums import STATUT_LABELS
from .formatters import enum_label, is_money_type, label_for, statut_badge


MONTH_COLUMNS = ("mois", "mois_reference", "periode")


@dataclass(frozen=True)
class Related:
    key: str  # the section's id on the page (« fiche-<key> »)
    title: str
    endpoint: str  # the grid of the related rows: its details page, its policy
    model: Any
    where: Callable[[Any], Any]  # record -> SQL condition on `model`
    columns: tuple[str, ...]
    order: Callable[[], Any] | None = None
    limit: int = 20
    options: Callable[[], tuple] = lambda: ()  # eager loads of the columns' relations (one query)
    # the grid filtered on this record, for « voir tout » when there are more than `limit`: (column, record -> value)
    filtre: tuple[str, Callable[[Any], Any]] | None = None


def _label(row) -> str:
    return str(row) if type(row).__str__ is not object.__str__ else f"N° {row.id}"


def _cell(name, value, money: bool = False):
    if value is None:
        return ""
    if isinstance(value, date) and not isinstance(value, datetime) and name.split(".")[-1] in MONTH_COLUMNS:
        return value.strftime("%m/%Y")
    if isinstance(value, enum.Enum) and type(value).__name__.endswith("Statut"):
        return statut_badge(value)
    if isinstance(value, enum.Enum):
        return enum_label(value)
    if isinstance(value, Decimal) and money:
        return Markup('<span class="bo-montant">{}</span>').format(format_montant(value))
    if isinstance(value, Decimal):
        return format_nombre(value)
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _value(row, name):
    value = row
    for part in name.split("."):
        value = getattr(value, part, None) if value is not None else None
    return value


def load_related(view, record) -> list[dict]:
    """The record's related sections the user may see: [{key, title, columns, rows, more_url, nb_shown}]."""
    from .base import ENDPOINT_BY_MODEL
    out = []
    role = getattr(current_user, "role", None)
    for spec in getattr(view, "related_sections", ()):
        if not policy.allows(spec.endpoint, "view", current_user):
            continue
        hidden = set(policy.hidden_columns(spec.endpoint, role))
        columns = [c for c in spec.columns if c not in hidden]
        own = sa.inspect(spec.model).columns
        money = {c for c in columns if c in own and is_money_type(own[c].type)}
        query = sa.select(spec.model).where(spec.where(record))
        clause = policy.row_scope(spec.model, current_user)
        if clause is not None:
            query = query.where(clause)
        order = spec.order() if spec.order else spec.model.id.desc()
        order = order if isinstance(order, tuple) else (order,)
        query = query.options(*spec.options()).order_by(*order).limit(spec.limit + 1)
        rows = view.session.execute(query).unique().scalars().all()
        more = len(rows) > spec.limit
        rows = rows[:spec.limit]
        lines = []
        for row in rows:
            cells = []
            for c in columns:
                v = _value(row, c)
                endpoint = ENDPOINT_BY_MODEL.get(type(v)) if v is not None and hasattr(v, "__table__") else None
                if endpoint and policy.allows(endpoint, "view", current_user):
                    cells.append(Markup('<a href="{}">{}</a>').format(url_for(f"{endpoint}.details_view", id=v.id),
                                                                      _label(v)))
                else:
                    cells.append(_cell(c, v, c in money))
            lines.append({"url": url_for(f"{spec.endpoint}.details_view", id=row.id), "label": _label(row),
                          "cells": cells})
        more_url = None
        if more and spec.filtre is not None:
            from .filters import filter_args
            grid = next((v for v in view.admin._views if getattr(v, "endpoint", None) == spec.endpoint), None)
            args = filter_args(grid, spec.filtre[0], spec.filtre[1](record)) if grid is not None else {}
            more_url = url_for(f"{spec.endpoint}.index_view", **args) if args else None
        out.append({"key": spec.key, "title": spec.title, "columns": [label_for(c) for c in columns],
                    "rows": lines, "more": more, "more_url": more_url})
    return out


# ---- the header ---------------------------------------------------------------------------------

def header(view, record) -> dict:
    """Status badge, the record's main amount and its label."""
    mapper = sa.inspect(type(record))
    amount = None
    for key in ("montant", "montant_total", "montant_demande"):
        col = mapper.columns.get(key)
        if col is not None and is_money_type(col.type):
            amount = (label_for(key) if key != "montant_total" else "Montant total", getattr(record, key))
            break
    statut = getattr(record, "statut", None)
    return {"title": str(record), "statut": statut_badge(statut) if statut is not None else None,
            "montant": amount}


# ---- the history in words -----------------------------------------------------------------------

ACTIONS = {"creer": "Créé", "modifier": "Modifié", "acces_refuse": "Accès refusé", "supprimer": "Supprimé"}


def _person(actor) -> str:
    if actor is None:
        return "le système"
    name = " ".join(p for p in (getattr(actor, "prenom", None), getattr(actor, "nom", None)) if p)
    return name or actor.login


def _phrase_value(key, value, columns) -> str:
    if value is None or value == "":
        return "∅"
    col = columns.get(key)
    if col is not None and is_money_type(col.type):
        try:
            return format_montant(Decimal(str(value)))
        except ArithmeticError:
            return str(value)
    if col is not None and isinstance(col.type, sa.Date) and isinstance(value, str) and len(value) == 10:
        try:
            d = date.fromisoformat(value)
            return d.strftime("%m/%Y") if key in ("mois", "mois_reference", "periode") else d.strftime("%d/%m/%Y")
        except ValueError:
            return value
    if col is not None and isinstance(col.type, sa.Enum):
        return STATUT_LABELS.get(str(value), enum_label(value) or str(value))
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


def history_lines(view, events) -> list[dict]:
    """Each audit event as a sentence: « Validée (siège) par Sébastien Valideur le 12/03/2025 à 10:14 », with the
    changed values and the transition's parameters formatted and labelled (the diff as audit.diff_visible masks
    it for the role)."""
    wf = getattr(view, "workflow", None)
    columns = {c.key: c for c in sa.inspect(view.model).columns}
    out = []
    for e in events:
        t = wf.transitions.get(e.action) if wf is not None else None
        if e.to_status and e.to_status != e.from_status:
            what = STATUT_LABELS.get(e.to_status, e.to_status)
        else:
            what = t.label if t is not None else ACTIONS.get(e.action, e.action.replace("_", " ").capitalize())
        phrase = f"{what} par {_person(e.actor)} le {e.at:%d/%m/%Y} à {e.at:%H:%M}"
        details = []
        diff = view.audit_diff(e) or {}
        for k, v in diff.items():
            before, after = (v + [None, None])[:2] if isinstance(v, list) else (None, v)
            details.append(f"{label_for(k)} : {_phrase_value(k, before, columns)} → {_phrase_value(k, after, columns)}")
        labels = {p.name: p.label for p in (t.params if t is not None else ())}
        for k, v in (e.params or {}).items():
            if k.startswith("_"):
                continue
            if k == "cause":
                details.append(f"À la suite de : {_cause(v)}")
                continue
            details.append(f"{labels.get(k) or label_for(k)} : {v}")
        if e.bulk_run_id:
            details.append(f"Traitement de masse n° {e.bulk_run_id}")
        out.append({"event": e, "phrase": phrase, "details": details})
    return out


def _cause(value: str) -> str:
    from ..workflows import registry
    wf_name, _, t_name = str(value).partition(".")
    wf = registry().get(wf_name)
    t = wf.transitions.get(t_name) if wf is not None else None
    return t.label if t is not None else str(value)
