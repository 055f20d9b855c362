"""Calendrier des envois à l'ASP, délais (hors délai, forclusion) et verrouillage des comptes.

Fonctions pures sur des dates : « aujourd'hui » est toujours passé par l'appelant (horloge de
l'application), jamais lu ici. Un « mois » est une date quelconque du mois ; seul (année, mois) compte.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from . import params
from .params import DUREE_VERROUILLAGE, MAX_ECHECS, PACEA

__all__ = [
    "DUREE_VERROUILLAGE",
    "MAX_ECHECS",
    "age_revolu",
    "date_execution",
    "derniere_date_envoi",
    "est_forclos",
    "est_hors_delai",
    "est_verrouille",
    "fin_verrouillage",
    "hors_forclusion",
    "jour_ouvre_target",
    "premier_mois_non_forclos",
    "prochaine_date_envoi",
]


def _premier_du_mois(d: date) -> date:
    return date(d.year, d.month, 1)


def _ajouter_mois(d: date, n: int) -> date:
    """Premier jour du mois situé `n` mois après celui de `d`."""
    index = d.year * 12 + (d.month - 1) + n
    return date(index // 12, index % 12 + 1, 1)


# --- Envois à l'ASP (R41) ------------------------------------------------------------------------


def prochaine_date_envoi(dispositif: str, aujourd_hui: date) -> date:
    """Date du prochain envoi à l'ASP (R41).

    CEJ : le prochain 1er ou 15 du mois, aujourd'hui compris (le 2 mai → le 15 mai ; le 16 mai →
    le 1er juin ; le 15 mai → le 15 mai).
    PACEA : le 1er du mois suivant, toujours [derived : R41 dit « le 1er du mois suivant » ; une
    allocation saisie un 1er part donc le 1er du mois d'après, l'envoi du jour pouvant être parti].
    """
    code = params.normaliser_dispositif(dispositif)
    if code == PACEA:
        return _ajouter_mois(aujourd_hui, 1)
    for jour in params.CEJ_JOURS_ENVOI:
        if aujourd_hui.day <= jour:
            return aujourd_hui.replace(day=jour)
    return _ajouter_mois(aujourd_hui, 1).replace(day=params.CEJ_JOURS_ENVOI[0])


def derniere_date_envoi(dispositif: str, mois_allocation: date) -> date:
    """Dernier envoi régulier à l'ASP pour l'allocation du mois M (R35, R41) [derived].

    L'allocation de M est payée à terme échu en M+1 (R35). PACEA : l'envoi du 1er de M+1 ;
    CEJ : les envois du 1er et du 15 de M+1, le 15 étant la dernière fenêtre (E7 : l'allocation
    d'avril part « autour du 1er ou du 15 mai »).
    """
    code = params.normaliser_dispositif(dispositif)
    suivant = _ajouter_mois(mois_allocation, 1)
    if code == PACEA:
        return suivant.replace(day=params.PACEA_JOUR_ENVOI)
    return suivant.replace(day=params.CEJ_JOURS_ENVOI[-1])


def est_hors_delai(mois_allocation: date, aujourd_hui: date, *, dispositif: str) -> bool:
    """Vrai si l'allocation du mois M ne peut plus partir dans un envoi régulier (R48).

    [derived] Lecture retenue : une allocation est hors délai dès que le dernier envoi régulier
    pour M est passé, soit à partir du lendemain de `derniere_date_envoi` (PACEA : après le 1er de
    M+1 ; CEJ : après le 15 de M+1). Le jour même de l'envoi elle est encore dans les temps. Une
    allocation hors délai demande l'approbation du responsable (R48).
    """
    return aujourd_hui > derniere_date_envoi(dispositif, mois_allocation)


# --- Forclusion (R36) ----------------------------------------------------------------------------


def est_forclos(mois: date, date_dossier_complet: date) -> bool:
    """Vrai si le montant du mois `mois` est perdu (R36).

    Les sommes dues pour des périodes de plus de 3 mois antérieures à la réception du dossier
    complet sont perdues. [derived] Un mois est perdu si tout le mois précède la date du dossier
    complet moins 3 mois, soit si M < mois(dossier) − 3 : dossier complet le 10 juin → février est
    perdu, mars ne l'est pas.
    """
    return _premier_du_mois(mois) < _ajouter_mois(date_dossier_complet, -params.FORCLUSION_MOIS)


def premier_mois_non_forclos(date_dossier_complet: date) -> date:
    """Premier jour du plus ancien mois encore payable pour un dossier complet le `date_dossier_complet`
    (R36) : `est_forclos(m, d)` équivaut à `m < premier_mois_non_forclos(d)` (dossier le 10 juin → mars)."""
    return _ajouter_mois(date_dossier_complet, -params.FORCLUSION_MOIS)


def hors_forclusion(mois: date, date_dossier_complet: date) -> bool:
    """Vrai si le mois `mois` peut encore être payé, c'est-à-dire n'est pas forclos (R36)."""
    return not est_forclos(mois, date_dossier_complet)


# --- Âge ---------------------------------------------------------------------------------------


def age_revolu(naissance: date, jour: date) -> int:
    """Âge en années révolues le `jour` (l'anniversaire compte le jour même)."""
    return jour.year - naissance.year - ((jour.month, jour.day) < (naissance.month, naissance.day))


# --- Date d'exécution SEPA -----------------------------------------------------------------------


def _paques(annee: int) -> date:
    """Dimanche de Pâques (calendrier grégorien, algorithme de Meeus/Jones/Butcher)."""
    a, b, c = annee % 19, annee // 100, annee % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    mois, jour = divmod(h + l_ - 7 * m + 114, 31)
    return date(annee, mois, jour + 1)


def jour_ouvre_target(d: date) -> bool:
    """Jour d'ouverture de TARGET2 (règlement des virements SEPA) : ni week-end, ni 1er janvier,
    Vendredi saint, lundi de Pâques, 1er mai, 25 et 26 décembre."""
    if d.weekday() >= 5:
        return False
    paques = _paques(d.year)
    feries = {
        date(d.year, 1, 1),
        paques - timedelta(days=2),
        paques + timedelta(days=1),
        date(d.year, 5, 1),
        date(d.year, 12, 25),
        date(d.year, 12, 26),
    }
    return d not in feries


def date_execution(date_envoi: date, *, delai_jours_ouvres: int = 1) -> date:
    """Date d'exécution demandée (ReqdExctnDt) pour un fichier remis le `date_envoi`.

    Le `delai_jours_ouvres`-ième jour ouvré TARGET2 strictement après la remise ; avec 0, le premier
    jour ouvré à partir de la remise incluse [derived : le délai de la banque de l'agence est à
    confirmer, d'où le paramètre].
    """
    if delai_jours_ouvres < 0:
        raise ValueError("Le délai en jours ouvrés doit être positif ou nul.")
    jour = date_envoi
    if delai_jours_ouvres == 0:
        while not jour_ouvre_target(jour):
            jour += timedelta(days=1)
        return jour
    restants = delai_jours_ouvres
    while restants:
        jour += timedelta(days=1)
        if jour_ouvre_target(jour):
            restants -= 1
    return jour


# --- Verrouillage des comptes (R68) --------------------------------------------------------------


def fin_verrouillage(derniere_echec: datetime) -> datetime:
    """R68 : le compte se déverrouille 30 minutes après le dernier (3e) échec."""
    return derniere_echec + DUREE_VERROUILLAGE


def est_verrouille(echecs_consecutifs: int, derniere_echec: datetime | None, maintenant: datetime) -> bool:
    """R68 : verrouillé après 3 échecs consécutifs, jusqu'à 30 minutes après le dernier.

    À la fin du verrouillage (10:32 pour un 3e échec à 10:02) la connexion est de nouveau permise ;
    c'est à l'appelant de remettre le compteur à 0 sur un succès (E11).
    """
    if echecs_consecutifs < MAX_ECHECS or derniere_echec is None:
        return False
    return maintenant < fin_verrouillage(derniere_echec)

