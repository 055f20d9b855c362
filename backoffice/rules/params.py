"""Barèmes et paramètres des règles, sous forme de données datées.

Chaque barème est une suite de lignes « à partir du … » ; la valeur en vigueur à une date est celle
de la dernière ligne dont la date est antérieure ou égale. Une date antérieure à la première ligne
lève `HorsBareme` : mieux vaut refuser un calcul que l'appuyer sur un montant inventé.

Les sources sont citées par leur identifiant de shared/domain/rules.md (W1 = OpenFisca-France, …).
Les valeurs marquées [unconfirmed] y sont données comme à rendre paramétrables : on les garde ici,
en un seul endroit, pour qu'une mise à jour soit une ligne de données et un test.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


class HorsBareme(ValueError):
    """Aucune ligne du barème n'est en vigueur à la date demandée."""


@dataclass(frozen=True)
class Bareme(Generic[T]):
    """Barème daté : `lignes` triées par date de début, chaque valeur valant jusqu'à la suivante."""

    libelle: str
    lignes: tuple[tuple[date, T], ...]

    def __post_init__(self) -> None:
        debuts = [debut for debut, _ in self.lignes]
        if not debuts or debuts != sorted(set(debuts)):
            raise ValueError(f"Barème « {self.libelle} » : dates absentes, en double ou non triées.")

    def valeur(self, d: date) -> T:
        """Valeur en vigueur le jour `d` ; `HorsBareme` avant la première ligne."""
        i = bisect.bisect_right([debut for debut, _ in self.lignes], d)
        if i == 0:
            premier = self.lignes[0][0]
            raise HorsBareme(
                f"Aucun barème « {self.libelle} » en vigueur le {d:%d/%m/%Y} "
                f"(première valeur au {premier:%d/%m/%Y})."
            )
        return self.lignes[i - 1][1]

    @property
    def dates(self) -> tuple[date, ...]:
        return tuple(debut for debut, _ in self.lignes)


# --- Dispositifs ---------------------------------------------------------------------------------

CEJ = "CEJ"
PACEA = "PACEA"
DISPOSITIFS_ALLOCATION = (CEJ, PACEA)


def normaliser_dispositif(dispositif: object) -> str:
    """« cej », « CEJ » ou un StrEnum de valeur cej → "CEJ" ; idem PACEA ; sinon ValueError."""
    code = str(dispositif).strip().upper()
    if code not in DISPOSITIFS_ALLOCATION:
        raise ValueError(f"Dispositif « {dispositif} » inconnu : CEJ ou PACEA attendu.")
    return code


# --- CEJ : montants forfaitaires (R21) -----------------------------------------------------------


class ForfaitsCej(NamedTuple):
    majeur_non_imposable: Decimal
    majeur_tranche_1: Decimal
    mineur: Decimal  # foyer non imposable ou en tranche 1


# R21: revalued every 1 April [W1, W2, W11, W31]. 2024 band 1 = 316,80 × 1,046 = 331,37 (rules.md keeps
# it over a secondary site's 331,17). No 2026-04-01 value was found [unconfirmed]: the 2025 row
# therefore stays in force until a new row is added here.
FORFAITS_CEJ: Bareme[ForfaitsCej] = Bareme(
    "montant forfaitaire CEJ",
    (
        (date(2022, 3, 1), ForfaitsCej(Decimal("500.00"), Decimal("300.00"), Decimal("200.00"))),
        (date(2022, 7, 1), ForfaitsCej(Decimal("520.00"), Decimal("312.00"), Decimal("208.00"))),
        (date(2023, 4, 1), ForfaitsCej(Decimal("528.00"), Decimal("316.80"), Decimal("211.20"))),
        (date(2024, 4, 1), ForfaitsCej(Decimal("552.29"), Decimal("331.37"), Decimal("220.92"))),
        (date(2025, 4, 1), ForfaitsCej(Decimal("561.68"), Decimal("337.00"), Decimal("224.68"))),
    ),
)

