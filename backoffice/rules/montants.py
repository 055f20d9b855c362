"""Montants des allocations CEJ et PACEA, abattements sur les ressources, corrections.

L'activité partielle (R74) est dans `activite_partielle` ; ses fonctions sont ré-exportées ici.

Fonctions pures : Decimal en entrée, Decimal en sortie, jamais de float. Les calculs gardent toute
la précision et ne sont arrondis au centime (ROUND_HALF_UP) qu'à la fin de chaque fonction publique
qui rend un montant [rules.md §4 : règle d'arrondi officielle non trouvée].

Mois de base (R28) : l'allocation du mois M se calcule sur les ressources du mois M-1. Ces fonctions
ne vont chercher aucune ressource : l'appelant passe celles de M-1, déjà saisies en « net à payer »
(R29). Le forfait et le SMIC sont ceux en vigueur le premier jour du mois M de l'allocation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from . import params
from ._argent import CENTIME, ZERO, arrondir
from ._argent import decimal as _decimal
from .activite_partielle import allocation_ap, indemnite_ap, plancher_ap  # noqa: F401  (re-exported)
from .params import PACEA, PLAFONDS_PACEA, PlafondsPacea


def _premier_du_mois(d: date) -> date:
    return d.replace(day=1)


def _mois_precedent(d: date) -> date:
    return date(d.year - 1, 12, 1) if d.month == 1 else date(d.year, d.month - 1, 1)


# --- Barèmes -------------------------------------------------------------------------------------


class TrancheFiscale(StrEnum):
    """Situation du foyer fiscal de rattachement (R21)."""

    NON_IMPOSABLE = "non_imposable"
    TRANCHE_1 = "tranche_1"
    AU_DELA = "au_dela"


def _tranche(tranche_fiscale: str) -> TrancheFiscale:
    try:
        return TrancheFiscale(tranche_fiscale)
    except ValueError:
        valeurs = ", ".join(t.value for t in TrancheFiscale)
        raise ValueError(f"Tranche fiscale « {tranche_fiscale} » inconnue ({valeurs} attendu).") from None


def montant_forfaitaire_cej(date_reference: date, *, mineur: bool, tranche_fiscale: str) -> Decimal:
    """Montant forfaitaire mensuel du CEJ en vigueur le `date_reference` (R21).

    Majeur : non imposable (ou fiscalement autonome, R23) → taux plein ; tranche 1 → taux réduit ;
    au-delà → 0. Mineur : un seul montant si le foyer est non imposable ou en tranche 1, 0 au-delà
    (W1 : l'éligibilité exige une tranche ≤ 1 quel que soit l'âge).
    """
    ligne = params.FORFAITS_CEJ.valeur(date_reference)
    tranche = _tranche(tranche_fiscale)
    # R21: households taxed above band 1 get nothing [W1, W11]
    if tranche is TrancheFiscale.AU_DELA:
        return ZERO.quantize(CENTIME)
    if mineur:
        return ligne.mineur
    if tranche is TrancheFiscale.TRANCHE_1:
        return ligne.majeur_tranche_1
    return ligne.majeur_non_imposable


def smic_brut_mensuel(d: date) -> Decimal:
    """SMIC brut mensuel (151,67 h) en vigueur le jour `d`."""
    return params.SMIC_BRUT_MENSUEL.valeur(d)


def smic_horaire_brut(d: date) -> Decimal:
    """SMIC horaire brut en vigueur le jour `d`."""
    return params.SMIC_HORAIRE_BRUT.valeur(d)


def age_eligible_cej(age: int, *, rqth: bool = False) -> bool:
    """Âge d'entrée au CEJ : 16 à 25 ans révolus, 29 ans révolus avec une RQTH (rules.md 2.3, W1)."""
    limite = params.CEJ_AGE_MAX_RQTH if rqth else params.CEJ_AGE_MAX
    return params.CEJ_AGE_MIN <= age <= limite


# --- Ressources ----------------------------------------------------------------------------------


class CategorieRessource(StrEnum):
    """Traitement d'une ressource dans le calcul du CEJ."""

    DEDUCTIBLE = "deductible"  # R24: subtracted euro for euro
    DEGRESSIVE = "degressive"  # R25: ignored up to 300 €, then linear down to 80 % SMIC
    SUSPENSIVE = "suspensive"  # R26: allowance suspended
    NON_CUMULABLE = "non_cumulable"  # R27: RSA, prime d'activité → no allowance
    EXCLUE = "exclue"  # R29: not counted (revenu écologique de la Région)


