"""SecureModelView: the policy table decides access; antenne scope applies wherever rows leave.

Every grid inherits: role checks (403 for a logged-in user without the right, login redirect
otherwise, 403 too for a create/edit/delete/export URL the role may not use), row scope in list,
count, detail, edit, ajax lookups and export, CSRF on every form (Flask-WTF's FlaskForm under
forms.entities.EntityForm as the base of Flask-Admin's forms), French fields, formatters, filters
and labels, relations in the list eager-loaded (one page query, never one per row), prefix search
that a btree serves, a default sort backed by an index, CSV/XLSX export per role with columns
hidden per role.
"""

from __future__ import annotations

import csv
import importlib.util
import mimetypes
from decimal import Decimal

import sqlalchemy as sa
from flask import Response, abort, flash, g, has_request_context, redirect, request, stream_with_context, url_for
from flask_admin import expose
from flask_admin._compat import csv_encode
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.model.ajax import DEFAULT_PAGE_SIZE
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.utils import secure_filename
from wtforms.validators import ValidationError

from .. import policy
from ..forms.entities import EntityForm
from ..forms.fields import normaliser_recherche
from ..models.base import MONEY_MAX
from .converters import BoModelConverter
from .filters import BoFilterConverter
from .formatters import (csv_cell, export_cell, export_mois, formatters_for, is_money_type, label_for, lien_fiche,
                         neutraliser_formule)
from .formatters import money as money_formatter
from .grille import INT_MAX, FastGridMixin, contains_match, parse_id

# model class -> endpoint of its grid, filled as views are built (relation links in lists)
ENDPOINT_BY_MODEL: dict[type, str] = {}

# XLSX needs openpyxl (written in its streaming mode, _export_tablib); without it the grid offers CSV only.
XLSX_AVAILABLE = importlib.util.find_spec("openpyxl") is not None


CSV_DELIMITER = ";"
LABEL_ID_INTERNE = "Réf. interne"  # the row's id, where the record has its own « N° » (numero)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_variants(term: str) -> list[str]:
    """The term as typed, upper-cased, and upper-cased without accents (Beneficiaire.nom_recherche)."""
    out = []
    for v in (term, term.upper(), normaliser_recherche(term)):
        if v and v not in out:
            out.append(v)
    return out


def prefix_match(column, term: str):
    """`column LIKE 'term%'` for each variant: no cast and no ILIKE, so a btree (C collation) serves
    it; an integer column matches a number exactly."""
    if isinstance(column.type, sa.Integer):
        return column == int(term) if term.isascii() and term.isdigit() and len(term) <= 9 else sa.false()
    if not isinstance(column.type, (sa.String, sa.Text)):
        return sa.false()
    return sa.or_(*[column.like(f"{_escape_like(v)}%", escape="\\") for v in search_variants(term)])


def search_match(field, column, term: str):
    """The grid's search on one column: anywhere in a name (trigram, issue 18), else by prefix."""
    match = contains_match(field, column, term)
    return match if match is not None else prefix_match(column, term)


class _Echo:
    """A file-like object whose write returns the line: csv.writer then feeds a streamed response."""

    def write(self, value):
        return value


