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
from .formatters import enum_label, is_money_type, label_for, lien_fiche, statut_badge


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


def fixe(n: int):
    """A LIMIT written into the statement, not bound (issue 20, measured). SQLAlchemy binds `.limit(20)` as a
    parameter; PostgreSQL then costs the generic plan of a prepared statement as if a tenth of the rows were read
    (`Limit … rows=3333` for LIMIT 1 at 100,000 allocations), never prefers it to the custom plans, and plans the
    record's statement again at every page: 3.2 ms of planning for 0.6 ms of execution on an allocation's page,
    prepared or not (pg_prepared_statements: 30 custom plans, 0 generic). Written in, the generic plan costs what
    it does and is kept from the sixth page on: 0.6 ms an execution."""
    return sa.literal_column(str(int(n)), sa.Integer)


_SENTINELLE_ONGLET = "onglet0sentinelle0"


def visible_sections(view, requested: str | None) -> tuple[list[Related], str | None]:
    """The related sections the user may see (a role that may open their grid) and the key of the visible one:
    `requested` (?onglet=) when it is one of them, else the first. Worked out once per request (get_one asks,
    then the page)."""
    from flask import g
    memo = g.setdefault("bo_sections", {})
    key = (view.endpoint, requested)
    if key not in memo:
        user = current_user._get_current_object()
        specs = [s for s in getattr(view, "related_sections", ()) if policy.allows(s.endpoint, "view", user)]
        visible = requested if requested in {s.key for s in specs} else (specs[0].key if specs else None)
        memo[key] = (specs, visible)
    return memo[key]


def load_related(view, record, active: str | None = None) -> list[dict]:
    """The record's related sections the user may see, as tabs: [{key, title, url, active, columns, rows, more,
    more_url}]. Only the visible tab is loaded (one query; `active`, else the first): the others are links
    (issue 20: render only what is visible). On PostgreSQL its rows came with the record itself (get_one,
    section_column), rebuilt here without a query."""
    from flask import g, request

    from .base import ENDPOINT_BY_MODEL
    out = []
    user = current_user._get_current_object()
    role = getattr(user, "role", None)
    specs, active = visible_sections(view, active)
    args = {k: v for k, v in request.args.items() if k not in ("onglet", "historique_avant")}
    # one URL built, each tab's key put in (keys are identifiers: nothing to quote)
    tab_url = url_for(f"{view.endpoint}.details_view", **args, onglet=_SENTINELLE_ONGLET) + "#fiche-onglets"
    for spec in specs:
        url = tab_url.replace(_SENTINELLE_ONGLET, spec.key) if spec.key.isidentifier() else \
            url_for(f"{view.endpoint}.details_view", **args, onglet=spec.key) + "#fiche-onglets"
        if spec.key != active:
            out.append({"key": spec.key, "title": spec.title, "url": url, "active": False})
            continue
        hidden = set(policy.hidden_columns(spec.endpoint, role))
        columns = [c for c in spec.columns if c not in hidden]
        own = sa.inspect(spec.model).columns
        money = {c for c in columns if c in own and is_money_type(own[c].type)}
        found = getattr(g, "bo_onglet", None)
        if found is not None and (found["vue"], found["id"], found["onglet"]) == (view.endpoint, record.id, spec.key):
            rows = section_rows(spec, found["rows"] or [])
        else:
            query, params = record_statement(view, record, ("onglet", spec.key),
                                             lambda rec, spec=spec: _section(spec, rec))
            rows = view.session.execute(query, params).unique().scalars().all()
        more = len(rows) > spec.limit
        rows = rows[:spec.limit]
        lines = []
        for row in rows:
            cells = []
            for c in columns:
                v = _value(row, c)
                endpoint = ENDPOINT_BY_MODEL.get(type(v)) if v is not None and hasattr(v, "__table__") else None
                if endpoint and policy.allows(endpoint, "view", user):
                    cells.append(Markup('<a href="{}">{}</a>').format(lien_fiche(endpoint, v.id), _label(v)))
                else:
                    cells.append(_cell(c, v, c in money))
            lines.append({"url": lien_fiche(spec.endpoint, row.id), "label": _label(row),
                          "cells": cells})
        more_url = None
        if more and spec.filtre is not None:
            from .filters import filter_args
            grid = next((v for v in view.admin._views if getattr(v, "endpoint", None) == spec.endpoint), None)
            args = filter_args(grid, spec.filtre[0], spec.filtre[1](record)) if grid is not None else {}
            more_url = url_for(f"{spec.endpoint}.index_view", **args) if args else None
        out.append({"key": spec.key, "title": spec.title, "url": url, "active": True,
                    "columns": [label_for(c) for c in columns], "rows": lines, "more": more, "more_url": more_url})
    return out


