"""French formatting shared by grids, pages and mails: 1 234,56 €, JJ/MM/AAAA."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, format_decimal, format_percent
from flask_babel import lazy_gettext as _l  # noqa: F401  (re-exported alias)

NBSP = "\u202f"  # narrow no-break space, the French thousands separator


LOCALE = "fr_FR"


CENT = Decimal("0.01")
# Python's « 1,234.56 » written the French way: narrow no-break space between thousands, decimal comma
_A_LA_FRANCAISE = str.maketrans({",": NBSP, ".": ","})


def format_montant(value: Decimal | int | None, *, symbol: bool = True) -> str:
    """1 234,56 € (fr_FR: narrow no-break space between thousands, no-break space before €), rounded half up to
    the cent first (Babel rounds half to even).

    Written by Python's own number formatting rather than Babel's `format_currency` (≈ 16 µs a call, a tenth of
    a list page with its amounts and totals, issue 20): `format_montant_babel` is the reference, and a property
    test checks that both give the same text for every amount."""
    if value is None:
        return ""
    texte = format(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP), ",.2f").translate(_A_LA_FRANCAISE)
    return texte + "\u00a0€" if symbol else texte


def format_montant_babel(value: Decimal | int | None, *, symbol: bool = True) -> str:
    """The reference of format_montant: Babel's fr_FR currency (or #,##0.00) format of the amount rounded half up."""
    if value is None:
        return ""
    q = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    if symbol:
        return format_currency(q, "EUR", locale=LOCALE)
    return format_decimal(q, format="#,##0.00", locale=LOCALE)


def format_montant_estime(value: Decimal) -> str:
    """An estimated total (issue 18): « environ 20 500 € », « environ 1,23 M€ » — three significant digits."""
    v = abs(Decimal(value))
    sign = "-" if value < 0 else ""
    if v >= 1_000_000:
        return f"environ {sign}" + f"{v / 1_000_000:.2f}".replace(".", ",") + "\u00a0M€"
    digits = max(0, len(str(int(v))) - 3)
    rounded = Decimal(int(round(v, -digits)))
    return "environ " + format_currency(-rounded if value < 0 else rounded, "EUR", format="#,##0\u00a0¤",
                                        locale=LOCALE, currency_digits=False)


def format_nombre(value: Decimal | float | int | None, decimales: int = 2) -> str:
    """A quantity that is not money (hours, a rate): 151,67 — never « 151.67 » (issue 19 §2)."""
    if value is None:
        return ""
    if decimales == 0:
        return format_decimal(value, format="#,##0", locale=LOCALE)
    q = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimales), rounding=ROUND_HALF_UP)
    return format_decimal(q, format="#,##0." + "0" * decimales, locale=LOCALE)


def format_pourcentage(value: Decimal | float | int | None, decimales: int = 0) -> str:
    """A percentage given in percent (50 → « 50 % », with a no-break space)."""
    if value is None:
        return ""
    return format_percent(Decimal(str(value)) / 100, format="#,##0" + ("." + "0" * decimales if decimales else "")
                          + "\u00a0%", locale=LOCALE)


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


# Flask-Admin's French catalogue (flask_admin/translations/fr) with what it lacks or gets wrong (issue 19 §2):
# « Failed to create record. » has no French, « Edit » is « Editer », « equals » « vaut », the reset button says
# « Filtres réinitialisés » (a past participle: what happened, not what it does), « items » « articles ».
FLASK_ADMIN_FR = {
    "Failed to create record.": "La création a échoué : vérifiez les champs signalés.",
    "Failed to save record.": "L'enregistrement a échoué : vérifiez les champs signalés.",
    "Failed to create record. %(error)s": "La création a échoué. %(error)s",
    "Failed to update record. %(error)s": "La modification a échoué. %(error)s",
    "Failed to delete record. %(error)s": "La suppression a échoué. %(error)s",
    "Record was successfully created.": "L'enregistrement a été créé.",
    "Record was successfully saved.": "L'enregistrement a été modifié.",
    "Record was successfully deleted.": "L'enregistrement a été supprimé.",
    "Edit": "Modifier",
    "Edit Record": "Modifier l'enregistrement",
    "View Record": "Voir l'enregistrement",
    "Create New Record": "Nouvel enregistrement",
    "Delete record": "Supprimer l'enregistrement",
    "Save and Continue Editing": "Enregistrer et continuer",
    "Are you sure you want to delete this record?": "Voulez-vous vraiment supprimer cet enregistrement ?",
    "Are you sure you want to delete selected records?":
        "Voulez-vous vraiment supprimer les enregistrements sélectionnés ?",
    "Please select at least one record.": "Cochez au moins une ligne.",
    "Export": "Exporter",
    "Search": "Rechercher",
    "Reset Filters": "Réinitialiser les filtres",
    "items": "lignes par page",
    "equals": "égal à",
    "not equal": "différent de",
    "greater than": "supérieur à",
    "smaller than": "inférieur à",
    "empty": "vide",
}
_PAR_PAGE = re.compile(r"^(\d+) items?$")


def _catalogue_flask_admin() -> None:
    """Our French over Flask-Admin's (its babel domain is one object, shared by every app: patched once)."""
    try:
        from flask_admin import babel as fa_babel
    except ImportError:  # pragma: no cover - Flask-Admin is a dependency
        return
    domain = getattr(fa_babel, "domain", None)
    if domain is None or getattr(domain, "_backoffice_fr", False):
        return
    original = domain.get_translations

    def get_translations():
        t = original()
        if not getattr(t, "_backoffice_fr", False) and hasattr(t, "_catalog"):
            t._catalog.update(FLASK_ADMIN_FR)
            ungettext = t.ungettext

            def par_page(singular, plural, n, _base=ungettext):
                # the page-size menu asks for « 20 items » as such: « 20 lignes par page »
                if _PAR_PAGE.match(singular or ""):
                    return f"{n} ligne{'s' if n > 1 else ''} par page"
                return _base(singular, plural, n)

            t.ungettext = t.ngettext = par_page
            t._backoffice_fr = True
        return t

    domain.get_translations = get_translations
    domain._backoffice_fr = True


def init_app(app) -> None:
    from .models.enums import STATUT_LABELS

    _catalogue_flask_admin()

    app.jinja_env.filters["montant"] = format_montant
    app.jinja_env.filters["nombre"] = format_nombre
    app.jinja_env.filters["montant_estime"] = format_montant_estime
    app.jinja_env.filters["pourcentage"] = format_pourcentage
    app.jinja_env.filters["date_fr"] = format_date
    app.jinja_env.filters["mois"] = format_mois
    app.jinja_env.filters["statut"] = lambda v: STATUT_LABELS.get(str(getattr(v, "value", v)), v)
