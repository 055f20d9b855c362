"""Payments: payables (échéances) of every programme → payments in a batch per programme and date (its calendar,
R41 for CEJ/PACEA) → SEPA file. Validated allocations are one source: « Envoyer en paiement » writes their payables.

Exactly once by construction (issue 13): one payable per source and period (UNIQUE (source_type, source_id,
periode), ON CONFLICT DO NOTHING), one live payment per payable (partial unique index WHERE motif_rejet IS NULL:
not rejected), one open batch per programme and date (partial unique index), a batch emitted by a conditional
UPDATE preparee → emise in the same transaction as its file: a retried job, a double click or a worker killed
mid-way either finds the batch emitted with its file, or finds it open.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import (Allocation, Cerfa, CompteBancaire, Dispositif, Echeance, Inscription, LotPaiement, Paiement)
from ..models.enums import (AllocationStatut as AS, CerfaStatut, EcheanceStatut as ES, LotStatut as S,
                            PaiementStatut as PS, Role as R, SourceEcheance as SE, TypeBeneficiairePaiement as TB)
from ..models.paiements import VIVANT
from .engine import T, Workflow, id_in
from .guards import iban_invalides

CERFA_OK = (CerfaStatut.VALIDE_SIEGE, CerfaStatut.TRANSMIS, CerfaStatut.ACCEPTE)


def _insert(session):
    """INSERT with ON CONFLICT DO NOTHING: PostgreSQL and SQLite both speak it (`session`: a Session or a
    Connection)."""
    dialect = getattr(session, "dialect", None) or session.get_bind().dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _insert_ignore(session, table, values: dict, conflict_cols: list[str], where=None):
    stmt = _insert(session)(table).values(**values).on_conflict_do_nothing(index_elements=conflict_cols,
                                                                           index_where=where)
    session.execute(stmt)


# the open batch's key (the partial unique index uq_lot_paiement_ouvert)
LOT_OUVERT_CLE, LOT_OUVERT = ["dispositif_id", "date_execution"], sa.text("statut = 'preparee'")


def _lot_ouvert(session, dispositif_id: int, code: str, execution, actor_id, now) -> int:
    """The open batch of a dispositif and date, created if needed, held FOR KEY SHARE until commit.

    An emission locks its batch FOR UPDATE: a send that meets it waits, then finds the batch emitted
    (no longer `preparee`) and opens the next one, so no payment ever lands in an emitted batch.
    Concurrent sends share the key-share lock (and meet on the partial unique index: one open batch).

    On PostgreSQL the batch is opened in a short transaction of its own, committed at once (_ouvrir_a_part): a
    second send for the same programme and date finds it instead of waiting, on the unique index, for the whole
    first send to commit; the batch's totals are added at commit (_totaux_au_commit), so the two sends fill it side
    by side. A send that fails afterwards leaves the batch open and empty: the next send fills it, the scheduler
    does not emit it (jobs.paiements.emit_due_batches), emitting it by hand is refused (« aucun paiement accepté »).
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
        values = {"reference": f"LOT-{code}-{execution:%Y%m%d}-{rank:02d}-{now:%H%M%S%f}"[:35],
                  "dispositif_id": dispositif_id, "date_execution": execution, "statut": S.PREPAREE.value,
                  "nb_paiements": 0, "montant_total": Decimal("0.00"), "cree_par_id": actor_id, "version": 1,
                  "created_at": now, "updated_at": now}
        if not _ouvrir_a_part(session, values):
            _insert_ignore(session, LotPaiement.__table__, values, LOT_OUVERT_CLE, where=LOT_OUVERT)
    raise RuntimeError(f"Lot {code} du {execution:%d/%m/%Y} : ouverture impossible, réessayez.")


