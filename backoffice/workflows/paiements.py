"""Payments: validated allocations → payments in a batch per dispositif and date (R41) → SEPA file.

Exactly once by construction: one payment per allocation version (UNIQUE allocation_id, ON CONFLICT
DO NOTHING), one open batch per dispositif and date (partial unique index), a batch emitted by a
conditional UPDATE preparee → emise in the same transaction as its file: a retried job, a double
click or a worker killed mid-way either finds the batch emitted with its file, or finds it open.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from ..models import (Allocation, Cerfa, CompteBancaire, Dispositif, Inscription, LotPaiement, Paiement)
from ..models.enums import AllocationStatut as AS, CerfaStatut, LotStatut as S, PaiementStatut as PS, Role as R
from .engine import T, Workflow, id_in
from .guards import iban_invalides

CERFA_OK = (CerfaStatut.VALIDE_SIEGE, CerfaStatut.TRANSMIS, CerfaStatut.ACCEPTE)


def _insert(session):
    """INSERT with ON CONFLICT DO NOTHING: PostgreSQL and SQLite both speak it."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _insert_ignore(session, table, values: dict, conflict_cols: list[str], where=None):
    stmt = _insert(session)(table).values(**values).on_conflict_do_nothing(index_elements=conflict_cols,
                                                                           index_where=where)
    session.execute(stmt)


def _lot_ouvert(session, dispositif_id: int, code: str, execution, actor_id, now) -> int:
    """The open batch of a dispositif and date, created if needed, held FOR KEY SHARE until commit.

    An emission locks its batch FOR UPDATE: a send that meets it waits, then finds the batch emitted
    (no longer `preparee`) and opens the next one, so no payment ever lands in an emitted batch.
    Concurrent sends share the key-share lock (and meet on the partial unique index: one open batch).
    """
    open_lot = (sa.select(LotPaiement.id)
                .where(LotPaiement.dispositif_id == dispositif_id, LotPaiement.date_execution == execution,
                       LotPaiement.statut == S.PREPAREE)
                .with_for_update(read=True, key_share=True))
    for _ in range(3):
        lot_id = session.execute(open_lot).scalar()
        if lot_id is not None:
            return lot_id
        # the batch's rank for its dispositif and date keeps references (the file's MsgId) unique
        rank = session.execute(sa.select(sa.func.count()).select_from(LotPaiement).where(
            LotPaiement.dispositif_id == dispositif_id, LotPaiement.date_execution == execution)).scalar_one() + 1
        _insert_ignore(session, LotPaiement.__table__,
                       {"reference": f"LOT-{code}-{execution:%Y%m%d}-{rank:02d}-{now:%H%M%S%f}"[:35],
                        "dispositif_id": dispositif_id, "date_execution": execution, "statut": S.PREPAREE.value,
                        "nb_paiements": 0, "montant_total": Decimal("0.00"), "cree_par_id": actor_id, "version": 1,
                        "created_at": now, "updated_at": now},
                       ["dispositif_id", "date_execution"], where=sa.text("statut = 'preparee'"))
    raise RuntimeError(f"Lot {code} du {execution:%d/%m/%Y} : ouverture impossible, réessayez.")


