"""List and detail pages of the main grids (allocations, cerfa, beneficiaries, payments): our views
vs plain Flask-Admin vs a floor, plus a streamed CSV export.

    python -m benchmarks.grids --rows 1000000          # the issue's volume (a first load takes minutes)
    python -m benchmarks.grids --rows 200000           # a few minutes
    python -m benchmarks.grids --rows 200000 --cases 'allocation_*' --requests 10
    python -m benchmarks.grids --rows 200000 --deep-args 'page={page}'   # page typed by number, no cursor
    python -m benchmarks.grids --rows 200000 --cases paiement --explain        # + the floor's query plans

Data. Own PostgreSQL database (--url, else DATABASE_URL, else backoffice_bench_grids on the local server),
created if absent; schema reset with Alembic `upgrade heads`, then loaded set-wise (INSERT … SELECT, never
an ORM object per row): seeds.volume.load_allocations_bulk builds N/5 beneficiaries ("NOM-123" / "LEA",
nom_recherche "NOM-123 LEA"), their CEJ inscription, RIB, cerfa and 5 monthly allocations each (statut,
month, amount and antenne varied); here a fifth of the cerfa get other statuses, and every 'versee'
allocation gets a payment (paiement, statut varied) in the lot_paiement batch of its month. Then VACUUM
ANALYZE. A rerun reuses the data when it matches (--reload forces a reload) but still applies Alembic
`upgrade heads`, so a new migration (an index) is measured; after editing an existing migration, --reload.

Each case is a URL of a grid: page 1, a status filter, status + month, an antenne, sorted by amount
(descending), page 2000 (`?page=1999`, 0-based, 20 rows a page; --deep-args gives our view's link another
query, with {page} and {after_id}: the id of the last row of the page before, the keyset boundary), a name
search (prefix, `?search=MARTIN`) and a detail page. Filter arguments (`flt<n>_<index>=value`) and the sort
index are derived from each view's own `_filters` and `_list_columns`, never hard-coded. Three
timings per case, medians and p95 over --requests requests (fewer, at least 5, once a case has used
--budget seconds) after --warmup untimed ones:

  ours     our view (backoffice.create_app, Flask test client logged in through /login as the demo
           `admin`): server-side time of client.get plus reading the whole body.
  vanilla  in the same process and app, a plain flask_admin.contrib.sqla.ModelView per grid under a second
           Admin at /vanilla, with the same column_list, column_details_list, column_searchable_list,
           column_sortable_list and default sort (id descending) and the same filters where a plain column
           name expresses them (the antenne drop-down becomes `antenne_id`, the month filters `mois`).
           Nothing of our base view: Flask-Admin's COUNT, OFFSET paging and `ILIKE '%x%'` search. It
           carries `policy_endpoint` only so that the app's request guard lets it through like ours.
  floor    sql_ms + render_ms, where
           sql_ms    = the minimal SQL of that page run directly with psycopg: the 20-row keyset page query
                       with the same filter and sort (its 20 ids by an index-only scan, then their rows),
                       joined to the relations the list shows (the deep page: `id < {after_id}`), plus a count
                       estimate (pg_class.reltuples unfiltered, the planner's row estimate of the filter
                       otherwise, an exact count when that estimate is under 1,000). The floor assumes an
                       index per filter/sort; one the migrated schema lacks is created inside the floor's
                       own transaction and rolled back (listed in the output), so ours never benefits;
           render_ms = the same page of OUR view over a tiny database (backoffice_bench_grids_tiny, the same
                       loader at --tiny-rows 2,000 allocations): its SQL costs well under a millisecond,
                       so the request is render cost alone (request guard, session, formatters, template),
                       while every case still shows a full page of 20 rows there (the assertion checks it),
                       which a 100-row table would not give for the filtered and searched cases. The deep
                       page is rendered as page 1 there. A tiny *database* rather than a tiny table keeps
                       the same app, views and relations.
Ours, vanilla and the tiny page are requested in turn, so that machine noise hits the three alike; the floor
SQL runs after a grid's pages.

Sanity checks, not timed: every timed response must be 200; list pages must show rows, and the row ids of
ours and vanilla must be exactly the floor's page for id-ordered cases (an ignored filter, a wrong page or
an error page fails loudly), or all be within the floor's top 20 amounts for the sort. A failing case is
reported (ÉCHEC) and not timed; the exit status is then 1.

Export: /admin/allocation/export/csv/ with a statut "in list" filter selecting about 300,000 allocations
(all of them below that), read streamed in a subprocess: total seconds, time to the first byte, rows (CSV
lines minus the header) and peak memory growth (peak RSS after minus before the request: VmHWM, the counter
behind ru_maxrss, reset just before the request, see export_child).

Output: a table, then one JSON line per case (case, ours_ms, vanilla_ms, floor_ms, ratio_floor = ours/floor,
ratio_vanilla = ours/vanilla, all medians, plus p95s, sql_ms, render_ms and the URLs), then the export line
(case "export_csv_300k", seconds, peak_mb, rows).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qsl

import sqlalchemy as sa

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/backoffice_bench_grids"
LOADER = "benchmarks.grids v1"  # stored as a comment on table allocation: the data matches this loader
LOGIN, PASSWORD = "admin", "Demo-2026!"  # seeds.comptes demo account (siège administrator)
PAGE_SIZE = 20
DEEP_PAGE = 1999  # Flask-Admin pages are 0-based: ?page=1999 is the 2,000th page
EXPORT_ROWS = 300_000
ESTIMATE_EXACT_BELOW = 1000  # the floor counts exactly when the planner estimates fewer rows

# Values the cases filter on (the loader guarantees each selects a share of the rows)
ANTENNE = "ML-ANT-SUD"
VALUES = {"statut_allocation": "versee", "mois": date(2024, 3, 1), "statut_cerfa": "transmis",
          "statut_paiement": "emis"}

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- data -----------------------------------------------------------------------------------------

EXTRA_STEPS = [
    ("cerfa : statuts variés", """
        UPDATE cerfa SET statut = CASE WHEN id % 10 = 1 THEN 'transmis' ELSE 'valide_siege' END
        WHERE id % 10 IN (1, 2)"""),
    ("lots de paiement", """
        INSERT INTO lot_paiement (reference, dispositif_id, date_execution, statut, nb_paiements, montant_total,
             fichier_sha256, emis_at, version, created_at, updated_at)
        SELECT 'BENCH-' || d.code || '-' || to_char(x.mois, 'YYYYMM'), x.dispositif_id,
               (x.mois + interval '1 month')::date, 'emise', 0, 0,
               encode(sha256(convert_to('BENCH-' || d.code || x.mois, 'UTF8')), 'hex'),
               x.mois + interval '1 month', 1, now(), now()
        FROM (SELECT DISTINCT dispositif_id, mois FROM allocation WHERE statut = 'versee') x
        JOIN dispositif d ON d.id = x.dispositif_id"""),
    # since issue 13 a payment pays a payable (échéance): one per paid allocation, in the state of its payment
    ("échéances", """
        INSERT INTO echeance (dispositif_id, source_type, source_id, periode, payee_type, payee_id, compte_bancaire_id,
             iban, bic, titulaire, libelle, montant, statut, tentatives, motif, version, created_at, updated_at)
        SELECT a.dispositif_id, 'allocation', a.id, a.mois, 'jeune', a.beneficiaire_id, cb.id, cb.iban, NULL,
               cb.titulaire, 'ALLOCATION CEJ ' || to_char(a.mois, 'MM/YYYY'), a.montant,
               CASE WHEN a.id % 20 = 0 THEN 'rejetee' WHEN a.id % 10 = 1 THEN 'en_lot' ELSE 'payee' END, 1,
               CASE WHEN a.id % 20 = 0 THEN 'Compte clôturé' END, 1, now(), now()
        FROM allocation a JOIN compte_bancaire cb ON cb.beneficiaire_id = a.beneficiaire_id
        WHERE a.statut = 'versee'"""),
    ("paiements", """
        INSERT INTO paiement (lot_id, echeance_id, allocation_id, beneficiaire_id, antenne_id, end_to_end_id, montant,
             titulaire, iban, bic, libelle, statut, motif_rejet, created_at, updated_at)
        SELECT l.id, e.id, a.id, a.beneficiaire_id, a.antenne_id, 'BENCH-' || a.id, a.montant, cb.titulaire, cb.iban,
               NULL, 'ALLOCATION CEJ ' || to_char(a.mois, 'MM/YYYY'),
               CASE WHEN a.id % 20 = 0 THEN 'rejete' WHEN a.id % 10 = 1 THEN 'emis' ELSE 'execute' END,
               CASE WHEN a.id % 20 = 0 THEN 'Compte clôturé' END,
               a.mois + interval '1 month' + (a.id % 86400) * interval '1 second',
               a.mois + interval '1 month' + (a.id % 86400) * interval '1 second'
        FROM allocation a
        JOIN lot_paiement l ON l.dispositif_id = a.dispositif_id
             AND l.date_execution = (a.mois + interval '1 month')::date
        JOIN compte_bancaire cb ON cb.beneficiaire_id = a.beneficiaire_id
        JOIN echeance e ON e.source_type = 'allocation' AND e.source_id = a.id AND e.periode = a.mois
        WHERE a.statut = 'versee'
        ORDER BY a.id"""),
    ("totaux des lots", """
        UPDATE lot_paiement l SET nb_paiements = t.n, montant_total = t.total
        FROM (SELECT lot_id, count(*) AS n, sum(montant) AS total FROM paiement GROUP BY lot_id) t
        WHERE t.lot_id = l.id"""),
]


def _marker(rows: int) -> str:
    return f"{LOADER} rows={rows}"


def current_marker(db) -> str | None:
    try:
        return db.session.execute(sa.text("SELECT obj_description('allocation'::regclass, 'pg_class')")).scalar()
    except sa.exc.DBAPIError:
        db.session.rollback()
        return None
    finally:
        db.session.remove()


def prepare(app, rows: int, reload: bool, label: str) -> None:
    """The database holds `rows` allocations of this loader and the migrations' heads."""
    from flask_migrate import upgrade

    from benchmarks.bulk import reset_schema
    from backoffice.extensions import db

    with app.app_context():
        if not reload and current_marker(db) == _marker(rows):
            t0 = time.perf_counter()
            upgrade(revision="heads")  # a migration added since the load (an index) applies on the data
            db.session.remove()
            _vacuum(db, "ANALYZE")
            log(f"{label} : données déjà chargées ({rows} allocations), migrations à jour "
                f"({time.perf_counter() - t0:.1f} s)")
            return
        t0 = time.perf_counter()
        reset_schema(db)
        load(db, rows)
        _vacuum(db, "VACUUM ANALYZE")  # no dead tuples left: an index built in the floor's transaction is usable
        log(f"{label} : {rows} allocations chargées en {time.perf_counter() - t0:.1f} s")