def _ouvrir_a_part(session, values: dict) -> bool:
    """PostgreSQL: INSERT … ON CONFLICT DO NOTHING of the open batch on a connection of its own, committed at once.
    False (the caller opens it in its own transaction, as on SQLite) when that cannot be: the programme or the actor
    is not committed yet (one transaction created them, as a test or the seed does: the foreign key fails), or an
    uncommitted batch of the same key, or a lock on the programme's row, makes it wait (lock_timeout)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    try:
        with getattr(bind, "engine", bind).connect() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '500ms'"))
            _insert_ignore(conn, LotPaiement.__table__, values, LOT_OUVERT_CLE, where=LOT_OUVERT)
            conn.commit()
    except sa.exc.SQLAlchemyError:
        return False
    return True


def creer_paiements(session, allocation_ids: list[int], *, actor_id: int | None, now: datetime,
                    dispositifs: tuple[int, ...] | None = None) -> dict:
    """Effect of the allocations' `transmettre`: each allocation version becomes its payable (source allocation,
    period its month, payee the youth, account the cerfa's RIB) and that payable's payment, in the open batch of
    its dispositif and date (R41, the calendar as data).

    Per dispositif, on PostgreSQL one statement: INSERT INTO echeance … SELECT … ON CONFLICT DO NOTHING (the
    exactly-once key) RETURNING feeds INSERT INTO paiement, whose RETURNING feeds the batch's running totals
    (exact: only what was inserted is added).

    `dispositifs`: the programmes of these allocations when the caller knows them (the `transmettre` UPDATE returns
    them, ctx.groupes): then only the programmes' codes are read, not the allocations again (issue 13)."""
    from .allocations import a_payer_expr
    from .echeances import date_de_lot

    if dispositifs is not None:
        groups = session.execute(sa.select(Dispositif.id, Dispositif.code).where(Dispositif.id.in_(dispositifs))
                                 .order_by(Dispositif.id)).all()
    else:
        groups = session.execute(sa.select(Allocation.dispositif_id, Dispositif.code).join(Dispositif)
                                 .where(id_in(session, Allocation.id, allocation_ids)).distinct()).all()
    pg = session.get_bind().dialect.name == "postgresql"
    created = 0
    for dispositif_id, code in groups:
        lot_id = _lot_ouvert(session, dispositif_id, code, date_de_lot(session, dispositif_id, code, now.date()),
                             actor_id, now)
        amount = a_payer_expr()  # 0: nothing paid, the allocation is closed « rien à payer » (R25/R46)
        payables = (sa.select(
            Allocation.dispositif_id, sa.literal(SE.ALLOCATION.value), Allocation.id, Allocation.mois,
            sa.literal(TB.JEUNE.value), Allocation.beneficiaire_id, CompteBancaire.id, CompteBancaire.iban,
            CompteBancaire.bic, sa.func.substr(CompteBancaire.titulaire, 1, 70),
            sa.func.substr(sa.literal(f"ALLOCATION {code} PARCOURS ") + Inscription.numero, 1, 140), amount,
            sa.literal(ES.EN_LOT.value), sa.literal(1), sa.literal(1), sa.literal(now), sa.literal(now))
            .join(Cerfa, Cerfa.id == Allocation.cerfa_id)
            .join(CompteBancaire, CompteBancaire.id == Cerfa.compte_bancaire_id)
            .join(Inscription, Inscription.id == Allocation.inscription_id)
            .where(id_in(session, Allocation.id, allocation_ids), Allocation.dispositif_id == dispositif_id,
                   amount > 0))
        e_cols = ["dispositif_id", "source_type", "source_id", "periode", "payee_type", "payee_id",
                  "compte_bancaire_id", "iban", "bic", "titulaire", "libelle", "montant", "statut", "tentatives",
                  "version", "created_at", "updated_at"]
        ins_e = (_insert(session)(Echeance.__table__).from_select(e_cols, payables)
                 .on_conflict_do_nothing(index_elements=["source_type", "source_id", "periode"]))
        t = Echeance.__table__.c
        if pg:
            e = ins_e.returning(t.id, t.source_id, t.payee_id, t.montant, t.titulaire, t.iban, t.bic,
                                t.libelle).cte("e")
            source = sa.select(e.c.id, e.c.source_id, e.c.payee_id, e.c.montant, e.c.titulaire, e.c.iban, e.c.bic,
                               e.c.libelle).select_from(e)
        else:
            new_ids = session.execute(ins_e.returning(t.id)).scalars().all()
            source = sa.select(t.id, t.source_id, t.payee_id, t.montant, t.titulaire, t.iban, t.bic, t.libelle
                               ).where(t.id.in_(new_ids))
        src = source.subquery("src")
        # the allocation's antenne read by its primary key, row by row: a join let the planner scan a whole index of
        # the allocations for each chunk (quadratic in the number of chunks: the 1,000,000-row benchmark, issue 13)
        antenne = (sa.select(Allocation.antenne_id).where(Allocation.id == src.c.source_id)
                   .correlate(src).scalar_subquery())
        select = sa.select(sa.literal(lot_id), src.c.id, src.c.source_id, src.c.payee_id, antenne,
                           (sa.literal("ALLOC-") + sa.cast(src.c.source_id, sa.String)).label("e2e"), src.c.montant,
                           src.c.titulaire, src.c.iban, src.c.bic, src.c.libelle, sa.literal(PS.EN_ATTENTE.value),
                           sa.literal(now), sa.literal(now)).select_from(src)
        created += _inserer_paiements(session, lot_id, select, now, pg)
        created += _repayer_allocations(session, lot_id, dispositif_id, allocation_ids, amount, actor_id, now, pg)
    return {"paiements": created}


