"""List filters in French: statuses and enums by stored value, amounts as Decimal, months MM/AAAA,
antennes and dispositifs as drop-downs whose options respect the user's row scope.

The URL of a filter is Flask-Admin's `flt<position>_<index in the view's filter list>=<value>`;
`filter_args(view, column, value)` computes it from the view's own list (dashboard links).
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import has_request_context
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.model import filters as base_filters
from flask_login import current_user

from .. import policy
from ..forms.fields import parse_mois
from .formatters import enum_choices, enum_label


# --- enums ---------------------------------------------------------------------------------------

class _EnumMixin:
    """Flask-Admin 2.2 cleans enum filter values with `EnumClass[value]` (the member *name*), which a
    StrEnum stored by value (`values_callable`) never matches; clean by value instead."""

    def _enum_cls(self):
        return getattr(self.column.type, "enum_class", None)

    def _to_member(self, value):
        enum_cls = self._enum_cls()
        if enum_cls is None or isinstance(value, enum.Enum):
            return value
        return enum_cls(value)  # ValueError for an unknown value: the filter is ignored with a message


class EnumEqual(_EnumMixin, sqla_filters.FilterEqual):
    def clean(self, value):
        return self._to_member(value)


class EnumNotEqual(_EnumMixin, sqla_filters.FilterNotEqual):
    def clean(self, value):
        return self._to_member(value)


class EnumInList(_EnumMixin, sqla_filters.FilterInList):
    def __init__(self, column, name, options=None, **kwargs):
        super().__init__(column, name, options)

    def clean(self, value):
        return [self._to_member(v.strip()) for v in value.split(",") if v.strip()]


class EnumNotInList(EnumInList):
    def apply(self, query, value, alias=None):
        column = self.get_column(alias)
        return query.filter(sa.or_(~column.in_(value), column.is_(None)))

    def operation(self):
        return sqla_filters.lazy_gettext("not in list")


# --- amounts and other decimals ------------------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


class _DecimalMixin:
    def clean(self, value):
        texte = re.sub(r"[\s\u00a0\u202f€]", "", value or "")
        if not _DECIMAL.fullmatch(texte):  # refuses NaN, Infinity, 1e3: never a float
            raise ValueError("montant invalide")
        try:
            return Decimal(texte.replace(",", "."))
        except InvalidOperation:
            raise ValueError("montant invalide") from None


class DecimalEqual(_DecimalMixin, sqla_filters.FilterEqual):
    pass


class DecimalGreater(_DecimalMixin, sqla_filters.FilterGreater):
    pass


class DecimalSmaller(_DecimalMixin, sqla_filters.FilterSmaller):
    pass


class BoFilterConverter(sqla_filters.FilterConverter):
    enum = (EnumEqual, EnumNotEqual, EnumInList, EnumNotInList)
    decimal_filters = (DecimalEqual, DecimalGreater, DecimalSmaller, sqla_filters.FilterEmpty)

    @base_filters.convert("enum")
    def conv_enum(self, column, name, options=None, **kwargs):
        if not options:
            enum_cls = getattr(column.type, "enum_class", None)
            options = enum_choices(enum_cls) if enum_cls else [(v, enum_label(v)) for v in column.type.enums]
        return [f(column, name, options, **kwargs) for f in self.enum]

    @base_filters.convert("float", "real", "decimal", "numeric", "double_precision", "double")
    def conv_float(self, column, name, **kwargs):
        return [f(column, name, **kwargs) for f in self.decimal_filters]


# --- months --------------------------------------------------------------------------------------

class _MoisMixin:
    def clean(self, value):
        return parse_mois(value)


class MoisEqual(_MoisMixin, sqla_filters.FilterEqual):
    def operation(self):
        return "égal à (MM/AAAA)"


class MoisDepuis(_MoisMixin, sqla_filters.BaseSQLAFilter):
    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) >= value)

    def operation(self):
        return "à partir de (MM/AAAA)"


class MoisJusqua(_MoisMixin, sqla_filters.BaseSQLAFilter):
    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) <= value)

    def operation(self):
        return "jusqu'à (MM/AAAA)"


def mois_filters(column, name="Mois"):
    return [MoisEqual(column, name), MoisDepuis(column, name), MoisJusqua(column, name)]


# --- references to small tables (antenne, dispositif) -------------------------------------------

class ScopedOptions:
    """Options evaluated when the list renders (Flask-Admin stores a filter's options once, when the
    view is built), limited to the rows the current user may see."""

    def __init__(self, model, label, where=None, order_by=None):
        self.model, self.label, self.where, self.order_by = model, label, where, order_by

    def __bool__(self):
        return True

    def __iter__(self):
        if not has_request_context():
            return iter(())
        from ..extensions import db
        query = sa.select(self.model)
        if self.where is not None:
            query = query.where(self.where(self.model))
        clause = policy.row_scope(self.model, current_user)
        if clause is not None:
            query = query.where(clause)
        query = query.order_by(self.order_by(self.model) if self.order_by else self.model.id)
        return iter([(str(row.id), self.label(row)) for row in db.session.scalars(query)])


class RefEqual(sqla_filters.FilterEqual, base_filters.BaseIntFilter):
    """Equality on a foreign key, offered as a drop-down of the referenced rows."""


class RefNotEqual(sqla_filters.FilterNotEqual, base_filters.BaseIntFilter):
    pass


def antenne_filter(column, name="Antenne"):
    from ..models import Structure
    options = ScopedOptions(Structure, lambda s: s.nom, where=lambda m: m.type == "antenne",
                            order_by=lambda m: m.nom)
    return RefEqual(column, name, options=options)


def dispositif_filter(column, name="Dispositif"):
    from ..models import Dispositif
    return RefEqual(column, name, options=ScopedOptions(Dispositif, lambda d: f"{d.code} – {d.libelle}",
                                                        order_by=lambda m: m.code))


def structure_filter(column, name, types):
    from ..models import Structure
    return RefEqual(column, name, options=ScopedOptions(Structure, lambda s: s.nom,
                                                        where=lambda m: m.type.in_(list(types)),
                                                        order_by=lambda m: m.nom))


# --- URL arguments -------------------------------------------------------------------------------

def filter_args(view, column, value, operation=sqla_filters.FilterEqual) -> dict[str, str]:
    """{'flt0_<arg>': value} for the first filter of `view` on `column` of type `operation`,
    from the view's own filter list (no hard-coded index); {} when the view has none."""
    for index, flt in enumerate(view._filters or []):
        col = getattr(flt, "column", None)
        key = getattr(col, "key", None)
        if key == column and isinstance(flt, operation) and not isinstance(flt, sqla_filters.FilterNotEqual):
            raw = getattr(value, "value", value)
            return {f"flt0_{view.get_filter_arg(index, flt)}": str(raw)}
    return {}