# ---- the visible tab with the record (issue 20): its rows as JSON, rebuilt as detached objects ----------------

def _reader(coltype) -> Callable[[Any], Any] | None:
    """How a column's value comes back from json_build_array (numerics sent as text, so exact), or None for a
    type this path does not carry (the section then keeps its own query)."""
    try:
        kind = coltype.python_type
    except NotImplementedError:
        return None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind
    if kind is Decimal:
        return Decimal
    if kind is datetime:
        return datetime.fromisoformat
    if kind is date:
        return date.fromisoformat
    if kind in (str, int, bool, dict, list):
        return lambda v: v
    return None


@dataclass(frozen=True)
class _Shape:
    """What a model's row carries in the JSON: its column attributes (key, table column, reader)."""
    mapper: Any
    columns: tuple

    @classmethod
    def of(cls, model) -> "_Shape | None":
        mapper = sa.inspect(model)
        if mapper.inherits is not None:
            return None
        cols = []
        for prop in mapper.column_attrs:
            col = prop.columns[0]
            if isinstance(col.type, sa.LargeBinary):
                continue  # a file (the batch's SEPA file): never in a tab, left unloaded
            reader = _reader(col.type)
            if len(prop.columns) != 1 or not isinstance(col, sa.Column) or col.table is not mapper.local_table \
                    or reader is None:
                return None
            cols.append((prop.key, col, reader))
        return cls(mapper, tuple(cols))

    def sql(self, table) -> list:
        """The row's values in the JSON, from `table` (the model's table or an alias of it); numerics as text."""
        return [sa.cast(table.c[c.name], sa.Text) if isinstance(c.type, sa.Numeric) else table.c[c.name]
                for _key, c, _r in self.columns]

    def build(self, values: list, relations: dict | None = None):
        """A detached instance (no session: nothing to flush, no lazy load) holding these values."""
        obj = self.mapper.class_manager.new_instance()
        for (key, _col, reader), v in zip(self.columns, values):
            sa.orm.attributes.set_committed_value(obj, key, None if v is None else reader(v))
        for key, value in (relations or {}).items():
            sa.orm.attributes.set_committed_value(obj, key, value)
        return obj


_PLANS: dict = {}


def _plan(spec: Related):
    """(own shape, [(relation key, target shape, [(local column, remote column)])]) for a section whose columns
    are the model's columns, its many-to-one relations and their columns (`lot.date_execution`); None otherwise."""
    if spec in _PLANS:
        return _PLANS[spec]
    plan = None
    own = _Shape.of(spec.model)
    if own is not None:
        rels, ok = {}, True
        keys = {k for k, _c, _r in own.columns}
        for name in spec.columns:
            head, _, rest = name.partition(".")
            if head in keys and not rest:
                continue
            rel = own.mapper.relationships.get(head)
            target = _Shape.of(rel.mapper.class_) if rel is not None and rel.direction.name == "MANYTOONE" \
                and rel.secondary is None else None
            if target is None or (rest and rest not in {k for k, _c, _r in target.columns}):
                ok = False
                break
            rels[head] = (head, target, tuple(rel.local_remote_pairs))
        plan = (own, tuple(rels.values())) if ok else None
    _PLANS[spec] = plan
    return plan