class TypeRessource(StrEnum):
    """Types de ressources proposés à la saisie ; la valeur est le libellé affiché."""

    SALAIRE = "Salaire"
    ARE = "Allocation chômage (ARE)"
    REMUNERATION_FORMATION = "Rémunération de formation"
    REMUNERATION_E2C = "Rémunération E2C"
    MICRO_ENTREPRENEUR = "Revenu micro-entrepreneur"
    ACTIVITE_PARTIELLE = "Indemnité activité partielle"
    INDEMNITES_JOURNALIERES = "Indemnités journalières"
    INDEMNITES_MATERNITE = "Indemnités maternité, paternité, adoption"
    REMUNERATION_ESAT = "Rémunération garantie ESAT"
    SERVICE_CIVIQUE = "Indemnité service civique"
    VOLONTARIAT_ARMEES = "Volontariat des armées / SMV / SMA"
    RSA = "RSA"
    PRIME_ACTIVITE = "Prime d'activité"
    REVENU_ECOLOGIQUE = "Revenu écologique (Région)"


_C, _T = CategorieRessource, TypeRessource
CATEGORIE_PAR_TYPE: Mapping[TypeRessource, CategorieRessource] = MappingProxyType(
    {
        # R24: fully deductible [W3]
        _T.ARE: _C.DEDUCTIBLE,
        _T.REMUNERATION_FORMATION: _C.DEDUCTIBLE,
        _T.REMUNERATION_E2C: _C.DEDUCTIBLE,
        # R25: partly deductible [W3]
        _T.SALAIRE: _C.DEGRESSIVE,
        _T.MICRO_ENTREPRENEUR: _C.DEGRESSIVE,
        _T.ACTIVITE_PARTIELLE: _C.DEGRESSIVE,
        _T.INDEMNITES_JOURNALIERES: _C.DEGRESSIVE,
        _T.INDEMNITES_MATERNITE: _C.DEGRESSIVE,
        _T.REMUNERATION_ESAT: _C.DEGRESSIVE,
        # R26: suspensive [W4]
        _T.SERVICE_CIVIQUE: _C.SUSPENSIVE,
        _T.VOLONTARIAT_ARMEES: _C.SUSPENSIVE,
        # R27: not combinable [W4]
        _T.RSA: _C.NON_CUMULABLE,
        _T.PRIME_ACTIVITE: _C.NON_CUMULABLE,
        # R29: excluded [S001]
        _T.REVENU_ECOLOGIQUE: _C.EXCLUE,
    }
)
del _C, _T


def categorie_ressource(type_ressource: str) -> CategorieRessource:
    """Catégorie d'un type de ressource (libellé de `TypeRessource`).

    Une catégorie peut aussi être passée directement (« deductible », …) pour une ressource qui
    n'est pas dans la liste : elle est alors rendue telle quelle.
    """
    try:
        return CATEGORIE_PAR_TYPE[TypeRessource(type_ressource)]
    except ValueError:
        pass
    try:
        return CategorieRessource(type_ressource)
    except ValueError:
        raise ValueError(f"Type de ressource « {type_ressource} » inconnu.") from None


class ActiviteMicro(StrEnum):
    """Nature de l'activité d'un micro-entrepreneur (R32)."""

    ACHAT_REVENTE = "achat_revente"
    BIC_SERVICES = "bic_services"
    BNC = "bnc"
    AGRICOLE = "agricole"


def revenu_micro_entrepreneur(ca: Decimal, activite: str) -> Decimal:
    """Ressource retenue pour un micro-entrepreneur : CA × (1 − abattement), au centime (R32).

    Le résultat est la ressource à saisir (type « Revenu micro-entrepreneur », dégressive R25) ;
    il est arrondi parce qu'il est enregistré comme une ligne de ressource en euros et centimes.
    """
    ca = _decimal(ca, "Chiffre d'affaires")
    try:
        taux = params.ABATTEMENTS_MICRO[ActiviteMicro(activite)]
    except ValueError:
        valeurs = ", ".join(a.value for a in ActiviteMicro)
        raise ValueError(f"Activité « {activite} » inconnue ({valeurs} attendu).") from None
    # R32: 71 % / 50 % / 34 % / 87 % flat allowance for costs
    return arrondir(ca * (1 - taux))


# --- CEJ -----------------------------------------------------------------------------------------


