"""Creating allocations and their corrective versions: amounts always come from the pure rules.

Not status transitions (a new row starts `enregistree`), but they belong with the workflows: the
nature (entrée, courante, 1re de renouvellement) decides which transitions apply later (R42-R44).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa

from ..models import Allocation, Beneficiaire, Cerfa, Dispositif, Inscription, Ressource
from ..models.enums import AllocationNature as N, AllocationStatut as S, CerfaStatut, CerfaType
from ..rules.montants import ResultatAllocation, calculer_allocation, categorie_ressource
from . import audit
from .allocations import CORRIGEABLES, deja_verse_expr
from .errors import TransitionRefused


def _age(naissance: date, mois: date) -> int:
    return mois.year - naissance.year - ((mois.month, mois.day) < (naissance.month, naissance.day))


def calculer(session, inscription: Inscription, mois: date, lignes: list[tuple[str, Decimal]], *,
             ressources_differentielles: Decimal = Decimal("0"), cerfa: Cerfa | None = None,
             montant_demande: Decimal | None = None, forfait: Decimal | None = None) -> ResultatAllocation:
    b: Beneficiaire = inscription.beneficiaire
    if forfait is None and cerfa is not None and inscription.dispositif.code == "CEJ":
        forfait = cerfa.montant_prevu  # R22: fixed at signature unless revised
    return _r37(inscription, mois, calculer_allocation(  # R37: a CEJ sanction cuts 25 % or 100 % of the month
        inscription.dispositif.code, mois, lignes, mineur=_age(b.date_naissance, mois) < 18,
        tranche_fiscale=b.tranche_fiscale.value, forfait=forfait,
        ressources_differentielles=ressources_differentielles,
        montant_demande=montant_demande if montant_demande is not None else (
            cerfa.montant_prevu if cerfa is not None else None)))


def _r37(inscription, mois, resultat):
    from ..rules.montants import appliquer_sanction_r37
    from .parcours import taux_sanction
    return appliquer_sanction_r37(resultat, taux_sanction(inscription, mois))


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
                           hors_delai_id: int | None = None, montant_demande: Decimal | None = None) -> Allocation:
    inscription = session.get(Inscription, inscription_id)
    if inscription is None:
        raise TransitionRefused("Parcours introuvable.")
    if not inscription.dispositif.allocation_autorisee:
        raise TransitionRefused("Pas d'allocation sur ce dispositif (R6).")
    mois = mois.replace(day=1)
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
                 params={"montant": a.montant, "mois": mois, "nature": nature.value})
    return a


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


def completer(session, a: Allocation, *, is_created: bool) -> None:
    """An allocation entered or edited in the grid: denormalised fields, nature (R42-R44) and the
    amount from the rules (R21-R34) on its declared resources. Never typed by hand."""
    inscription = a.inscription or session.get(Inscription, a.inscription_id)
    if inscription is None:
        raise TransitionRefused("Parcours introuvable.")
    if not inscription.dispositif.allocation_autorisee:
        raise TransitionRefused("Pas d'allocation sur ce dispositif (R6).")
    a.beneficiaire_id, a.dispositif_id, a.antenne_id = (inscription.beneficiaire_id, inscription.dispositif_id,
                                                        inscription.antenne_id)
    a.mois = a.mois.replace(day=1)
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