def creer_paiements(session, allocation_ids: list[int], *, actor_id: int | None, now: datetime) -> dict:
    """Effect of `transmettre`: the allocations' payments, in the open batch of their dispositif and date.

    Per dispositif: one INSERT … SELECT … ON CONFLICT DO NOTHING whose RETURNING feeds the batch's
    running totals in the same statement (exact: only what was inserted is added)."""
    from ..rules.calendrier import prochaine_date_envoi
    from .allocations import a_payer_expr

    groups = session.execute(sa.select(Allocation.dispositif_id, Dispositif.code).join(Dispositif)
                             .where(id_in(session, Allocation.id, allocation_ids)).distinct()).all()
    created = 0
    for dispositif_id, code in groups:
        lot_id = _lot_ouvert(session, dispositif_id, code, prochaine_date_envoi(code, now.date()), actor_id, now)
        amount = a_payer_expr()  # 0: nothing paid, the allocation is closed « rien à payer » (R25/R46)
        select = (sa.select(
            sa.literal(lot_id), Allocation.id, Allocation.beneficiaire_id, Allocation.antenne_id,
            _e2e(lot_id).label("e2e"), amount,
            sa.func.substr(CompteBancaire.titulaire, 1, 70), CompteBancaire.iban, CompteBancaire.bic,
            sa.func.substr(sa.literal(f"ALLOCATION {code} PARCOURS ") + Inscription.numero, 1, 140),
            sa.literal(PS.EN_ATTENTE.value), sa.literal(now), sa.literal(now))
            .join(Cerfa, Cerfa.id == Allocation.cerfa_id)
            .join(CompteBancaire, CompteBancaire.id == Cerfa.compte_bancaire_id)
            .join(Inscription, Inscription.id == Allocation.inscription_id)
            .where(id_in(session, Allocation.id, allocation_ids), Allocation.dispositif_id == dispositif_id,
                   amount > 0))
        cols = ["lot_id", "allocation_id", "beneficiaire_id", "antenne_id", "end_to_end_id", "montant", "titulaire",
                "iban", "bic", "libelle", "statut", "created_at", "updated_at"]
        ins = (_insert(session)(Paiement.__table__).from_select(cols, select)
               .on_conflict_do_nothing(index_elements=["allocation_id"], index_where=sa.text("statut <> 'rejete'")))
        if session.get_bind().dialect.name == "postgresql":
            ins = ins.returning(Paiement.montant).cte("ins")
            n = sa.select(sa.func.count()).select_from(ins).scalar_subquery()
            total = sa.select(sa.func.coalesce(sa.func.sum(ins.c.montant), 0)).scalar_subquery()
            created += session.execute(
                sa.update(LotPaiement).where(LotPaiement.id == lot_id)
                .values(nb_paiements=LotPaiement.nb_paiements + n, montant_total=LotPaiement.montant_total + total,
                        updated_at=now)
                .returning(n)).scalar_one()
        else:
            created += session.execute(ins).rowcount or 0
            _totaux(session, [lot_id], now)
    return {"paiements": created}


def _e2e(lot_id):
    """ALLOC-<id>; paid again after a bank rejection (one live payment per allocation): ALLOC-<id>-<batch>."""
    e2e = sa.literal("ALLOC-") + sa.cast(Allocation.id, sa.String)
    rejected = sa.exists().where(Paiement.allocation_id == Allocation.id, Paiement.statut == sa.literal_column("'rejete'"))
    return sa.case((rejected, e2e + sa.literal(f"-{lot_id}")), else_=e2e)


def _totaux(session, lot_ids, now) -> None:
    for lot_id in lot_ids:
        n, total = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Paiement.montant), 0))
                                   .where(Paiement.lot_id == lot_id, Paiement.statut != PS.REJETE)).one()
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot_id)
                        .values(nb_paiements=n, montant_total=total, updated_at=now))


def _controles(session, lot_id: int) -> tuple[list, dict[str, list[tuple[int, int]]]]:
    """The payer's controls, in one SELECT: cerfa (R45), amount within the entitlement and status in SQL,
    the IBAN's RIB key with schwifty (R76). Returns the accepted rows, ordered by payment id, and
    {French reason: [(payment id, allocation id)]} for the refused ones.

    Driven by the batch's payments, looked up by primary key: the plan stays right even when the
    statistics of freshly filled tables are stale."""
    reason = sa.case(
        (sa.not_(sa.func.coalesce(Cerfa.statut.in_(CERFA_OK), sa.false())), sa.literal("cerfa non validé (R45)")),
        (Paiement.montant > Allocation.montant, sa.literal("montant supérieur au droit calculé")),
        (Allocation.statut != AS.TRANSMISE, sa.literal("allocation non transmise")),
        else_=sa.null())
    rows = session.execute(
        sa.select(Paiement.id, Paiement.allocation_id, Paiement.end_to_end_id, Paiement.montant, Paiement.titulaire,
                  Paiement.iban, Paiement.bic, Paiement.libelle, reason)
        .join(Allocation, Allocation.id == Paiement.allocation_id)
        .outerjoin(Cerfa, Cerfa.id == Allocation.cerfa_id)
        .where(Paiement.lot_id == lot_id, Paiement.statut == PS.EN_ATTENTE)
        .order_by(Paiement.id)).all()
    # the same IBAN is checked once per batch (joint accounts, siblings, corrections)
    distinct = list({r[5] for r in rows})
    bad_iban = {distinct[i] for i in iban_invalides(list(enumerate(distinct)))}
    ok, refused = [], {}
    for r in rows:
        why = "IBAN invalide (clé RIB) (R76)" if r[5] in bad_iban else r[8]
        if why is None:
            ok.append(r)
        else:
            refused.setdefault(why, []).append((r[0], r[1]))
    return ok, refused


