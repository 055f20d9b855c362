"""Activité partielle : indemnité due au salarié et allocation versée à l'employeur (R74).

Decimal en entrée, Decimal en sortie, arrondi au centime à la fin. Les heures sont les heures
chômées retenues, c'est-à-dire au plus la durée légale, collective ou contractuelle (R74) : ce
plafonnement-là est à la charge de l'appelant, qui connaît le contrat.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import params
from ._argent import arrondir
from ._argent import decimal as _decimal


def _assiette(taux_horaire_brut: Decimal, smic_horaire: Decimal) -> Decimal:
    # R74: the hourly reference pay is capped at 4,5 × the hourly SMIC
    return min(taux_horaire_brut, params.AP_PLAFOND_EN_SMIC * smic_horaire)


def indemnite_ap(taux_horaire_brut: Decimal, heures: Decimal, smic_horaire: Decimal) -> Decimal:
    """Indemnité du salarié : 60 % du taux horaire brut de référence, plafonné à 4,5 SMIC
    horaire, × heures chômées (R74)."""
    taux = _decimal(taux_horaire_brut, "Taux horaire brut")
    heures = _decimal(heures, "Heures chômées")
    smic_horaire = _decimal(smic_horaire, "SMIC horaire")
    return arrondir(params.AP_TAUX_INDEMNITE * _assiette(taux, smic_horaire) * heures)


def plancher_ap(d: date) -> Decimal:
    """Plancher horaire de l'allocation d'activité partielle en vigueur le jour `d` (R74)."""
    return params.AP_PLANCHER_HORAIRE.valeur(d)


def allocation_ap(
    taux_horaire_brut: Decimal,
    heures: Decimal,
    smic_horaire: Decimal,
    *,
    date_reference: date,
    sans_plancher: bool = False,
) -> Decimal:
    """Allocation de l'employeur : max(36 % du taux horaire plafonné à 4,5 SMIC, plancher du
    `date_reference`) × heures chômées (R74).

    `sans_plancher` : apprentis et contrats de professionnalisation payés sous le SMIC, pour qui le
    plancher ne joue pas (R74) ; à 36 % l'allocation reste sous l'indemnité de 60 % (art. R5122-18).
    """
    taux = _decimal(taux_horaire_brut, "Taux horaire brut")
    heures = _decimal(heures, "Heures chômées")
    smic_horaire = _decimal(smic_horaire, "SMIC horaire")
    horaire = params.AP_TAUX_ALLOCATION * _assiette(taux, smic_horaire)
    if not sans_plancher:
        horaire = max(horaire, plancher_ap(date_reference))  # R74: hourly floor
    return arrondir(horaire * heures)


# --- Périodes d'autorisation (R72, R73) ------------------------------------------------------------

DUREE_MAX_MOIS = 3  # R73: an authorisation lasts at most 3 months…
DUREE_MAX_SINISTRE_MOIS = 6  # … 6 for a disaster or bad weather
CUMUL_MAX_12_MOIS = 6  # R73: renewable up to 6 months in any rolling 12 (since 2021-07-01)
DELAI_DI_MOIS = 6  # R72: a DI is filed within 6 months after the end of the authorised period
ENGAGEMENTS_MOIS = 36  # R73: AP used in the previous 36 months: the request carries commitments
QUOTA_ANNUEL_HEURES = Decimal("1000")  # R74: idle hours per employee and calendar year [unconfirmed]


def ajouter_mois(d: date, n: int) -> date:
    """`d` + `n` calendar months (the day kept, or the month's last day)."""
    import calendar
    mois = d.month - 1 + n
    annee, mois = d.year + mois // 12, mois % 12 + 1
    return date(annee, mois, min(d.day, calendar.monthrange(annee, mois)[1]))


def mois_couverts(debut: date, fin: date) -> set[tuple[int, int]]:
    """The calendar months (year, month) a period touches."""
    out, d = set(), date(debut.year, debut.month, 1)
    while d <= fin:
        out.add((d.year, d.month))
        d = ajouter_mois(d, 1)
    return out


def duree_respectee(debut: date, fin: date, *, sinistre: bool) -> bool:
    """R73: at most 3 months (6 for a disaster or bad weather), the end day included."""
    limite = DUREE_MAX_SINISTRE_MOIS if sinistre else DUREE_MAX_MOIS
    return debut <= fin < ajouter_mois(debut, limite)


def pire_cumul_glissant(mois: set[tuple[int, int]]) -> tuple[int, tuple[int, int] | None]:
    """The most authorised months found in one rolling window of 12 months, and the window's first month."""
    if not mois:
        return 0, None
    index = sorted(y * 12 + (m - 1) for y, m in mois)
    best, start = 0, None
    for first in range(index[0] - 11, index[-1] + 1):
        n = sum(1 for i in index if first <= i < first + 12)
        if n > best:
            best, start = n, (first // 12, first % 12 + 1)
    return best, start


def limite_depot_di(fin_autorisation: date) -> date:
    """R72: the last day a DI of this authorisation may be filed."""
    return ajouter_mois(fin_autorisation, DELAI_DI_MOIS)


def heures_retenues(*, heures_chomees: Decimal, heures_travaillees: Decimal, heures_contrat: Decimal,
                    reste_quota: Decimal) -> Decimal:
    """R74: idle hours paid: the typed idle hours (or, when none is typed, the contract hours not worked),
    at most the contract hours not worked and what remains of the annual quota."""
    libres = max(_decimal(heures_contrat, "Heures du contrat") - _decimal(heures_travaillees, "Heures travaillées"),
                 Decimal("0"))
    chomees = _decimal(heures_chomees, "Heures chômées")
    if chomees <= 0:
        chomees = libres
    return max(min(chomees, libres, max(_decimal(reste_quota, "Quota"), Decimal("0"))), Decimal("0"))