def relation_link(view, context, model, name):
    """A related row (already eager-loaded) as a link to its own grid's detail page, when the user
    may open that grid; its __str__ reads only its own columns, so no query per row."""
    obj = getattr(model, name, None)
    if obj is None:
        return ""
    endpoint = ENDPOINT_BY_MODEL.get(type(obj))
    if endpoint and policy.allows(endpoint, "view", current_user):
        return Markup('<a href="{}" class="bo-lien">{}</a>').format(
            lien_fiche(endpoint, obj.id), str(obj))
    return str(obj)


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """Ajax picker that never returns a row outside the user's scope, searching by prefix.

    `fields` are string columns of the model, or "relation.column" (matched through EXISTS, e.g. an
    allocation found by its beneficiary's name); a number also matches the id exactly. At most 20
    rows per request, so no form ever loads a whole table.
    """

    def _process_fields(self):
        out = []
        for field in self.fields:
            if isinstance(field, str) and "." in field:
                rel_name, col_name = field.split(".", 1)
                rel = getattr(self.model, rel_name)
                out.append((rel, getattr(rel.property.mapper.class_, col_name)))
            elif isinstance(field, str):
                attr = getattr(self.model, field, None)
                if attr is None:
                    raise ValueError(f"{self.model}.{field} does not exist.")
                out.append((None, attr))
            else:
                out.append((None, field))
        return out

    def get_query(self):
        query = super().get_query()
        clause = policy.row_scope(self.model, current_user)
        return query.filter(clause) if clause is not None else query

    def get_one(self, pk):
        pk = parse_id(pk)  # a relation field posted with « 2⁶³ » or « abc » is a missing row (finding 6)
        if pk is None:
            return None
        return self.get_query().filter(self.model.id == pk).one_or_none()

    def get_list(self, term, offset=0, limit=DEFAULT_PAGE_SIZE):
        if not 0 <= (offset or 0) <= INT_MAX:
            abort(400, description="Position invalide dans la liste de choix.")
        term = " ".join((term or "").replace("\x00", " ").split())[:60]
        query = self.get_query()
        if term:
            conditions = []
            for rel, column in self._cached_fields:
                match = prefix_match(column, term)
                conditions.append(rel.has(match) if rel is not None else match)
            if term.isascii() and term.isdigit() and len(term) <= 9:
                conditions.append(self.model.id == int(term))
            query = query.filter(sa.or_(*conditions))
        order = self.order_by if self.order_by is not None else self.model.id
        return query.order_by(order).offset(max(offset or 0, 0)).limit(max(1, min(limit or 10, 20))).all()


def _relation_changes(state, diff: dict, only=None, created: bool = False) -> dict:
    """{foreign key: [id before, id after]} for the many-to-one relations a form changed and `diff` does not
    already hold: a form sets `cerfa.compte_bancaire`, and the foreign key only follows at the flush."""
    out = {}
    for rel in state.mapper.relationships:
        if rel.direction.name != "MANYTOONE" or len(rel.local_columns) != 1 or (only and rel.key not in only):
            continue
        hist = state.attrs[rel.key].history
        if not hist.added:
            continue
        [column] = list(rel.local_columns)
        fk = state.mapper.get_property_by_column(column).key
        if fk in diff:
            continue
        after = getattr(hist.added[0], "id", None) if hist.added[0] is not None else None
        if created:
            before = None
        elif hist.deleted:
            before = getattr(hist.deleted[0], "id", None) if hist.deleted[0] is not None else None
        else:
            before = state.attrs[fk].loaded_value
            before = None if before is sa.orm.base.NO_VALUE else before
        if before != after:
            out[fk] = [before, after]
    return out