def _reduction_degressive(forfait: Decimal, degressives: Decimal, smic: Decimal) -> Decimal:
    """Part du forfait retirée par les ressources dégressives, non arrondie (R25)."""
    diviseur = params.CEJ_PART_SMIC_EXTINCTION * smic - params.CEJ_FRANCHISE_DEGRESSIVE
    if diviseur <= 0:
        raise ValueError(f"SMIC {smic} incohérent : 80 % du SMIC doit dépasser 300 €.")
    return max(ZERO, degressives - params.CEJ_FRANCHISE_DEGRESSIVE) * forfait / diviseur


def montant_cej(
    forfait: Decimal,
    deductibles: Decimal,
    degressives: Decimal,
    smic: Decimal,
    suspensive: bool = False,
    non_cumulable: bool = False,
) -> Decimal:
    """Allocation CEJ du mois, au centime.

    A = max(0, F − D − max(0, P − 300) × F / (0,8 × SMIC − 300))  (R25, R24)
    avec F le forfait, D les ressources déductibles, P les ressources dégressives de M-1 (R28) et le
    SMIC brut mensuel. Une ressource suspensive (R26) ou non cumulable (R27) donne 0.
    """
    forfait = _decimal(forfait, "Forfait")
    deductibles = _decimal(deductibles, "Ressources déductibles")
    degressives = _decimal(degressives, "Ressources dégressives")
    smic = _decimal(smic, "SMIC")
    if suspensive or non_cumulable:  # R26, R27
        return ZERO.quantize(CENTIME)
    # R24 + R25, rounded once at the end
    brut = forfait - deductibles - _reduction_degressive(forfait, degressives, smic)
    return arrondir(max(ZERO, brut))


def apres_ressources_differentielles(montant: Decimal, ressources_differentielles: Decimal) -> Decimal:
    """R47 : les ressources différentielles se retranchent euro pour euro, sans descendre sous 0."""
    montant = _decimal(montant, "Montant")
    rd = _decimal(ressources_differentielles, "Ressources différentielles")
    return arrondir(max(ZERO, montant - rd))


# --- PACEA ---------------------------------------------------------------------------------------


def pacea_eligible(ressources_mois: Decimal, cej_mois_precedent: Decimal = ZERO) -> bool:
    """R33 : allocation PACEA possible si les ressources du mois, allocation CEJ reçue en M-1
    comprise (passage du CEJ au PACEA), ne dépassent pas 300 €."""
    total = _decimal(ressources_mois, "Ressources") + _decimal(cej_mois_precedent, "Allocation CEJ de M-1")
    return total <= params.PACEA_SEUIL_RESSOURCES


def plafond_pacea_mensuel(plafonds: PlafondsPacea = PLAFONDS_PACEA) -> Decimal:
    """R34 : plafond mensuel (528,00 € par défaut, paramétrable via `PlafondsPacea`)."""
    return plafonds.mensuel


def plafond_pacea_annuel(plafonds: PlafondsPacea = PLAFONDS_PACEA) -> Decimal:
    """R34 : plafond annuel = 6 × le plafond mensuel depuis 2021 [W8]."""
    return plafonds.annuel


def montant_pacea(
    demande: Decimal,
    ressources: Decimal,
    cej_precedent: Decimal = ZERO,
    deja_verse_annee: Decimal = ZERO,
    *,
    plafonds: PlafondsPacea = PLAFONDS_PACEA,
) -> Decimal:
    """Allocation PACEA accordable : le montant demandé, borné par le plafond mensuel et par ce
    qui reste du plafond annuel ; 0 si le mois n'est pas éligible (R33, R34).

    `deja_verse_annee` est la somme déjà versée sur l'année que l'appelant retient [derived : les
    textes disent « par an » sans préciser année civile ou glissante ; l'année civile est le choix
    le plus simple à contrôler].
    """
    demande = _decimal(demande, "Montant demandé")
    deja = _decimal(deja_verse_annee, "Montant déjà versé dans l'année")
    if not pacea_eligible(ressources, cej_precedent):  # R33
        return ZERO.quantize(CENTIME)
    reste_annuel = max(ZERO, plafonds.annuel - deja)  # R34
    return arrondir(min(demande, plafonds.mensuel, reste_annuel))


# --- Calcul complet, pour l'écran ----------------------------------------------------------------