def _vacuum(db, sql: str) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(sql))


def load(db, rows: int) -> None:
    from seeds.comptes import load_demo_accounts
    from seeds.referentiel import load_structures
    from seeds.volume import load_allocations_bulk

    s = db.session
    beneficiaires = max(1, rows // 5)
    load_allocations_bulk(s, beneficiaires=beneficiaires, allocations_par_beneficiaire=5,
                          progress=lambda m: log(f"  {m.strip()}"))
    load_demo_accounts(s, load_structures(s))
    s.commit()
    for label, sql in EXTRA_STEPS:
        s.execute(sa.text(sql))
        log(f"  {label} : ok")
    s.execute(sa.text(f"COMMENT ON TABLE allocation IS '{_marker(beneficiaires * 5)}'"))
    s.commit()
    s.remove()


# ---- cases ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    endpoint: str
    table: str
    joins: tuple  # (table, alias, foreign key): the many-to-one relations the list shows
    detail_joins: tuple  # same for the detail page


GRIDS = {
    "allocation": Grid("allocation", "allocation",
                       (("beneficiaire", "b", "beneficiaire_id"), ("dispositif", "d", "dispositif_id"),
                        ("structure", "s", "antenne_id")),
                       (("beneficiaire", "b", "beneficiaire_id"), ("inscription", "i", "inscription_id"),
                        ("cerfa", "c", "cerfa_id"), ("dispositif", "d", "dispositif_id"),
                        ("structure", "s", "antenne_id"), ("allocation", "co", "corrige_id"))),
    "cerfa": Grid("cerfa", "cerfa",
                  (("inscription", "i", "inscription_id"), ("structure", "s", "antenne_id")),
                  (("inscription", "i", "inscription_id"), ("structure", "s", "antenne_id"),
                   ("compte_bancaire", "cb", "compte_bancaire_id"), ("cerfa", "p", "precedent_id"))),
    "beneficiaire": Grid("beneficiaire", "beneficiaire", (("structure", "s", "antenne_id"),),
                         (("structure", "s", "antenne_id"),)),
    "paiement": Grid("paiement", "paiement",
                     (("lot_paiement", "l", "lot_id"), ("beneficiaire", "b", "beneficiaire_id"),
                      ("allocation", "a", "allocation_id")),
                     (("lot_paiement", "l", "lot_id"), ("allocation", "a", "allocation_id"),
                      ("beneficiaire", "b", "beneficiaire_id"))),
}

SEARCH_ALLOCATION = ("EXISTS (SELECT 1 FROM beneficiaire sb WHERE sb.id = t.beneficiaire_id "
                     "AND sb.nom_recherche LIKE %(search_like)s)")


@dataclass(frozen=True)
class Case:
    name: str
    grid: str
    filters: tuple = ()  # (column, "eq", VALUES/params key)
    sort: str | None = None  # column, descending
    search: bool = False
    deep: bool = False
    detail: bool = False
    where: str = ""  # the floor's predicate on alias t (psycopg %(name)s parameters)
    order: str = "t.id DESC"
    indexes: tuple = ()  # (table, "columns") the floor assumes


def _cases() -> list[Case]:
    out = []
    for g, statut in (("allocation", "statut_allocation"), ("cerfa", "statut_cerfa"),
                      ("beneficiaire", None), ("paiement", "statut_paiement")):
        out.append(Case(f"{g}_page1", g))
        if statut:
            out.append(Case(f"{g}_statut", g, filters=(("statut", "eq", statut),), where=f"t.statut = %({statut})s",
                            indexes=((g, "statut, id"),)))
        if g == "allocation":
            out.append(Case("allocation_statut_mois", g, filters=(("statut", "eq", statut), ("mois", "eq", "mois")),
                            where=f"t.statut = %({statut})s AND t.mois = %(mois)s",
                            indexes=((g, "statut, mois, id"),)))
        out.append(Case(f"{g}_antenne", g, filters=(("antenne_id", "eq", "antenne"),),
                        where="t.antenne_id = %(antenne)s", indexes=((g, "antenne_id, id"),)))
        if g in ("allocation", "paiement"):
            out.append(Case(f"{g}_tri_montant", g, sort="montant", order="t.montant DESC, t.id DESC",
                            indexes=((g, "montant, id"),)))
        out.append(Case(f"{g}_page_2000", g, deep=True))
        if g == "allocation":
            out.append(Case("allocation_recherche", g, search=True, where=SEARCH_ALLOCATION,
                            indexes=(("beneficiaire", "nom_recherche varchar_pattern_ops, id"),
                                     ("allocation", "beneficiaire_id"))))
        if g == "beneficiaire":
            out.append(Case("beneficiaire_recherche", g, search=True, where="t.nom_recherche LIKE %(search_like)s",
                            indexes=(("beneficiaire", "nom_recherche varchar_pattern_ops, id"),)))
        out.append(Case(f"{g}_detail", g, detail=True))
    return out


CASES = _cases()
EXPORT_CASE = "export_csv_300k"


def selected(patterns: list[str] | None, name: str) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatch(name, p if any(c in p for c in "*?[") else f"*{p}*") for p in patterns)