def section_column(view, ident, spec: Related):
    """PostgreSQL: the visible tab's rows (its condition, the user's scope, its order, one more than shown) as one
    JSON column of the record's own statement (get_one), each row with its shown many-to-one relations, so that
    the record page makes one round trip less and no ORM load (issue 20). None when the section cannot be carried
    so (another database, a condition that needs the record's Python values, a column type or path this does not
    carry): it then keeps its own query."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by
    if view.session.get_bind().dialect.name != "postgresql":
        return None
    plan = _plan(spec)
    if plan is None:
        return None
    own, rels = plan
    table = own.mapper.local_table
    try:
        cond = spec.where(RecordColumns(view.model, ident))
    except _NotBindable:
        return None
    order = _order_of(spec)
    query = _scoped(spec, sa.select(*[c.label(f"c{i}") for i, c in enumerate(own.sql(table))],
                                    sa.func.row_number().over(order_by=order).label("rang"))
                    .select_from(table).where(cond))
    rows = query.order_by(*order).limit(fixe(spec.limit + 1)).subquery("onglet")
    values = [rows.c[f"c{i}"] for i in range(len(own.columns))]
    by_name = {c.name: i for i, (_k, c, _r) in enumerate(own.columns)}
    for n, (_key, target, pairs) in enumerate(rels):
        other = target.mapper.local_table.alias(f"lie_{n}")  # an alias: never correlated to the page's own table
        match = [other.c[remote.name] == rows.c[f"c{by_name[local.name]}"] for local, remote in pairs]
        values.append(sa.select(sa.func.json_build_array(*target.sql(other))).where(*match).scalar_subquery())
    return sa.select(sa.func.json_agg(aggregate_order_by(sa.func.json_build_array(*values), rows.c.rang))) \
        .scalar_subquery()


def section_rows(spec: Related, items: list) -> list:
    """The section's rows from section_column's JSON, as detached instances with their relations."""
    own, rels = _plan(spec)
    n = len(own.columns)
    return [own.build(item[:n], {key: target.build(v) if v is not None else None
                                 for (key, target, _p), v in zip(rels, item[n:])}) for item in items]


def _section(spec: Related, rec):
    """The statement of one related section: its condition on the record, the user's row scope, its order, one
    more row than shown (« voir tout »)."""
    query = _scoped(spec, sa.select(spec.model).where(spec.where(rec)))
    return query.options(*spec.options()).order_by(*_order_of(spec)).limit(fixe(spec.limit + 1))


def _order_of(spec: Related) -> tuple:
    """A section's order (its own, else newest first), as a tuple."""
    order = spec.order() if spec.order else spec.model.id.desc()
    return order if isinstance(order, tuple) else (order,)


def _scoped(spec: Related, query):
    """`query` within the user's row scope on the section's model (policy.row_scope)."""
    clause = policy.row_scope(spec.model, current_user)
    return query.where(clause) if clause is not None else query


# ---- one statement per view and user, the record bound at execution (issue 20) -------------------------------

class _NotBindable(Exception):
    pass


class RecordParams:
    """A stand-in for the record in a section's or a history link's condition (`lambda b: X.beneficiaire_id ==
    b.id`): each column read becomes a bound parameter `fiche_<key>` typed as the column, so that the statement
    built once serves every record of the view. Anything else (a relation, Python logic on a value) is refused:
    the statement is then built with the record itself, as before."""

    def __init__(self, model):
        self._columns = sa.inspect(model).column_attrs
        self.used: set[str] = set()

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._columns:
            raise _NotBindable(name)
        self.used.add(name)
        return sa.bindparam(f"fiche_{name}", type_=self._columns[name].columns[0].type)

    def __bool__(self):
        raise _NotBindable("bool")


class RecordColumns(RecordParams):
    """The record as seen from its own statement (get_one): its id is the statement's id parameter, its other
    columns scalar subqueries on that id (`SELECT corrige_id FROM allocation AS fiche WHERE fiche.id = :id`)."""

    def __init__(self, model, ident):
        super().__init__(model)
        self._ident = ident
        self._own = sa.orm.aliased(model, name="fiche")

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._columns:
            raise _NotBindable(name)
        if name == "id":
            return self._ident
        return sa.select(getattr(self._own, name)).where(self._own.id == self._ident).scalar_subquery()


STATEMENTS_PER_VIEW = 128  # users × kinds (tabs, history pages, list URLs) kept per view; then started afresh


