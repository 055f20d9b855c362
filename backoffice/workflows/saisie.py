"""Creating allocations and their corrective versions: amounts always come from the pure rules.

Not status transitions (a new row starts `enregistree`), but they belong with the workflows: the
nature (entrée, courante, 1re de renouvellement) decides which transitions apply later (R42-R44).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..models import Allocation, Beneficiaire, Cerfa, Dispositif, Inscription, Ressource
from ..models.enums import AllocationNature as N, AllocationStatut as S, CerfaType
from ..rules import params as regles
from ..rules.calendrier import age_revolu, derniere_date_envoi, est_hors_delai
from ..rules.montants import (ResultatAllocation, TypeRessource, age_eligible_cej, calculer_allocation,
                              categorie_ressource)
from . import audit
from .allocations import CORRIGEABLES, deja_verse_expr
from .errors import TransitionRefused

_age = age_revolu
ZERO = Decimal("0.00")


def _maintenant() -> datetime:
    from ..clock import now
    return now()


def _jour(now) -> date:
    return now.date() if isinstance(now, datetime) else now


def _mois_precedent(d: date) -> date:
    return date(d.year - 1, 12, 1) if d.month == 1 else date(d.year, d.month - 1, 1)


def montants_en_vigueur(session, beneficiaire_id: int, code: str, *where) -> Decimal:
    """Sum of the youth's allowances of a programme that stand: the latest version of each month,
    neither refused nor replaced (what the youth has been or will be paid)."""
    suivante = aliased(Allocation)
    with session.no_autoflush:
        total = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Allocation.montant), 0))
            .join(Dispositif, Dispositif.id == Allocation.dispositif_id)
            .where(Allocation.beneficiaire_id == beneficiaire_id, Dispositif.code == code,
                   Allocation.statut.notin_([S.REFUSEE, S.REMPLACEE]),
                   ~sa.exists().where(suivante.corrige_id == Allocation.id, suivante.statut != S.REFUSEE),
                   *where)).scalar_one()
    return Decimal(total).quantize(ZERO)


def deja_verse_annee_pacea(session, beneficiaire_id: int, mois: date) -> Decimal:
    """R34: PACEA granted to the youth over the other months of the calendar year of `mois` [derived:
    calendar year, see rules.montants.montant_pacea]."""
    return montants_en_vigueur(session, beneficiaire_id, regles.PACEA,
                               Allocation.mois >= date(mois.year, 1, 1), Allocation.mois < date(mois.year + 1, 1, 1),
                               Allocation.mois != mois.replace(day=1))


def cej_mois_precedent(session, beneficiaire_id: int, mois: date) -> Decimal:
    """R33/E8: the CEJ allowance of M-1 counts in the PACEA resources of M [derived: the allowance for
    the month M-1, whatever its payment date]."""
    return montants_en_vigueur(session, beneficiaire_id, regles.CEJ, Allocation.mois == _mois_precedent(mois))


def calculer(session, inscription: Inscription, mois: date, lignes: list[tuple[str, Decimal]], *,
             ressources_differentielles: Decimal = Decimal("0"), cerfa: Cerfa | None = None,
             montant_demande: Decimal | None = None, forfait: Decimal | None = None) -> ResultatAllocation:
    b: Beneficiaire = inscription.beneficiaire
    mois = mois.replace(day=1)
    code = inscription.dispositif.code
    if forfait is None and cerfa is not None and code == "CEJ":
        forfait = cerfa.montant_prevu  # R22: fixed at signature unless revised
    pacea = {}
    if code == regles.PACEA:  # R33/R34: what the rules need from the youth's other months
        pacea = {"deja_verse_annee": deja_verse_annee_pacea(session, b.id, mois),
                 "cej_mois_precedent": cej_mois_precedent(session, b.id, mois)}
    return _r37(inscription, mois, calculer_allocation(  # R37: a CEJ sanction cuts 25 % or 100 % of the month
        code, mois, lignes, mineur=_age(b.date_naissance, mois) < 18,
        tranche_fiscale=b.tranche_fiscale.value, forfait=forfait,
        ressources_differentielles=ressources_differentielles,
        montant_demande=montant_demande if montant_demande is not None else (
            cerfa.montant_prevu if cerfa is not None else None), **pacea))


def _r37(inscription, mois, resultat):
    from ..rules.montants import appliquer_sanction_r37
    from .parcours import taux_sanction
    return appliquer_sanction_r37(resultat, taux_sanction(inscription, mois))


def verifier_age_cej(inscription: Inscription) -> None:
    """CEJ age limit (rules.md 2.3): 16 to 25 at entry, 29 with a RQTH; the entry of a renewed path is
    the first enrolment's start."""
    if inscription.dispositif.code != regles.CEJ:
        return
    entree, vus = inscription, set()
    while entree.precedente is not None and entree.precedente.id not in vus:
        vus.add(entree.id)
        entree = entree.precedente
    b = inscription.beneficiaire
    age = age_revolu(b.date_naissance, entree.date_debut)
    if not age_eligible_cej(age, rqth=b.rqth):
        limite = regles.CEJ_AGE_MAX_RQTH if b.rqth else regles.CEJ_AGE_MAX
        raise TransitionRefused(
            f"Pas d'allocation CEJ : le jeune avait {age} ans à l'entrée le {entree.date_debut:%d/%m/%Y}, "
            f"hors des limites du CEJ ({regles.CEJ_AGE_MIN} à {limite} ans"
            f"{' avec une RQTH' if b.rqth else ', 29 ans avec une RQTH'}).")