# ---- the SQL of a page (floor, expectations) --------------------------------------------------------

def where_clause(case: Case, extra: str = "") -> str:
    parts = [p for p in (case.where, extra) if p]
    return " AND ".join(parts) if parts else "true"


def page_sql(case: Case, deep: bool) -> str:
    """The keyset page: the 20 ids first (an index-only scan of the filter/sort index: the planner would
    otherwise walk the primary key backwards and filter, and ids grow with the month here as in life),
    then their rows and the relations the list shows."""
    g = GRIDS[case.grid]
    joins = " ".join(f"LEFT JOIN {t} {a} ON {a}.id = t.{fk}" for t, a, fk in g.joins)
    where = where_clause(case, "t.id < %(after_id)s" if deep else "")
    return (f"SELECT * FROM (SELECT x.* FROM {g.table} x JOIN (SELECT t.id FROM {g.table} t WHERE {where} "
            f"ORDER BY {case.order} LIMIT {PAGE_SIZE}) k ON k.id = x.id) t {joins} ORDER BY {case.order}")


def detail_sql(case: Case) -> str:
    g = GRIDS[case.grid]
    joins = " ".join(f"LEFT JOIN {t} {a} ON {a}.id = t.{fk}" for t, a, fk in g.detail_joins)
    return f"SELECT * FROM {g.table} t {joins} WHERE t.id = %(detail_id)s"