def view_statement(view, kind: tuple, build: Callable[[], Any]):
    """What `build()` returns (a statement whose record values are bound parameters), built once per view, `kind`
    and user, then reused (issue 20: building and hashing a statement of six scoped subqueries cost more than
    running it).

    The key holds everything such a statement depends on besides the record: `kind` (the section, the history
    page, the list URL of previous / next), the role (policy.allows: which grids' events and sections are shown;
    policy.row_scope's rule), the account and its structure (the values row_scope binds: antenne,
    establishments, région). Two users never share a statement, so a scope cannot leak from one to the other; a
    role or structure change makes a new key."""
    user = current_user._get_current_object()
    key = (kind, getattr(user, "role", None), getattr(user, "id", None), getattr(user, "structure_id", None))
    cache = view.__dict__.setdefault("_bo_fiche_statements", {})
    hit = cache.get(key)
    if hit is None:
        hit = build()
        if len(cache) >= STATEMENTS_PER_VIEW:
            cache.clear()
        cache[key] = hit
    return hit


def record_statement(view, record, kind: tuple, build: Callable[[Any], Any]) -> tuple[Any, dict]:
    """(statement, params) for `build(record)`: the statement built once (view_statement) with a RecordParams in
    place of the record, the record's values as its parameters."""
    def template():
        rec = RecordParams(type(record))
        try:
            return build(rec), tuple(sorted(rec.used))
        except _NotBindable:
            return None, ()
    statement, used = view_statement(view, kind, template)
    if statement is None:  # a condition that needs the record's Python values: built for this record
        return build(record), {}
    return statement, {f"fiche_{name}": getattr(record, name) for name in used}


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


def _workflow_of(entity: str):
    from ..workflows import registry
    for wf in registry().values():
        if wf.entity == entity:
            return wf
    return None


def history_lines(view, events, with_object: bool = False) -> list[dict]:
    """Each audit event as a sentence: « Validée (siège) par Sébastien Valideur le 12/03/2025 à 10:14 », with the
    changed values and the transition's parameters formatted and labelled (the diff as audit.diff_visible masks
    it for the role). `with_object`: each line also names the record it is about, linked to its page."""
    from .base import ENDPOINT_BY_MODEL
    own = view.model.__tablename__
    models = {mdl.__tablename__: (mdl, ep) for mdl, ep in ENDPOINT_BY_MODEL.items()}
    workflows, columns_of = {}, {}
    out = []
    for e in events:
        if e.entity not in workflows:
            workflows[e.entity] = getattr(view, "workflow", None) if e.entity == own else _workflow_of(e.entity)
            mdl = view.model if e.entity == own else models.get(e.entity, (None, None))[0]
            columns_of[e.entity] = {c.key: c for c in sa.inspect(mdl).columns} if mdl is not None else {}
        wf, columns = workflows[e.entity], columns_of[e.entity]
        t = wf.transitions.get(e.action) if wf is not None else None
        if e.to_status and e.to_status != e.from_status:
            what = STATUT_LABELS.get(e.to_status, e.to_status)
        else:
            what = t.label if t is not None else ACTIONS.get(e.action, e.action.replace("_", " ").capitalize())
        phrase = f"{what} par {_person(e.actor)} le {e.at:%d/%m/%Y} à {e.at:%H:%M}"
        details = []
        from ..workflows import audit
        diff = audit.diff_visible(e.entity, e.diff, view._role()) or {}
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
        line = {"event": e, "phrase": phrase, "details": details}
        if with_object:
            name = ENTITY_NAMES.get(e.entity) or e.entity.replace("_", " ").capitalize()
            line["objet"] = f"{name} n° {e.entity_id}"
            endpoint = models.get(e.entity, (None, None))[1]
            line["url"] = (lien_fiche(endpoint, e.entity_id)
                           if endpoint and e.entity_id and policy.allows(endpoint, "view", current_user) else None)
        out.append(line)
    return out


def _cause(value: str) -> str:
    from ..workflows import registry
    wf_name, _, t_name = str(value).partition(".")
    wf = registry().get(wf_name)
    t = wf.transitions.get(t_name) if wf is not None else None
    return t.label if t is not None else str(value)


