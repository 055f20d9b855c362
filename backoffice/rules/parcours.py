"""Parcours (enrolments): durations, ages, renewals and the CEJ sanctions, as pure functions.

The catalogue (`Dispositif`: durée max, renouvellements, âges, France Travail) is passed in as a
`Catalogue` value: nothing here reads the database. Dates are `datetime.date`; months are added
calendar-wise, the day clamped to the month's last day (31/01 + 1 mois = 28/02 or 29/02).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from . import params

PACEA, CEJ, PAO, DIAG, RE, PARRAINAGE = "PACEA", "CEJ", "PAO", "DIAG", "RE", "PARRAINAGE"
QPV, AVENIR_PRO, DECLIC = "QPV", "AVENIR_PRO", "DECLIC"
# R13: the Loi pour le plein emploi: PACEA entries from this day need France Travail registration
DEBUT_OBLIGATION_FRANCE_TRAVAIL = date(2025, 1, 1)
# R7: a path is contracted within 1 month of the first interview; later if justified, never beyond 3 months
DELAI_CONTRACTUALISATION_MOIS = 1
DELAI_CONTRACTUALISATION_MAX_MOIS = 3
# rules.md 2.3 / W33: the CEJ ends at the 26th birthday (the 30th with a RQTH: 29 révolus)
FIN_CEJ_AGE, FIN_CEJ_AGE_RQTH = params.CEJ_AGE_MAX + 1, params.CEJ_AGE_MAX_RQTH + 1
# R16: the PACEA alert after two months without contact
MOIS_SANS_CONTACT_ALERTE = 2
# R5: CEJ weekly activity hours
HEURES_CEJ_MIN, HEURES_CEJ_MAX = 15, 20


@dataclass(frozen=True)
class Catalogue:
    """What the rules need of a `Dispositif` row."""

    code: str
    duree_min_jours: int | None = None
    duree_max_mois: int | None = None
    renouvelable: bool = False
    nb_renouvellements_max: int = 0
    duree_renouvellement_mois: int | None = None
    france_travail_requis: bool = False
    age_min: int | None = None
    age_max: int | None = None


@dataclass(frozen=True)
class Jeune:
    naissance: date
    ressortissant_eee: bool = True
    numero_agdref: str | None = None
    fin_titre_sejour: date | None = None
    inscrit_france_travail: bool = False
    rqth: bool = False


def ajouter_mois(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def premier_du_mois(d: date) -> date:
    return d.replace(day=1)


def dernier_du_mois(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def age(naissance: date, jour: date) -> int:
    """Âge révolu le jour `jour`."""
    return jour.year - naissance.year - ((jour.month, jour.day) < (naissance.month, naissance.day))


def anniversaire(naissance: date, ans: int) -> date:
    """Le jour des `ans` ans (un 29 février fête ses anniversaires le 1er mars les années non bissextiles)."""
    try:
        return naissance.replace(year=naissance.year + ans)
    except ValueError:
        return date(naissance.year + ans, 3, 1)


def limite_age(cat: Catalogue, jeune: Jeune) -> date | None:
    """Le dernier jour possible du parcours au titre de l'âge : la veille des 26 ans au CEJ (30 avec RQTH)."""
    if cat.code == CEJ:
        return anniversaire(jeune.naissance, FIN_CEJ_AGE_RQTH if jeune.rqth else FIN_CEJ_AGE) - timedelta(days=1)
    if cat.age_max is not None:
        return anniversaire(jeune.naissance, cat.age_max + 1) - timedelta(days=1)
    return None


def fin_maximale(cat: Catalogue, debut: date, nb_renouvellements: int = 0) -> date | None:
    """Le dernier jour d'un parcours ouvert le `debut`, après `nb_renouvellements` renouvellements."""
    if cat.duree_max_mois is None:
        return None
    mois = cat.duree_max_mois + nb_renouvellements * (cat.duree_renouvellement_mois or 0)
    return ajouter_mois(debut, mois) - timedelta(days=1)


def bornes(cat: Catalogue, jeune: Jeune, debut: date, nb_renouvellements: int = 0) -> date | None:
    """Fin maximale bornée par l'âge (CEJ : 26 ans) et, au PACEA, par la fin du titre de séjour (R17)."""
    candidates = [fin_maximale(cat, debut, nb_renouvellements), limite_age(cat, jeune)]
    if cat.code == PACEA and not jeune.ressortissant_eee and jeune.fin_titre_sejour is not None:
        candidates.append(jeune.fin_titre_sejour)  # R17: the real end = the permit's last valid day
    candidates = [c for c in candidates if c is not None]
    return min(candidates) if candidates else None


def fin_prevue(cat: Catalogue, jeune: Jeune, debut: date, demandee: date | None = None) -> date:
    """La fin prévue à l'ouverture : celle demandée (que `refus_ouverture` contrôle), sinon la durée
    maximale bornée par l'âge et le titre de séjour (R17) ; sans durée au catalogue, un an."""
    if demandee is not None:
        return demandee
    borne = bornes(cat, jeune, debut)
    return borne if borne is not None else ajouter_mois(debut, 12) - timedelta(days=1)