def floor_once(cur, case: Case, params: dict) -> None:
    """The minimal SQL of the page: count estimate + keyset page (or the detail row), rows fetched."""
    table = GRIDS[case.grid].table
    if case.detail:
        cur.execute(detail_sql(case), params)
        cur.fetchall()
        return
    if not case.where:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %(t)s::regclass", {"t": table})
        cur.fetchone()
    else:
        count_sql = f"SELECT 1 FROM {table} t WHERE {case.where}"
        cur.execute("EXPLAIN (FORMAT JSON) " + count_sql, params)
        plan = cur.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        if plan[0]["Plan"]["Plan Rows"] < ESTIMATE_EXACT_BELOW:
            cur.execute(f"SELECT count(*) FROM ({count_sql}) c", params)
            cur.fetchone()
    cur.execute(page_sql(case, case.deep and params.get("after_id") is not None), params)
    cur.fetchall()


def existing_indexes(cur, table: str) -> list[str]:
    cur.execute("""SELECT pg_get_indexdef(indexrelid) FROM pg_index
                   WHERE indrelid = %(t)s::regclass AND indpred IS NULL""", {"t": table})
    out = []
    for (d,) in cur.fetchall():
        m = re.search(r"USING \w+ \((.*)\)$", d)
        if m:
            out.append(m.group(1).strip())
    return out


def missing_indexes(cur, cases: list[Case]) -> list[tuple[str, str]]:
    wanted = []
    for c in cases:
        for ix in c.indexes:
            if ix not in wanted:
                wanted.append(ix)
    out = []
    for table, cols in wanted:
        have = existing_indexes(cur, table)
        if not any(h == cols or h.startswith(cols + ",") for h in have):
            out.append((table, cols))
    return out


# ---- the app, ours and vanilla ----------------------------------------------------------------------

def make_app(url: str, vanilla: bool):
    from benchmarks.bulk import make_app as bulk_make_app
    app = bulk_make_app(url)  # creates the database if absent; JOBS_MODE=inline, SECRET_KEY
    if vanilla:
        add_vanilla(app)
    return app


def our_views(app) -> dict:
    for admin in app.extensions["admin"]:
        if admin.endpoint == "admin":
            return {v.endpoint: v for v in admin._views}
    raise LookupError("Admin « admin » introuvable")


def vanilla_views(app) -> dict:
    for admin in app.extensions["admin"]:
        if admin.endpoint == "vanilla_admin":
            return {v.endpoint.removeprefix("vanilla_"): v for v in admin._views}
    raise LookupError("Admin « vanilla_admin » introuvable")


def add_vanilla(app) -> None:
    """A second Admin at /vanilla: plain ModelViews with the same columns as our four grids."""
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView

    from backoffice.extensions import db

    ours = our_views(app)
    vanilla = Admin(app, name="Vanilla", url="/vanilla", endpoint="vanilla_admin")
    for endpoint in GRIDS:
        v = ours[endpoint]
        table = v.model.__table__
        filters = []
        for f in v.column_filters or []:
            if not isinstance(f, str):  # our filter objects (month, antenne drop-down): their plain column
                col = getattr(f, "column", None)
                if getattr(col, "table", None) is not table:
                    continue
                f = col.key
            if f not in filters:
                filters.append(f)
        attrs = {
            "column_list": list(v.column_list),
            "column_details_list": list(v.column_details_list or v.column_list),
            "column_searchable_list": list(v.column_searchable_list or []),
            "column_sortable_list": list(v.column_sortable_list) if v.column_sortable_list is not None else None,
            "column_filters": filters,
            "column_default_sort": v.column_default_sort,
            "can_view_details": True,
            "page_size": PAGE_SIZE,
            # read by the app's request guard only (backoffice.security._guard): same access rule as ours
            "policy_endpoint": endpoint,
        }
        cls = type(f"Vanilla{v.model.__name__}View", (ModelView,), attrs)
        with warnings.catch_warnings():  # db.session, as our views get it (Flask-Admin 2.2 prefers db)
            warnings.simplefilter("ignore", DeprecationWarning)
            view = cls(v.model, db.session, name=v.name, endpoint=f"vanilla_{endpoint}", url=f"/vanilla/{endpoint}")
        vanilla.add_view(view)