@dataclass(frozen=True)
class ResultatAllocation:
    """Le montant et de quoi montrer comment il a été obtenu."""

    dispositif: str
    mois: date  # premier jour du mois M de l'allocation
    mois_ressources: date  # premier jour de M-1 (R28)
    montant: Decimal
    forfait: Decimal | None  # F (CEJ) ; None pour le PACEA
    deductibles: Decimal  # D (R24)
    degressives: Decimal  # P (R25)
    suspensives: Decimal  # R26
    non_cumulables: Decimal  # R27
    exclues: Decimal  # R29
    ressources_differentielles: Decimal  # R47
    smic: Decimal | None
    reduction_degressive: Decimal  # part de F retirée par P, arrondie pour l'affichage
    motif_nul: str | None  # pourquoi le montant est nul, en français ; None s'il ne l'est pas

    @property
    def ressources_comptees(self) -> Decimal:
        """Total des ressources hors ressources exclues (sert au seuil PACEA, R33)."""
        return self.deductibles + self.degressives + self.suspensives + self.non_cumulables


def _ventiler(lignes: Iterable[tuple[str, Decimal]]) -> dict[CategorieRessource, Decimal]:
    totaux = {c: ZERO for c in CategorieRessource}
    for type_ressource, montant in lignes:
        totaux[categorie_ressource(type_ressource)] += _decimal(montant, f"Ressource « {type_ressource} »")
    return totaux


def calculer_allocation(
    dispositif: str,
    mois: date,
    lignes: Iterable[tuple[str, Decimal]],
    *,
    mineur: bool = False,
    tranche_fiscale: str | None = None,
    forfait: Decimal | None = None,
    smic: Decimal | None = None,
    ressources_differentielles: Decimal = ZERO,
    etudiant: bool = False,
    montant_demande: Decimal | None = None,
    cej_mois_precedent: Decimal = ZERO,
    deja_verse_annee: Decimal = ZERO,
    plafonds_pacea: PlafondsPacea = PLAFONDS_PACEA,
) -> ResultatAllocation:
    """Calcule l'allocation du mois `mois` à partir des lignes de ressources (type, montant).

    Les `lignes` sont les ressources du mois M-1 (R28) : c'est à l'appelant de les choisir.

    CEJ : `forfait` est le montant fixé au cerfa (R22) ; à défaut il est lu dans le barème R21 avec
    `mineur` et `tranche_fiscale`. `smic` est par défaut le SMIC brut mensuel en vigueur au mois M.
    PACEA : `montant_demande` (fixé par la Mission Locale) est borné par R33/R34 ;
    `cej_mois_precedent` est l'allocation CEJ reçue en M-1 (R33).
    Les deux : `ressources_differentielles` se retranchent du résultat (R47).
    """
    code = params.normaliser_dispositif(dispositif)
    mois = _premier_du_mois(mois)
    totaux = _ventiler(lignes)
    rd = _decimal(ressources_differentielles, "Ressources différentielles")
    d = totaux[CategorieRessource.DEDUCTIBLE]
    p = totaux[CategorieRessource.DEGRESSIVE]
    s = totaux[CategorieRessource.SUSPENSIVE]
    n = totaux[CategorieRessource.NON_CUMULABLE]
    commun = dict(
        dispositif=code,
        mois=mois,
        mois_ressources=_mois_precedent(mois),
        deductibles=d,
        degressives=p,
        suspensives=s,
        non_cumulables=n,
        exclues=totaux[CategorieRessource.EXCLUE],
        ressources_differentielles=rd,
    )
    if code == PACEA:
        return _calculer_pacea(commun, montant_demande, cej_mois_precedent, deja_verse_annee, plafonds_pacea)

    if forfait is None:
        if tranche_fiscale is None:
            raise ValueError("CEJ : tranche fiscale du foyer ou forfait du cerfa requis.")
        f = montant_forfaitaire_cej(mois, mineur=mineur, tranche_fiscale=tranche_fiscale)
    else:
        f = _decimal(forfait, "Forfait")
    smic_mois = smic_brut_mensuel(mois) if smic is None else _decimal(smic, "SMIC")
    reduction = _reduction_degressive(f, p, smic_mois)
    montant = montant_cej(f, d, p, smic_mois, suspensive=s > 0, non_cumulable=n > 0)

    motif: str | None = None
    if etudiant:  # E1 / W1: a youth in education is not eligible
        montant, motif = ZERO, "Jeune en études : pas d'allocation CEJ."
    elif f == 0:
        motif = "Foyer fiscal imposé au-delà de la première tranche : pas d'allocation CEJ (R21)."
    elif s > 0:
        motif = "Ressource suspensive (volontariat, service civique) : allocation suspendue (R26)."
    elif n > 0:
        motif = "RSA ou prime d'activité : allocation CEJ non cumulable (R27)."
    elif montant == 0:
        if d >= f:
            motif = "Ressources déductibles supérieures ou égales au forfait (R24)."
        else:
            motif = "Ressources du mois précédent trop élevées : allocation réduite à 0 (R24, R25)."
    if montant > 0 and rd > 0:
        montant = apres_ressources_differentielles(montant, rd)
        if montant == 0:
            motif = "Ressources différentielles égales au montant versé : reversement intégral (R47)."
    return ResultatAllocation(
        **commun,
        montant=arrondir(montant),
        forfait=f,
        smic=smic_mois,
        reduction_degressive=arrondir(reduction),
        motif_nul=motif,
    )