@dataclass(frozen=True)
class Saisie:
    """What the adviser typed on the enrolment beyond its dates (R7, R8, R9, R11)."""

    premier_entretien: date | None = None  # R7; the attached individual interview (R3, R9)
    justification_delai: str | None = None  # R7: contracted more than 1 month after the first interview
    prescripteur: str | None = None
    referent: bool = False  # a référent is named
    pilote: str | None = None
    pilote_catalogue: str | None = None
    parrain: str | None = None  # R8
    acceptation_parrainage: date | None = None  # R8: joint acceptance of the youth and the mentor
    eligibilite_attestee: bool = False  # R11


def refus_saisie(cat: Catalogue, debut: date, saisie: Saisie) -> list[str]:
    """R7, R8, R9, R11: what an opening needs beyond ages and dates."""
    refus = []
    p = saisie.premier_entretien
    if p is not None:
        if debut < p:
            refus.append("Le parcours ne peut pas commencer avant le premier entretien (R7).")
        elif debut > ajouter_mois(p, DELAI_CONTRACTUALISATION_MAX_MOIS):
            refus.append("Parcours contractualisé plus de 3 mois après le premier entretien (R7).")
        elif debut > ajouter_mois(p, DELAI_CONTRACTUALISATION_MOIS) and not (saisie.justification_delai or "").strip():
            refus.append("Parcours contractualisé plus d'un mois après le premier entretien : justifiez le délai "
                         "(besoins particuliers ou situation du jeune ; 3 mois au plus) (R7).")
    if cat.code == QPV:
        if saisie.prescripteur or saisie.referent:
            refus.append("QPV : ni prescripteur ni référent (R9).")
        if p is not None and p != debut:
            refus.append("QPV : la date de l'entretien et celle de l'entrée sont celles du premier accueil ou du "
                         "déménagement : les mêmes (R9).")
    if saisie.pilote_catalogue and saisie.pilote and saisie.pilote != saisie.pilote_catalogue:
        refus.append(f"{cat.code} : pilote {saisie.pilote_catalogue} (R9).")
    if cat.code == PARRAINAGE:
        if not (saisie.parrain or "").strip() or saisie.acceptation_parrainage is None:
            refus.append("Parrainage : le parrain (ou la marraine) et la date de l'acceptation conjointe du jeune "
                         "et du parrain sont obligatoires (R8).")
        elif debut < saisie.acceptation_parrainage:
            refus.append("Parrainage : il débute après l'acceptation conjointe du jeune et du parrain (R8).")
    if cat.code == AVENIR_PRO and not saisie.eligibilite_attestee:
        refus.append("Avenir Pro : pour les lycéens professionnels en dernière année qui n'envisagent pas de "
                     "poursuite d'études ; attestez-le (R11).")
    return refus