def login(app):
    client = app.test_client()
    page = client.get("/login")
    m = CSRF_RE.search(page.get_data(as_text=True))
    if page.status_code != 200 or not m:
        raise SystemExit(f"page de connexion inattendue ({page.status_code})")
    resp = client.post("/login", data={"username": LOGIN, "password": PASSWORD, "csrf_token": m.group(1) or m.group(2)})
    if resp.status_code != 302:
        raise SystemExit(f"connexion de {LOGIN} refusée ({resp.status_code})")
    return client


def _filter_arg(view, pos: int, column: str, kind: str, raw) -> tuple[str, str]:
    """`flt<pos>_<arg>`, value for the view's first filter on `column` of that kind ("eq": equals,
    "in": in list) that accepts the value; the URL spelling is whichever the filter cleans back to it
    (our enum filters take the stored value, Flask-Admin's the member name; months MM/AAAA or ISO)."""
    from flask_admin.contrib.sqla import filters as sqla_filters

    column_type = view.model.__table__.c[column].type
    enum_cls = getattr(column_type, "enum_class", None)
    if kind == "in":
        members = [enum_cls(r) for r in raw]
        expected, candidates = members, [",".join(x.value for x in members), ",".join(x.name for x in members)]
        op = sqla_filters.FilterInList
    else:
        op = sqla_filters.FilterEqual
        if enum_cls is not None:
            expected = enum_cls(raw)
            candidates = [expected.name, expected.value]
        elif isinstance(raw, date):
            expected, candidates = raw, [raw.strftime("%m/%Y"), raw.isoformat()]
        else:
            expected, candidates = raw, [str(raw)]
    for index, flt in enumerate(view._filters or []):
        if getattr(getattr(flt, "column", None), "key", None) != column:
            continue
        if not isinstance(flt, op) or "Not" in type(flt).__name__:
            continue
        for value in candidates:
            try:
                if flt.validate(value) and flt.clean(value) == expected:
                    return f"flt{pos}_{view.get_filter_arg(index, flt)}", value
            except Exception:  # noqa: BLE001 - this spelling is not the filter's
                continue
    raise LookupError(f"{view.endpoint} : pas de filtre « {kind} » sur {column} qui accepte {raw!r}")


def _sort_index(view, column: str) -> int:
    for index, (col, _label) in enumerate(view._list_columns):
        if col == column:
            return index
    raise LookupError(f"{view.endpoint} : colonne {column} absente de la liste")


def list_args(view, case: Case, params: dict, deep_args: dict | None) -> dict:
    args = {}
    for pos, (column, kind, key) in enumerate(case.filters):
        k, v = _filter_arg(view, pos, column, kind, params[key])
        args[k] = v
    if case.search:
        args["search"] = params["search"]
    if case.sort:  # an unsortable column would be ignored by Flask-Admin: the amount check then fails
        args["sort"] = str(_sort_index(view, case.sort))
        args["desc"] = "1"
    if deep_args:
        args.update(deep_args)
    return args


def case_url(app, view, case: Case, params: dict, deep_args: dict | None) -> str:
    from flask import url_for
    with app.test_request_context():
        if case.detail:
            return url_for(f"{view.endpoint}.details_view", id=params["detail_id"])
        return url_for(f"{view.endpoint}.index_view", **list_args(view, case, params, deep_args))


# ---- per-database parameters and expectations --------------------------------------------------------

def db_params(cur, search: str) -> dict:
    cur.execute("SELECT id FROM structure WHERE code = %(c)s", {"c": ANTENNE})
    row = cur.fetchone()
    if row is None:
        raise SystemExit(f"antenne {ANTENNE} absente : rechargez (--reload)")
    return dict(VALUES, antenne=row[0], search=search, search_like=search.replace("\\", "\\\\")
                .replace("%", "\\%").replace("_", "\\_") + "%")


