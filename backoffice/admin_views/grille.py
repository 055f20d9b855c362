"""Fast grids (issue 6): what every SecureModelView does so a list of a million rows stays quick.

- Counts: no exact COUNT(*) on a large result. On PostgreSQL a capped count (at most
  EXACT_COUNT_UNDER + 1 index entries read) tells a small result, counted exactly, from a large one,
  for which the planner's estimate of the filtered query (EXPLAIN, well under a millisecond) is shown
  as « ≈ 1,2 M »; the user can ask for the exact figure (« compter exactement », `?compte=exact`).
  SQLite (the demo) always counts exactly: its tables are small.
- Pages: keyset pagination. « Suivante » carries the sort key of the page's last row (`apres=`),
  « Précédente » the first row's (`avant=`): the next page is an index range scan that starts where
  the last one ended, as fast at page 2,000 as at page 1. A page typed by number (no cursor) uses
  an OFFSET on the ids alone (index-only). Either way the page's ids come first, from the filter and
  the sort key alone, then their rows with the relations the list shows. The sort always ends on the
  primary key, so the order is total and no row is skipped or shown twice between pages.
- Exports stream: the query is read in chunks (a server-side cursor on PostgreSQL) and each row is
  written out as soon as it is formatted; memory stays bounded whatever the row count.
- Issue 18: status tabs with their counts (estimated as the grid's own count is), saved filters per user
  (models.grilles.FiltreEnregistre), and a name search on any part of the name (trigram, accent-insensitive).
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum

import sqlalchemy as sa
from flask import abort, flash, g, has_request_context, redirect, request
from flask_admin import expose
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ..forms.fields import normaliser_recherche
from ..models.grilles import TRGM_COLONNES, TRGM_NORMALISEES

EXACT_COUNT_UNDER = 1_000
EXPORT_CHUNK = 1_000
SAMPLE_ROWS = 20_000  # table rows a sampled total reads (TABLESAMPLE SYSTEM), whatever the table's size
SAMPLE_MIN_MATCHES = 30  # fewer matching rows in the sample: the result is small after all, summed exactly
CURSOR_ARGS = ("apres", "avant", "compte")


# ---- integers and values from the URL (finding 6, issue 12) -------------------------------------
# Every integer that reaches SQL from a request goes through parse_id or fits: an id past 2³¹−1 (a
# PostgreSQL INTEGER), past 2⁶³ (the driver's OverflowError), negative or not a number is a missing
# row or a 400 in French, never a 500.

INT_MAX = 2**31 - 1  # PostgreSQL INTEGER, every primary and foreign key of the schema
_INT_MAX_BY_TYPE = ((sa.SmallInteger, 2**15 - 1), (sa.BigInteger, 2**63 - 1))
_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only: no sign, space, exponent or « ١٢ »
MAX_PAGE = 10**6


def parse_id(value) -> int | None:
    """A primary key typed in a URL or posted by a form: 1 … 2³¹−1, else None (treated as a missing row)."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, int):
        if not isinstance(value, str) or not _ID.fullmatch(value):
            return None
        value = int(value)
    return value if 1 <= value <= INT_MAX else None


def int_max(type_) -> int:
    for cls, bound in _INT_MAX_BY_TYPE:
        if isinstance(type_, cls):
            return bound
    return INT_MAX


def fits(type_, value) -> bool:
    """Whether the database accepts `value` bound to a column of `type_` (no overflow, no NUL byte)."""
    if isinstance(value, (list, tuple, set)):
        return all(fits(type_, v) for v in value)
    if value is None or isinstance(value, (bool, Enum)):
        return True
    if isinstance(value, int):
        bound = int_max(type_) if isinstance(type_, sa.Integer) else 2**63 - 1
        return -bound - 1 <= value <= bound
    if isinstance(value, Decimal):
        if not value.is_finite():
            return False
        precision = getattr(type_, "precision", None) if isinstance(type_, sa.Numeric) else None
        digits = (precision - (type_.scale or 0)) if precision else 100
        return abs(value) < Decimal(10) ** digits
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, (date, datetime)):
        return 1 <= value.year <= 9999
    return True


def _filter_type(flt):
    column = getattr(flt, "column", None)
    return getattr(column, "type", None)


# ---- counts ------------------------------------------------------------------------------------

