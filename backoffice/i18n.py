"""French formatting shared by grids, pages and mails: 1 234,56 €, JJ/MM/AAAA."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l  # noqa: F401  (re-exported alias)

NBSP = "\u202f"  # narrow no-break space, the French thousands separator


def format_montant(value: Decimal | int | None, *, symbol: bool = True) -> str:
    if value is None:
        return ""
    q = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    units, cents = f"{abs(q):.2f}".split(".")
    groups = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    text = f"{sign}{NBSP.join(groups)},{cents}"
    return f"{text}\u00a0€" if symbol else text


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def format_mois(value: date | None) -> str:
    return value.strftime("%m/%Y") if value else ""


def format_compact(n: int) -> str:
    """≈ 1,2 M for estimated counts."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}".replace(".", ",") + "\u00a0M"
    if n >= 10_000:
        return f"{n / 1000:.0f}\u00a0k"
    return f"{n:,}".replace(",", NBSP)


def init_app(app) -> None:
    from .models.enums import STATUT_LABELS

    app.jinja_env.filters["montant"] = format_montant
    app.jinja_env.filters["date_fr"] = format_date
    app.jinja_env.filters["mois"] = format_mois
    app.jinja_env.filters["statut"] = lambda v: STATUT_LABELS.get(str(getattr(v, "value", v)), v)