def _calculer_pacea(
    commun: dict,
    montant_demande: Decimal | None,
    cej_mois_precedent: Decimal,
    deja_verse_annee: Decimal,
    plafonds: PlafondsPacea,
) -> ResultatAllocation:
    if montant_demande is None:
        raise ValueError("PACEA : montant demandé requis.")
    ressources = commun["deductibles"] + commun["degressives"] + commun["suspensives"] + commun["non_cumulables"]
    montant = montant_pacea(montant_demande, ressources, cej_mois_precedent, deja_verse_annee, plafonds=plafonds)
    motif: str | None = None
    if not pacea_eligible(ressources, cej_mois_precedent):
        motif = (
            "Ressources du mois supérieures à 300 € (allocation CEJ de M-1 comprise) : "
            "pas d'allocation PACEA (R33)."
        )
    elif montant == 0 and _decimal(montant_demande, "Montant demandé") > 0:
        motif = "Plafond annuel PACEA atteint (R34)."
    rd = commun["ressources_differentielles"]
    if montant > 0 and rd > 0:
        montant = apres_ressources_differentielles(montant, rd)
        if montant == 0:
            motif = "Ressources différentielles égales au montant versé : reversement intégral (R47)."
    return ResultatAllocation(
        **commun,
        montant=montant,
        forfait=None,
        smic=None,
        reduction_degressive=ZERO.quantize(CENTIME),
        motif_nul=motif,
    )


# --- Corrections (R46, R47) ----------------------------------------------------------------------


class NatureDifferentiel(StrEnum):
    COMPLEMENT = "complement"  # the ASP pays the shortfall
    TROP_PERCU = "trop_percu"  # the ASP raises a reversement
    AUCUN = "aucun"


def differentiel(montant_verse: Decimal, montant_corrige: Decimal) -> Decimal:
    """R46 : montant corrigé − montant versé. Positif : complément à verser ; négatif : trop-perçu."""
    verse = _decimal(montant_verse, "Montant versé")
    corrige = _decimal(montant_corrige, "Montant corrigé")
    return arrondir(corrige - verse)


def nature_differentiel(montant_verse: Decimal, montant_corrige: Decimal) -> NatureDifferentiel:
    """R46 : « complement », « trop_percu » ou « aucun » selon le signe du différentiel."""
    ecart = differentiel(montant_verse, montant_corrige)
    if ecart > 0:
        return NatureDifferentiel.COMPLEMENT
    if ecart < 0:
        return NatureDifferentiel.TROP_PERCU
    return NatureDifferentiel.AUCUN


# --- R37: CEJ sanctions (the hook the allowance computation applies) ----------------------------------


def appliquer_sanction_r37(resultat: ResultatAllocation, taux: Decimal) -> ResultatAllocation:
    """R37 : le mois visé par une sanction perd 25 % (1er manquement) ou 100 % (2e) de son allocation CEJ.

    `taux` vient de `rules.parcours.taux_sanction` (0 : pas de sanction ce mois-là). Appliqué après
    les ressources (R21-R29) et les ressources différentielles (R47) : c'est l'allocation du mois qui
    est réduite."""
    from dataclasses import replace

    taux = _decimal(taux, "Taux de sanction")
    if taux <= 0 or resultat.dispositif != params.CEJ or resultat.montant == 0:
        return resultat
    if taux > 1:
        raise ValueError("Taux de sanction supérieur à 100 %.")
    montant = arrondir(resultat.montant * (1 - taux))
    if montant == 0:
        motif = "Sanction (2e manquement) : allocation du mois supprimée (R37)."
    else:
        motif = resultat.motif_nul
    return replace(resultat, montant=montant, motif_nul=motif)