def format_count(n: int, estimated: bool) -> str:
    """French display of a row count: « 1 234 », « ≈ 12 300 », « ≈ 1,2 M »."""
    if not estimated:
        return f"{n:,}".replace(",", "\u202f")
    if n >= 1_000_000:
        return "≈ " + f"{n / 1_000_000:.1f}".replace(".", ",") + " M"
    digits = max(0, len(str(n)) - 3)
    rounded = int(round(n, -digits))
    return "≈ " + f"{rounded:,}".replace(",", "\u202f")


def planner_estimate(session, query) -> int | None:
    """Rows the PostgreSQL planner expects `query` to return (EXPLAIN, nothing executed)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    stmt = query.order_by(None).statement
    compiled = stmt.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string,
                                                compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def exact_count(session, query, pk, cap: int | None = None) -> int:
    """COUNT of the query's rows; with `cap`, of its first `cap` rows only."""
    ids = query.with_entities(pk).order_by(None)
    sub = (ids.limit(cap) if cap else ids).subquery()
    return session.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one()


# ---- name search (issue 18) -------------------------------------------------------------------------
# A term of at least TRIGRAM_MIN characters is looked for anywhere in the name columns (« eloise » finds
# « MARTIN ÉLOÏSE »): `LIKE '%TERME%'` on the normalised column (upper case, no accents: nom_recherche, or
# bo_normalise(column), a SQL function), which a GIN pg_trgm index serves on PostgreSQL (migration
# 0026_grilles_recherche). SQLite (the demo) runs the same LIKE, bo_normalise being a Python function there.
# A shorter term stays a prefix search (a btree serves it; three letters are the least a trigram can use).

TRIGRAM_MIN = 3
_TRGM_COLONNES = set(TRGM_COLONNES)
_TRGM_NORMALISEES = set(TRGM_NORMALISEES)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _table_column(field):
    """(table name, column name) of a searchable field (a Column or a mapped attribute), else None."""
    column = field
    prop = getattr(field, "property", None)
    if prop is not None and hasattr(prop, "columns"):
        column = prop.columns[0]
    table = getattr(column, "table", None)
    name = getattr(table, "name", None)
    return (name, column.name) if name and isinstance(column, sa.Column) else None


def contains_match(field, column, term: str):
    """`column` (possibly an alias's) holding `term` anywhere, when `field` is a trigram-indexed name column
    and the term long enough; None otherwise (the caller keeps the prefix search)."""
    key = _table_column(field)
    if key is None or (key not in _TRGM_COLONNES and key not in _TRGM_NORMALISEES):
        return None
    norm = normaliser_recherche(term)
    if key[1] == "siret":
        norm = norm.replace(" ", "")
    if len(norm.replace(" ", "")) < TRIGRAM_MIN:
        return None
    pattern = f"%{_escape_like(norm)}%"
    target = column if key in _TRGM_COLONNES else sa.func.bo_normalise(column)
    return target.like(pattern, escape="\\")


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_bo_normalise(dbapi_connection, _record):
    """On SQLite, bo_normalise is the same Python function that fills nom_recherche."""
    import sqlite3
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("bo_normalise", 1, lambda v: None if v is None else normaliser_recherche(v),
                                         deterministic=True)


# ---- money totals (issue 18) ----------------------------------------------------------------------

def exact_sums(session, query, columns) -> list[Decimal]:
    """SUM of each money column over the whole filtered query, in one statement."""
    row = query.with_entities(*[sa.func.coalesce(sa.func.sum(c), 0) for c in columns]).order_by(None).one()
    return [Decimal(v) for v in row]


def estimated_sums(session, query, table, columns, count: int) -> list[Decimal] | None:
    """The totals of a result too large to sum on each page view, estimated the way its count is: the average
    of each amount over the matching rows of a block sample of the table (TABLESAMPLE SYSTEM, about
    SAMPLE_ROWS rows read, fixed seed so the figure stays put between two page views), times the estimated
    count. None when the sample holds too few matching rows (the caller sums exactly: the result is small)."""
    from sqlalchemy.sql.util import ClauseAdapter

    reltuples = session.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                                {"t": table.name}).scalar() or 0
    pct = min(100.0, 100.0 * SAMPLE_ROWS / max(reltuples, 1.0))
    sample = sa.tablesample(table, sa.func.system(pct), name="echantillon", seed=sa.literal(18))
    stmt = query.with_entities(sa.func.count(), *[sa.func.avg(c) for c in columns]).order_by(None).statement
    if a_travers_relation(query):
        # a search or filter through a relation (the youth's name on the allocations): the join's ON clause, built
        # by the ORM at compile time, escapes the adapter and would join the whole table to the sample (a cartesian
        # product: wrong and slow, issue 20). Never estimated (the caller sums exactly on request)
        return None
    stmt = ClauseAdapter(sample).traverse(stmt)
    n, *avgs = session.execute(stmt).one()
    if n < SAMPLE_MIN_MATCHES:
        return None
    return [Decimal(a or 0) * count for a in avgs]