def case_params(cur, case: Case, base: dict) -> dict:
    table = GRIDS[case.grid].table
    p = dict(base)
    if case.detail:
        cur.execute(f"SELECT id FROM {table} ORDER BY id OFFSET (SELECT count(*) / 2 FROM {table}) LIMIT 1")
        p["detail_id"] = cur.fetchone()[0]
    if case.deep:
        cur.execute(f"SELECT count(*) FROM {table}")
        total = cur.fetchone()[0]
        page = max(0, min(DEEP_PAGE, (total - 1) // PAGE_SIZE))
        p["page"] = page
        p["after_id"] = None
        if page:  # keyset boundary: the id of the last row of the previous page (ORDER BY id DESC)
            cur.execute(f"SELECT id FROM {table} ORDER BY id DESC OFFSET %(o)s LIMIT 1", {"o": page * PAGE_SIZE - 1})
            p["after_id"] = cur.fetchone()[0]
    return p


def expected_page(cur, case: Case, params: dict) -> dict:
    """The floor's own page, untimed: ids in order and, for the amount sort, the 20th amount."""
    if case.detail:
        return {"ids": [params["detail_id"]]}
    cur.execute(page_sql(case, case.deep and params.get("after_id") is not None), params)
    rows = cur.fetchall()
    names = [d.name for d in cur.description]
    ids = [r[0] for r in rows]  # t.id is the first column
    out = {"ids": ids}
    if case.sort:
        out["min_sort"] = min(r[names.index(case.sort)] for r in rows)
    return out


class CaseFailed(Exception):
    pass


def row_ids(html: str, prefix: str) -> list[int]:
    """Ids of the rows of a list page: each row's own details link (`<prefix>details/?id=N`)."""
    out = []
    for m in re.finditer(r'href="' + re.escape(prefix) + r'details/\?id=(\d+)', html):
        i = int(m.group(1))
        if i not in out:
            out.append(i)
    return out


def _flashes(html: str) -> str:
    found = re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', html, flags=re.S)
    return " | ".join(" ".join(re.sub(r"<[^>]+>", " ", f).split()) for f in found)[:300]


def check(resp, body: bytes, view_url: str, case: Case, expected: dict, cur, table: str,
          exact_rows: int | None = None) -> None:
    """Fails loudly unless the page is the case's page: 200, rows, and the right rows."""
    if resp.status_code != 200:
        loc = resp.headers.get("Location", "")
        raise CaseFailed(f"HTTP {resp.status_code} {loc}".strip())
    html = body.decode("utf-8", "replace")
    if case.detail:
        if not re.search(rf"<td>\s*{expected['ids'][0]}\s*</td>", html):
            raise CaseFailed(f"la fiche ne montre pas l'id {expected['ids'][0]} ({_flashes(html)})")
        return
    ids = row_ids(html, view_url.rstrip("/") + "/")
    if not ids:
        raise CaseFailed(f"aucune ligne dans la page ({_flashes(html) or 'pas de message'})")
    if exact_rows is not None:
        if len(ids) != exact_rows:
            raise CaseFailed(f"{len(ids)} lignes au lieu de {exact_rows}")
        return
    if case.sort:
        cur.execute(f"SELECT count(*), min({case.sort}) FROM {table} WHERE id = ANY(%(ids)s)", {"ids": ids})
        n, low = cur.fetchone()
        if n != len(expected["ids"]) or low < expected["min_sort"]:
            raise CaseFailed(f"tri : {n} lignes, plus petit {case.sort} {low} < {expected['min_sort']}")
    elif ids != expected["ids"]:
        raise CaseFailed(f"lignes {ids[:3]}… au lieu de {expected['ids'][:3]}… ({_flashes(html) or 'pas de message'})")


def timed_get(client, url: str):
    t0 = time.perf_counter()
    resp = client.get(url)
    body = resp.get_data()
    return (time.perf_counter() - t0) * 1000, resp, body


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)]


# ---- the export (subprocess) --------------------------------------------------------------------------

def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def export_child(url: str, path: str) -> None:
    """Runs in its own process: log in, GET the export streamed, count its lines; JSON on stdout."""
    import gc
    app = make_app(url, vanilla=False)
    client = login(app)
    gc.collect()
    # Peak RSS of this process: VmHWM, the counter behind ru_maxrss, reset by clear_refs (Linux >= 4.0)
    # right before the request, since the login's argon2 hash has just peaked at its memory cost.
    # (ru_maxrss itself also keeps the parent's RSS at fork/exec: a large parent would hide the growth.)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _peak_rss_kib()
    t0 = time.perf_counter()
    resp = client.get(path, buffered=False)
    first, lines, size = None, 0, 0
    try:
        if resp.status_code != 200:
            print(json.dumps({"error": f"HTTP {resp.status_code} {resp.headers.get('Location', '')}".strip()}))
            return
        for chunk in resp.response:
            if isinstance(chunk, str):
                chunk = chunk.encode()
            if first is None and chunk:
                first = time.perf_counter() - t0
            lines += chunk.count(b"\n")
            size += len(chunk)
    finally:
        resp.close()
    seconds = time.perf_counter() - t0
    after = _peak_rss_kib()
    print(json.dumps({"seconds": seconds, "first_byte_s": first, "lines": lines, "bytes": size,
                      "peak_mb": (after - before) / 1024, "content_type": resp.headers.get("Content-Type")}))


def run_export(app, url: str, cur) -> dict:
    ours = our_views(app)["allocation"]
    cur.execute("SELECT statut, count(*) FROM allocation GROUP BY statut ORDER BY count(*), statut")
    by_statut = cur.fetchall()
    total = sum(n for _s, n in by_statut)
    args = {}
    expected = total
    if total > EXPORT_ROWS:  # statuses, smallest first, while the total stays near 300,000
        chosen, expected = [], 0
        for statut, n in by_statut:
            if expected + n <= EXPORT_ROWS * 1.05:
                chosen.append(statut)
                expected += n
        k, v = _filter_arg(ours, 0, "statut", "in", chosen)
        args[k] = v
    from flask import url_for
    with app.test_request_context():
        path = url_for("allocation.export", export_type="csv", **args)
    log(f"export : {path} ({expected} lignes attendues)")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.grids", "--export-child", path, "--url", url],
                          capture_output=True, text=True, cwd=os.getcwd())
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"case": EXPORT_CASE, "url": path, "error": (proc.stderr.strip().splitlines() or ["?"])[-1][:300]}
    r = json.loads(lines[-1])
    if "error" in r:
        return {"case": EXPORT_CASE, "url": path, "error": r["error"]}
    rows = r["lines"] - 1  # the header line
    out = {"case": EXPORT_CASE, "seconds": round(r["seconds"], 2), "peak_mb": round(r["peak_mb"], 1),
           "rows": rows, "expected_rows": expected,
           "first_byte_s": round(r["first_byte_s"], 3) if r["first_byte_s"] is not None else None,
           "mb": round(r["bytes"] / 1e6, 1), "url": path}
    if rows != expected or not (r.get("content_type") or "").startswith("text/csv"):
        out["error"] = f"{rows} lignes CSV au lieu de {expected} ({r.get('content_type')})"
    return out


