"""Service civique (R55): eligibility of a contract and the amounts of one month, pure functions.

Barèmes are dated (params.Bareme): the value in force on the first day of the month paid. Amounts are in euros,
Decimal in, Decimal out, rounded to the cent (half up).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from .params import Bareme

CENT = Decimal("0.01")

AGE_MIN = 16  # R55: volunteers aged 16 to 25
AGE_MAX = 25
DUREE_MIN_MOIS = 6  # R55: missions of 6 to 12 months
DUREE_MAX_MOIS = 12


class BaremeServiceCivique(NamedTuple):
    indemnite_etat: Decimal  # 36,11 % of the pay at indice brut 244 (since 2018) [W15]
    majoration_sociale: Decimal  # 8,22 % of the pay at indice brut 244 [W15]
    prestation_minimale: Decimal  # 7,43 %, owed by the host [W13]
    subvention_associative: Decimal  # the ASC's monthly subsidy to an associative host


# R55 [W13, W14, W15]: the 1 Jan 2024 amounts. The State indemnity 504,98 € net [W14, secondary]; the host's
# prestation 114,85 € [W13]. The social increase's net 2024 amount is given as 113,02 € or 114,85 € by
# secondary sites [unconfirmed]: 114,85 € kept here (8,22 % against 7,43 % would give more than the
# prestation; the published figure is used, not a recomputation). The subsidy to associative hosts is not in
# rules.md [unconfirmed]: 100 € a month per volunteer, the ASC's usual figure, as a dated line to correct.
BAREME: Bareme[BaremeServiceCivique] = Bareme(
    "indemnités du service civique",
    (
        (date(2024, 1, 1), BaremeServiceCivique(Decimal("504.98"), Decimal("114.85"), Decimal("114.85"),
                                                Decimal("100.00"))),
    ),
)


class ContratInvalide(ValueError):
    """A contract that R55 refuses (age, duration, IBAN)."""


def age_au(naissance: date, jour: date) -> int:
    return jour.year - naissance.year - ((jour.month, jour.day) < (naissance.month, naissance.day))


def fin_au_plus_tot(debut: date) -> date:
    """The last day of a 6-month mission (1 Sep → 28 Feb)."""
    return _ajouter_mois(debut, DUREE_MIN_MOIS) - timedelta(days=1)


def fin_au_plus_tard(debut: date) -> date:
    """The last day of a 12-month mission (1 Sep → 31 Aug)."""
    return _ajouter_mois(debut, DUREE_MAX_MOIS) - timedelta(days=1)


def _ajouter_mois(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def verifier_contrat(naissance: date, debut: date, fin: date) -> None:
    """R55: a volunteer aged 16 to 25 on the first day of the mission; a mission of 6 to 12 months."""
    if fin < debut:
        raise ContratInvalide("La date de fin précède la date de début.")
    age = age_au(naissance, debut)
    if not AGE_MIN <= age <= AGE_MAX:
        raise ContratInvalide(f"Le volontaire a {age} ans au début de la mission : le service civique est ouvert "
                              f"de {AGE_MIN} à {AGE_MAX} ans (R55).")
    if not fin_au_plus_tot(debut) <= fin <= fin_au_plus_tard(debut):
        raise ContratInvalide(f"Mission du {debut:%d/%m/%Y} au {fin:%d/%m/%Y} : le service civique dure de "
                              f"{DUREE_MIN_MOIS} à {DUREE_MAX_MOIS} mois, soit une fin entre le "
                              f"{fin_au_plus_tot(debut):%d/%m/%Y} et le {fin_au_plus_tard(debut):%d/%m/%Y} (R55).")


def fraction_du_mois(periode: date, debut: date, fin: date) -> Decimal:
    """The share of month `periode` the mission covers (R55): 1 for a full month; in the first and last months
    the days covered over the days of the month, and exactly one half when the mission starts or ends on the
    15th (R55: « a mission starting or ending on the 15th counts half »). 0 outside the mission.
    [derived: the same proration is applied to the State indemnity and the social increase.]"""
    premier = periode.replace(day=1)
    nb = calendar.monthrange(premier.year, premier.month)[1]
    dernier = premier.replace(day=nb)
    if fin < premier or debut > dernier:
        return Decimal("0")
    du, au = max(debut, premier), min(fin, dernier)
    if du == premier and au == dernier:
        return Decimal("1")
    if (du == debut and debut.day == 15 and au == dernier) or (au == fin and fin.day == 15 and du == premier):
        return Decimal("0.5")
    return (Decimal((au - du).days + 1) / Decimal(nb)).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class MoisServiceCiviqueCalcule:
    periode: date
    fraction: Decimal
    indemnite: Decimal  # paid by the ASP to the volunteer
    majoration: Decimal  # paid by the ASP to the volunteer when they qualify
    prestation_due: Decimal  # owed by the host to the volunteer (not paid by the ASP)
    subvention: Decimal  # paid by the ASP to an associative host
    bareme_du: date

    @property
    def verse_au_volontaire(self) -> Decimal:
        return self.indemnite + self.majoration


def _arrondi(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def calculer_mois(periode: date, debut: date, fin: date, *, majoration_sociale: bool, associatif: bool,
                  prestation_mensuelle: Decimal | None = None) -> MoisServiceCiviqueCalcule:
    """R55: the month's indemnity, social increase, host prestation and subsidy, prorated in the first and last
    months. `prestation_mensuelle`: what the contract sets (at least the barème's minimum, 7,43 %)."""
    premier = periode.replace(day=1)
    bareme = BAREME.valeur(premier)
    bareme_du = max(d for d in BAREME.dates if d <= premier)
    f = fraction_du_mois(premier, debut, fin)
    prestation = max(Decimal(prestation_mensuelle or 0), bareme.prestation_minimale)
    return MoisServiceCiviqueCalcule(
        periode=premier, fraction=f,
        indemnite=_arrondi(bareme.indemnite_etat * f),
        majoration=_arrondi(bareme.majoration_sociale * f) if majoration_sociale else Decimal("0.00"),
        prestation_due=_arrondi(prestation * f),
        subvention=_arrondi(bareme.subvention_associative * f) if associatif else Decimal("0.00"),
        bareme_du=bareme_du)


def mois_de_la_mission(debut: date, fin: date) -> list[date]:
    out, d = [], debut.replace(day=1)
    while d <= fin:
        out.append(d)
        d = _ajouter_mois(d, 1)
    return out


def verifier_prestation(prestation: Decimal, jour: date) -> None:
    """R55: the host's prestation is at least 7,43 % (the barème's minimum at `jour`)."""
    minimum = BAREME.valeur(jour).prestation_minimale
    if Decimal(prestation) < minimum:
        raise ContratInvalide(f"Prestation de l'organisme d'accueil de {prestation} € : au moins "
                              f"{str(minimum).replace('.', ',')} € (7,43 %, R55).")
