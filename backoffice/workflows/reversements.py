"""Ordre de reversement: emis → notifie → en_recouvrement → solde, or remis / annule (R47, D5316-15)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from .. import policy
from ..models import Allocation, Remboursement, Reversement
from ..models.enums import ReversementStatut as S, Role as R
from . import audit
from .engine import Guard, Param, Selection, T, Workflow, run
from .errors import TransitionRefused

MOTIF = Param("motif", "Motif", kind="textarea")
DELAI_PAIEMENT = timedelta(days=30)


def _effect_notifier(session, ids, ctx):
    from .notifications import notifier_reversements
    notifier_reversements(session, ids, ctx)


def _solde_atteint(ctx):
    return Reversement.montant_rembourse + Reversement.montant_remis >= Reversement.montant


REVERSEMENT = Workflow("reversement", Reversement, [
    T("notifier", "Notifier au débiteur", {S.EMIS}, S.NOTIFIE, {R.COMPTABLE},
      values=lambda ctx: {"date_notification": ctx.now.date(),
                          "date_echeance": ctx.now.date() + DELAI_PAIEMENT},
      effects=[_effect_notifier]),
    T("mettre_en_recouvrement", "Mettre en recouvrement", {S.NOTIFIE}, S.EN_RECOUVREMENT, {R.COMPTABLE}),
    T("solder", "Solder", {S.NOTIFIE, S.EN_RECOUVREMENT}, S.SOLDE, {R.COMPTABLE},
      guards=[Guard("R47", "reste dû non nul", _solde_atteint)],
      values=lambda ctx: {"solde_at": ctx.now}, style="success"),
    T("remettre", "Accorder une remise", {S.NOTIFIE, S.EN_RECOUVREMENT}, S.REMIS, {R.MANAGER}, params=[MOTIF],
      values=lambda ctx: {"motif": ctx.params["motif"],
                          "montant_remis": Reversement.montant - Reversement.montant_rembourse}),
    T("annuler", "Annuler", {S.EMIS, S.NOTIFIE, S.EN_RECOUVREMENT}, S.ANNULE, {R.COMPTABLE, R.MANAGER},
      params=[MOTIF], values=lambda ctx: {"motif": ctx.params["motif"]}, style="danger"),
], amount_column="montant", scope=policy.row_scope)


def creer_reversements(session, allocation_ids, ctx) -> int:
    """Effect of `emettre_reversement`: one order per corrective version with a trop-perçu (R47)."""
    from .allocations import differentiel_expr
    rows = session.execute(sa.select(Allocation.id, Allocation.beneficiaire_id, Allocation.antenne_id,
                                     (-differentiel_expr()).label("trop_percu"))
                           .where(Allocation.id.in_(allocation_ids))).all()
    values = [{"numero": f"OR-{ctx.now:%Y}-{r.id:08d}", "allocation_id": r.id, "beneficiaire_id": r.beneficiaire_id,
               "antenne_id": r.antenne_id, "origine": "correction", "montant": Decimal(r.trop_percu),
               "statut": S.EMIS, "emis_par_id": ctx.actor_id, "created_at": ctx.now, "updated_at": ctx.now}
              for r in rows if r.trop_percu and r.trop_percu > 0]
    if not values:
        return 0
    session.execute(sa.insert(Reversement), values)
    created = session.execute(sa.select(Reversement.id, Reversement.allocation_id)
                              .where(Reversement.allocation_id.in_([v["allocation_id"] for v in values]))).all()
    audit.record_many(session, [{"entity": "reversement", "entity_id": rid, "action": "emettre",
                                 "to_status": S.EMIS.value, "actor_id": ctx.actor_id, "at": ctx.now,
                                 "params": {"allocation_id": aid, **({"cause": ctx.cause} if ctx.cause else {})}}
                                for rid, aid in created])
    return len(values)


def enregistrer_remboursement(session, reversement_id: int, *, montant: Decimal, date_reception: date,
                              mode: str, reference: str | None, actor, now) -> Remboursement:
    """Record a (possibly partial) repayment; the order is settled when nothing is left (R47)."""
    if not isinstance(montant, Decimal) or not montant.is_finite() or montant <= 0:
        raise TransitionRefused("Le montant du remboursement doit être un nombre positif.")
    if montant != montant.quantize(Decimal("0.01")):
        raise TransitionRefused("Le montant du remboursement a au plus deux décimales.")
    # Conditional update: never over-recovered, only on an order being collected
    moved = session.execute(
        sa.update(Reversement)
        .where(Reversement.id == reversement_id,
               Reversement.statut.in_([S.NOTIFIE, S.EN_RECOUVREMENT]),
               Reversement.montant_rembourse + Reversement.montant_remis + montant <= Reversement.montant)
        .values(montant_rembourse=Reversement.montant_rembourse + montant, version=Reversement.version + 1,
                updated_at=now)
        .returning(Reversement.id).execution_options(synchronize_session=False)).scalar_one_or_none()
    if moved is None:
        raise TransitionRefused("Remboursement refusé : l'ordre n'est pas en recouvrement ou le montant "
                                "dépasse le reste dû.")
    remb = Remboursement(reversement_id=reversement_id, montant=montant, date_reception=date_reception,
                         mode=mode, reference=reference, saisi_par_id=getattr(actor, "id", None))
    session.add(remb)
    session.flush()
    audit.record(session, entity="reversement", entity_id=reversement_id, action="remboursement",
                 actor_id=getattr(actor, "id", None), params={"montant": montant, "mode": mode})
    run(session, REVERSEMENT, "mettre_en_recouvrement", Selection.of_ids([reversement_id]), actor,
        now=now, system=True)
    run(session, REVERSEMENT, "solder", Selection.of_ids([reversement_id]), actor, now=now, system=True)
    return remb