def verifier_dans_les_delais(inscription: Inscription, mois: date, aujourd_hui: date) -> None:
    """R35/R48: a month whose last regular sending is past is never recorded as a normal allocation."""
    code = inscription.dispositif.code
    if code not in regles.DISPOSITIFS_ALLOCATION:
        return
    if est_hors_delai(mois, aujourd_hui, dispositif=code):
        raise TransitionRefused(
            f"L'allocation de {mois:%m/%Y} est hors délai : son dernier envoi régulier était le "
            f"{derniere_date_envoi(code, mois):%d/%m/%Y} (R35). Utilisez « Demander un versement hors délai » "
            "(menu Allocations › Hors délai) : un manager l'approuve avant qu'elle soit soumise (R48).")


def nature_pour(session, inscription: Inscription, cerfa: Cerfa | None, *, sauf: int | None = None) -> N:
    """R42: first allocation of an initial cerfa = entry; R44: first of a renewal is submitted directly."""
    with session.no_autoflush:
        existing = session.execute(sa.select(sa.func.count()).select_from(Allocation).where(
            Allocation.inscription_id == inscription.id, Allocation.corrige_id.is_(None),
            Allocation.id != (sauf or 0))).scalar_one()
    if existing:
        return N.COURANTE
    if cerfa is not None and cerfa.type_version == CerfaType.RENOUVELLEMENT:
        return N.PREMIERE_RENOUVELLEMENT
    return N.ENTREE