# ---- previous / next within the list the user came from (issue 18 §3) ------------------------------
# The details link of a list carries the list's URL (`url=`, Flask-Admin's return_url): its filters, sort and
# search. The record page reads them back, as the list reads its own URL, and asks for the row just before and
# just after the record in that order: one keyset query each (`(sort key, id) < (record's key, id)` … LIMIT 1),
# within the user's row scope (the view's get_query), never the list itself.

def list_args(view, return_url: str | None):
    """(sort_column, sort_desc, search, filters) of `return_url` when it is this view's list, else None; the
    default list (no filter, default sort) when there is no return URL."""
    from urllib.parse import parse_qsl, urlsplit

    from flask import url_for as _url_for
    from werkzeug.datastructures import MultiDict

    from .grille import _filter_type, fits
    if not return_url:
        return None, None, None, []
    parts = urlsplit(return_url)
    if parts.path.rstrip("/") != _url_for(f"{view.endpoint}.index_view").rstrip("/"):
        return None
    args = MultiDict(parse_qsl(parts.query, keep_blank_values=True))

    def integer(name):
        raw = args.get(name)
        return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 6 else None
    sort_column = None
    sort = integer("sort")
    if sort is not None:
        found = view._get_column_by_idx(sort)
        sort_column = found[0] if found is not None else None
    sort_desc = integer("desc")
    search = " ".join((args.get("search") or "").split())[:80] or None
    if search and not fits(sa.String(), search):
        search = None
    filters = []
    if view._filters:  # as Flask-Admin's _get_list_filter_args and grille's check of the values
        found = []
        for arg in args:
            if not arg.startswith("flt") or "_" not in arg:
                continue
            pos, key = arg[3:].split("_", 1)
            if key not in view._filter_args:
                continue
            idx, flt = view._filter_args[key]
            value = args[arg]
            try:
                ok = flt.validate(value) and (fits(_filter_type(flt), flt.clean(value))
                                              if _filter_type(flt) is not None else fits(None, value))
            except (ValueError, TypeError, ArithmeticError):
                ok = False
            if ok:
                found.append((pos, (idx, str(flt.name), value)))
        filters = [v for _p, v in sorted(found, key=lambda n: n[0])]
    return sort_column, sort_desc, search, filters


def _sort_terms(view, query, joins, sort_column, sort_desc):
    """(query with the sort's joins, [(expression, desc)], pk desc): the list's order, as get_list builds it
    when the sort is not a keyset one (the primary key last, ascending unless the list is descending)."""
    terms = []
    if sort_column is not None and sort_column in view._sortable_columns:
        fields = view._sortable_columns[sort_column]
        paths = view._sortable_joins.get(sort_column)
        pairs = list(zip(fields, paths)) if isinstance(fields, list) else [(fields, paths)]
        order = [(field, path, bool(sort_desc)) for field, path in pairs]
    else:
        order = [(field, path, bool(d)) for field, path, d in view._get_default_order()]
    for field, path, desc in order:
        if isinstance(field, str):  # column_sortable_list's ("nom", "nom_recherche"): a column of the model
            field = getattr(view.model, field)
        query, joins, alias = view._apply_path_joins(query, joins, path, inner_join=False)
        terms.append((field if alias is None else getattr(alias, field.key), desc))
    return query, terms, bool(sort_desc)


def _after(terms, values, null_big: bool):
    """SQL condition: the row comes strictly after `values` in the order `terms` ([(expr, desc)]), NULLs sorted
    as the database sorts them (PostgreSQL: as the largest value; SQLite: as the smallest)."""
    def greater(e, v):
        if v is None:
            return sa.false() if null_big else e.is_not(None)
        return sa.or_(e > v, e.is_(None)) if null_big else e > v

    def less(e, v):
        if v is None:
            return e.is_not(None) if null_big else sa.false()
        return e < v if null_big else sa.or_(e < v, e.is_(None))

    def equal(e, v):
        return e.is_(None) if v is None else e == v
    ors = []
    for i, ((e, desc), v) in enumerate(zip(terms, values)):
        step = less(e, v) if desc else greater(e, v)
        ors.append(sa.and_(*[equal(e2, v2) for (e2, _d), v2 in zip(terms[:i], values[:i])], step))
    return sa.or_(*ors)


