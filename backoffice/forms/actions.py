"""Parameter forms for transitions, built from the transition's Param specs (workflows/engine.py)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .fields import SansControle, nettoyer


def form_for(transition) -> type[FlaskForm]:
    attrs = {}
    for p in transition.params:
        validators = [DataRequired(f"« {p.label} » est obligatoire.")] if p.required else [Optional()]
        if p.kind == "date":
            attrs[p.name] = DateField(p.label, validators=validators, format="%Y-%m-%d")
            continue
        if p.kind == "select":  # e.g. the dispositif's exit reasons (R2), read when the form is built
            from wtforms import SelectField

            from ..extensions import db
            attrs[p.name] = SelectField(p.label, validators=validators, coerce=str,
                                        choices=[("", "—")] + [(str(v), lab) for v, lab in p.choices(db.session)])
            continue
        # finding 8 (issue 12): trimmed (a reason of spaces is blank), no control character, bounded
        validators.append(SansControle(multiligne=p.kind == "textarea"))
        validators.append(Length(max=p.max_length, message=f"{p.max_length} caractères au plus."))
        field = TextAreaField if p.kind == "textarea" else StringField
        attrs[p.name] = field(p.label, validators=validators, filters=[nettoyer])
    return type(f"{transition.name.title()}Form", (FlaskForm,), attrs)


def correction_form():
    """R46: the pencil: the allocation as it should have been (resources of M-1, differential resources)."""
    from decimal import Decimal, InvalidOperation

    from wtforms import HiddenField, SelectField
    from wtforms.validators import ValidationError

    from ..rules.montants import TypeRessource

    def montant(form, field):
        raw = (field.data or "").strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
        if raw == "":
            field.decimal = Decimal("0")
            return
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValidationError("Montant invalide : chiffres et virgule, par exemple 612,50.") from None
        if not value.is_finite() or value < 0 or value > Decimal("99999.99") or value != value.quantize(Decimal("0.01")):
            raise ValidationError("Montant invalide : entre 0 et 99 999,99 €, deux décimales au plus.")
        field.decimal = value

    choices = [("", "—")] + [(t.value, t.value) for t in TypeRessource]
    attrs = {"version_vue": HiddenField()}
    for k in range(1, 4):
        attrs[f"type_{k}"] = SelectField(f"Ressource {k}", choices=choices, default="")
        attrs[f"montant_{k}"] = StringField(f"Montant {k} (€)", validators=[montant])
    attrs["ressources_differentielles"] = StringField("Ressources différentielles (€, R47)", validators=[montant])
    return type("CorrectionForm", (FlaskForm,), attrs)


def payeur_form():
    """R49: « Écrire à l'ASP » — the template's Objet and the message (NOM, Prénom… are filled in)."""
    from wtforms.validators import DataRequired, Length

    return type("PayeurForm", (FlaskForm,), {
        "objet": StringField("Objet", validators=[DataRequired("« Objet » est obligatoire."),
                                                  Length(max=120, message="120 caractères au plus.")]),
        "message": TextAreaField("Message", validators=[DataRequired("« Message » est obligatoire."),
                                                        Length(max=4000, message="4 000 caractères au plus.")]),
    })