def refus_ouverture(cat: Catalogue, jeune: Jeune, debut: date, fin: date | None = None, *,
                    premier_entretien: date | None = None, saisie: Saisie | None = None) -> list[str]:
    """Les raisons (en français, avec la règle) pour lesquelles ce parcours ne peut pas s'ouvrir ; [] s'il le peut."""
    refus = []
    a = age(jeune.naissance, debut)
    if cat.code == CEJ:
        limite = params.CEJ_AGE_MAX_RQTH if jeune.rqth else params.CEJ_AGE_MAX
        if not params.CEJ_AGE_MIN <= a <= limite:
            refus.append(f"CEJ : de {params.CEJ_AGE_MIN} à {limite} ans révolus à l'entrée "
                         f"({'avec' if jeune.rqth else 'sans'} RQTH), le jeune a {a} ans (rules.md 2.3).")
    elif cat.age_min is not None and a < cat.age_min or cat.age_max is not None and a > cat.age_max:
        refus.append(f"Âge à l'entrée hors des bornes du dispositif ({cat.age_min} à {cat.age_max} ans) : "
                     f"le jeune a {a} ans.")
    if cat.code == PAO and jeune.inscrit_france_travail:
        refus.append("PAO : le jeune ne doit pas être inscrit à France Travail ; il peut signer un PACEA "
                     "ou un CEJ (R10).")
    elif cat.code == PACEA and debut >= DEBUT_OBLIGATION_FRANCE_TRAVAIL and not jeune.inscrit_france_travail:
        refus.append("PACEA : inscription à France Travail requise depuis le 01/01/2025 (R13).")
    elif cat.code == DECLIC and not jeune.inscrit_france_travail:
        refus.append("Déclic pour l'action : pour les demandeurs d'emploi de 18 à 25 ans, inscrits à France "
                     "Travail (R12).")
    elif cat.france_travail_requis and not jeune.inscrit_france_travail and cat.code != PAO:
        refus.append(f"{cat.code} : inscription à France Travail requise (R13).")
    if not jeune.ressortissant_eee and (not jeune.numero_agdref or jeune.fin_titre_sejour is None):
        refus.append("Hors EEE : n° AGDREF et date de fin du titre de séjour obligatoires (R14).")
    if (cat.code == PACEA and not jeune.ressortissant_eee and jeune.fin_titre_sejour is not None
            and jeune.fin_titre_sejour < debut):
        refus.append("PACEA : le titre de séjour a pris fin avant l'entrée (R17).")
    if saisie is None:
        saisie = Saisie(premier_entretien=premier_entretien)
    refus += refus_saisie(cat, debut, saisie)
    if fin is not None:
        if fin < debut:
            refus.append("La fin prévue précède le début du parcours.")
        else:
            jours = (fin - debut).days + 1
            if cat.duree_min_jours and jours < cat.duree_min_jours:
                regle = " (R8 : parrainage de 6 semaines à 6 mois)" if cat.code == PARRAINAGE else ""
                refus.append(f"Durée inférieure au minimum du dispositif : {cat.duree_min_jours} jours{regle}.")
            maxi = fin_maximale(cat, debut)
            if maxi is not None and fin > maxi:
                regle = {DIAG: " (R6)", RE: " (R1)", PARRAINAGE: " (R8)"}.get(cat.code, "")
                refus.append(f"Durée supérieure au maximum du dispositif : {cat.duree_max_mois} mois{regle}.")
            limite = limite_age(cat, jeune)
            if limite is not None and fin > limite:
                refus.append(f"Fin prévue au-delà de la limite d'âge du dispositif (le {limite:%d/%m/%Y} au plus).")
            if (cat.code == PACEA and not jeune.ressortissant_eee and jeune.fin_titre_sejour is not None
                    and debut <= jeune.fin_titre_sejour < fin):
                refus.append("PACEA : la fin réelle est le dernier jour de validité du titre de séjour (R17).")
    return refus


def refus_renouvellement(cat: Catalogue, jeune: Jeune, debut: date, fin_actuelle: date,
                         nb_renouvellements: int, jour: date) -> str | None:
    """Pourquoi ce parcours ne peut pas être renouvelé (None s'il le peut)."""
    if cat.code == PACEA:
        return "Le PACEA ne se renouvelle pas : ouvrez un second PACEA le mois suivant sa clôture (R15, R17)."
    if not cat.renouvelable or nb_renouvellements >= cat.nb_renouvellements_max:
        if cat.renouvelable:
            return (f"Nombre maximal de renouvellements atteint ({cat.nb_renouvellements_max} pour ce "
                    f"dispositif) (R1).")
        return "Ce dispositif ne se renouvelle pas (R1, R6)."
    if fin_actuelle < jour:
        return "Parcours arrivé à son terme : il ne se renouvelle plus, clôturez-le."
    nouvelle = fin_renouvellement(cat, jeune, debut, fin_actuelle, nb_renouvellements)
    if nouvelle <= fin_actuelle:
        return "Limite d'âge atteinte : le parcours ne peut pas être prolongé (CEJ : 26 ans, 30 avec RQTH)."
    return None


def fin_renouvellement(cat: Catalogue, jeune: Jeune, debut: date, fin_actuelle: date,
                       nb_renouvellements: int) -> date:
    """La fin prévue après un renouvellement de `duree_renouvellement_mois`, bornée (âge, durée totale)."""
    prolongee = ajouter_mois(fin_actuelle + timedelta(days=1), cat.duree_renouvellement_mois or 0) - timedelta(days=1)
    borne = bornes(cat, jeune, debut, nb_renouvellements + 1)
    return min(prolongee, borne) if borne is not None else prolongee


# --- R37: CEJ sanctions ---------------------------------------------------------------------------

TAUX_SANCTION = {1: Decimal("0.25"), 2: Decimal("1.00")}  # 1st breach: -25 %, 2nd: the month removed


def mois_effet_sanction(notification: date) -> date:
    """R37: a decision takes effect on the 1st of the month after its notification."""
    return premier_du_mois(ajouter_mois(premier_du_mois(notification), 1))


def taux_sanction(mois: date, sanctions: list[tuple[int, date | None]]) -> Decimal:
    """Part du mois `mois` retirée par les sanctions [(rang du manquement, mois d'effet)] : 0, 0,25 ou 1."""
    mois = premier_du_mois(mois)
    taux = Decimal("0")
    for rang, effet in sanctions:
        if effet is not None and premier_du_mois(effet) == mois:
            taux = max(taux, TAUX_SANCTION.get(rang, Decimal("1.00")))
    return taux


def sans_contact_depuis(dernier_contact: date | None, debut: date, jour: date) -> bool:
    """R16: no individual interview for two months (from the start when there was none)."""
    return ajouter_mois(dernier_contact or debut, MOIS_SANS_CONTACT_ALERTE) <= jour