def neighbour_subqueries(view, ident: int, return_url: str | None) -> dict | None:
    """The two keyset look-ups as uncorrelated scalar subqueries, for a sort an index serves, so that get_one
    reads them with the record itself (one round trip less, issue 20): the record's sort value comes from its own
    row (`SELECT sort FROM model alias WHERE id = :id`). None for another sort (neighbours() then runs them)."""
    args = list_args(view, return_url)
    if args is None:
        return None
    sort_column, sort_desc, search, filters = args
    keys = view._keyset_columns(sort_column, sort_desc)
    if keys is None:
        return None
    query, _joins = view._filtered_query(search, filters)
    pk = view.model.__mapper__.primary_key[0]
    mapper = sa.inspect(view.model)
    own = sa.orm.aliased(view.model)
    if not isinstance(ident, sa.sql.ClauseElement):
        ident = sa.literal(ident, type_=pk.type)
    values = [ident if c is pk else
              sa.select(getattr(own, mapper.get_property_by_column(c).key))
              .where(getattr(own, pk.key) == ident).scalar_subquery() for c, _d in keys]
    row, key = sa.tuple_(*[c for c, _d in keys]), sa.tuple_(*values)
    desc = keys[0][1]
    out = {}
    for name, forward in (("suivant", True), ("precedent", False)):
        cond = (row < key) if desc == forward else (row > key)
        out[name] = query.with_entities(pk).filter(cond).order_by(
            *view._order(keys, reverse=not forward)).limit(fixe(1)).scalar_subquery().correlate(None)
    return out


def neighbours(view, record, return_url: str | None) -> dict:
    """{"precedent": id | None, "suivant": id | None} of `record` in the list of `return_url` (same filters,
    search and sort, the user's scope): one keyset look-up each, both in one statement."""
    args = list_args(view, return_url)
    if args is None:
        return {"precedent": None, "suivant": None}
    sort_column, sort_desc, search, filters = args
    query, joins = view._filtered_query(search, filters)
    pk = view.model.__mapper__.primary_key[0]
    keys = view._keyset_columns(sort_column, sort_desc)
    out = {}
    if keys is not None:  # a sort an index serves: a row-value comparison on (sort column, id)
        mapper = sa.inspect(view.model)
        cols = [c for c, _d in keys]
        values = [getattr(record, mapper.get_property_by_column(c).key) for c in cols]
        row, key = sa.tuple_(*cols), sa.tuple_(*[sa.literal(v, type_=c.type) for c, v in zip(cols, values)])
        desc = keys[0][1]
        for name, forward in (("suivant", True), ("precedent", False)):
            cond = (row < key) if desc == forward else (row > key)
            out[name] = query.with_entities(pk).filter(cond).order_by(
                *view._order(keys, reverse=not forward)).limit(fixe(1)).scalar_subquery()
        return _both(view, out)
    # a sort on a joined or nullable column: the record's sort values (one query), then the same comparison
    # written out term by term
    null_big = view.session.get_bind().dialect.name == "postgresql"
    query, terms, pk_desc = _sort_terms(view, query, joins, sort_column, sort_desc)
    table = view.model.__table__
    if all(isinstance(e, sa.Column) and e.table is table or getattr(e, "class_", None) is view.model
           for e, _d in terms):  # the sort is on the record's own columns: its values, no query
        found = [getattr(record, e.key) for e, _d in terms]
    else:
        own, own_terms, _d = _sort_terms(view, view.get_query(), {}, sort_column, sort_desc)
        found = own.with_entities(*[e for e, _d in own_terms]).filter(pk == record.id).first() if own_terms else ()
    if found is None:
        return {"precedent": None, "suivant": None}
    terms = terms + [(pk, pk_desc)]
    values = list(found) + [record.id]
    for name, forward in (("suivant", True), ("precedent", False)):
        ts = terms if forward else [(e, not d) for e, d in terms]
        order = [e.desc() if d else e.asc() for e, d in ts]
        out[name] = query.with_entities(pk).filter(_after(ts, values, null_big)).order_by(*order).limit(fixe(1)) \
            .scalar_subquery()
    return _both(view, out)


def _both(view, subqueries: dict) -> dict:
    """The two keyset look-ups in one statement: SELECT (… LIMIT 1), (… LIMIT 1)."""
    names = list(subqueries)
    row = view.session.execute(sa.select(*[subqueries[n] for n in names])).one()
    return dict(zip(names, row))


