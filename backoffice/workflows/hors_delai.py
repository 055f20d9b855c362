"""Hors-délai requests (R48): a conseiller asks, a manager decides; the requester never approves.

The request carries the allocation "as it should have been" (R48): the month, the resources of M-1 and,
for a PACEA, the amount the Mission Locale asks for. The rules compute the amount on them (R21-R34) and
the manager sees that amount; the approval binds to it (`montant_approuve`), and the allocation its
effect creates carries it, so the R48 guard of the submission compares equal numbers. An edit of an
approved request sends it back to pending (`reexaminer`); the next approval refreshes the allocation.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from .. import policy
from ..models import Allocation, Cerfa, Compte, DemandeHorsDelai, Ressource
from ..models.enums import AllocationStatut as AS, HorsDelaiStatut as S, Role as R
from ..rules import params as regles
from ..rules.calendrier import est_hors_delai
from ..rules.montants import ResultatAllocation, categorie_ressource
from . import audit
from .engine import Guard, Param, T, Workflow, id_in
from .errors import TransitionRefused
from .selection import Selection


def lignes_de(d: DemandeHorsDelai) -> list[tuple[str, Decimal]]:
    return [(t, Decimal(str(m))) for t, m in (d.ressources_declarees or [])]


def _cerfa(session, inscription_id: int) -> Cerfa | None:
    return session.execute(sa.select(Cerfa).where(Cerfa.inscription_id == inscription_id)
                           .order_by(Cerfa.id.desc()).limit(1)).scalar_one_or_none()


def _montant_demande(d: DemandeHorsDelai):
    # PACEA: the amount the Mission Locale asks for, within R33/R34; CEJ: the rules alone (R21-R25)
    return d.montant_demande if d.inscription.dispositif.code == regles.PACEA else None


def calculer_montant(session, d: DemandeHorsDelai) -> ResultatAllocation:
    """The amount the rules give for this request (what the allocation will be), without writing."""
    from .saisie import calculer, verifier_age_cej
    if not d.inscription.dispositif.allocation_autorisee:
        raise TransitionRefused("Pas d'allocation sur ce dispositif (R6).")
    verifier_age_cej(d.inscription)
    return calculer(session, d.inscription, d.mois.replace(day=1), lignes_de(d),
                    cerfa=_cerfa(session, d.inscription.id), montant_demande=_montant_demande(d))


def completer_demande(session, d: DemandeHorsDelai, lignes, *, aujourd_hui) -> None:
    """A request entered or edited (screen): its resources, and the amount the manager will see."""
    with session.no_autoflush:  # a new request is inserted once, complete
        _completer_demande(session, d, lignes, aujourd_hui=aujourd_hui)


def _completer_demande(session, d: DemandeHorsDelai, lignes, *, aujourd_hui) -> None:
    from ..models import Inscription
    if d.inscription is None:
        d.inscription = session.get(Inscription, d.inscription_id)
    if d.inscription is None:
        raise TransitionRefused("Parcours introuvable.")
    d.mois = d.mois.replace(day=1)
    code = d.inscription.dispositif.code
    if code in regles.DISPOSITIFS_ALLOCATION and not est_hors_delai(d.mois, aujourd_hui, dispositif=code):
        raise TransitionRefused(f"L'allocation de {d.mois:%m/%Y} est encore dans les délais : enregistrez-la "
                                "comme une allocation ordinaire (menu Allocations), sans demande hors délai (R48).")
    d.ressources_declarees = [[t, str(Decimal(m).quantize(Decimal("0.01")))] for t, m in lignes if t] or None
    result = calculer_montant(session, d)
    d.montant_calcule, d.motif_calcul = result.montant, result.motif_nul


def modifier_demande(session, d: DemandeHorsDelai, actor) -> None:
    """R48: an approved request that is edited goes back to the manager (its allocation waits)."""
    from .engine import run
    if d.statut == S.APPROUVEE:
        run(session, HORS_DELAI, "reexaminer", Selection.of_ids([d.id]), actor, system=True)


def allocation_de(session, demande_id: int) -> Allocation | None:
    return session.execute(sa.select(Allocation).where(Allocation.demande_hors_delai_id == demande_id)
                           .order_by(Allocation.id).limit(1)).scalar_one_or_none()


# ---- guards and effects --------------------------------------------------------------------------
def _pas_le_demandeur(ctx):
    # R48 four eyes: checked on the server for every row, whatever the screen shows
    return DemandeHorsDelai.demandeur_id != sa.literal(ctx.actor_id)


def _recalculs(session, ids) -> dict[int, Decimal | None]:
    out = {}
    for d in session.execute(sa.select(DemandeHorsDelai).where(id_in(session, DemandeHorsDelai.id, ids))).scalars():
        try:
            out[d.id] = calculer_montant(session, d).montant
        except (TransitionRefused, ValueError):
            out[d.id] = None
    return out


def _non_calculables(session, ids, ctx) -> set[int]:
    return {i for i, m in _recalculs(session, ids).items() if m is None}


def _montants_changes(session, ids, ctx) -> set[int]:
    # the manager approves the amount shown: if the rules give another one now (a resource, the cerfa's
    # flat amount, the PACEA year changed since), the request is shown again before any approval
    shown = dict(session.execute(sa.select(DemandeHorsDelai.id, DemandeHorsDelai.montant_calcule)
                                 .where(id_in(session, DemandeHorsDelai.id, ids))).all())
    return {i for i, m in _recalculs(session, ids).items()
            if m is not None and shown.get(i) is not None and shown[i] != m}


def _fixer_montant(session, ids, ctx) -> None:
    """Before the move: a request without a computed amount (entered before the amount was stored, or by
    a script) gets the rules' amount now, so the approval always binds to a computed amount."""
    for i, m in _recalculs(session, ids).items():
        if m is not None:
            session.execute(sa.update(DemandeHorsDelai).where(DemandeHorsDelai.id == i,
                                                              DemandeHorsDelai.montant_calcule.is_(None))
                            .values(montant_calcule=m).execution_options(synchronize_session=False))


