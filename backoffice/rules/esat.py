"""ESAT and entreprises adaptées (R53, R54), pure functions: the monthly reimbursement of the pay guarantee
(GRTH), the DGF instalments, the EA aid per post and its 80 % condition, the région of a département (ARS).

Barèmes are dated (params.Bareme), read at the first day of the declared month; Decimal in, Decimal out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from .params import SMIC_BRUT_MENSUEL, Bareme

CENT = Decimal("0.01")

# R53: the pay guarantee reimbursed equals the *aide au poste*: 50,7 % of the gross monthly SMIC per
# full-time worker (CASF R243-6, while the ESAT pays at least 5 % of the SMIC itself). The rate is not in
# rules.md [unconfirmed]: a dated line to correct.
ESAT_AIDE_AU_POSTE_PART_SMIC: Bareme[Decimal] = Bareme(
    "aide au poste de la garantie de rémunération (part du SMIC brut)",
    ((date(2007, 1, 1), Decimal("0.507")),),
)

# R54 (2015 wording): the EA's aid per post, 80 % of the gross monthly SMIC per full-time post [unconfirmed],
# and the condition itself: at least 80 % of the headcount are handicapped workers (its later changes were
# not checked, [unconfirmed] in rules.md): both dated.
EA_AIDE_AU_POSTE_PART_SMIC: Bareme[Decimal] = Bareme(
    "aide au poste en entreprise adaptée (part du SMIC brut)",
    ((date(2006, 1, 1), Decimal("0.80")),),
)
EA_TAUX_MIN_TRAVAILLEURS_HANDICAPES: Bareme[Decimal] = Bareme(
    "part minimale de travailleurs handicapés en entreprise adaptée",
    ((date(2006, 1, 1), Decimal("0.80")),),
)


class DeclarationInvalide(ValueError):
    """A declaration that cannot be computed (negative or absurd figures)."""


def _arrondi(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RemboursementGarantie:
    aide_au_poste: Decimal
    cotisations_obligatoires: Decimal
    prevoyance: Decimal
    formation: Decimal

    @property
    def total(self) -> Decimal:
        return self.aide_au_poste + self.cotisations_obligatoires + self.prevoyance + self.formation


def remboursement_garantie(periode: date, etp: Decimal, cotisations_obligatoires: Decimal,
                           prevoyance: Decimal = Decimal("0"), formation: Decimal = Decimal("0")
                           ) -> RemboursementGarantie:
    """R53: the month's reimbursement to an ESAT: the guarantee (= aide au poste: ETP × part × gross monthly
    SMIC of the month), the related compulsory contributions, and the optional provident and training
    contributions, as declared."""
    valeurs = {"équivalents temps plein": etp, "cotisations obligatoires": cotisations_obligatoires,
               "prévoyance": prevoyance, "formation": formation}
    for nom, v in valeurs.items():
        if v is None or Decimal(v) < 0:
            raise DeclarationInvalide(f"« {nom} » : un nombre positif ou nul est attendu.")
    premier = periode.replace(day=1)
    aide = _arrondi(Decimal(etp) * ESAT_AIDE_AU_POSTE_PART_SMIC.valeur(premier) * SMIC_BRUT_MENSUEL.valeur(premier))
    return RemboursementGarantie(aide, _arrondi(Decimal(cotisations_obligatoires)), _arrondi(Decimal(prevoyance)),
                                 _arrondi(Decimal(formation)))


def part_travailleurs_handicapes(effectif_total: int, effectif_th: int) -> Decimal:
    if effectif_total <= 0 or effectif_th < 0 or effectif_th > effectif_total:
        raise DeclarationInvalide("Effectifs incohérents : un effectif total positif, dont les travailleurs "
                                  "handicapés (au plus l'effectif total).")
    return Decimal(effectif_th) / Decimal(effectif_total)


def condition_80_pourcent(periode: date, effectif_total: int, effectif_th: int) -> bool:
    """R54: the EA employs at least 80 % handicapped workers (on the declared headcount)."""
    seuil = EA_TAUX_MIN_TRAVAILLEURS_HANDICAPES.valeur(periode.replace(day=1))
    return part_travailleurs_handicapes(effectif_total, effectif_th) >= seuil


def aide_au_poste_ea(periode: date, postes_etp: Decimal) -> Decimal:
    """R54: the month's aid: full-time posts × part × gross monthly SMIC of the month."""
    if postes_etp is None or Decimal(postes_etp) < 0:
        raise DeclarationInvalide("« Postes aidés » : un nombre positif ou nul est attendu.")
    premier = periode.replace(day=1)
    return _arrondi(Decimal(postes_etp) * EA_AIDE_AU_POSTE_PART_SMIC.valeur(premier)
                    * SMIC_BRUT_MENSUEL.valeur(premier))


def versements_dgf(montant: Decimal, nb: int) -> list[Decimal]:
    """R53: the DGF set by the ARS paid in `nb` instalments: equal ones rounded down to the cent, the last takes
    the remainder, so that their sum is the DGF exactly."""
    if nb < 1 or nb > 12:
        raise DeclarationInvalide("De 1 à 12 versements.")
    montant = Decimal(montant).quantize(CENT)
    if montant <= 0:
        raise DeclarationInvalide("Le montant de la DGF doit être positif.")
    part = (montant / nb).quantize(CENT, rounding=ROUND_DOWN)
    return [part] * (nb - 1) + [montant - part * (nb - 1)]


# The régions (2016) by département: an ARS agent sees the ESATs and EAs of its région (R53).
REGIONS: dict[str, tuple[str, ...]] = {
    "84": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),  # Auvergne-Rhône-Alpes
    "27": ("21", "25", "39", "58", "70", "71", "89", "90"),  # Bourgogne-Franche-Comté
    "53": ("22", "29", "35", "56"),  # Bretagne
    "24": ("18", "28", "36", "37", "41", "45"),  # Centre-Val de Loire
    "94": ("20",),  # Corse (2A, 2B: postcodes 20…)
    "44": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),  # Grand Est
    "32": ("02", "59", "60", "62", "80"),  # Hauts-de-France
    "11": ("75", "77", "78", "91", "92", "93", "94", "95"),  # Île-de-France
    "28": ("14", "27", "50", "61", "76"),  # Normandie
    "75": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),  # Nouvelle-Aquitaine
    "76": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),  # Occitanie
    "52": ("44", "49", "53", "72", "85"),  # Pays de la Loire
    "93": ("04", "05", "06", "13", "83", "84"),  # Provence-Alpes-Côte d'Azur
    "01": ("971",), "02": ("972",), "03": ("973",), "04": ("974",), "06": ("976",),
}
REGION_DE_DEPARTEMENT = {dep: reg for reg, deps in REGIONS.items() for dep in deps}