def _repayer_allocations(session, lot_id, dispositif_id, allocation_ids, amount, actor_id, now, pg) -> int:
    """An allocation sent again after a bank rejection (retours: `rejet_bancaire`, then « Envoyer en paiement » once
    its RIB changed — the allocation's `rejet` guard): its payable already exists (« à repayer »), so it goes back
    en_lot with the cerfa's current RIB and the amount due now, and gets a new payment ALLOC-<id>-<batch> (one
    live payment per payable). Rare: one SELECT when nothing is to be paid again."""
    from ..models import AuditEvent
    rows = session.execute(
        sa.select(Echeance.id, Echeance.statut, CompteBancaire.id, CompteBancaire.iban, CompteBancaire.bic,
                  sa.func.substr(CompteBancaire.titulaire, 1, 70), amount)
        .join(Allocation, sa.and_(Echeance.source_type == SE.ALLOCATION, Allocation.id == Echeance.source_id,
                                  Echeance.periode == Allocation.mois))
        .join(Cerfa, Cerfa.id == Allocation.cerfa_id)
        .join(CompteBancaire, CompteBancaire.id == Cerfa.compte_bancaire_id)
        .where(id_in(session, Allocation.id, allocation_ids), Allocation.dispositif_id == dispositif_id,
               Echeance.statut.in_([ES.REJETEE, ES.A_PAYER]), amount > 0)).all()
    if not rows:
        return 0
    t = Echeance.__table__
    session.execute(sa.update(t).where(t.c.id == sa.bindparam("eid"))
                    .values(statut=ES.EN_LOT.value, compte_bancaire_id=sa.bindparam("cid"), iban=sa.bindparam("i"),
                            bic=sa.bindparam("b"), titulaire=sa.bindparam("ti"), montant=sa.bindparam("m"),
                            motif=None, tentatives=t.c.tentatives + 1, version=t.c.version + 1, updated_at=now),
                    [{"eid": r[0], "cid": r[2], "i": r[3], "b": r[4], "ti": r[5], "m": r[6]} for r in rows])
    session.execute(sa.insert(AuditEvent), [
        {"at": now, "actor_id": actor_id, "entity": "echeance", "entity_id": r[0], "action": "mettre_en_lot",
         "from_status": ES(r[1]).value, "to_status": ES.EN_LOT.value} for r in rows])
    ids = [r[0] for r in rows]
    select = (sa.select(
        sa.literal(lot_id), Echeance.id, Echeance.source_id, Echeance.payee_id, Allocation.antenne_id,
        (sa.literal("ALLOC-") + sa.cast(Echeance.source_id, sa.String) + sa.literal(f"-{lot_id}")).label("e2e"),
        Echeance.montant, Echeance.titulaire, Echeance.iban, Echeance.bic, Echeance.libelle,
        sa.literal(PS.EN_ATTENTE.value), sa.literal(now), sa.literal(now))
        .join(Allocation, Allocation.id == Echeance.source_id).where(Echeance.id.in_(ids)))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Echeance) and obj.id in set(ids):
            session.expire(obj)
    return _inserer_paiements(session, lot_id, select, now, pg)


PAIEMENT_COLS = ["lot_id", "echeance_id", "allocation_id", "beneficiaire_id", "antenne_id", "end_to_end_id", "montant",
                 "titulaire", "iban", "bic", "libelle", "statut", "created_at", "updated_at"]