def _ids_array(session, ids):
    """`unnest(:ids)` as a table of ids (PostgreSQL): joined by primary key, whatever the statistics."""
    from sqlalchemy.dialects.postgresql import ARRAY
    return sa.func.unnest(sa.bindparam(None, list(ids), type_=ARRAY(sa.Integer))).table_valued("id").render_derived(name="v")


def _deplacer_allocations(session, ids, to_status, action, ctx, params, extra=None) -> int:
    """transmise → `to_status` for these allocations (those still transmise), one audit event per row
    moved, in one statement on PostgreSQL (UPDATE … RETURNING feeding INSERT INTO audit_event … SELECT)."""
    from ..models import AuditEvent
    if not ids:
        return 0
    values = {"statut": to_status, "version": Allocation.version + 1, "updated_at": ctx.now, **(extra or {})}
    params = _avec_cause(params, ctx)
    if session.get_bind().dialect.name != "postgresql":
        moved = session.execute(sa.update(Allocation).where(id_in(session, Allocation.id, ids),
                                                            Allocation.statut == AS.TRANSMISE)
                                .values(**values).returning(Allocation.id)
                                .execution_options(synchronize_session=False)).scalars().all()
        _audit_set(session, moved, action, AS.TRANSMISE.value, to_status.value, ctx, params)
        return len(moved)
    v = _ids_array(session, ids)
    moved = (sa.update(Allocation).where(Allocation.id == v.c.id, Allocation.statut == AS.TRANSMISE)
             .values(**values).returning(Allocation.id).cte("moved"))
    audited = sa.insert(AuditEvent).from_select(
        ["at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status", "params"],
        sa.select(sa.literal(ctx.now, sa.DateTime), sa.literal(ctx.actor_id, sa.Integer), sa.literal("allocation"),
                  moved.c.id, sa.literal(action), sa.literal(AS.TRANSMISE.value), sa.literal(to_status.value),
                  sa.literal(params, AuditEvent.__table__.c.params.type) if params else sa.null())
    ).cte("audited")
    n = session.execute(sa.select(sa.func.count()).select_from(moved).add_cte(audited)).scalar_one()
    _expire_allocations(session, ids)
    return n


def _expire_allocations(session, ids) -> None:
    if not any(isinstance(o, Allocation) for o in session.identity_map.values()):
        return
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Allocation) and obj.id in wanted:
            session.expire(obj)


def generer_fichiers(session, lot_ids: list[int], ctx) -> None:
    """Effect of `emettre` (the batch row is locked FOR UPDATE by the engine): the payer's controls,
    refused payments back to their allocation with the reason, the SEPA file of the accepted ones
    (XSD and totals checked), accepted payments emitted and their allocations accepted.

    Set-based: one SELECT for the controls, one statement per refusal reason, one UPDATE of the
    payments, one UPDATE … RETURNING → INSERT … SELECT for the allocations and their audit events,
    one UPDATE of the batch. A worker killed anywhere leaves nothing (one transaction)."""
    from flask import current_app

    from ..sepa import Virement, construire
    debiteur = {"name": current_app.config["SEPA_DEBTOR_NAME"], "IBAN": current_app.config["SEPA_DEBTOR_IBAN"],
                "BIC": current_app.config["SEPA_DEBTOR_BIC"]}
    pg = session.get_bind().dialect.name == "postgresql"
    lots = session.execute(sa.select(LotPaiement.id, LotPaiement.reference, LotPaiement.date_execution)
                           .where(LotPaiement.id.in_(lot_ids)).order_by(LotPaiement.id)).all()
    for lot_id, reference, execution in lots:
        ok, refused = _controles(session, lot_id)
        for reason, pairs in refused.items():
            session.execute(sa.update(Paiement).where(id_in(session, Paiement.id, [p for p, _ in pairs]))
                            .values(statut=PS.REJETE, motif_rejet=reason, updated_at=ctx.now)
                            .execution_options(synchronize_session=False))
            _deplacer_allocations(session, [a for _, a in pairs], AS.REFUSEE, "refus_payeur", ctx,
                                  {"motif": reason}, {"motif_refus": f"Refus du payeur : {reason}"})
        from .recouvrement import imputer_compensations, virements_nets  # R47: offsets, on the accepted only
        ok = virements_nets(ok, imputer_compensations(session, [r[0] for r in ok], ctx))
        if not ok:
            raise ValueError(f"Lot {reference} : aucun paiement accepté, rien à émettre.")
        virements = [Virement(r[2], r[3], r[4], r[5], r[6], r[7]) for r in ok]
        xml, sha = construire(msg_id=reference, debiteur=debiteur, execution=execution, now=ctx.now,
                              virements=virements)
        ids = [r[0] for r in ok]
        if pg:
            v = _ids_array(session, ids)
            emitted = session.execute(sa.update(Paiement).where(Paiement.id == v.c.id, Paiement.statut == PS.EN_ATTENTE)
                                      .values(statut=PS.EMIS, updated_at=ctx.now)
                                      .execution_options(synchronize_session=False)).rowcount
        else:
            emitted = session.execute(sa.update(Paiement).where(id_in(session, Paiement.id, ids),
                                                                Paiement.statut == PS.EN_ATTENTE)
                                      .values(statut=PS.EMIS, updated_at=ctx.now)
                                      .execution_options(synchronize_session=False)).rowcount
        if emitted != len(ids):  # the batch is locked: nothing else may touch its payments meanwhile
            raise RuntimeError(f"Lot {reference} : {emitted} paiements émis au lieu de {len(ids)}, émission annulée.")
        _deplacer_allocations(session, [r[1] for r in ok], AS.ACCEPTEE, "accepter_payeur", ctx, {"lot": reference})
        # the file's totals were checked against these Decimal sums by construire()
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot_id)
                        .values(fichier_sepa=xml, fichier_sha256=sha, emis_at=ctx.now, nb_paiements=len(virements),
                                montant_total=sum((v.montant for v in virements), Decimal("0.00")),
                                updated_at=ctx.now))


