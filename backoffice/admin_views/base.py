"""SecureModelView: the policy table decides access; antenne scope applies wherever rows leave.

Every grid inherits: role checks (403 for a logged-in user without the right, login redirect
otherwise), row scope in list, count, detail, edit, ajax lookups and export, CSRF on every form
(Flask-WTF's FlaskForm as the base of Flask-Admin's forms), French formatters and labels,
a default sort backed by an index, CSV/XLSX export per role with columns hidden per role.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, has_request_context, redirect, request, url_for
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.model.ajax import DEFAULT_PAGE_SIZE
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..models.base import MONEY_MAX
from .formatters import export_value, formatters_for, label_for


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """Ajax picker that never returns a row outside the user's scope, searching by prefix."""

    def get_query(self):
        query = super().get_query()
        clause = policy.row_scope(self.model, current_user)
        return query.filter(clause) if clause is not None else query

    def get_one(self, pk):
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        return self.get_query().filter(self.model.id == pk).one_or_none()

    def get_list(self, term, offset=0, limit=DEFAULT_PAGE_SIZE):
        term = (term or "").strip()[:60]
        query = self.get_query()
        if term:
            query = query.filter(sa.or_(*[
                sa.cast(f, sa.String).ilike(f"{_escape_like(term)}%", escape="\\") for f in self._cached_fields
            ]))
        order = self.order_by if self.order_by is not None else self.model.id
        return query.order_by(order).offset(offset).limit(min(limit, 20)).all()


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SecureModelView(ModelView):
    form_base_class = FlaskForm  # CSRF token on create/edit/delete/action/inline forms
    page_size = 20
    can_set_page_size = True
    page_size_options = (20, 50, 100)
    can_view_details = True
    export_types = ["csv", "xlsx"]
    export_max_rows = 0
    details_modal = False
    column_display_pk = True
    # Status columns change only through workflow transitions: never through a form.
    protected_columns = ("statut", "version", "created_at", "updated_at")
    column_default_sort = ("id", True)
    list_template = "admin/bo_list.html"
    details_template = "admin/bo_details.html"

    def __init__(self, model, session, *, endpoint: str, name: str | None = None, category: str | None = None,
                 **kwargs):
        self.policy_endpoint = endpoint
        formatters = formatters_for(model)
        formatters.update(self.column_formatters or {})
        self.column_formatters = formatters
        self.column_formatters_export = dict(self.column_formatters_export or {})
        excluded = set(self.form_excluded_columns or ()) | set(self.protected_columns)
        self.form_excluded_columns = sorted(excluded)
        super().__init__(model, session, name=name, category=category, endpoint=endpoint, **kwargs)
        labels = {}
        for col in list(self.column_list or []) + list(self.column_filters or []) + [
                c.key for c in sa.inspect(model).columns] + [r.key for r in sa.inspect(model).relationships]:
            key = col if isinstance(col, str) else getattr(col, "key", str(col))
            labels[key] = label_for(key)
        labels.update(self.column_labels or {})
        self.column_labels = labels

    # ---- access -------------------------------------------------------------------------
    def is_accessible(self) -> bool:
        return policy.allows(self.policy_endpoint, "view", current_user)

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            from ..workflows import audit
            from ..extensions import db
            audit.record(db.session, entity="acces", entity_id=None, action="acces_refuse",
                         actor_id=current_user.id, params={"vue": self.policy_endpoint, "url": request.path[:200]},
                         ip=request.remote_addr)
            db.session.commit()
            abort(403)
        flash("Veuillez vous connecter pour accéder à cette page.", "warning")
        return redirect(url_for("auth.login", next=request.full_path))

    def _allowed(self, what: str) -> bool:
        return policy.allows(self.policy_endpoint, what, current_user)

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

    def get_query(self):
        query = super().get_query()
        clause = self.scope_clause()
        return query.filter(clause) if clause is not None else query

    def get_count_query(self):
        query = super().get_count_query()
        clause = self.scope_clause()
        return query.filter(clause) if clause is not None else query

    def get_one(self, id):
        try:
            pk = int(id)
        except (TypeError, ValueError):
            return None
        return self.get_query().filter(self.model.id == pk).one_or_none()

    def _create_ajax_loader(self, name, options):
        attr = getattr(self.model, name)
        remote = attr.property.mapper.class_
        return ScopedAjaxLoader(name, self.session, remote, **options)

    # ---- export -------------------------------------------------------------------------
    def get_export_columns(self):
        role = getattr(current_user, "role", None) if has_request_context() else None
        hidden = set(policy.policy_for(self.policy_endpoint).export_hidden.get(role, ()))
        return [(c, label) for c, label in super().get_export_columns() if c not in hidden]

    def get_export_value(self, model, name):
        formatter = self.column_formatters_export.get(name)
        if formatter:
            return formatter(self, None, model, name)
        value = model
        for part in name.split("."):
            value = getattr(value, part, None) if value is not None else None
        return export_value(value)

    # ---- errors -------------------------------------------------------------------------
    def handle_view_exception(self, exc):
        if isinstance(exc, IntegrityError):
            flash("Enregistrement refusé : il contredit une règle de la base (doublon ou valeur interdite).", "error")
            return True
        from sqlalchemy.orm.exc import StaleDataError
        if isinstance(exc, StaleDataError):
            flash("Cet enregistrement a été modifié par quelqu'un d'autre depuis son ouverture : "
                  "rechargez la page et recommencez.", "error")
            return True
        return super().handle_view_exception(exc)

    def on_model_change(self, form, model, is_created):
        # Defence in depth on money (the database CHECKs refuse the rest)
        for col in sa.inspect(type(model)).columns:
            t = col.type
            if isinstance(t, sa.Numeric) and t.scale == 2 and t.precision == 12:
                value = getattr(model, col.key)
                if value is not None and (not value.is_finite() or abs(value) > MONEY_MAX):
                    raise ValueError("Montant invalide.")
        super().on_model_change(form, model, is_created)


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