# ---- « Tout ce qui est arrivé à … »: the record's history and its related records' (issue 18 §3, §6) ---------

@dataclass(frozen=True)
class Lie:
    """A record whose audit events belong on the page of another: its grid (policy, link), model, and how it
    hangs on the record (record -> SQL condition on `model`)."""
    endpoint: str
    model: Any
    where: Callable[[Any], Any]


HISTORY_PAGE = 20
ENTITY_NAMES = {"beneficiaire": "Jeune", "inscription": "Parcours", "cerfa": "Cerfa", "allocation": "Allocation",
                "compte_bancaire": "RIB", "paiement": "Paiement", "lot_paiement": "Lot", "reversement": "Reversement",
                "ressource": "Ressource", "demande_hors_delai": "Demande hors délai"}


def history_links(view) -> tuple:
    """The view's `history_related`, else its related sections (each a grid, a model and a condition)."""
    explicit = getattr(view, "history_related", None)
    if explicit is not None:
        return explicit
    return tuple(Lie(s.endpoint, s.model, s.where) for s in getattr(view, "related_sections", ()))


def history_statement(view, rec, before: bool, limit: int | None = None):
    """The history page's statement: `(entity, entity_id)` pairs OR-ed, each an `IN (SELECT id … within the
    user's scope)`, every branch served by ix_audit_event_entity; `rec` stands for the record (RecordParams,
    RecordColumns); the keyset (`historique_avant`) is a parameter, the page size too (`historique_n`) unless
    `limit` writes it in (the record's own statement: fixe)."""
    from ..models import AuditEvent as AE, Compte
    conds = [sa.and_(AE.entity == view.model.__tablename__, AE.entity_id == rec.id)]
    for lie in history_links(view):
        if not policy.allows(lie.endpoint, "view", current_user):
            continue  # a grid the role may not open: its events are not shown either
        ids = sa.select(lie.model.id).where(lie.where(rec))
        scope = policy.row_scope(lie.model, current_user)
        if scope is not None:
            ids = ids.where(scope)
        conds.append(sa.and_(AE.entity == lie.model.__tablename__, AE.entity_id.in_(ids)))
    # the events as tuples with their author's name (an outer join), no ORM object per event
    query = sa.select(*HistoryEvent.COLUMNS(AE, Compte)).select_from(AE) \
        .outerjoin(Compte, Compte.id == AE.actor_id).where(sa.or_(*conds))
    if before:
        query = query.where(AE.id < sa.bindparam("historique_avant", type_=AE.id.type))
    size = fixe(limit) if limit is not None else sa.bindparam("historique_n", type_=sa.Integer)
    return query.order_by(AE.id.desc()).limit(size)