class SecureModelView(FastGridMixin, ModelView):
    form_base_class = EntityForm  # a FlaskForm: CSRF token on create/edit/delete/action forms
    model_form_converter = BoModelConverter  # French amounts, dates, months and enum choices
    filter_converter = BoFilterConverter()  # enum filters by value, amounts as Decimal
    page_size = 20
    can_set_page_size = True
    page_size_options = (20, 50, 100)
    can_view_details = True
    export_types = ["csv", "xlsx"] if XLSX_AVAILABLE else ["csv"]
    export_max_rows = 0
    details_modal = False
    column_display_pk = True
    # Status columns change only through workflow transitions: never through a form.
    protected_columns = ("statut", "version", "created_at", "updated_at")
    column_default_sort = ("id", True)
    list_template = "admin/bo_list.html"
    details_template = "admin/bo_details.html"
    # Statuses in which the edit form may save (None: any); other edits go through a workflow.
    editable_statuts: frozenset | None = None
    editable_message = "Cet enregistrement ne se modifie plus dans ce statut : passez par les actions prévues."
    # {column: values} left out of an enum select box (e.g. an allocation is never created "rectificative")
    form_enum_exclude: dict = {}

    def __init__(self, model, session, *, endpoint: str, name: str | None = None, category: str | None = None,
                 **kwargs):
        self.policy_endpoint = endpoint
        ENDPOINT_BY_MODEL.setdefault(model, endpoint)
        mapper = sa.inspect(model)
        formatters = formatters_for(model)
        relations = {r.key for r in mapper.relationships if r.direction.name == "MANYTOONE"}
        for name_ in list(self.column_list or []) + list(self.column_details_list or []):
            if isinstance(name_, str) and name_ in relations:
                formatters[name_] = relation_link
        formatters.update(self.column_formatters or {})
        self.column_formatters = formatters
        export_formatters = {c.key: export_mois for c in mapper.columns
                             if c.key in ("mois", "mois_reference") and isinstance(c.type, sa.Date)}
        export_formatters.update(self.column_formatters_export or {})
        self.column_formatters_export = export_formatters
        excluded = set(self.form_excluded_columns or ()) | set(self.protected_columns)
        self.form_excluded_columns = sorted(excluded)
        # French labels before Flask-Admin scaffolds filters, forms and the search placeholder
        labels = {}
        for col in (list(self.column_list or []) + list(self.column_details_list or [])
                    + [c for c in (self.column_filters or []) if isinstance(c, str)]
                    + list(self.column_searchable_list or [])
                    + [c.key for c in mapper.columns] + [r.key for r in mapper.relationships]):
            key = col if isinstance(col, str) else getattr(col, "key", None)
            if key:
                labels[key] = label_for(key)
        if labels.get("numero") == labels.get("id"):  # one « N° » per grid: the business number (issue 19 §2)
            labels["id"] = LABEL_ID_INTERNE
        labels.update(self.column_labels or {})
        self.column_labels = labels
        super().__init__(model, session, name=name, category=category, endpoint=endpoint, **kwargs)
        self._auto_joins = self._eager_relations()
        self._detail_joins = self._detail_relations()

    def _eager_relations(self):
        """Every many-to-one relation the list shows, directly or through a dotted column
        ("beneficiaire.nom"), self-references included: joinedload, so one page query, never one per row."""
        mapper = sa.inspect(self.model)
        heads = []
        for col, _label in self._list_columns:
            head = col.split(".", 1)[0] if isinstance(col, str) else None
            rel = mapper.relationships.get(head) if head else None
            if rel is not None and rel.direction.name == "MANYTOONE" and head not in heads:
                heads.append(head)
        return [getattr(self.model, head) for head in heads]

    def right_aligned_columns(self) -> list[str]:
        """Amount columns of the list (right-aligned by the list template)."""
        mapper = sa.inspect(self.model)
        out = []
        for col, _label in self._list_columns:
            column = mapper.columns.get(col) if isinstance(col, str) else None
            if (column is not None and is_money_type(column.type)) or self.column_formatters.get(col) is money_formatter:
                out.append(col)
        return out

    # ---- access -------------------------------------------------------------------------
    def is_accessible(self) -> bool:
        return policy.allows(self.policy_endpoint, "view", current_user)

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            self._audit_refus()
            abort(403)
        flash("Veuillez vous connecter pour accéder à cette page.", "warning")
        return redirect(url_for("auth.login", next=request.full_path))

    def _audit_refus(self, **params) -> None:
        """An « acces_refuse » audit event for the current user and request, committed."""
        from ..extensions import db
        from ..workflows import audit
        audit.record(db.session, entity="acces", entity_id=None, action="acces_refuse", actor_id=current_user.id,
                     params={"vue": self.policy_endpoint, "url": request.path[:200], **params},
                     ip=request.remote_addr)
        db.session.commit()

    def _allowed(self, what: str) -> bool:
        return policy.allows(self.policy_endpoint, what, current_user)

    # Flask-Admin quietly redirects a create/edit/delete/export the view does not allow; a URL typed
    # by hand gets a clear 403 instead (the list already hides the buttons).
    _GUARDED = {"create_view": "can_create", "edit_view": "can_edit", "delete_view": "can_delete",
                "export": "can_export"}

    # Screens that set a role or an IBAN: the password entered within 15 minutes, or /reauth first
    # (which comes back to the same form).
    reauth_views: tuple[str, ...] = ()

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        flag = self._GUARDED.get(name)
        if flag and not getattr(self, flag):
            abort(403)
        if name in self.reauth_views or (name == "create_view" and policy.money_routing(self.policy_endpoint)):
            # (creating a RIB or a cerfa designates where a youth's money goes: issue 12 §3)
            from .. import security
            stale = security.fresh_auth_redirect(next_url=request.full_path.rstrip("?"))
            if stale is not None:
                return stale
        if name == "export" and kwargs.get("export_type") not in self.export_types:
            abort(404)
        return None

    @property
    def can_create(self):  # type: ignore[override]
        return self._allowed("create")

    @property
    def can_edit(self):  # type: ignore[override]
        return self._allowed("edit")

    @property
    def can_delete(self):  # type: ignore[override]
        return self._allowed("delete")

    @property
    def can_export(self):  # type: ignore[override]
        return self._allowed("export")

    @can_create.setter
    def can_create(self, value):  # Flask-Admin assigns these in some code paths; policy wins
        pass

    @can_edit.setter
    def can_edit(self, value):
        pass

    @can_delete.setter
    def can_delete(self, value):
        pass

    @can_export.setter
    def can_export(self, value):
        pass

    def is_action_allowed(self, name: str) -> bool:
        return self._allowed("actions") and super().is_action_allowed(name)

    # ---- scope --------------------------------------------------------------------------
    def scope_clause(self):
        return policy.row_scope(self.model, current_user)

    def get_sortable_columns(self):
        """Flask-Admin 2 keys a `("nom", "nom_recherche")` sort of the model's own column by the column's key
        (`nom_recherche`), so the « Nom » header, listed as `nom`, was not sortable and `?sort=` on it did nothing
        (issue 18): the sort is keyed by the name the list shows."""
        result = super().get_sortable_columns()
        for c in self.column_sortable_list or ():
            if isinstance(c, tuple) and isinstance(c[1], str) and c[0] not in result:
                key = c[1].rsplit(".", 1)[-1]
                if key in result and key not in (self.column_list or ()):
                    result[c[0]] = result.pop(key)
        return result

    def get_query(self):
        query = super().get_query()
        clause = self.scope_clause()
        return query.filter(clause) if clause is not None else query

    def get_count_query(self):
        query = super().get_count_query()
        clause = self.scope_clause()
        return query.filter(clause) if clause is not None else query

    def get_one(self, id):
        """The row, within the role's scope, with the many-to-one relations its detail page shows
        loaded in the same query (no lazy load per field while the template renders)."""
        pk = parse_id(id)  # finding 6: « 2⁶³ », « -1 », « abc » are a missing row, never a 500
        if pk is None:
            return None
        if has_request_context() and request.endpoint == f"{self.endpoint}.details_view":
            # the record page's previous / next, read with the record (issue 18 §3, issue 20: one round trip),
            # by a statement built once per list URL and user, the id bound at execution (fiche.view_statement)
            from flask_admin.helpers import get_redirect_target

            from . import fiche
            target = get_redirect_target()
            specs, visible = fiche.visible_sections(self, request.args.get("onglet"))
            spec = next((s for s in specs if s.key == visible), None)

            def build():
                ident = sa.bindparam("fiche_pk", type_=self.model.id.type)
                query = self._record_query(ident)
                subs = fiche.neighbour_subqueries(self, ident, target) or {}
                history = fiche.history_column(self, ident)  # the history's first page too (PostgreSQL)
                if history is not None:
                    subs["historique"] = history
                tab = fiche.section_column(self, ident, spec) if spec is not None else None
                if tab is not None:  # and the visible tab's rows (PostgreSQL)
                    subs["onglet"] = tab
                return query.add_columns(*subs.values()).statement, tuple(subs)
            statement, names = fiche.view_statement(self, ("fiche", target, visible), build)
            row = self.session.execute(statement, {"fiche_pk": pk}) \
                .one_or_none()
            if row is None:
                return None
            found = dict(zip(names, row[1:]))
            if "historique" in found:
                g.bo_historique = {"vue": self.endpoint, "id": pk, "rows": found.pop("historique") or []}
            if "onglet" in found:
                g.bo_onglet = {"vue": self.endpoint, "id": pk, "onglet": visible, "rows": found.pop("onglet")}
            if found:
                g.bo_voisins = {"id": pk, **found}
            return row[0]
        return self._record_query(pk).one_or_none()

    def _record_query(self, ident):
        """The row `ident` (a value or a bound parameter) within the role's scope, its shown relations joined."""
        return self.get_query().filter(self.model.id == ident) \
            .options(*[sa.orm.joinedload(r) for r in self._detail_joins])

    def _detail_relations(self):
        """The many-to-one relations the detail page shows (computed once, with the view)."""
        mapper = sa.inspect(self.model)
        names = [c if isinstance(c, str) else c.key for c in (self.column_details_list or ())] or \
            [r.key for r in mapper.relationships]
        return [getattr(self.model, n) for n in names
                if n in mapper.relationships and mapper.relationships[n].direction.name == "MANYTOONE"]

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Prefix search on the whole typed text ("martin lé" finds "MARTIN LEA"): `LIKE 'X%'` on
        each searchable column, as typed, upper-cased and accent-free, so the btree indexes on
        nom_recherche, numero, identifiant_imilo serve it (Flask-Admin's default casts and ILIKEs
        '%x%', which no index serves, PERFORMANCE.md). Issue 18: on a name column (nom_recherche, raison
        sociale, SIRET…) a term of 3 characters or more is found anywhere in it, accents and case ignored
        (grille.contains_match: `LIKE '%TERME%'` on the normalised column, a trigram index serves it)."""
        term = " ".join((search or "").split())[:80]
        if not term:
            return query, count_query, joins, count_joins
        conditions, count_conditions = [], []
        for field, path in self._search_fields:
            query, joins, alias = self._apply_path_joins(query, joins, path, inner_join=False)
            conditions.append(search_match(field, field if alias is None else getattr(alias, field.key), term))
            if count_query is not None:
                count_query, count_joins, count_alias = self._apply_path_joins(
                    count_query, count_joins, path, inner_join=False)
                count_conditions.append(search_match(
                    field, field if count_alias is None else getattr(count_alias, field.key), term))
        query = query.filter(sa.or_(*conditions))
        if count_query is not None:
            count_query = count_query.filter(sa.or_(*count_conditions))
        return query, count_query, joins, count_joins

    def handle_action(self, return_view=None):
        """Bulk actions: every ticked `rowid` is an id (1 … 2³¹−1), else a French 400 (finding 6)."""
        if any(parse_id(v) is None for v in request.form.getlist("rowid")):
            abort(400, description="Sélection invalide : un identifiant de ligne est incorrect.")
        return super().handle_action(return_view)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        """Inline edit: a row outside the user's scope (or gone) is a 404, audited like any refusal,
        never Flask-Admin's 500 « Record does not exist »."""
        pk = request.form.get("list_form_pk")
        if self.column_editable_list and pk is not None and self.get_one(pk) is None:
            self._audit_refus(id=str(pk)[:40])
            return "Enregistrement introuvable.", 404
        return super().ajax_update()

    def _create_ajax_loader(self, name, options):
        attr = getattr(self.model, name)
        remote = attr.property.mapper.class_
        return ScopedAjaxLoader(name, self.session, remote, **options)

    # ---- export -------------------------------------------------------------------------
    # Flask-Admin writes exports from `self._export_columns`, computed once when the view is built;
    # the columns hidden from a role (policy.hidden, policy.export_hidden) must be decided per request instead,
    # and without mutating the shared view (two users may export at once).
    def get_export_columns(self):
        role = self._role()
        hidden = set(policy.hidden_columns(self.policy_endpoint, role))
        hidden |= set(policy.policy_for(self.policy_endpoint).export_hidden.get(role, ()))
        return [(c, label) for c, label in super().get_export_columns() if c not in hidden]

    @staticmethod
    def _role():
        return getattr(current_user, "role", None) if has_request_context() else None

    def render(self, template, **kwargs):
        """The list and the record page leave out the columns the policy hides from the role (policy.hidden)."""
        hidden = policy.hidden_columns(self.policy_endpoint, self._role())
        if hidden:
            for key in ("list_columns", "details_columns"):
                if key in kwargs:
                    kwargs[key] = [(c, label) for c, label in kwargs[key] if c not in hidden]
        return super().render(template, **kwargs)

    def get_export_value(self, model, name):
        """The cell as a typed value (export_cell): an amount a number, anything else neutralised text."""
        formatter = self.column_formatters_export.get(name)
        if formatter:
            return export_cell(formatter(self, None, model, name))
        value = model
        for part in name.split("."):
            value = getattr(value, part, None) if value is not None else None
        return export_cell(value)

    def _export_rows(self, columns):
        _count, data = self._export_data()
        for row in data:
            yield [self.get_export_value(row, c) for c, _label in columns]

    def _export_csv(self, return_url):
        columns = self.get_export_columns()
        # French Excel: « ; » between cells (the comma is the decimal separator) and a UTF-8 BOM, without which
        # it reads the file as Windows-1252 (issue 19 §3); amounts 1234,56, dates JJ/MM/AAAA (csv_cell).
        writer = csv.writer(_Echo(), delimiter=CSV_DELIMITER)

        def generate():
            yield "\ufeff" + writer.writerow([neutraliser_formule(csv_encode(label)) for _c, label in columns])
            for values in self._export_rows(columns):
                yield writer.writerow([csv_cell(v) for v in values])

        filename = secure_filename(self.get_export_name(export_type="csv"))
        return Response(stream_with_context(generate()), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment;filename={filename}"})

    def _export_tablib(self, export_type, return_url):
        """XLSX, written by openpyxl's streaming (write-only) workbook: rows go to disk as they are read,
        text cells typed as text (data_type « s »: never a formula, issue 12 §4), amounts as numbers."""
        if export_type != "xlsx" or not XLSX_AVAILABLE:
            abort(404)
        import io

        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        from openpyxl.styles import Font

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title="Export")
        bold = Font(bold=True)

        def cell(value, header=False):
            if isinstance(value, str):
                # control characters XLSX cannot hold go first, so none can uncover a leading « = »
                c = WriteOnlyCell(sheet, value=neutraliser_formule(ILLEGAL_CHARACTERS_RE.sub("", value)))
                c.data_type = "s"
            else:
                c = WriteOnlyCell(sheet, value=value)
                if isinstance(value, Decimal):
                    c.number_format = "#,##0.00"
            if header:
                c.font = bold
            return c

        columns = self.get_export_columns()
        sheet.append([cell(csv_encode(label), header=True) for _c, label in columns])
        for values in self._export_rows(columns):
            sheet.append([cell(v) for v in values])
        body = io.BytesIO()
        workbook.save(body)
        filename = self.get_export_name(export_type)
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return Response(body.getvalue(), mimetype=mimetype,
                        headers={"Content-Disposition": f"attachment;filename={secure_filename(filename)}"})

    # ---- errors -------------------------------------------------------------------------
    def handle_view_exception(self, exc):
        if isinstance(exc, HTTPException):
            # a save refused by an HTTP answer (the reauth redirect of _check_money_routing): undone, then
            # answered as is (Flask-Admin would flash it and show the form again)
            self.session.rollback()
            raise exc
        if isinstance(exc, ValidationError):
            flash(str(exc), "error")
            return True
        if isinstance(exc, IntegrityError):
            flash("Enregistrement refusé : il contredit une règle de la base (doublon ou valeur interdite).", "error")
            return True
        from sqlalchemy.orm.exc import StaleDataError
        if isinstance(exc, StaleDataError):
            flash("Cet enregistrement a été modifié par quelqu'un d'autre depuis son ouverture : "
                  "rechargez la page et recommencez.", "error")
            return True
        return super().handle_view_exception(exc)

    # ---- optimistic locking, audit of edits, history ---------------------------------------
    def scaffold_form(self):
        form_class = super().scaffold_form()
        if hasattr(self.model, "version"):
            from wtforms import HiddenField

            class Versioned(form_class):
                version_vue = HiddenField()  # the version the user loaded: a stale form is refused
            return Versioned
        return form_class

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None and hasattr(form, "version_vue") and request.method == "GET":
            form.version_vue.data = obj.version
        return form

    def _check_version(self, form, model) -> None:
        seen = getattr(getattr(form, "version_vue", None), "data", None)
        if seen not in (None, "") and str(seen) != str(model.version):
            raise ValidationError("Cet enregistrement a été modifié par quelqu'un d'autre depuis son ouverture : "
                                  "rechargez la page et recommencez (aucune modification enregistrée).")

    def _audit_edit(self, model, is_created) -> None:
        from ..workflows import audit
        state = sa.inspect(model)
        diff = {}
        for attr in state.mapper.column_attrs:
            if attr.key in ("version", "updated_at", "created_at", "password_hash", "reponse_secrete_hash"):
                continue
            hist = state.attrs[attr.key].history
            if hist.has_changes():
                before = hist.deleted[0] if hist.deleted else None
                after = hist.added[0] if hist.added else None
                diff[attr.key] = [before, after]
        diff.update(_relation_changes(state, diff))
        if diff or is_created:
            model._bo_audit = ("creer" if is_created else "modifier", audit.jsonable(diff))

    def after_model_change(self, form, model, is_created):
        pending = getattr(model, "_bo_audit", None)
        if pending:
            from ..workflows import audit
            action, diff = pending
            audit.record(self.session, entity=self.model.__tablename__, entity_id=model.id, action=action,
                         actor_id=current_user.id, diff=diff or None, ip=request.remote_addr)
            self.session.commit()
        super().after_model_change(form, model, is_created)

    def history(self, model, limit: int = 50):
        """Audit events of this record, newest first (the detail page's history panel)."""
        from ..models import AuditEvent
        return self.session.execute(
            sa.select(AuditEvent).where(AuditEvent.entity == self.model.__tablename__, AuditEvent.entity_id == model.id)
            .options(sa.orm.joinedload(AuditEvent.actor))  # the « Auteur » column: no query per event
            .order_by(AuditEvent.id.desc()).limit(limit)).scalars().all()

    # ---- record pages (issue 18 §3): header, related records, history in words ------------------------
    related_sections: tuple = ()  # fiche.Related specs, one query each

    def record_header(self, model) -> dict:
        from . import fiche
        return fiche.header(self, model)

    def record_related(self, model) -> list[dict]:
        from . import fiche
        return fiche.load_related(self, model, request.args.get("onglet"))

    def history_lines(self, model) -> list[dict]:
        from . import fiche
        return fiche.history_lines(self, self.history(model))

    def record_history(self, model) -> dict:
        """« Tout ce qui est arrivé à … »: the record's and its related records' events, one query a page."""
        from . import fiche
        return fiche.history_panel(self, model)

    def record_navigation(self, model) -> dict:
        """Previous / next in the list the user came from (its filters, search, sort), back to that list."""
        from . import fiche
        from flask_admin.helpers import get_redirect_target
        return fiche.navigation(self, model, get_redirect_target())

    def audit_diff(self, event):
        """What the history panel shows of an event's diff: audit.diff_visible, the one masking function."""
        from ..workflows import audit
        return audit.diff_visible(event.entity, event.diff, self._role())

    # ---- money routing (issue 12 §3) ------------------------------------------------------------
    def money_routing_changes(self, model, is_created) -> set[str]:
        """The money-routing columns (policy.MONEY_ROUTING) this save sets or changes; relations by their
        foreign key, compared by id (a form that re-selects the same RIB changes nothing)."""
        columns = policy.money_routing(self.policy_endpoint)
        if not columns:
            return set()
        state = sa.inspect(model)
        changed = set()
        for name in columns:
            if name in state.mapper.relationships:
                for fk, (before, after) in _relation_changes(state, {}, only=(name,), created=is_created).items():
                    if before != after and (after is not None or not is_created):
                        changed.add(fk)
                continue
            hist = state.attrs[name].history
            if is_created:
                if getattr(model, name) not in (None, ""):
                    changed.add(name)
            elif hist.has_changes() and (hist.deleted or [None])[0] != (hist.added or [None])[0]:
                changed.add(name)
        return changed

    def _check_money_routing(self, model, is_created) -> set[str]:
        """A change of where money goes needs the password entered within 15 minutes, whatever the path
        (create or edit form, inline edit): otherwise the reauth page, and the save is undone
        (handle_view_exception)."""
        changed = self.money_routing_changes(model, is_created)
        if changed:
            from .. import security
            screen = request.endpoint or ""
            # back to the same form, or to the list for an inline edit
            back = request.full_path.rstrip("?") if screen.endswith(("edit_view", "create_view")) \
                else url_for(f"{self.endpoint}.index_view")
            stale = security.fresh_auth_redirect(next_url=back)
            if stale is not None:
                abort(stale)
        return changed

    def after_money_routing_change(self, model, columns: set[str], is_created: bool) -> None:
        """Hook, in the save's transaction, after a money-routing change passed the fresh-password check
        (the RIB and cerfa views send a validated cerfa back to the siège)."""

    def on_model_change(self, form, model, is_created):
        if not is_created:
            self._check_version(form, model)
        routing = self._check_money_routing(model, is_created)
        self._audit_edit(model, is_created)
        if not is_created and self.editable_statuts is not None:
            if getattr(model, "statut", None) not in self.editable_statuts:
                raise ValidationError(self.editable_message)
        # Defence in depth on money (the database CHECKs refuse the rest)
        for col in sa.inspect(type(model)).columns:
            t = col.type
            if isinstance(t, sa.Numeric) and t.scale == 2 and t.precision == 12:
                value = getattr(model, col.key)
                if value is not None and (not value.is_finite() or abs(value) > MONEY_MAX):
                    raise ValueError("Montant invalide.")
        super().on_model_change(form, model, is_created)
        if routing:
            self.after_money_routing_change(model, routing, is_created)


class ReadOnlyModelView(SecureModelView):
    """Grids that only show (audit, outboxes, payments): no form at all."""

    @property
    def can_create(self):  # type: ignore[override]
        return False

    @property
    def can_edit(self):  # type: ignore[override]
        return False

    @property
    def can_delete(self):  # type: ignore[override]
        return False

    @can_create.setter
    def can_create(self, value):
        pass

    @can_edit.setter
    def can_edit(self, value):
        pass

    @can_delete.setter
    def can_delete(self, value):
        pass