def a_travers_relation(query) -> bool:
    """The list's query joins another table (a search or a filter through a relation)."""
    stmt = query.order_by(None).statement
    return any(isinstance(f, sa.sql.selectable.Join) for f in stmt.get_final_froms())


def _count_input_rows(node) -> int | None:
    """The planner's estimate of the rows a `SELECT count(*) FROM (…)` branch counts: the input of its Aggregate.
    None for a parallel (partial) aggregate, whose nodes show per-worker figures."""
    while node.get("Node Type") != "Aggregate":
        if not node.get("Plans"):
            return None
        node = node["Plans"][0]
    if node.get("Partial Mode", "Simple") != "Simple" or not node.get("Plans"):
        return None
    return int(node["Plans"][0]["Plan Rows"])


# ---- cursors -----------------------------------------------------------------------------------

def _encode_value(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (Decimal, date, datetime)):
        return value.isoformat() if not isinstance(value, Decimal) else str(value)
    return value


def _decode_value(column, raw):
    """Back to the column's Python type; ValueError on anything that does not fit (a forged cursor)."""
    if raw is None:
        raise ValueError("valeur vide")
    try:
        python_type = column.type.python_type
    except NotImplementedError:  # pragma: no cover - every grid column has one
        raise ValueError("type inconnu")
    if issubclass(python_type, Enum):
        return python_type(raw)
    if python_type is Decimal:
        value = Decimal(str(raw))
        if not fits(column.type, value):
            raise ValueError("hors limites")
        return value
    if python_type is datetime:
        return datetime.fromisoformat(str(raw))
    if python_type is date:
        return date.fromisoformat(str(raw))
    if python_type is int:
        if isinstance(raw, bool) or not isinstance(raw, int) or not fits(column.type, raw):
            raise ValueError("entier attendu")
        return raw
    if python_type is str:
        if not isinstance(raw, str) or not fits(column.type, raw):
            raise ValueError("texte attendu")
        return raw
    raise ValueError("type non pris en charge")


