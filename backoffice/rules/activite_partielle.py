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