def _inserer_paiements(session, lot_id, select, now, pg) -> int:
    """INSERT INTO paiement … SELECT (one live payment per payable: ON CONFLICT DO NOTHING on the partial unique
    index), and the batch's totals: on PostgreSQL counted from the INSERT's RETURNING and added at commit
    (_totaux_au_commit), elsewhere recounted at once."""
    # SQLite reads « INSERT … SELECT … FROM src ON CONFLICT » as a join's ON unless the SELECT has a WHERE
    ins = (_insert(session)(Paiement.__table__).from_select(PAIEMENT_COLS, select.where(sa.true()))
           .on_conflict_do_nothing(index_elements=["echeance_id"], index_where=VIVANT))
    if pg:
        ins = ins.returning(Paiement.montant).cte("ins")
        n, total = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(ins.c.montant), 0))
                                   .select_from(ins)).one()
        if n:
            _totaux_au_commit(session, lot_id, n, total, now)
        return n
    created = session.execute(ins).rowcount or 0
    _totaux(session, [lot_id], now)
    return created


_TOTAUX = "backoffice.totaux_lots"


def _totaux_au_commit(session, lot_id: int, n: int, total, now: datetime) -> None:
    """PostgreSQL: what a send adds to its batch's running totals (payments, amount) is written when its transaction
    commits, not when the payments are inserted: the UPDATE of the batch's row locks it until commit, so a second
    send into the same batch (two sends paid on the same date, as the PACEA's 1st of the month, R41) waited for the
    whole first send. Added, never recounted: two sends committing one after the other each add their own share."""
    pending = session.info.setdefault(_TOTAUX, {})
    n0, total0, _ = pending.get(lot_id, (0, Decimal("0.00"), now))
    pending[lot_id] = (n0 + n, total0 + Decimal(total), now)


@sa.event.listens_for(Session, "before_commit")
def _reporter_totaux(session) -> None:
    """The running totals of the batches this transaction filled (_totaux_au_commit), a few rows, just before
    commit. A batch emitted meanwhile in the same transaction keeps the totals of its file."""
    pending = session.info.pop(_TOTAUX, None)
    for lot_id, (n, total, now) in sorted((pending or {}).items()):
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot_id, LotPaiement.statut == S.PREPAREE)
                        .values(nb_paiements=LotPaiement.nb_paiements + n,
                                montant_total=LotPaiement.montant_total + total, updated_at=now)
                        .execution_options(synchronize_session=False))


@sa.event.listens_for(Session, "after_rollback")
def _oublier_totaux(session) -> None:
    session.info.pop(_TOTAUX, None)


def paiements_echeances(session, echeance_ids: list[int], *, actor_id: int | None, now: datetime) -> dict:
    """Effect of the payables' `mettre_en_lot` (any source): the payment of each payable now en_lot, in the open
    batch of its programme and date (the programme's calendar). A payable paid again (after a rejection and a
    change of RIB) gets a new end-to-end id (its attempt number)."""
    from .echeances import date_de_lot
    groups = session.execute(sa.select(Echeance.dispositif_id, Dispositif.code).join(Dispositif)
                             .where(id_in(session, Echeance.id, echeance_ids)).distinct()).all()
    pg = session.get_bind().dialect.name == "postgresql"
    created = 0
    for dispositif_id, code in groups:
        lot_id = _lot_ouvert(session, dispositif_id, code, date_de_lot(session, dispositif_id, code, now.date()),
                             actor_id, now)
        is_alloc = Echeance.source_type == SE.ALLOCATION
        select = (sa.select(
            sa.literal(lot_id), Echeance.id, sa.case((is_alloc, Echeance.source_id)),
            sa.case((Echeance.payee_type == TB.JEUNE, Echeance.payee_id)), Allocation.antenne_id,
            (sa.literal("ECH-") + sa.cast(Echeance.id, sa.String) + sa.literal("-")
             + sa.cast(Echeance.tentatives, sa.String)).label("e2e"),
            Echeance.montant, Echeance.titulaire, Echeance.iban, Echeance.bic, Echeance.libelle,
            sa.literal(PS.EN_ATTENTE.value), sa.literal(now), sa.literal(now))
            .outerjoin(Allocation, sa.and_(is_alloc, Allocation.id == Echeance.source_id))
            .where(id_in(session, Echeance.id, echeance_ids), Echeance.dispositif_id == dispositif_id,
                   Echeance.statut == ES.EN_LOT))
        created += _inserer_paiements(session, lot_id, select, now, pg)
    return {"paiements": created}


