"""Montants en euros : conversion stricte en Decimal et arrondi au centime."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
CENTIME = Decimal("0.01")


def arrondir(montant: Decimal) -> Decimal:
    """Arrondi au centime, demi vers le haut (99,985 → 99,99) [rules.md §4, derived]."""
    return montant.quantize(CENTIME, rounding=ROUND_HALF_UP)


def decimal(valeur: object, nom: str, *, negatif: bool = False) -> Decimal:
    """Decimal ou int accepté ; float et bool refusés (un float a déjà perdu des centimes).

    Un montant négatif est refusé sauf `negatif=True` ; `nom` sert au message d'erreur.
    """
    if isinstance(valeur, bool) or not isinstance(valeur, (Decimal, int)):
        raise TypeError(f"{nom} : Decimal attendu, {type(valeur).__name__} reçu.")
    d = Decimal(valeur)
    if not d.is_finite():
        raise ValueError(f"{nom} : montant non fini ({d}).")
    if d < 0 and not negatif:
        raise ValueError(f"{nom} : montant négatif ({d}) refusé.")
    return d
