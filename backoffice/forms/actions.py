"""Parameter forms for transitions, built from the transition's Param specs (workflows/engine.py)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


def form_for(transition) -> type[FlaskForm]:
    attrs = {}
    for p in transition.params:
        validators = [DataRequired(f"« {p.label} » est obligatoire.")] if p.required else [Optional()]
        if p.kind == "date":
            attrs[p.name] = DateField(p.label, validators=validators, format="%Y-%m-%d")
            continue
        validators.append(Length(max=p.max_length, message=f"{p.max_length} caractères au plus."))
        field = TextAreaField if p.kind == "textarea" else StringField
        attrs[p.name] = field(p.label, validators=validators)
    return type(f"{transition.name.title()}Form", (FlaskForm,), attrs)