def rapprocher(session, lot_ids: list[int], ctx) -> None:
    """Effect of `rapprocher`: the bank executed the batch: payments executed, allocations paid."""
    pay = session.execute(sa.update(Paiement).where(Paiement.lot_id.in_(lot_ids), Paiement.statut == PS.EMIS)
                          .values(statut=PS.EXECUTE, updated_at=ctx.now).returning(Paiement.allocation_id)
                          .execution_options(synchronize_session=False)).scalars().all()
    moved = session.execute(sa.update(Allocation).where(id_in(session, Allocation.id, pay),
                                                        Allocation.statut == AS.ACCEPTEE)
                            .values(statut=AS.VERSEE, versee_at=ctx.now, version=Allocation.version + 1)
                            .returning(Allocation.id).execution_options(synchronize_session=False)).scalars().all()
    _audit_set(session, moved, "verser", "acceptee", "versee", ctx, None)


def _avec_cause(params, ctx):
    """issue 11: the transition whose effect moves these rows, in their audit events."""
    cause = getattr(ctx, "cause", None)
    if not cause or (params or {}).get("cause"):
        return params
    return {**(params or {}), "cause": cause}


def _audit_set(session, ids, action, before, after, ctx, params) -> None:
    """One audit event per allocation, written by one INSERT … SELECT."""
    from ..models import AuditEvent
    if not ids:
        return
    params = _avec_cause(params, ctx)
    session.execute(sa.insert(AuditEvent).from_select(
        ["at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status", "params"],
        sa.select(sa.literal(ctx.now, sa.DateTime), sa.literal(ctx.actor_id, sa.Integer), sa.literal("allocation"),
                  Allocation.id, sa.literal(action), sa.literal(before), sa.literal(after),
                  sa.literal(params, AuditEvent.__table__.c.params.type) if params else sa.null())
        .where(id_in(session, Allocation.id, list(ids)))))


LOT_PAIEMENT = Workflow("lot_paiement", LotPaiement, [
    T("emettre", "Émettre le fichier SEPA", {S.PREPAREE}, S.EMISE, {R.COMPTABLE}, reauth=True,
      prepare=[generer_fichiers], style="primary"),
    T("rapprocher", "Confirmer l'exécution par la banque", {S.EMISE}, S.RAPPROCHEE, {R.COMPTABLE},
      values=lambda ctx: {"rapproche_at": ctx.now}, effects=[rapprocher], style="success"),
], amount_column="montant_total")


def emettre_lot(session, lot_id: int, *, now: datetime, actor=None):
    """What the payment job runs: the `emettre` transition on one batch (idempotent)."""
    from .engine import run
    from .selection import Selection
    return run(session, LOT_PAIEMENT, "emettre", Selection.of_ids([lot_id]), actor, now=now, system=actor is None)


def rapprocher_lot(session, lot_id: int, *, actor, now: datetime):
    from .engine import run
    from .selection import Selection
    return run(session, LOT_PAIEMENT, "rapprocher", Selection.of_ids([lot_id]), actor, now=now)