def history_column(view, ident):
    """PostgreSQL: the history's first page as one JSON column of the record's own statement (get_one), so that
    the page makes one round trip less (issue 20). `ident` is the record id's parameter; None elsewhere."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by
    if view.session.get_bind().dialect.name != "postgresql":
        return None
    try:
        page = history_statement(view, RecordColumns(view.model, ident), before=False,
                                 limit=HISTORY_PAGE + 1).subquery("historique")
    except _NotBindable:
        return None
    return sa.select(sa.func.json_agg(aggregate_order_by(sa.func.json_build_array(*page.c), page.c.id.desc()))) \
        .scalar_subquery()


def history_events(view, record, before: int | None = None, limit: int = HISTORY_PAGE):
    """(events, more): the audit events of the record and of its related records the user may see, newest first,
    `limit` a page from `before` (an event id, keyset), in ONE query (history_statement), built once per view, user
    and page kind (issue 20), the record's values bound at execution. The first page, on PostgreSQL, came with the
    record itself (get_one, history_column)."""
    from flask import g
    found = getattr(g, "bo_historique", None)
    if before is None and limit == HISTORY_PAGE and found is not None \
            and (found["vue"], found["id"]) == (view.endpoint, record.id):
        rows = [HistoryEvent.from_json(item) for item in found["rows"]]
        return rows[:limit], len(rows) > limit
    query, params = record_statement(view, record, ("historique", before is not None),
                                     lambda rec: history_statement(view, rec, before is not None))
    params.update(historique_n=limit + 1, **({"historique_avant": before} if before is not None else {}))
    rows = [HistoryEvent(*row) for row in view.session.execute(query, params)]
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True)
class Author:
    login: str
    prenom: str | None
    nom: str | None


class HistoryEvent:
    """An audit event as the history panel reads it (history_lines, the template): its columns and its author."""
    __slots__ = ("id", "at", "entity", "entity_id", "action", "from_status", "to_status", "params", "diff",
                 "bulk_run_id", "actor")

    @staticmethod
    def COLUMNS(AE, Compte):
        return (AE.id, AE.at, AE.entity, AE.entity_id, AE.action, AE.from_status, AE.to_status, AE.params, AE.diff,
                AE.bulk_run_id, Compte.login, Compte.prenom, Compte.nom)

    def __init__(self, id, at, entity, entity_id, action, from_status, to_status, params, diff, bulk_run_id,
                 login, prenom, nom):
        self.id, self.at, self.entity, self.entity_id, self.action = id, at, entity, entity_id, action
        self.from_status, self.to_status, self.params, self.diff = from_status, to_status, params, diff
        self.bulk_run_id = bulk_run_id
        self.actor = Author(login, prenom, nom) if login is not None else None

    @classmethod
    def from_json(cls, item: list) -> "HistoryEvent":
        """From json_build_array of the same columns (history_column): the time back to a datetime."""
        at = item[1]
        return cls(item[0], datetime.fromisoformat(at) if isinstance(at, str) else at, *item[2:])


def history_panel(view, record) -> dict:
    """The « Tout ce qui est arrivé à … » panel: a page of lines (`?historique_avant=<event id>` for the older
    ones), the links to the older and the newest page."""
    from flask import request

    from .grille import parse_id
    before = parse_id(request.args.get("historique_avant"))
    events, more = history_events(view, record, before=before)
    lines = history_lines(view, events, with_object=True)
    args = request.args.to_dict()
    args.pop("historique_avant", None)
    older = (url_for(f"{view.endpoint}.details_view", **args, historique_avant=events[-1].id) + "#historique"
             if more and events else None)
    newest = url_for(f"{view.endpoint}.details_view", **args) + "#historique" if before is not None else None
    return {"lines": lines, "older": older, "newest": newest, "journal": journal_url(view, record)}


def journal_url(view, record) -> str | None:
    """The audit grid filtered on this record (« tout ce qui est arrivé à … » in the journal: entity and id), for
    a role that may open the journal; None otherwise."""
    from flask_login import current_user

    from .. import policy
    from .filters import filter_args
    if not policy.allows("audit_event", "view", current_user):
        return None
    keys = view.__dict__.get("_bo_journal")
    if keys is None:  # the journal's filter arguments for entity and id, found once per view
        grid = next((v for v in view.admin._views if getattr(v, "endpoint", None) == "audit_event"), None)
        entite = filter_args(grid, "entity", view.model.__tablename__) if grid is not None else {}
        ident = filter_args(grid, "entity_id", 0) if grid is not None else {}
        keys = view.__dict__["_bo_journal"] = (next(iter(entite.items())), next(iter(ident))) \
            if entite and ident else ()
    if not keys:
        return None
    (k1, v1), k2 = keys
    return url_for("audit_event.index_view", **{k1: v1, k2.replace("flt0_", "flt1_", 1): str(record.id)})


def navigation(view, record, return_url: str | None) -> dict:
    """« Précédent », « Suivant » (carrying the same list URL) and « Retour à la liste »."""
    from flask import g
    found = getattr(g, "bo_voisins", None)  # read by get_one with the record (keyset sorts)
    if found is None or found.get("id") != record.id:
        found = neighbours(view, record, return_url)
    back = return_url or url_for(f"{view.endpoint}.index_view")

    def link(ident):
        if ident is None:
            return None
        return url_for(f"{view.endpoint}.details_view", id=ident, url=return_url) if return_url \
            else lien_fiche(view.endpoint, ident)
    return {"precedent": link(found["precedent"]), "suivant": link(found["suivant"]), "liste": back}
