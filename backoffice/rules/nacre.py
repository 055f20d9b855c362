"""NACRE (R51): the 25 % advance, the monthly payments on the operator's activity, the expertise, the end.

Decimal in, Decimal out, rounded to the cent at the end (rules._argent). The sources say what is paid, not how the
advance is settled [S000]; the reading kept here [derived] is the one R51's « the excess of the advance over the
activity is recovered at the end » implies: the advance is paid on account of the activity, so the activity of the
first months absorbs it before any monthly payment, and whatever of it the activity never absorbed is recovered at
the end of the convention. Every payment of a convention (advance, monthly payments, expertise) stays within its
subsidy: the annual subsidy for each started year of the convention (3 years at most).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ._argent import ZERO, arrondir
from ._argent import decimal as _decimal
from .params import Bareme

# R51: « avance de 25 % du montant total de la subvention annuelle dès lors que le 1er contrat d'accompagnement a
# été signé » (ASP page of 05/06/2015 [S000]); the programme started in 2009: the line is dated from then.
NACRE_TAUX_AVANCE: Bareme[Decimal] = Bareme(
    "taux de l'avance NACRE sur la subvention annuelle",
    ((date(2009, 1, 1), Decimal("0.25")),),
)
NACRE_DUREE_MAX_MOIS = 36  # R51: accompaniment up to 3 years [S000]
PHASES = (1, 2, 3)  # the convention prices each phase of the accompaniment (montage, financement, suivi)


def mois_entre(debut: date, fin: date) -> int:
    """Calendar months a period touches (01/01 → 31/12: 12)."""
    return (fin.year - debut.year) * 12 + fin.month - debut.month + 1


def duree_valide(debut: date, fin: date) -> bool:
    """R51: a convention covers at most 3 years (36 calendar months) and ends after it starts."""
    return fin >= debut and mois_entre(debut, fin) <= NACRE_DUREE_MAX_MOIS


def plafond_subvention(subvention_annuelle: Decimal, debut: date, fin: date) -> Decimal:
    """What the convention may pay in all: the annual subsidy for each started year of it [derived]."""
    annuelle = _decimal(subvention_annuelle, "Subvention annuelle")
    annees = -(-mois_entre(debut, fin) // 12)
    return arrondir(annuelle * annees)


def avance(subvention_annuelle: Decimal, date_premier_contrat: date) -> Decimal:
    """R51: 25 % of the annual subsidy (the rate in force on the day the first contract is signed)."""
    annuelle = _decimal(subvention_annuelle, "Subvention annuelle")
    return arrondir(annuelle * NACRE_TAUX_AVANCE.valeur(date_premier_contrat))


def activite_du_mois(accompagnements: dict[int, int], tarifs: dict[int, Decimal]) -> Decimal:
    """R51: the month's activity: the accompaniments in progress in each phase × the convention's monthly price of
    that phase."""
    total = ZERO
    for phase in PHASES:
        n = accompagnements.get(phase, 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Phase {phase} : nombre d'accompagnements invalide ({n}).")
        total += n * _decimal(tarifs.get(phase, ZERO), f"Tarif de la phase {phase}")
    return arrondir(total)


@dataclass(frozen=True)
class Versements:
    """What a convention has paid so far (the advance, the monthly payments, the expertise)."""

    avance: Decimal = ZERO
    mensualites: Decimal = ZERO
    expertises: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.avance + self.mensualites + self.expertises


def mensualite(*, activite_cumulee: Decimal, verse: Versements, plafond: Decimal) -> Decimal:
    """R51: the monthly payment once the month's statement is validated. `activite_cumulee` is the activity of
    every statement up to this month included: the advance absorbs it first, the monthly payments already made
    are deducted, and the convention's remaining subsidy caps the result (never below zero)."""
    a = _decimal(activite_cumulee, "Activité cumulée")
    du = a - verse.avance - verse.mensualites
    reste = _decimal(plafond, "Plafond") - verse.total
    return max(ZERO, min(du, reste))


def paiement_expertise(*, montant_contrat: Decimal, montant_facture: Decimal, verse: Versements,
                       plafond: Decimal) -> Decimal:
    """R51: an expertise is paid on the supplier's invoice, within its contract and the remaining subsidy."""
    contrat = _decimal(montant_contrat, "Montant du contrat d'expertise")
    facture = _decimal(montant_facture, "Montant de la facture")
    return max(ZERO, min(contrat, facture, _decimal(plafond, "Plafond") - verse.total))


def excedent_avance(*, avance_versee: Decimal, activite_totale: Decimal) -> Decimal:
    """R51: at the end of the convention, the part of the advance the activity did not absorb is recovered."""
    return max(ZERO, _decimal(avance_versee, "Avance") - _decimal(activite_totale, "Activité totale"))


def premier_du_mois(d: date) -> date:
    return d.replace(day=1)


def dernier_du_mois(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])
