"""Hors-délai requests (R48): a conseiller asks, a manager decides; the requester never approves."""

from __future__ import annotations

import sqlalchemy as sa

from .. import policy
from ..models import DemandeHorsDelai
from ..models.enums import HorsDelaiStatut as S, Role as R
from .engine import Guard, Param, T, Workflow


def _pas_le_demandeur(ctx):
    # R48 four eyes: checked on the server for every row, whatever the screen shows
    return DemandeHorsDelai.demandeur_id != sa.literal(ctx.actor_id)


def _effect_creer_allocation(session, ids, ctx):
    from .saisie import enregistrer_allocation
    for d in session.execute(sa.select(DemandeHorsDelai).where(DemandeHorsDelai.id.in_(ids))).scalars():
        from ..models import Allocation
        exists = session.execute(sa.select(Allocation.id).where(Allocation.demande_hors_delai_id == d.id)).first()
        if exists:  # re-approval after an edit: the allocation already exists
            continue
        enregistrer_allocation(session, inscription_id=d.inscription_id, mois=d.mois, actor=d.demandeur,
                               hors_delai_id=d.id, montant_demande=d.montant_approuve)


QUATRE_YEUX = Guard("R48", "le demandeur ne peut pas approuver sa propre demande", _pas_le_demandeur)

HORS_DELAI = Workflow("hors_delai", DemandeHorsDelai, [
    T("approuver", "Approuver", {S.EN_ATTENTE}, S.APPROUVEE, {R.MANAGER}, guards=[QUATRE_YEUX], reauth=True,
      values=lambda ctx: {"approbateur_id": ctx.actor_id, "decision_at": ctx.now,
                          "montant_approuve": DemandeHorsDelai.montant_demande,
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