def _totaux(session, lot_ids, now) -> None:
    for lot_id in lot_ids:
        n, total = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Paiement.montant), 0))
                                   .where(Paiement.lot_id == lot_id,
                                          Paiement.statut.notin_([PS.REJETE, PS.COMPENSE]))).one()
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot_id)
                        .values(nb_paiements=n, montant_total=total, updated_at=now))


def _controles(session, lot_id: int) -> tuple[list, dict[str, list[tuple[int, int | None, int]]]]:
    """The payer's controls on the batch's payables, in one SELECT: the payee is eligible (R45 cerfa for an
    allocation; each source's own, see echeances.controles_sources), the amount within what the payable and its
    source allow, the status in SQL; the IBAN's RIB key with schwifty (R76). Returns the accepted rows, ordered by
    payment id, and {French reason: [(payment id, allocation id or None, payable id)]} for the refused ones.

    Driven by the batch's payments, looked up by primary key: the plan stays right even when the
    statistics of freshly filled tables are stale."""
    from .echeances import controles_sources
    is_alloc = Echeance.source_type == SE.ALLOCATION
    select = (sa.select(Paiement.id, Paiement.allocation_id, Paiement.end_to_end_id, Paiement.montant,
                        Paiement.titulaire, Paiement.iban, Paiement.bic, Paiement.libelle, Paiement.echeance_id)
              .join(Echeance, Echeance.id == Paiement.echeance_id)
              .outerjoin(Allocation, Allocation.id == Paiement.allocation_id)
              .outerjoin(Cerfa, Cerfa.id == Allocation.cerfa_id))
    # the source types of this batch's payables: only their controls are joined (one small indexed read)
    sources = set(session.execute(sa.select(Echeance.source_type).distinct()
                                  .join(Paiement, Paiement.echeance_id == Echeance.id)
                                  .where(Paiement.lot_id == lot_id, Paiement.statut == PS.EN_ATTENTE)).scalars())
    select, arms = controles_sources(select, sources={getattr(t, "value", t) for t in sources})
    reason = sa.case(
        (sa.and_(is_alloc, sa.not_(sa.func.coalesce(Cerfa.statut.in_(CERFA_OK), sa.false()))),
         sa.literal("cerfa non validé (R45)")),
        (sa.and_(is_alloc, Paiement.montant > Allocation.montant), sa.literal("montant supérieur au droit calculé")),
        (sa.and_(is_alloc, Allocation.statut.notin_([AS.TRANSMISE, AS.ACCEPTEE])),
         sa.literal("allocation non transmise")),
        (Paiement.montant > Echeance.montant, sa.literal("montant supérieur à l'échéance")),
        (Echeance.statut != ES.EN_LOT, sa.literal("échéance hors lot")),
        *[(cond, sa.literal(why)) for cond, why in arms],
        else_=sa.null())
    rows = session.execute(select.add_columns(reason)
                           .where(Paiement.lot_id == lot_id, Paiement.statut == PS.EN_ATTENTE)
                           .order_by(Paiement.id)).all()
    # the same IBAN is checked once per batch (joint accounts, siblings, corrections)
    distinct = list({r[5] for r in rows})
    bad_iban = {distinct[i] for i in iban_invalides(list(enumerate(distinct)))}
    ok, refused = [], {}
    for r in rows:
        why = "IBAN invalide (clé RIB) (R76)" if r[5] in bad_iban else r[9]
        if why is None:
            ok.append(r)
        else:
            refused.setdefault(why, []).append((r[0], r[1], r[8]))
    return ok, refused


