"""Ordre de reversement, of any origin and any debtor, and its recovery (R47, D5316-15 [W30]).

    emis ──notifier──▶ notifie ──(any recovery step)──▶ en_recouvrement ──solder──▶ solde
                                   │  rembourser, accorder_echeancier, accord_compensation, relancer
                                   └─accorder_remise──▶ remise_a_valider ─approuver_remise / appliquer_remise─┐
                                                                          └─refuser_remise──▶ en_recouvrement ◀┘
    emis | notifie | en_recouvrement | remise_a_valider ──annuler (motif)──▶ annule

Every step is a transition of this one table, run on one row or in bulk by the engine (guarded, audited, a
replay moves nothing); the money steps end with the system's `solder`, so an order is `solde` exactly when
nothing is left due. The offsets against the next payment are `recouvrement.imputer_compensations`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from .. import policy
from ..models import Allocation, Beneficiaire, Remboursement, Reversement
from ..models.enums import ReversementStatut as S, Role as R
from . import audit
from . import recouvrement as rc
from .engine import Guard, Param, Selection, T, Workflow, run
from .errors import TransitionRefused

MOTIF = Param("motif", "Motif", kind="textarea")
DELAI_PAIEMENT = timedelta(days=30)
EN_COURS = {S.NOTIFIE, S.EN_RECOUVREMENT}

MONTANT_OPTIONNEL = Param("montant", "Montant (vide : tout le reste dû)", kind="money", required=False, max_length=20)


def _effect_notifier(session, ids, ctx):
    rc.notifier(session, ids, ctx)


def _solde_atteint(ctx):
    return rc.reste_du_expr() == 0


REVERSEMENT = Workflow("reversement", Reversement, [
    T("notifier", "Notifier au débiteur", {S.EMIS}, S.NOTIFIE, {R.COMPTABLE},
      values=lambda ctx: {"date_notification": ctx.now.date(),
                          "date_echeance": ctx.now.date() + DELAI_PAIEMENT},
      effects=[_effect_notifier]),
    T("mettre_en_recouvrement", "Mettre en recouvrement", {S.NOTIFIE}, S.EN_RECOUVREMENT, {R.COMPTABLE}),
    # a (possibly partial) repayment received: by transfer, cheque or direct debit
    T("rembourser", "Enregistrer un remboursement", EN_COURS, S.EN_RECOUVREMENT, {R.COMPTABLE},
      params=[MONTANT_OPTIONNEL, Param("date_reception", "Date de réception", kind="date"),
              Param("mode", "Mode (virement, cheque, prelevement)", max_length=20),
              Param("reference", "Référence du versement", required=False, max_length=60)],
      guards=[rc.G_RESTE_DU, rc.G_MONTANT_VALIDE, rc.G_MONTANT_AU_PLUS_RESTE, rc.G_MODE, rc.G_REFERENCE_NOUVELLE],
      prepare=[rc.inserer_remboursements],
      values=lambda ctx: {"montant_rembourse": Reversement.montant_rembourse + rc.montant_expr(ctx)},
      effects=[rc.apres_recouvrement], style="success"),
    T("accorder_echeancier", "Accorder un échéancier", EN_COURS, S.EN_RECOUVREMENT, {R.COMPTABLE},
      params=[Param("nombre_echeances", "Nombre d'échéances (mensuelles)", max_length=3),
              Param("premiere_echeance", "Date de la première échéance", kind="date")],
      guards=[rc.G_RESTE_DU, rc.G_NOMBRE_ECHEANCES, rc.G_PREMIERE_ECHEANCE, rc.G_SANS_ECHEANCIER],
      values=lambda ctx: {"echeancier_recouvre_avant": Reversement.montant - rc.reste_du_expr(),
                          "date_echeance": rc.derniere_echeance(ctx)},
      effects=[rc.creer_echeanciers]),
    # offsetting on the next payment of the same dispositif needs the debtor's agreement, recorded
    T("accord_compensation", "Enregistrer l'accord de compensation", EN_COURS, S.EN_RECOUVREMENT, {R.COMPTABLE},
      params=[Param("reference_accord", "Accord du débiteur (courrier, date)", max_length=200)],
      guards=[rc.G_RESTE_DU, rc.G_SANS_ACCORD],
      values=lambda ctx: {"accord_compensation_at": ctx.now,
                          "accord_compensation_ref": ctx.params.get("reference_accord"),
                          "accord_compensation_par_id": ctx.actor_id}),
    # the reminder of a missed instalment: the scheduler's job runs it, an accountant may too
    T("relancer", "Relancer les échéances impayées", {S.EN_RECOUVREMENT}, S.EN_RECOUVREMENT, {R.COMPTABLE},
      guards=[rc.G_ECHEANCE_A_RELANCER], effects=[rc.relancer_echeances], style="warning"),
    # D5316-15: a partial or total remise decided by a manager; above the threshold, four eyes
    T("accorder_remise", "Accorder une remise", EN_COURS, S.REMISE_A_VALIDER, {R.MANAGER},
      params=[MONTANT_OPTIONNEL, MOTIF],
      guards=[rc.G_RESTE_DU, rc.G_MONTANT_VALIDE, rc.G_MONTANT_AU_PLUS_RESTE],
      values=lambda ctx: {"remise_proposee": rc.montant_expr(ctx), "remise_motif": ctx.params.get("motif"),
                          "remise_proposee_par_id": ctx.actor_id},
      effects=[rc.apres_remise_proposee], style="warning"),
    T("appliquer_remise", "Appliquer la remise (sous le seuil)", {S.REMISE_A_VALIDER}, S.EN_RECOUVREMENT, {R.MANAGER},
      guards=[rc.G_SOUS_LE_SEUIL], values=rc.valeurs_remise_accordee, effects=[rc.apres_remise_accordee],
      system=True),
    T("approuver_remise", "Approuver la remise (second responsable)", {S.REMISE_A_VALIDER}, S.EN_RECOUVREMENT,
      {R.MANAGER}, guards=[rc.G_QUATRE_YEUX, rc.G_REMISE_AU_PLUS_RESTE], values=rc.valeurs_remise_accordee,
      effects=[rc.apres_remise_accordee], style="success"),
    T("refuser_remise", "Refuser la remise", {S.REMISE_A_VALIDER}, S.EN_RECOUVREMENT, {R.MANAGER}, params=[MOTIF],
      values=lambda ctx: {"remise_proposee": None, "remise_motif": None, "remise_proposee_par_id": None},
      effects=[rc.apres_remise_refusee], style="danger"),
    T("solder", "Solder", EN_COURS, S.SOLDE, {R.COMPTABLE},
      guards=[Guard("R47", "reste dû non nul", _solde_atteint)],
      values=lambda ctx: {"solde_at": ctx.now}, style="success"),
    T("annuler", "Annuler", {S.EMIS, S.NOTIFIE, S.EN_RECOUVREMENT, S.REMISE_A_VALIDER}, S.ANNULE,
      {R.COMPTABLE, R.MANAGER}, params=[MOTIF],
      values=lambda ctx: {"motif": ctx.params["motif"], "remise_proposee": None, "remise_motif": None,
                          "remise_proposee_par_id": None},
      effects=[rc.apres_remise_refusee], style="danger"),
], amount_column="montant", scope=policy.row_scope)


def creer_reversements(session, allocation_ids, ctx) -> int:
    """Effect of `emettre_reversement`: one order per corrective version with a trop-perçu (R47)."""
    from .allocations import differentiel_expr
    rows = session.execute(sa.select(Allocation.id, Allocation.beneficiaire_id, Allocation.antenne_id,
                                     Allocation.dispositif_id, Beneficiaire.prenom, Beneficiaire.nom,
                                     Beneficiaire.email, (-differentiel_expr()).label("trop_percu"))
                           .join(Beneficiaire, Beneficiaire.id == Allocation.beneficiaire_id)
                           .where(Allocation.id.in_(allocation_ids))).all()
    values = [{"numero": f"OR-{ctx.now:%Y}-{r.id:08d}", "allocation_id": r.id, "beneficiaire_id": r.beneficiaire_id,
               "debiteur_type": "jeune", "debiteur_id": r.beneficiaire_id, "dispositif_id": r.dispositif_id,
               "debiteur_nom": f"{r.prenom} {r.nom}", "debiteur_email": r.email,
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


def emettre_reversements(session, lignes: list[dict], ctx) -> list[int]:
    """Orders of any other origin (regularisation, control R31/R36, Afas gap, cancelled claim) owed by any
    debtor: each line gives origine, debiteur_type, debiteur_id, dispositif_id, antenne_id, montant, motif
    and, for a youth, beneficiaire_id; debiteur_nom / debiteur_email are the debtor's snapshot for the mail."""
    from ..models.reversements import DEBITEURS, ORIGINES
    rows = []
    for k, ligne in enumerate(lignes):
        montant = ligne["montant"]
        if not isinstance(montant, Decimal) or not montant.is_finite() or montant <= 0 \
                or montant != montant.quantize(Decimal("0.01")):
            raise TransitionRefused("Le montant d'un ordre de reversement est un nombre positif à deux décimales.")
        if ligne["origine"] not in ORIGINES or ligne["debiteur_type"] not in DEBITEURS:
            raise TransitionRefused("Origine ou type de débiteur inconnu.")
        rows.append({"numero": f"OR-TMP-{ctx.now:%H%M%S%f}-{k}"[:24], "allocation_id": ligne.get("allocation_id"),
                     "beneficiaire_id": ligne.get("beneficiaire_id"), "debiteur_type": ligne["debiteur_type"],
                     "debiteur_id": ligne["debiteur_id"], "dispositif_id": ligne["dispositif_id"],
                     "debiteur_nom": ligne.get("debiteur_nom"), "debiteur_email": ligne.get("debiteur_email"),
                     "antenne_id": ligne["antenne_id"], "origine": ligne["origine"], "montant": montant,
                     "motif_origine": ligne.get("motif"), "statut": S.EMIS, "emis_par_id": ctx.actor_id,
                     "created_at": ctx.now, "updated_at": ctx.now})
    ids = []
    for r in rows:  # a handful per control or declaration: one INSERT … RETURNING each
        motif = r.pop("motif_origine")
        rid = session.execute(sa.insert(Reversement).values(**r).returning(Reversement.id)).scalar_one()
        session.execute(sa.update(Reversement).where(Reversement.id == rid)
                        .values(numero=f"OR-{ctx.now:%Y}-R{rid:08d}"))
        ids.append(rid)
        audit.record(session, entity="reversement", entity_id=rid, action="emettre", actor_id=ctx.actor_id,
                     to_status=S.EMIS.value, params={"origine": r["origine"], "motif": motif,
                                                     "debiteur": f"{r['debiteur_type']}:{r['debiteur_id']}"})
    return ids


def enregistrer_remboursement(session, reversement_id: int, *, montant: Decimal, date_reception: date,
                              mode: str, reference: str | None, actor, now) -> Remboursement:
    """Record a (possibly partial) repayment on one order: the `rembourser` transition (R47)."""
    if not isinstance(montant, Decimal) or not montant.is_finite() or montant <= 0:
        raise TransitionRefused("Le montant du remboursement doit être un nombre positif.")
    if montant != montant.quantize(Decimal("0.01")):
        raise TransitionRefused("Le montant du remboursement a au plus deux décimales.")
    report = run(session, REVERSEMENT, "rembourser", Selection.of_ids([reversement_id]), actor, now=now,
                 params={"montant": montant, "date_reception": date_reception, "mode": mode,
                         "reference": reference}, system=actor is None)
    if not report.changed:
        reasons = "; ".join(report.refused) or "ordre introuvable"
        raise TransitionRefused(f"Remboursement refusé : {reasons}.")
    return session.execute(sa.select(Remboursement).where(Remboursement.reversement_id == reversement_id)
                           .order_by(Remboursement.id.desc()).limit(1)).scalar_one()