def encode_cursor(values) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, columns) -> list | None:
    """The cursor's values, or None when it is malformed or does not match the sort (then the page
    number alone is used: a hand-edited URL shows a page, never an error)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(columns):
            return None
        return [_decode_value(c, v) for c, v in zip(columns, values)]
    except (ValueError, TypeError, InvalidOperation, UnicodeDecodeError):
        return None


# ---- the mixin ---------------------------------------------------------------------------------

class FastGridMixin:
    """Mixed into SecureModelView (see the module docstring)."""

    simple_list_pager = True  # Flask-Admin never counts; get_list below decides how
    exact_count_under = EXACT_COUNT_UNDER

    # -- URL arguments ------------------------------------------------------------------------
    def _get_list_extra_args(self):
        # read once per request and view (the tabs and the saved filters read them again while the list
        # renders): a refused filter value is flashed once, not on the next page too
        cache = g.setdefault("bo_list_args", {}) if has_request_context() else None
        if cache is not None and self.endpoint in cache:
            return cache[self.endpoint].clone()
        args = self._read_list_extra_args()
        if cache is not None:
            cache[self.endpoint] = args
        return args.clone()

    def _read_list_extra_args(self):
        args = super()._get_list_extra_args()
        # finding 6 (issue 12): a page past any real one, a page size not offered, a NUL in the search
        if not 0 <= (args.page or 0) <= MAX_PAGE:
            abort(400, description="Numéro de page invalide.")
        if args.page_size and args.page_size not in self.page_size_options:
            args = args.clone(page_size=0)
        if args.search and not fits(sa.String(), args.search):
            abort(400, description="Recherche invalide : caractère de contrôle refusé.")
        # our cursor/count arguments never ride along on sort, filter or page-size links
        for key in CURSOR_ARGS:
            args.extra_args.pop(key, None)
        return args

    def _get_list_filter_args(self):
        """Flask-Admin's filter arguments, less those whose value the column cannot hold (an id past
        2³¹−1, an amount past NUMERIC(12,2), a NUL byte): ignored with a French message, as Flask-Admin
        does for a value its own filter refuses (finding 6, issue 12)."""
        filters = super()._get_list_filter_args()
        if filters is None:
            return None
        kept = []
        for entry in filters:
            idx, _name, value = entry
            flt = self._filters[idx]
            try:
                ok = fits(_filter_type(flt), flt.clean(value)) if _filter_type(flt) is not None else fits(None, value)
            except (ValueError, TypeError, ArithmeticError):
                ok = False
            if ok:
                kept.append(entry)
            elif has_request_context():
                flash("Valeur de filtre invalide : filtre ignoré.", "error")
        return kept

    # -- sort keys ----------------------------------------------------------------------------
    def _keyset_columns(self, sort_column, sort_desc):
        """[(column, desc), …, (pk, desc)] when the page can be cut by keyset: the sort is on a
        NOT NULL column of the model itself (or the default sort is); None otherwise."""
        pk = self.model.__mapper__.primary_key[0]
        if sort_column is not None:
            field = self._sortable_columns.get(sort_column)
            if self._sortable_joins.get(sort_column) or isinstance(field, list):
                return None
            desc = bool(sort_desc)
        else:
            default = self._get_default_order()
            order = list(default or [])
            if not order:
                return [(pk, True)]
            field, joins, desc = order[0]
            if joins or len(order) > 1:
                return None
        if isinstance(field, sa.Column):
            column = field
        else:
            prop = getattr(field, "property", None)
            column = prop.columns[0] if prop is not None and hasattr(prop, "columns") else None
        if column is None or column.table is not pk.table:
            return None
        if column is pk:
            return [(pk, bool(desc))]
        if column.nullable:
            return None
        return [(column, bool(desc)), (pk, bool(desc))]

    @staticmethod
    def _order(columns, reverse=False):
        out = []
        for column, desc in columns:
            if desc != reverse:
                out.append(column.desc())
            else:
                out.append(column.asc())
        return out

    # -- the list -----------------------------------------------------------------------------
    def _filtered_query(self, search, filters):
        joins: dict = {}
        query = self.get_query()
        if self._search_supported and search:
            query, _c, joins, _cj = self._apply_search(query, None, joins, {}, search)
        if filters and self._filters:
            query, _c, joins, _cj = self._apply_filters(query, None, joins, {}, filters)
        return query, joins

    def _count_rows(self, query):
        """(count, estimated). The planner's estimate of the filtered query first (EXPLAIN, nothing
        read); a result it expects small (under exact_count_under rows) is counted exactly, with a
        capped count (`SELECT count(*) FROM (… LIMIT n + 1)`) so a wrong estimate costs at most n + 1
        index entries; a large one shows the estimate, unless the user asked (`?compte=exact`).
        get_list makes the count exact anyway when the page shown is the last one."""
        session = self.session
        pk = self.model.__mapper__.primary_key[0]
        forced = has_request_context() and request.args.get("compte") == "exact"
        if forced or session.get_bind().dialect.name != "postgresql":
            return exact_count(session, query, pk), False
        estimate = planner_estimate(session, query) or 0
        if estimate >= self.exact_count_under:
            return estimate, True
        capped = exact_count(session, query, pk, cap=self.exact_count_under + 1)
        if capped <= self.exact_count_under:
            return capped, False
        return max(estimate, capped), True

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        if page_size is None:
            page_size = self.page_size
        if not execute or not page_size:
            # exports and « all filtered rows »: Flask-Admin's query, never counted
            return super().get_list(page, sort_column, sort_desc, search, filters, execute=execute,
                                    page_size=page_size)
        query, joins = self._filtered_query(search, filters)
        keys = self._keyset_columns(sort_column, sort_desc)
        page = max(0, page or 0)
        cursor_dir, values = None, None
        if keys is not None and has_request_context():
            for direction in ("apres", "avant"):
                token = request.args.get(direction)
                if token:
                    values = decode_cursor(token, [c for c, _d in keys])
                    cursor_dir = direction if values is not None else None
                    break
        pk = self.model.__mapper__.primary_key[0]
        # Two steps, as the floor does: the page's ids first, from the filter and the sort key alone
        # (an index-only scan of an index such as (statut, mois, id), never a walk down the primary
        # key that skips rows the planner wrongly believes spread evenly), then those rows with the
        # relations the list shows.
        if keys is not None and cursor_dir is not None:
            cols = sa.tuple_(*[c for c, _d in keys])
            vals = sa.tuple_(*[sa.literal(v, type_=c.type) for (c, _d), v in zip(keys, values)])
            desc = keys[0][1]
            forward = cursor_dir == "apres"
            after = (cols < vals) if desc == forward else (cols > vals)
            ids = [r[0] for r in query.with_entities(pk).filter(after)
                   .order_by(*self._order(keys, reverse=not forward)).limit(page_size + 1)]
            more = len(ids) > page_size
            ids = ids[:page_size]
            if not forward:
                ids.reverse()
            has_next = more if forward else True
            has_prev = True if forward else more
        else:
            if keys is not None:
                ordered = query.with_entities(pk).order_by(*self._order(keys))
            else:
                ordered, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
                ordered = ordered.with_entities(pk).order_by(pk.desc() if sort_desc else pk.asc())
            ids = [r[0] for r in ordered.offset(page * page_size).limit(page_size + 1)]
            has_next = len(ids) > page_size
            ids = ids[:page_size]
            has_prev = page > 0
        rows = self._load_rows(ids)
        big = False  # a result too large to count (and so to sum) on each page view
        if page == 0 and cursor_dir is None and not has_next:
            count, estimated = len(ids), False  # the whole result fits on the first page: no count
        else:
            count, estimated = self._count_rows(query)
            big = estimated
            if estimated and not has_next and cursor_dir != "avant":
                # the last page: the rows before it plus this one are the exact count
                count, estimated = page * page_size + len(ids), False
        totaux = self._totaux(query, rows, count, big,
                              whole=page == 0 and cursor_dir is None and not has_next) if has_request_context() else []
        if has_request_context():
            g.bo_grille = {
                "totaux": totaux,
                "count": count, "estimated": estimated, "page": page, "page_size": page_size,
                "has_next": has_next and bool(rows), "has_prev": has_prev,
                "first": encode_cursor(self._row_key(rows[0], keys)) if rows and keys else None,
                "last": encode_cursor(self._row_key(rows[-1], keys)) if rows and keys else None,
                "pages": max(1, math.ceil(count / page_size)) if count is not None else None,
            }
        return count, rows

    # -- status tabs (issue 18) -------------------------------------------------------------------
    def _statut_column(self):
        column = sa.inspect(self.model).columns.get("statut")
        return column if column is not None and getattr(column.type, "enum_class", None) else None

    def _statut_filter_indexes(self) -> tuple[int | None, set[int]]:
        """(index of the « statut égal à » filter, indexes of every filter on the statut column)."""
        column = self._statut_column()
        if column is None or not self._filters:
            return None, set()
        from .filters import EnumEqual
        equal, every = None, set()
        for idx, flt in enumerate(self._filters):
            col = getattr(flt, "column", None)
            if getattr(col, "key", None) == "statut" and getattr(col, "table", None) is column.table:
                every.add(idx)
                if equal is None and type(flt) is EnumEqual:
                    equal = idx
        return equal, every

    def status_tabs(self) -> list[dict]:
        """One tab per status of a workflow grid, « Tous » first, each with its count under the other filters and
        the search (counted as the grid counts: exact when small, the planner's estimate when huge), its URL (the
        list's own « statut égal à » filter, so it combines with the others and stays in the URL)."""
        if not has_request_context() or getattr(self, "workflow", None) is None:
            return []
        equal, every = self._statut_filter_indexes()
        if equal is None:
            return []
        flt = self._filters[equal]
        column = self._statut_column()
        args = self._get_list_extra_args()
        filters = list(args.filters or [])
        others = [f for f in filters if f[0] not in every]
        on_statut = [f for f in filters if f[0] in every]
        active = on_statut[0][2] if len(on_statut) == 1 and on_statut[0][0] == equal else None
        query, _joins = self._filtered_query(args.search, others)
        from .formatters import enum_choices
        choices = enum_choices(column.type.enum_class)
        branches = [query] + [query.filter(column == column.type.enum_class(v)) for v, _l in choices]
        counts = self._count_branches(query, column, branches, [v for v, _l in choices])
        tabs = []
        for (label, value, is_active), (n, estimated) in zip(
                [("Tous", None, not on_statut)] + [(lbl, v, active == v) for v, lbl in choices], counts):
            url_filters = others + ([(equal, flt.name, value)] if value is not None else [])
            tabs.append({"label": label, "value": value, "count": n, "estimated": estimated,
                         "display": format_count(n, estimated), "active": is_active,
                         "url": self._get_list_url(args.clone(filters=url_filters or None, page=0))})
        return tabs

    def _count_branches(self, query, column, branches, values) -> list[tuple[int, bool]]:
        """(count, estimated) of each query of `branches` (« Tous » then one per status), decided exactly as
        _count_rows decides the grid's count, in two statements whatever the number of statuses: one EXPLAIN of
        their UNION ALL (the planner's estimate of each branch, the same figure as its own EXPLAIN), then one
        UNION ALL of capped counts (at most exact_count_under + 1 index entries each) for the branches it
        expects small. SQLite, or `?compte=exact`: one exact GROUP BY."""
        session = self.session
        pk = self.model.__mapper__.primary_key[0]
        forced = has_request_context() and request.args.get("compte") == "exact"
        if forced or session.get_bind().dialect.name != "postgresql":
            by_value = {getattr(k, "value", k): n for k, n in
                        query.with_entities(column, sa.func.count(pk)).order_by(None).group_by(column).all()}
            return [(sum(by_value.values()), False)] + [(by_value.get(v, 0), False) for v in values]
        cap = self.exact_count_under
        estimates = self._branch_estimates(branches)
        small = [i for i, e in enumerate(estimates) if e < cap]
        capped = {}
        if small:
            subs = [sa.select(sa.literal(i).label("branche"), sa.func.count().label("n"))
                    .select_from(branches[i].with_entities(pk).order_by(None).limit(cap + 1).subquery())
                    for i in small]
            capped = dict(session.execute(sa.union_all(*subs)).all())
        out = []
        for i, estimate in enumerate(estimates):
            if i not in capped:
                out.append((estimate, True))
            elif capped[i] <= cap:
                out.append((capped[i], False))
            else:
                out.append((max(estimate, capped[i]), True))
        return out

    def _branch_estimates(self, branches) -> list[int]:
        """The planner's row estimate of each query (one EXPLAIN of a UNION ALL of their counts)."""
        bind = self.session.get_bind()
        stmt = sa.union_all(*[sa.select(sa.func.count()).select_from(b.order_by(None).subquery()) for b in branches])
        compiled = stmt.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
        plan = self.session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string,
                                                         compiled.params).scalar()
        if isinstance(plan, str):
            plan = json.loads(plan)
        top = plan[0]["Plan"]
        children = top.get("Plans", []) if top.get("Node Type") == "Append" else [top]
        out = [_count_input_rows(node) for node in children]
        if len(out) != len(branches) or None in out:
            # a parallel plan (its nodes show per-worker figures) or another shape: one EXPLAIN per branch
            return [planner_estimate(self.session, b) or 0 for b in branches]
        return out

    # -- saved filters (issue 18) -----------------------------------------------------------------
    @staticmethod
    def _filter_key(flt) -> str:
        column = getattr(flt, "column", None)
        return f"{getattr(column, 'key', None) or flt.name}|{type(flt).__name__}"

    def current_state(self) -> dict:
        """The list's filters, sort and search, by meaning (column keys, not positions)."""
        args = self._get_list_extra_args()
        found = self._get_column_by_idx(args.sort)
        return {"filtres": [{"filtre": self._filter_key(self._filters[idx]), "libelle": str(name), "valeur": value}
                            for idx, name, value in (args.filters or [])],
                "tri": found[0] if found else None, "desc": bool(args.sort_desc),
                "recherche": args.search or "", "page_size": args.page_size or None}

    def resolve_state(self, etat) -> tuple[str | None, str | None]:
        """(list URL, None) for a saved state, or (None, the French reason it no longer applies)."""
        if not isinstance(etat, dict):
            return None, "Filtre enregistré illisible."
        by_key = {self._filter_key(flt): idx for idx, flt in enumerate(self._filters or [])}
        filters = []
        for entry in etat.get("filtres") or []:
            idx = by_key.get(entry.get("filtre")) if isinstance(entry, dict) else None
            if idx is None:
                libelle = entry.get("libelle") if isinstance(entry, dict) else None
                return None, f"Le filtre « {libelle or '?'} » n'existe plus sur cette liste."
            value = entry.get("valeur")
            flt = self._filters[idx]
            try:
                ok = isinstance(value, str) and flt.validate(value) and fits(_filter_type(flt), flt.clean(value)) \
                    if _filter_type(flt) is not None else isinstance(value, str) and flt.validate(value)
            except (ValueError, TypeError, ArithmeticError):
                ok = False
            if not ok:
                return None, f"La valeur du filtre « {entry.get('libelle') or '?'} » n'est plus acceptée."
            filters.append((idx, flt.name, value))
        sort = None
        if etat.get("tri"):
            names = [c for c, _l in self._list_columns]
            if etat["tri"] not in names or etat["tri"] not in self._sortable_columns:
                return None, f"La colonne de tri « {etat['tri']} » n'existe plus sur cette liste."
            sort = names.index(etat["tri"])
        search = etat.get("recherche") or None
        if search is not None and (not isinstance(search, str) or not self._search_supported):
            return None, "La recherche enregistrée ne s'applique plus à cette liste."
        page_size = etat.get("page_size") if etat.get("page_size") in self.page_size_options else None
        from flask_admin.model.base import ViewArgs
        args = ViewArgs(page=0, page_size=page_size, sort=sort, sort_desc=bool(etat.get("desc")), search=search,
                        filters=filters or None)
        return self._get_list_url(args), None

    def saved_filters(self) -> list[dict]:
        """The current user's saved filters of this grid, each with its URL or the reason it is invalid."""
        if not has_request_context() or not getattr(current_user, "is_authenticated", False):
            return []
        from ..models import FiltreEnregistre
        rows = self.session.execute(
            sa.select(FiltreEnregistre).where(FiltreEnregistre.compte_id == current_user.id,
                                              FiltreEnregistre.vue == self.endpoint)
            .order_by(FiltreEnregistre.nom)).scalars().all()
        out = []
        for row in rows:
            url, erreur = self.resolve_state(row.etat)
            out.append({"id": row.id, "nom": row.nom, "url": url, "erreur": erreur})
        return out

    def _own_filter(self, fid):
        from ..models import FiltreEnregistre
        pk = parse_id(fid)
        row = self.session.get(FiltreEnregistre, pk) if pk else None
        # another user's filter, or another grid's, is a 404: nobody learns that it exists
        if row is None or row.compte_id != current_user.id or row.vue != self.endpoint:
            abort(404)
        return row

    @expose("/filtres/enregistrer", methods=("POST",))
    def save_filter(self):
        from ..models import FiltreEnregistre
        nom = " ".join((request.form.get("nom") or "").replace("\x00", " ").split())
        back = request.form.get("url") or ""
        back = back if back.startswith(self.get_url(".index_view")) else self.get_url(".index_view")
        if not nom or len(nom) > 80:
            flash("Donnez au filtre un nom de 1 à 80 caractères.", "error")
            return redirect(back)
        # the state is read from the list's URL the form was posted from (its query string, forwarded)
        etat = self.current_state()
        existing = self.session.execute(sa.select(FiltreEnregistre).where(
            FiltreEnregistre.compte_id == current_user.id, FiltreEnregistre.vue == self.endpoint,
            FiltreEnregistre.nom == nom)).scalar_one_or_none()
        if existing is not None:
            existing.etat = etat
            message = f"Filtre « {nom} » mis à jour."
        else:
            self.session.add(FiltreEnregistre(compte_id=current_user.id, vue=self.endpoint, nom=nom, etat=etat))
            message = f"Filtre « {nom} » enregistré."
        self.session.commit()
        flash(message, "success")
        return redirect(back)

    @expose("/filtres/<fid>")
    def open_filter(self, fid):
        row = self._own_filter(fid)
        url, erreur = self.resolve_state(row.etat)
        if erreur:
            flash(f"Filtre « {row.nom} » invalide : {erreur} Supprimez-le et enregistrez-en un nouveau.", "error")
            return redirect(self.get_url(".index_view"))
        return redirect(url)

    @expose("/filtres/<fid>/supprimer", methods=("POST",))
    def delete_filter(self, fid):
        row = self._own_filter(fid)
        nom = row.nom
        self.session.delete(row)
        self.session.commit()
        flash(f"Filtre « {nom} » supprimé.", "success")
        return redirect(self.get_url(".index_view"))

    # -- money totals (issue 18) -----------------------------------------------------------------
    def total_columns(self) -> list[tuple[str, str]]:
        """(key, label) of the list's money columns of the model itself (dotted and hidden columns excluded)."""
        from .formatters import is_money_type
        from .. import policy
        mapper = sa.inspect(self.model)
        hidden = set(policy.hidden_columns(self.policy_endpoint, self._role())) if hasattr(self, "policy_endpoint") \
            else set()
        out = []
        for col, label in self._list_columns:
            column = mapper.columns.get(col) if isinstance(col, str) and "." not in col else None
            if column is not None and is_money_type(column.type) and col not in hidden:
                out.append((col, label))
        return out

    def _totaux(self, query, rows, count, estimated, *, whole: bool) -> list[dict]:
        """Per money column: the page's total (its rows), the filter's (SQL SUM; estimated like the count when
        the count is), for the totals bar above the grid; the ticked rows' total is summed in the browser
        (static/totaux.js) from each cell's value."""
        columns = self.total_columns()
        if not columns:
            return []
        mapper = sa.inspect(self.model)
        cols = [mapper.columns[k] for k, _l in columns]
        page = [sum((getattr(r, k) or Decimal("0") for r in rows), Decimal("0")) for k, _l in columns]
        filtre, approx = page, False
        if not whole:
            filtre = None
            if estimated and self.session.get_bind().dialect.name == "postgresql":
                filtre = estimated_sums(self.session, query, self.model.__table__, cols, count)
                approx = filtre is not None
                if filtre is None and a_travers_relation(query):
                    # a large result through a relation (50,000 allocations of the youths named « MARTIN » at
                    # 1,000,000 rows): no sample serves it and an exact SUM reads them all on every page view, so
                    # the total is computed on request, like the exact count (issue 20)
                    return [{"key": k, "label": label, "page": p, "filtre": None, "estime": False, "sur_demande": True}
                            for (k, label), p in zip(columns, page)]
            if filtre is None:
                filtre = exact_sums(self.session, query, cols)
        return [{"key": k, "label": label, "page": p, "filtre": f, "estime": approx}
                for (k, label), p, f in zip(columns, page, filtre)]

    def _load_rows(self, ids):
        """The rows of `ids`, in that order, with the list's many-to-one relations in the same query."""
        if not ids:
            return []
        pk = self.model.__mapper__.primary_key[0]
        rows = self._with_list_relations(self.get_query().filter(pk.in_(ids)))
        by_id = {getattr(row, pk.key): row for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def _with_list_relations(self, query):
        """`query` with the many-to-one relations the list shows joined in (no lazy load per row)."""
        return query.options(*[joinedload(relation) for relation in self._auto_joins])

    @staticmethod
    def _row_key(row, keys):
        mapper = sa.inspect(row).mapper
        return [getattr(row, mapper.get_property_by_column(c).key) for c, _d in keys]

    # -- rendering helpers for admin/bo_list.html ------------------------------------------------
    def render(self, template, **kwargs):
        grid = getattr(g, "bo_grille", None) if has_request_context() else None
        if grid is not None and "count" in kwargs and "data" in kwargs:
            kwargs["count"] = format_count(grid["count"], grid["estimated"]) if grid["count"] else None
            kwargs["num_pages"] = None
        return super().render(template, **kwargs)

    def grid_state(self):
        return getattr(g, "bo_grille", None)

    def grid_page_url(self, which: str) -> str:
        """URL of the first, previous or next page, keeping filters, search, sort and page size."""
        grid = self.grid_state()
        args = self._get_list_extra_args()
        page = grid["page"]
        if which == "premiere" or (which == "precedente" and page <= 1):
            return self._get_list_url(args.clone(page=0))
        if which == "precedente":
            url = self._get_list_url(args.clone(page=page - 1))
            token = grid["first"]
            key = "avant"
        else:
            url = self._get_list_url(args.clone(page=page + 1))
            token = grid["last"]
            key = "apres"
        if token:
            url += ("&" if "?" in url else "?") + f"{key}={token}"
        return url

    def grid_exact_count_url(self) -> str:
        url = request.full_path.rstrip("?")
        return url + ("&" if "?" in url else "?") + "compte=exact"

    # -- streamed export ----------------------------------------------------------------------
    def _export_query(self):
        args = self._get_list_extra_args()
        found = self._get_column_by_idx(args.sort)
        sort_column = found[0] if found is not None else None
        query, joins = self._filtered_query(args.search, args.filters)
        query = self._with_list_relations(query)
        keys = self._keyset_columns(sort_column, args.sort_desc)
        if keys is not None:
            query = query.order_by(*self._order(keys))
        else:
            query, joins = self._apply_sorting(query, joins, sort_column, args.sort_desc)
        if self.export_max_rows:
            query = query.limit(self.export_max_rows)
        return query

    def _export_data(self):
        """(None, rows) read EXPORT_CHUNK at a time: a 300,000-row export never sits in memory.
        2.0-style execution: the legacy Query would uniquify joined rows, which rules out yield_per."""
        statement = self._export_query().statement
        return None, self.session.execute(statement, execution_options={"yield_per": EXPORT_CHUNK}).scalars()