# R25: partly deductible resources are ignored up to 300 € and the allowance reaches 0 at 80 % of
# the gross monthly SMIC [W1 art. D5131-23, W12].
CEJ_FRANCHISE_DEGRESSIVE = Decimal("300")
CEJ_PART_SMIC_EXTINCTION = Decimal("0.8")

# Age limits (rules.md 2.3: 16 to 25 révolus, 29 révolus with RQTH [W1]).
CEJ_AGE_MIN = 16
CEJ_AGE_MAX = 25
CEJ_AGE_MAX_RQTH = 29


# --- SMIC (W1 `marche_travail/salaire_minimum/smic`) ---------------------------------------------

# 2022-01-01 … 2024-01-01: OpenFisca smic_b_mensuel.yaml / smic_b_horaire.yaml; 2024-11-01: rules.md
# (W1); 2026-01-01: 12,02 €/h, 1 823,03 € (décret 2025-1228), seen in several public sources but not
# in rules.md: check it when rules.md is next updated.
SMIC_BRUT_MENSUEL: Bareme[Decimal] = Bareme(
    "SMIC brut mensuel",
    (
        (date(2022, 1, 1), Decimal("1603.12")),
        (date(2022, 5, 1), Decimal("1645.58")),
        (date(2022, 8, 1), Decimal("1678.95")),
        (date(2023, 1, 1), Decimal("1709.28")),
        (date(2023, 5, 1), Decimal("1747.20")),
        (date(2024, 1, 1), Decimal("1766.92")),
        (date(2024, 11, 1), Decimal("1801.80")),
        (date(2026, 1, 1), Decimal("1823.03")),
    ),
)

SMIC_HORAIRE_BRUT: Bareme[Decimal] = Bareme(
    "SMIC horaire brut",
    (
        (date(2022, 1, 1), Decimal("10.57")),
        (date(2022, 5, 1), Decimal("10.85")),
        (date(2022, 8, 1), Decimal("11.07")),
        (date(2023, 1, 1), Decimal("11.27")),
        (date(2023, 5, 1), Decimal("11.52")),
        (date(2024, 1, 1), Decimal("11.65")),
        (date(2024, 11, 1), Decimal("11.88")),
        (date(2026, 1, 1), Decimal("12.02")),
    ),
)


# --- Ressources des micro-entrepreneurs (R32) ----------------------------------------------------

# R32: flat allowance for costs, as a share of the turnover (CA) [S001].
ABATTEMENTS_MICRO: Mapping[str, Decimal] = MappingProxyType(
    {
        "achat_revente": Decimal("0.71"),  # achat-revente, fabrication, restauration, hébergement
        "bic_services": Decimal("0.50"),  # autres BIC : artisanat, commerce de services
        "bnc": Decimal("0.34"),  # professions libérales, locations meublées
        "agricole": Decimal("0.87"),
    }
)


# --- PACEA (R33, R34) ----------------------------------------------------------------------------

# R33: the allowance is possible only in months whose resources total ≤ 300 € [W7].
PACEA_SEUIL_RESSOURCES = Decimal("300")


@dataclass(frozen=True)
class PlafondsPacea:
    """R34 : plafond mensuel (528 € d'après une source secondaire [unconfirmed]) et multiple annuel (6×)."""

    mensuel: Decimal = Decimal("528.00")
    multiple_annuel: int = 6  # from 2021-01-01 [W8]; 3× before

    @property
    def annuel(self) -> Decimal:
        return self.mensuel * self.multiple_annuel


PLAFONDS_PACEA = PlafondsPacea()


# --- Activité partielle (R74) --------------------------------------------------------------------

AP_TAUX_INDEMNITE = Decimal("0.60")  # R74: employee indemnity, share of the gross hourly pay
AP_TAUX_ALLOCATION = Decimal("0.36")  # R74: employer allocation
AP_PLAFOND_EN_SMIC = Decimal("4.5")  # R74: both capped at 4,5 × the hourly SMIC

