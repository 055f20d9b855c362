"""Adultes-relais (R52): the employee's eligibility, the monthly aid of a post, the quarterly regularisation.

Decimal in, Decimal out, rounded to the cent (rules._argent). Amounts and thresholds are dated barèmes: the value in
force on the date that matters (the month paid, the hiring date).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ._argent import ZERO, arrondir
from ._argent import decimal as _decimal
from .params import Bareme

# R52: yearly aid per full-time post. 17 538,40 € for the contracts from January 2013 [W18]; 22 810,61 € per
# service-public (checked 2024-09-27 [W16]; its first day is not given: dated 2024-01-01 [unconfirmed]). The
# prefecture's 20 071 € [W17] is undated and is not used. A revaluation is one more line here.
AR_AIDE_ANNUELLE: Bareme[Decimal] = Bareme(
    "aide annuelle par poste d'adulte-relais (temps plein)",
    (
        (date(2013, 1, 1), Decimal("17538.40")),
        (date(2024, 1, 1), Decimal("22810.61")),
    ),
)

# R52: minimum age of the employee on the hiring date: 30 in the 2015 text [S000], 26 per service-public in 2024
# [W16] (rules.md §6.3: the change's exact date was not found [unconfirmed]; dated 2024-01-01).
AR_AGE_MINIMUM: Bareme[int] = Bareme(
    "âge minimum d'un adulte-relais à l'embauche",
    (
        (date(2000, 1, 1), 30),
        (date(2024, 1, 1), 26),
    ),
)
AR_DUREE_CONVENTION_ANS = 3  # R52: a post agreement lasts 3 years, renewable [W17]


def age_au(naissance: date, jour: date) -> int:
    return jour.year - naissance.year - ((jour.month, jour.day) < (naissance.month, naissance.day))


def motifs_ineligibilite(*, naissance: date, embauche: date, reside_qpv: bool, sans_emploi: bool) -> list[str]:
    """R52: why the employee is not eligible on the hiring date (empty: eligible): the dated age threshold, the
    residence in a QPV (quartier prioritaire de la politique de la ville), being without a job."""
    motifs = []
    minimum = AR_AGE_MINIMUM.valeur(embauche)
    if age_au(naissance, embauche) < minimum:
        motifs.append(f"moins de {minimum} ans à l'embauche le {embauche:%d/%m/%Y}")
    if not reside_qpv:
        motifs.append("ne réside pas dans un quartier prioritaire (QPV)")
    if not sans_emploi:
        motifs.append("n'était pas sans emploi (demandeur d'emploi) à l'embauche")
    return motifs


def aide_mensuelle(mois: date, quotite: Decimal) -> Decimal:
    """R52: the month's aid = the yearly amount of the barème in force that month × the post's working-time ratio
    (a percentage of a full-time post) / 12."""
    q = _decimal(quotite, "Quotité")
    if not ZERO < q <= 100:
        raise ValueError(f"Quotité {q} : entre 0 et 100 % d'un temps plein.")
    return arrondir(AR_AIDE_ANNUELLE.valeur(mois.replace(day=1)) * q / Decimal(100) / Decimal(12))


def ajouter_ans(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


def mois_du_trimestre(annee: int, trimestre: int) -> list[date]:
    if trimestre not in (1, 2, 3, 4):
        raise ValueError(f"Trimestre {trimestre} : 1 à 4.")
    return [date(annee, 3 * (trimestre - 1) + k, 1) for k in (1, 2, 3)]


def fin_du_trimestre(annee: int, trimestre: int) -> date:
    dernier = mois_du_trimestre(annee, trimestre)[-1]
    return dernier.replace(day=calendar.monthrange(dernier.year, dernier.month)[1])


def du_du_mois(*, mois: date, quotite: Decimal, jours_absence: int, fin_contrat: date | None,
               debut_poste: date | None = None, fin_poste: date | None = None) -> Decimal:
    """R52 [derived]: what a month of the quarter was due, by the employer's declaration: the month's aid, less the
    calendar days of unpaid absence and the days outside the contract (after its end, before or after the post's
    agreement), pro rata of the month's days. A whole month of absence is due nothing."""
    jours = calendar.monthrange(mois.year, mois.month)[1]
    if isinstance(jours_absence, bool) or not isinstance(jours_absence, int) or not 0 <= jours_absence <= jours:
        raise ValueError(f"{mois:%m/%Y} : jours d'absence entre 0 et {jours}.")
    premier, dernier = mois.replace(day=1), mois.replace(day=jours)
    debut = max(premier, debut_poste or premier)
    fin = min([dernier, *(d for d in (fin_contrat, fin_poste) if d is not None)])
    couverts = max(0, (fin - debut).days + 1)
    payes = max(0, couverts - jours_absence)
    if payes == jours:
        return aide_mensuelle(mois, quotite)
    return arrondir(aide_mensuelle(mois, quotite) * payes / jours)


@dataclass(frozen=True)
class Regularisation:
    du: Decimal
    verse: Decimal

    @property
    def ecart(self) -> Decimal:
        """> 0: a complement to pay the employer; < 0: an ordre de reversement (R52)."""
        return self.du - self.verse


def regulariser(*, mois_dus: list[Decimal], verse: Decimal) -> Regularisation:
    """R52: the quarter's regularisation: what its months were due against what was paid for them."""
    return Regularisation(du=sum((_decimal(m, "Montant dû") for m in mois_dus), ZERO),
                          verse=_decimal(verse, "Montant versé"))