def _ids_array(session, ids):
    """`unnest(:ids)` as a table of ids (PostgreSQL): joined by primary key, whatever the statistics."""
    from .engine import int_array
    return sa.func.unnest(int_array(ids)).table_valued("id").render_derived(name="v")


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
    lots = session.execute(sa.select(LotPaiement.id, LotPaiement.reference, LotPaiement.date_execution)
                           .where(LotPaiement.id.in_(lot_ids)).order_by(LotPaiement.id)).all()
    for lot_id, reference, execution in lots:
        ok, refused = _controles(session, lot_id)
        for reason, triples in refused.items():
            session.execute(sa.update(Paiement).where(id_in(session, Paiement.id, [p for p, _, _ in triples]))
                            .values(statut=PS.REJETE, motif_rejet=reason, updated_at=ctx.now)
                            .execution_options(synchronize_session=False))
            _deplacer_allocations(session, [a for _, a, _ in triples if a is not None], AS.REFUSEE, "refus_payeur",
                                  ctx, {"motif": reason}, {"motif_refus": f"Refus du payeur : {reason}"})
            _rejeter_echeances(session, [e for _, _, e in triples], f"Refus du payeur : {reason}", ctx)
        from .recouvrement import imputer_compensations, virements_nets  # R47: offsets, on the accepted only
        accepted = ok
        ok = virements_nets(ok, imputer_compensations(session, [r[0] for r in ok], ctx))
        kept = {r[0] for r in ok}
        offset = [r for r in accepted if r[0] not in kept]  # wholly offset (compense): paid, no transfer
        if offset:
            _payer_echeances(session, [r[8] for r in offset], ctx)
            _deplacer_allocations(session, [r[1] for r in offset if r[1] is not None], AS.ACCEPTEE,
                                  "accepter_payeur", ctx, {"lot": reference, "compensation": True})
        if not ok:
            raise ValueError(f"Lot {reference} : aucun paiement accepté, rien à émettre.")
        virements = [Virement(r[2], r[3], r[4], r[5], r[6], r[7]) for r in ok]
        xml, sha = construire(msg_id=reference, debiteur=debiteur, execution=execution, now=ctx.now,
                              virements=virements)
        ids = [r[0] for r in ok]
        # `id = ANY(:ids)`, not a join with unnest(:ids): no index reads the status any more (migration 0032), and
        # statistics taken while the batch's payments were all emitted estimate « en_attente » at one row, which made
        # the join a nested loop over the whole table (quadratic: 10 s for 4,000 payments, seen in the benchmark).
        # The array's membership is tested by primary key or hashed: linear whatever the statistics.
        emitted = session.execute(sa.update(Paiement).where(id_in(session, Paiement.id, ids),
                                                            Paiement.statut == PS.EN_ATTENTE)
                                  .values(statut=PS.EMIS, updated_at=ctx.now)
                                  .execution_options(synchronize_session=False)).rowcount
        if emitted != len(ids):  # the batch is locked: nothing else may touch its payments meanwhile
            raise RuntimeError(f"Lot {reference} : {emitted} paiements émis au lieu de {len(ids)}, émission annulée.")
        _deplacer_allocations(session, [r[1] for r in ok if r[1] is not None], AS.ACCEPTEE, "accepter_payeur", ctx,
                              {"lot": reference})
        # the file's totals were checked against these Decimal sums by construire()
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot_id)
                        .values(fichier_sepa=xml, fichier_sha256=sha, emis_at=ctx.now, nb_paiements=len(virements),
                                montant_total=sum((v.montant for v in virements), Decimal("0.00")),
                                updated_at=ctx.now))