def _effect_creer_allocation(session, ids, ctx):
    """The approved allocation, as done by the manager's approval (issue 11: actor, time and cause of
    the approval in its audit event), with the resources and amount the manager approved."""
    from .saisie import calculer, enregistrer_allocation
    actor = session.get(Compte, ctx.actor_id) if ctx.actor_id else None
    for d in session.execute(sa.select(DemandeHorsDelai).where(DemandeHorsDelai.id.in_(ids))).scalars():
        session.refresh(d)
        cause = {"cause": ctx.cause, "demande_hors_delai": d.id, "demandeur_id": d.demandeur_id}
        a = allocation_de(session, d.id)
        if a is None:
            a = enregistrer_allocation(session, inscription_id=d.inscription_id, mois=d.mois, lignes=lignes_de(d),
                                       actor=actor, hors_delai_id=d.id, montant_demande=_montant_demande(d),
                                       now=ctx.now, cause=cause)
        elif a.statut == AS.ENREGISTREE:  # re-approval after an edit: the allocation follows the request
            avant = a.montant
            result = calculer(session, a.inscription, d.mois, lignes_de(d), cerfa=a.cerfa,
                              montant_demande=_montant_demande(d))
            a.mois, a.montant, a.motif_blocage = d.mois, result.montant, result.motif_nul
            a.montant_forfaitaire = result.forfait or Decimal("0.00")
            a.ressources = [Ressource(type_ressource=t, categorie=categorie_ressource(t).value, montant=m,
                                      mois_reference=result.mois_ressources) for t, m in lignes_de(d)]
            session.flush()
            audit.record(session, entity="allocation", entity_id=a.id, action="actualiser", actor_id=ctx.actor_id,
                         params={**cause, "montant": a.montant, "mois": a.mois},
                         diff={"montant": [avant, a.montant]} if avant != a.montant else None, at=ctx.now)
        else:
            continue
        if a.montant != d.montant_approuve:  # cannot happen: the guard above recomputed the same amount
            raise TransitionRefused(f"Demande hors délai n° {d.id} : montant de l'allocation différent du montant "
                                    "approuvé ; rien n'a été enregistré.")


QUATRE_YEUX = Guard("R48", "le demandeur ne peut pas approuver sa propre demande", _pas_le_demandeur)
CALCULABLE = Guard("R48", "montant non calculable pour cette demande (dispositif, âge ou ressources) : corrigez-la",
                   python=_non_calculables)
MONTANT_A_JOUR = Guard("R48", "le montant calculé a changé depuis l'affichage : rouvrez la demande et "
                       "enregistrez-la pour voir le nouveau montant", python=_montants_changes)

HORS_DELAI = Workflow("hors_delai", DemandeHorsDelai, [
    T("approuver", "Approuver", {S.EN_ATTENTE}, S.APPROUVEE, {R.MANAGER},
      guards=[QUATRE_YEUX, CALCULABLE, MONTANT_A_JOUR], reauth=True, prepare=[_fixer_montant],
      values=lambda ctx: {"approbateur_id": ctx.actor_id, "decision_at": ctx.now,
                          "montant_approuve": DemandeHorsDelai.montant_calcule,
                          "mois_approuve": DemandeHorsDelai.mois},
      effects=[_effect_creer_allocation], style="success"),
    T("refuser", "Refuser", {S.EN_ATTENTE}, S.REFUSEE, {R.MANAGER}, guards=[QUATRE_YEUX],
      params=[Param("motif_refus", "Motif du refus", kind="textarea")],
      values=lambda ctx: {"approbateur_id": ctx.actor_id, "decision_at": ctx.now,
                          "motif_refus": ctx.params["motif_refus"]}, style="danger"),
    T("annuler", "Annuler la demande", {S.EN_ATTENTE}, S.ANNULEE, {R.CONSEILLER}, style="secondary"),
    # R48: an approval is bound to what the manager saw; an edit sends the request back
    T("reexaminer", "Renvoyer en attente", {S.APPROUVEE}, S.EN_ATTENTE, {R.CONSEILLER, R.MANAGER},
      values=lambda ctx: {"approbateur_id": None, "decision_at": None, "montant_approuve": None,
                          "mois_approuve": None}, system=True),
], amount_column="montant_demande", scope=policy.row_scope)