# ---- main -----------------------------------------------------------------------------------------

@dataclass
class Result:
    case: Case
    url: str = ""
    vanilla_url: str = ""
    ours: list = field(default_factory=list)
    vanilla: list = field(default_factory=list)
    sql: list = field(default_factory=list)
    render: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    error: str | None = None


def measure_grid(grid: str, cases: list[Case], big, tiny, args, pg, pg_tiny) -> list[Result]:
    import psycopg

    ours_v, van_v = our_views(big["app"])[grid], vanilla_views(big["app"])[grid]
    tiny_v = our_views(tiny["app"])[grid]
    table = GRIDS[grid].table
    cur, cur_tiny = pg.cursor(), pg_tiny.cursor()
    results = []
    for case in cases:
        r = Result(case)
        results.append(r)
        try:
            params = case_params(cur, case, big["params"])
            deep = None
            if case.deep and params["after_id"] is not None:
                from backoffice.admin_views.grille import encode_cursor
                # our « Suivante » link: the page number and the keyset cursor of the previous page's last row
                deep = dict(parse_qsl(args.deep_args.format(page=params["page"], after_id=params["after_id"],
                                                            cursor=encode_cursor([params["after_id"]]))))
            van_deep = {"page": str(params["page"])} if case.deep and params["page"] else None
            r.url = case_url(big["app"], ours_v, case, params, deep)
            r.vanilla_url = case_url(big["app"], van_v, case, params, van_deep)
            expected = expected_page(cur, case, params)
            if not expected["ids"]:
                raise CaseFailed("la requête plancher ne renvoie aucune ligne (données ?)")
            # render cost: the same page of our view over the tiny database (page 1 for the deep case)
            tiny_params = case_params(cur_tiny, Case(case.name, grid, detail=case.detail), tiny["params"])
            tiny_url = case_url(tiny["app"], tiny_v, case, tiny_params, None)
            tiny_expected = {"ids": [tiny_params.get("detail_id")]}
            log(f"{case.name} : {r.url}")
            sides = [("nous", big["client"], r.url, ours_v.url, cur, expected, None),
                     ("vanilla", big["client"], r.vanilla_url, van_v.url, cur, expected, None),
                     (f"rendu (base minuscule, {tiny_url})", tiny["client"], tiny_url, tiny_v.url, cur_tiny,
                      tiny_expected, None if case.detail else PAGE_SIZE)]
            for _ in range(args.warmup):  # untimed; every response checked
                for label, client, url_, prefix, cur_, exp, exact in sides:
                    _ms, resp, body = timed_get(client, url_)
                    try:
                        check(resp, body, prefix, case, exp, cur_, table, exact_rows=exact)
                    except CaseFailed as exc:
                        raise CaseFailed(f"{label} : {exc}") from None
            # ours, vanilla and the tiny page alternate, so that machine noise hits the three alike
            samples = {"nous": r.ours, "vanilla": r.vanilla}
            t_start = time.perf_counter()
            for i in range(args.requests):
                for label, client, url_, *_rest in sides:
                    ms, resp, _body = timed_get(client, url_)
                    if resp.status_code != 200:
                        raise CaseFailed(f"{label} : HTTP {resp.status_code} à la requête {i + 1}")
                    samples.get(label, r.render).append(ms)
                if time.perf_counter() - t_start > args.budget and i + 1 >= 5:
                    break
            r.params = params
        except CaseFailed as exc:
            r.error = str(exc)
            log(f"ÉCHEC {case.name} : {exc}")
        except LookupError as exc:
            r.error = f"URL impossible : {exc}"
            log(f"ÉCHEC {case.name} : {r.error}")
    # the floor: one transaction per grid, with the indexes it assumes, rolled back
    ok = [r for r in results if r.error is None]
    if ok:
        with pg.transaction():
            created = []
            for table_, cols in missing_indexes(cur, [r.case for r in ok]):
                name = f"bench_floor_{table_}_{len(created)}"
                cur.execute(f"CREATE INDEX {name} ON {table_} ({cols})")
                cur.execute("SELECT indcheckxmin FROM pg_index WHERE indexrelid = %(n)s::regclass", {"n": name})
                if cur.fetchone()[0]:
                    log(f"  attention : l'index {name} n'est pas utilisable dans sa transaction (indcheckxmin)")
                created.append(f"{table_} ({cols})")
            if created:
                log(f"plancher {grid} : index absents du schéma, créés pour le plancher seulement : "
                    f"{', '.join(created)}")
            for r in ok:
                if args.explain and not r.case.detail:
                    cur.execute("EXPLAIN (ANALYZE, COSTS OFF) "
                                + page_sql(r.case, r.case.deep and r.params.get("after_id") is not None), r.params)
                    log(f"plan plancher {r.case.name} :\n    " + "\n    ".join(x[0] for x in cur.fetchall()))
                for _ in range(args.warmup):
                    floor_once(cur, r.case, r.params)
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    floor_once(cur, r.case, r.params)
                    r.sql.append((time.perf_counter() - t0) * 1000)
            raise psycopg.Rollback()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="allocations (over rows/5 beneficiaries)")
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reload", action="store_true", help="reload the data even if it matches")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per case and side")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget", type=float, default=90.0,
                        help="seconds per case after which timing stops (at least 5 requests)")
    parser.add_argument("--cases", help="comma-separated names or patterns (allocation_*, *detail, export)")
    parser.add_argument("--search", default="MARTIN", help="the name prefix searched")
    parser.add_argument("--deep-args", default="page={page}&apres={cursor}",
                        help="query of our deep-page link (default: the « Suivante » link of the page before): "
                             "{page} (0-based), {after_id} (keyset boundary), {cursor} (our encoded cursor)")
    parser.add_argument("--tiny-rows", type=int, default=2000)
    parser.add_argument("--explain", action="store_true", help="log the plan of each floor page query")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.url, args.export_child)
        return

    import psycopg

    from backoffice.config import normalise_database_url

    patterns = [p.strip() for p in args.cases.split(",")] if args.cases else None
    cases = [c for c in CASES if selected(patterns, c.name)]
    want_export = selected(patterns, EXPORT_CASE)
    if not cases and not want_export:
        raise SystemExit(f"aucun cas ne correspond à {args.cases!r} ; cas : {', '.join(c.name for c in CASES)}, "
                         f"{EXPORT_CASE}")

    url = normalise_database_url(args.url)
    u = sa.engine.make_url(url)
    tiny_url = u.set(database=f"{u.database}_tiny").render_as_string(hide_password=False)
    big_app = make_app(url, vanilla=True)
    tiny_app = make_app(tiny_url, vanilla=False)
    rows = max(1, args.rows // 5) * 5
    prepare(big_app, rows, args.reload, "base")
    prepare(tiny_app, max(1, args.tiny_rows // 5) * 5, args.reload, "base minuscule (rendu)")

    def conninfo(x: str) -> str:
        return sa.engine.make_url(x).set(drivername="postgresql").render_as_string(hide_password=False)

    pg = psycopg.connect(conninfo(url), autocommit=True)
    pg_tiny = psycopg.connect(conninfo(tiny_url), autocommit=True)
    big = {"app": big_app, "client": login(big_app), "params": db_params(pg.cursor(), args.search)}
    tiny = {"app": tiny_app, "client": login(tiny_app), "params": db_params(pg_tiny.cursor(), args.search)}

    results: list[Result] = []
    for grid in GRIDS:
        grid_cases = [c for c in cases if c.grid == grid]
        if grid_cases:
            results += measure_grid(grid, grid_cases, big, tiny, args, pg, pg_tiny)
    export = run_export(big_app, url, pg.cursor()) if want_export else None
    pg.close()
    pg_tiny.close()

    # ---- report
    med = statistics.median
    print(f"\n{rows} allocations, {rows // 5} bénéficiaires ; {args.requests} requêtes par cas, médianes et p95 en ms")
    head = (f"{'cas':<26}{'nous méd':>10}{'p95':>8}{'vanilla méd':>13}{'p95':>8}{'plancher':>10}"
            f"{'(sql':>8}{'+ rendu)':>9}{'/plancher':>11}{'/vanilla':>10}")
    print(head)
    print("-" * len(head))
    lines = []
    for r in results:
        if r.error:
            print(f"{r.case.name:<26}ÉCHEC : {r.error}")
            lines.append({"case": r.case.name, "error": r.error, "url": r.url, "vanilla_url": r.vanilla_url})
            continue
        o, v, s, rd = med(r.ours), med(r.vanilla), med(r.sql), med(r.render)
        fl = s + rd
        print(f"{r.case.name:<26}{o:>10.1f}{p95(r.ours):>8.1f}{v:>13.1f}{p95(r.vanilla):>8.1f}{fl:>10.1f}"
              f"{s:>8.2f}{rd:>9.1f}{o / fl:>11.2f}{o / v:>10.2f}")
        lines.append({"case": r.case.name, "ours_ms": round(o, 2), "vanilla_ms": round(v, 2), "floor_ms": round(fl, 2),
                      "ratio_floor": round(o / fl, 2), "ratio_vanilla": round(o / v, 2),
                      "ours_p95_ms": round(p95(r.ours), 2), "vanilla_p95_ms": round(p95(r.vanilla), 2),
                      "sql_ms": round(s, 3), "render_ms": round(rd, 2), "requests": len(r.ours),
                      "url": r.url, "vanilla_url": r.vanilla_url})
    if export:
        if "error" in export:
            print(f"{EXPORT_CASE:<26}ÉCHEC : {export['error']}")
        else:
            print(f"{EXPORT_CASE:<26}{export['rows']} lignes CSV en {export['seconds']:.1f} s "
                  f"(premier octet {export['first_byte_s']} s), mémoire de pointe +{export['peak_mb']:.0f} Mo")
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    if export:
        print(json.dumps(export, ensure_ascii=False))
    if any("error" in x for x in lines) or (export and "error" in export):
        sys.exit(1)


if __name__ == "__main__":
    main()