def enregistrer_allocation(session, *, inscription_id: int, mois: date, lignes: Iterable[tuple[str, Decimal]] = (),
                           actor, ressources_differentielles: Decimal = Decimal("0"),
                           hors_delai_id: int | None = None, montant_demande: Decimal | None = None,
                           now: datetime | date | None = None, cause: dict | None = None) -> Allocation:
    """Record one allocation. `now` is the recording time (the clock by default): a month past its
    deadline is refused unless it comes from an approved hors-délai request (R35/R48). `cause`, for an
    allocation created by another transition's effect, goes into its audit event (issue 11)."""
    inscription = session.get(Inscription, inscription_id)
    if inscription is None:
        raise TransitionRefused("Parcours introuvable.")
    if not inscription.dispositif.allocation_autorisee:
        raise TransitionRefused("Pas d'allocation sur ce dispositif (R6).")
    now = now or _maintenant()
    mois = mois.replace(day=1)
    verifier_age_cej(inscription)
    if not hors_delai_id:
        verifier_dans_les_delais(inscription, mois, _jour(now))
    cerfa = session.execute(sa.select(Cerfa).where(Cerfa.inscription_id == inscription.id)
                            .order_by(Cerfa.id.desc()).limit(1)).scalar_one_or_none()
    lignes = list(lignes)
    result = calculer(session, inscription, mois, lignes, ressources_differentielles=ressources_differentielles,
                      cerfa=cerfa, montant_demande=montant_demande)
    nature = N.HORS_DELAI if hors_delai_id else nature_pour(session, inscription, cerfa)
    a = Allocation(inscription_id=inscription.id, cerfa_id=cerfa.id if cerfa else None,
                   beneficiaire_id=inscription.beneficiaire_id, dispositif_id=inscription.dispositif_id,
                   antenne_id=inscription.antenne_id, mois=mois, nature=nature, statut=S.ENREGISTREE,
                   montant_forfaitaire=result.forfait or Decimal("0.00"),
                   ressources_differentielles=ressources_differentielles, montant=result.montant,
                   motif_blocage=result.motif_nul, hors_delai=bool(hors_delai_id),
                   demande_hors_delai_id=hors_delai_id, cree_par_id=getattr(actor, "id", None))
    a.ressources = [Ressource(type_ressource=t, categorie=categorie_ressource(t).value, montant=m,
                              mois_reference=result.mois_ressources) for t, m in lignes]
    session.add(a)
    session.flush()
    audit.record(session, entity="allocation", entity_id=a.id, action="enregistrer",
                 actor_id=getattr(actor, "id", None), to_status=S.ENREGISTREE.value,
                 params={"montant": a.montant, "mois": mois, "nature": nature.value, **(cause or {})},
                 at=now if isinstance(now, datetime) else None)
    return a


def verifier_rappel_formation(avant, lignes) -> None:
    """R30: back-paid training pay is recorded in full in the month it is actually received; the months it
    covers are never computed again. A correction that raises a past month's training pay is refused."""
    formation = str(TypeRessource.REMUNERATION_FORMATION)
    deja = sum((r.montant for r in avant if str(r.type_ressource) == formation), Decimal("0"))
    apres = sum((Decimal(m) for t, m in lignes if str(t) == formation), Decimal("0"))
    if apres > deja:
        raise TransitionRefused(
            "Un rappel de rémunération de formation se déclare en entier dans le mois où il est perçu : saisissez-le "
            "sur l'allocation de ce mois ; les mois antérieurs ne sont pas recalculés (R30).")


def corriger_allocation(session, allocation_id: int, *, lignes: Iterable[tuple[str, Decimal]] | None = None,
                        ressources_differentielles: Decimal = Decimal("0"), actor,
                        expected_version: int | None = None) -> Allocation:
    """R46: only acceptee/versee/refusee allocations are corrected; a new version carries the right amount."""
    old = session.get(Allocation, allocation_id, with_for_update=True)
    if old is None:
        raise TransitionRefused("Allocation introuvable.")
    if expected_version is not None and old.version != expected_version:
        raise TransitionRefused("Cette allocation a été modifiée depuis l'affichage : rechargez la page.")
    if old.statut not in CORRIGEABLES:
        raise TransitionRefused("Seules les allocations acceptées, versées ou refusées peuvent être corrigées (R46).")
    if session.execute(sa.select(Allocation.id).where(Allocation.corrige_id == old.id)).first():
        raise TransitionRefused("Cette allocation a déjà une version corrective.")
    # The corrected version starts from the declared resources of the version it corrects
    lignes = [(r.type_ressource, r.montant) for r in old.ressources] if lignes is None else list(lignes)
    verifier_rappel_formation(old.ressources, lignes)
    result = calculer(session, old.inscription, old.mois, lignes,
                      ressources_differentielles=ressources_differentielles, cerfa=old.cerfa,
                      montant_demande=old.montant)
    new = Allocation(inscription_id=old.inscription_id, cerfa_id=old.cerfa_id, beneficiaire_id=old.beneficiaire_id,
                     dispositif_id=old.dispositif_id, antenne_id=old.antenne_id, mois=old.mois,
                     nature=N.RECTIFICATIVE, statut=S.ENREGISTREE, montant_forfaitaire=old.montant_forfaitaire,
                     ressources_differentielles=ressources_differentielles, montant=result.montant,
                     motif_blocage=result.motif_nul, corrige_id=old.id, cree_par_id=getattr(actor, "id", None))
    new.ressources = [Ressource(type_ressource=t, categorie=categorie_ressource(t).value, montant=m,
                                mois_reference=result.mois_ressources) for t, m in lignes]
    session.add(new)
    session.flush()
    deja = session.execute(sa.select(deja_verse_expr()).where(Allocation.id == new.id)).scalar_one()
    audit.record(session, entity="allocation", entity_id=new.id, action="corriger",
                 actor_id=getattr(actor, "id", None), to_status=S.ENREGISTREE.value,
                 params={"corrige": old.id, "montant": new.montant, "deja_verse": deja,
                         "differentiel": new.montant - Decimal(deja)})
    return new


