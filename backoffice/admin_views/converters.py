"""How model columns become form fields in every grid: French amounts, dates and enum choices.

Flask-Admin 2.2's stock converter builds an enum select whose choices are the stored values but whose
`coerce` returns the member *name*, so an existing row's value is never selected on edit; its
DecimalField accepts NaN, Infinity and 1e3; its date field wants AAAA-MM-JJ. This converter fixes the
three for every view at once.
"""

from __future__ import annotations

import enum

from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import DatePickerWidget, Select2Field
from flask_admin.model.form import converts
import sqlalchemy as sa
from wtforms import PasswordField, StringField, validators

from ..forms.fields import DecimalSaisieField, FrDateField, MoisField, MoneyField, texte_saisi
from .formatters import enum_label, is_money_type


def _coerce_enum(value):
    return value.value if isinstance(value, enum.Enum) else ("" if value is None else str(value))


class FrDatePickerWidget(DatePickerWidget):
    def __call__(self, field, **kwargs):
        kwargs.setdefault("data-date-format", "DD/MM/YYYY")
        kwargs.setdefault("placeholder", "JJ/MM/AAAA")
        return super().__call__(field, **kwargs)


class BoModelConverter(AdminModelConverter):
    def convert(self, model, mapper, name, prop, field_args, hidden_pk):
        """Every text column's field, generated or overridden (a TextAreaField, an IBAN field…): trimmed,
        control characters refused, blank required value refused, length of the column, e-mail checked
        (finding 8, issue 12; forms/fields.texte_saisi)."""
        field = super().convert(model, mapper, name, prop, field_args, hidden_pk)
        columns = getattr(prop, "columns", None)
        if field is None or not columns or not hasattr(field, "kwargs"):
            return field
        column = columns[0]
        if not isinstance(column.type, sa.String) or isinstance(column.type, sa.Enum) \
                or not issubclass(field.field_class, StringField) or issubclass(field.field_class, PasswordField):
            return field
        required = any(type(v) is validators.InputRequired for v in field.kwargs.get("validators") or [])
        return texte_saisi(field, nom=column.key, max_length=column.type.length, obligatoire=required,
                           nullable=bool(column.nullable))

    @converts("sqlalchemy.sql.sqltypes.Enum")
    def convert_enum(self, column, field_args, **extra):
        excluded = set(getattr(self.view, "form_enum_exclude", {}).get(column.key, ()))
        choices = [(v, enum_label(_member(column, v))) for v in column.type.enums if v not in excluded]
        accepted = [v for v, _ in choices]
        if column.nullable:
            field_args["allow_blank"] = True
            accepted.append(None)
        self._nullable_common(column, field_args)
        field_args["choices"] = choices
        field_args["validators"].append(validators.AnyOf(accepted, message="Choix invalide."))
        field_args["coerce"] = _coerce_enum
        return Select2Field(**field_args)

    @converts("Numeric")
    def handle_decimal_types(self, column, field_args, **extra):
        field_args.pop("places", None)
        if is_money_type(column.type):
            return MoneyField(**field_args)
        places = column.type.scale if column.type.scale is not None else 2
        return DecimalSaisieField(places=places, **field_args)

    @converts("Date")
    def convert_date(self, column=None, field_args=None, **extra):
        if column is not None and column.key in ("mois", "mois_reference", "mois_approuve"):
            return MoisField(**field_args)
        field_args.setdefault("widget", FrDatePickerWidget())
        return FrDateField(**field_args)


def _member(column, value):
    enum_cls = getattr(column.type, "enum_class", None)
    if enum_cls is None:
        return value
    try:
        return enum_cls(value)
    except ValueError:
        return value