def rapprocher(session, lot_ids: list[int], ctx) -> None:
    """Effect of `rapprocher`: the bank executed the batch: payments executed, their payables paid, allocations
    paid."""
    pay = session.execute(sa.update(Paiement).where(Paiement.lot_id.in_(lot_ids), Paiement.statut == PS.EMIS)
                          .values(statut=PS.EXECUTE, updated_at=ctx.now)
                          .returning(Paiement.allocation_id, Paiement.echeance_id)
                          .execution_options(synchronize_session=False)).all()
    _payer_echeances(session, [e for _, e in pay], ctx)
    offset = session.execute(sa.select(Paiement.allocation_id).where(
        Paiement.lot_id.in_(lot_ids), Paiement.statut == PS.COMPENSE, Paiement.allocation_id.is_not(None))
    ).scalars().all()  # R47: settled by an offset, paid with the batch
    moved = session.execute(sa.update(Allocation).where(id_in(session, Allocation.id,
                                                                  [a for a, _ in pay if a is not None] + offset),
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


def _payer_echeances(session, ids, ctx) -> None:
    """en_lot → payee for the payables whose payment the bank executed or an offset settled (one UPDATE, one audit
    INSERT … SELECT); an Activité partielle claim paid so goes validee → payee (its `payer` transition)."""
    if not _deplacer_echeances(session, ids, ES.EN_LOT, ES.PAYEE, "payer", ctx, None, {}):
        return
    di_ids = session.execute(sa.select(Echeance.source_id).where(
        id_in(session, Echeance.id, list(ids)), Echeance.source_type == SE.DI_ACTIVITE_PARTIELLE,
        Echeance.statut == ES.PAYEE)).scalars().all()
    if di_ids:
        from .activite_partielle import _di_payee
        _di_payee(session, di_ids, ctx)


def _rejeter_echeances(session, ids, motif, ctx) -> None:
    """en_lot → rejetee (« à repayer ») for the payables whose payment was refused or rejected."""
    _deplacer_echeances(session, ids, ES.EN_LOT, ES.REJETEE, "rejeter", ctx, {"motif": motif[:300]},
                        {"motif": motif[:300]})


def _deplacer_echeances(session, ids, before, after, action, ctx, params, extra) -> int:
    from ..models import AuditEvent
    if not ids:
        return 0
    moved = session.execute(sa.update(Echeance).where(id_in(session, Echeance.id, list(ids)), Echeance.statut == before)
                            .values(statut=after, version=Echeance.version + 1, updated_at=ctx.now, **extra)
                            .returning(Echeance.id).execution_options(synchronize_session=False)).scalars().all()
    if moved:
        session.execute(sa.insert(AuditEvent).from_select(
            ["at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status", "params"],
            sa.select(sa.literal(ctx.now, sa.DateTime), sa.literal(ctx.actor_id, sa.Integer), sa.literal("echeance"),
                      Echeance.id, sa.literal(action), sa.literal(before.value), sa.literal(after.value),
                      sa.literal(params, AuditEvent.__table__.c.params.type) if params else sa.null())
            .where(id_in(session, Echeance.id, moved))))
    return len(moved)


def remettre_a_payer(session, paiement_ids: list[int], ctx) -> dict:
    """Interface of issue 13 (bank returns): the payables of these rejected payments go back to « à payer », to be
    paid again in a later batch — only those whose payee's IBAN now differs from the rejected payment's (never
    twice to the same wrong account); the others stay « à repayer » (rejetee) until the RIB is changed, then
    `remettre_a_payer` (the payables' transition) is run again on them. Set-based, audited."""
    from .echeances import ECHEANCE
    from .engine import run
    from .selection import Selection
    rows = session.execute(sa.select(Paiement.echeance_id, Paiement.motif_rejet)
                           .where(id_in(session, Paiement.id, paiement_ids), Paiement.statut == PS.REJETE)).all()
    by_reason: dict[str, list[int]] = {}
    for echeance_id, motif in rows:
        by_reason.setdefault(motif or "paiement rejeté", []).append(echeance_id)
    for motif, ids in by_reason.items():  # en_lot → rejetee first (the bank rejected their payment)
        _rejeter_echeances(session, ids, motif, ctx)
    from .recouvrement import annuler_compensations
    annuler_compensations(session, list(paiement_ids), ctx)  # R47: an offset on a rejected payment did not happen
    # an allocation's payable stays « à repayer »: the allocation itself goes back (retours' `rejet_bancaire`) and
    # « Envoyer en paiement » sends it again once its RIB changed (its `rejet` guard, creer_paiements)
    ids = sorted(set(session.execute(sa.select(Echeance.id).where(
        id_in(session, Echeance.id, sorted({e for e, _ in rows})), Echeance.source_type != SE.ALLOCATION)
    ).scalars().all()))
    if not ids:
        return {"remises_a_payer": 0, "rib_inchange": 0}
    report = run(session, ECHEANCE, "remettre_a_payer", Selection.of_ids(ids), None, now=ctx.now, system=True,
                 bulk_run_id=ctx.bulk_run_id)
    return {"remises_a_payer": report.changed, "rib_inchange": report.refused_total}


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