def completer(session, a: Allocation, *, is_created: bool, aujourd_hui: date | None = None,
              mois_avant: date | None = None) -> None:
    """An allocation entered or edited in the grid: denormalised fields, nature (R42-R44) and the
    amount from the rules (R21-R34) on its declared resources. Never typed by hand. A late month is
    refused (R35/R48: a hors-délai allocation comes from an approved request, never from this form)."""
    inscription = a.inscription or session.get(Inscription, a.inscription_id)
    if inscription is None:
        raise TransitionRefused("Parcours introuvable.")
    if not inscription.dispositif.allocation_autorisee:
        raise TransitionRefused("Pas d'allocation sur ce dispositif (R6).")
    if a.nature == N.HORS_DELAI or a.hors_delai or a.demande_hors_delai_id:
        if is_created:
            raise TransitionRefused("Une allocation hors délai se demande par « Demander un versement hors délai » "
                                    "(menu Allocations › Hors délai), approuvée par un manager (R48).")
        raise TransitionRefused(f"Cette allocation hors délai se modifie par sa demande hors délai n° "
                                f"{a.demande_hors_delai_id} : la modifier la renvoie à l'approbation du manager (R48).")
    a.beneficiaire_id, a.dispositif_id, a.antenne_id = (inscription.beneficiaire_id, inscription.dispositif_id,
                                                        inscription.antenne_id)
    a.mois = a.mois.replace(day=1)
    with session.no_autoflush:
        verifier_age_cej(inscription)
        if is_created or (mois_avant is not None and mois_avant.replace(day=1) != a.mois):
            verifier_dans_les_delais(inscription, a.mois, aujourd_hui or _jour(_maintenant()))
    if a.cerfa is None and a.cerfa_id is None:
        a.cerfa = session.execute(sa.select(Cerfa).where(Cerfa.inscription_id == inscription.id)
                                  .order_by(Cerfa.id.desc()).limit(1)).scalar_one_or_none()
    cerfa = a.cerfa or (session.get(Cerfa, a.cerfa_id) if a.cerfa_id else None)
    if is_created and a.nature != N.HORS_DELAI:
        a.nature = nature_pour(session, inscription, cerfa, sauf=a.id)
    a.hors_delai = a.nature == N.HORS_DELAI
    lignes = [(r.type_ressource, r.montant) for r in a.ressources]
    # R22: a flat amount typed by the referent (revision at the youth's request) wins over the cerfa's
    forfait = a.montant_forfaitaire if a.montant_forfaitaire and inscription.dispositif.code == "CEJ" else None
    if forfait is not None:
        from ..rules.montants import montant_forfaitaire_cej
        plafond = montant_forfaitaire_cej(a.mois, mineur=False, tranche_fiscale="non_imposable")
        if forfait > plafond:
            raise TransitionRefused("Forfait supérieur au barème en vigueur pour ce mois (R21) : "
                                    f"{str(plafond).replace('.', ',')} € au plus.")
    result = calculer(session, inscription, a.mois, lignes, forfait=forfait,
                      ressources_differentielles=a.ressources_differentielles or Decimal("0"), cerfa=cerfa)
    a.montant_forfaitaire = result.forfait or Decimal("0.00")
    a.montant = result.montant
    a.motif_blocage = result.motif_nul