# R74: hourly floor of the employer allocation (art. D5122-13). 2022-01-01 from W1; 2023-05-01
# (8,21, arrêté of 27/04/2023) and 2024-11-01 (8,46, décret 2024-1149) checked in public sources;
# 2022-05-01, 2022-08-01, 2023-01-01 and 2024-01-01 follow each SMIC revaluation (≈ 71,2 % of the hourly
# SMIC each time); 2026-01-01 (8,57) is [unconfirmed] in rules.md.
AP_PLANCHER_HORAIRE: Bareme[Decimal] = Bareme(
    "plancher horaire de l'allocation d'activité partielle",
    (
        (date(2022, 1, 1), Decimal("7.53")),
        (date(2022, 5, 1), Decimal("7.73")),
        (date(2022, 8, 1), Decimal("7.88")),
        (date(2023, 1, 1), Decimal("8.03")),
        (date(2023, 5, 1), Decimal("8.21")),
        (date(2024, 1, 1), Decimal("8.30")),
        (date(2024, 11, 1), Decimal("8.46")),
        (date(2026, 1, 1), Decimal("8.57")),
    ),
)


# --- Prestation de service Espace de rencontre (R78, R79) ----------------------------------------

AFAS_TAUX_PS = Decimal("0.60")  # R78: 60 % of the hourly cost price, from 2019-01-01 [W34]
AFAS_TAUX_ACOMPTE = Decimal("0.35")  # R79: each acompte, 35 % of a droit [W34]
AFAS_LIMITE_ACOMPTES = Decimal("0.70")  # R79: acomptes limited to 70 % of the actual droit of N-1
AFAS_ECART_MAX = Decimal("0.10")  # R79, R59: forecast and actual more than 10 % apart

# R78: the hourly ceiling price set each year by the CNAF; its value was not found in the sources
# [unconfirmed]: a dated, configurable parameter, one line per year when the CNAF publishes it.
AFAS_PRIX_PLAFOND_HORAIRE: Bareme[Decimal] = Bareme(
    "prix plafond horaire de la prestation de service Espace de rencontre",
    (
        (date(2019, 1, 1), Decimal("33.00")),
        (date(2023, 1, 1), Decimal("35.00")),
    ),
)


# --- RIB (R38) -----------------------------------------------------------------------------------

# R38: holder-name length on the cerfa ("sous réserve de changement") [S001].
TITULAIRE_LONGUEUR_MAX: Mapping[str, int] = MappingProxyType({CEJ: 49, PACEA: 38})


# --- Calendrier (R36, R41, R68) ------------------------------------------------------------------

CEJ_JOURS_ENVOI = (1, 15)  # R41: CEJ sendings around the 1st and the 15th
PACEA_JOUR_ENVOI = 1  # R41: PACEA on the 1st of the following month
FORCLUSION_MOIS = 3  # R36: supporting documents within 3 months, older periods are lost
MAX_ECHECS = 3  # R68: 3 consecutive wrong passwords lock the account
DUREE_VERROUILLAGE = timedelta(minutes=30)  # R68: automatic unlock after 30 minutes


# --- Mots de passe (R67) -------------------------------------------------------------------------

MOT_DE_PASSE_LONGUEUR_MIN = 8  # R67
MOT_DE_PASSE_LONGUEUR_MAX = 256  # refused above, never truncated (keeps hashing cost bounded)


# --- SEPA (R77) ----------------------------------------------------------------------------------

SEPA_NOM_MAX = 70
SEPA_IDENTIFIANT_MAX = 35  # EndToEndId, MsgId, PmtInfId
SEPA_LIBELLE_MAX = 140  # unstructured remittance


# --- Recouvrement (R47, D5316-15 [W30]) ---------------------------------------------------------

# A remise (partial or total) above this amount is approved by a second manager, other than the one who
# decided it (four eyes). Internal control rule, not a published value [unconfirmed]: a dated line here.
SEUIL_REMISE_DOUBLE_VALIDATION: Bareme[Decimal] = Bareme(
    "seuil de double validation des remises",
    ((date(2020, 1, 1), Decimal("1500.00")),),
)
ECHEANCIER_MAX_ECHEANCES = 36  # an instalment plan spreads the debt over 36 months at most [unconfirmed]
