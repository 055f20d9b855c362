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
from . import audit
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


def creer_paiements(session, allocation_ids: list[int], *, actor_id: int | None, now: datetime) -> dict:
    """Effect of `transmettre`: the allocations' payments, in the open batch of their dispositif and date."""
    from ..rules.calendrier import prochaine_date_envoi
    from .allocations import differentiel_expr

    groups = session.execute(sa.select(Allocation.dispositif_id, Dispositif.code).join(Dispositif)
                             .where(id_in(session, Allocation.id, allocation_ids)).distinct()).all()
    created = 0
    for dispositif_id, code in groups:
        execution = prochaine_date_envoi(code, now.date())
        # concurrent "send to payment" calls meet on the partial unique index: one open batch
        _insert_ignore(session, LotPaiement.__table__,
                       {"reference": f"LOT-{code}-{execution:%Y%m%d}-{now:%H%M%S%f}"[:35], "dispositif_id": dispositif_id,
                        "date_execution": execution, "statut": S.PREPAREE.value, "nb_paiements": 0,
                        "montant_total": Decimal("0.00"), "cree_par_id": actor_id, "version": 1,
                        "created_at": now, "updated_at": now},
                       ["dispositif_id", "date_execution"], where=sa.text("statut = 'preparee'"))
        lot_id = session.execute(sa.select(LotPaiement.id).where(
            LotPaiement.dispositif_id == dispositif_id, LotPaiement.date_execution == execution,
            LotPaiement.statut == S.PREPAREE)).scalar_one()
        amount = sa.case((Allocation.corrige_id.is_(None), Allocation.montant), else_=differentiel_expr())
        select = (sa.select(
            sa.literal(lot_id), Allocation.id, Allocation.beneficiaire_id, Allocation.antenne_id,
            (sa.literal("ALLOC-") + sa.cast(Allocation.id, sa.String)).label("e2e"), amount,
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
               .on_conflict_do_nothing(index_elements=["allocation_id"]))
        created += session.execute(ins).rowcount or 0
        _totaux(session, [lot_id], now)
    return {"paiements": created}


def _totaux(session, lot_ids, now) -> None:
    for lot_id in lot_ids:
        n, total = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Paiement.montant), 0))
                                   .where(Paiement.lot_id == lot_id, Paiement.statut != PS.REJETE)).one()
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot_id)
                        .values(nb_paiements=n, montant_total=total, updated_at=now))


def _controles(session, lot_id: int, ctx) -> list[tuple[int, int, str]]:
    """The payer's controls: (payment id, allocation id, reason) for each payment refused."""
    rows = session.execute(
        sa.select(Paiement.id, Paiement.allocation_id, Paiement.iban, Paiement.montant, Allocation.montant,
                  Cerfa.statut, Allocation.statut)
        .join(Allocation, Allocation.id == Paiement.allocation_id)
        .join(Cerfa, Cerfa.id == Allocation.cerfa_id)
        .where(Paiement.lot_id == lot_id, Paiement.statut == PS.EN_ATTENTE)).all()
    bad_iban = iban_invalides([(r[0], r[2]) for r in rows])
    refused = []
    for pid, aid, _, montant, droit, cerfa_statut, statut in rows:
        if pid in bad_iban:
            refused.append((pid, aid, "IBAN invalide (clé RIB) (R76)"))
        elif cerfa_statut not in CERFA_OK:
            refused.append((pid, aid, "cerfa non validé (R45)"))
        elif montant > droit:
            refused.append((pid, aid, "montant supérieur au droit calculé"))
        elif statut != AS.TRANSMISE:
            refused.append((pid, aid, "allocation non transmise"))
    return refused


def generer_fichiers(session, lot_ids: list[int], ctx) -> None:
    """Effect of `emettre`: controls, accepted payments emitted, refused ones back to the allocation."""
    from flask import current_app

    from ..sepa import Virement, construire
    debiteur = {"name": current_app.config["SEPA_DEBTOR_NAME"], "IBAN": current_app.config["SEPA_DEBTOR_IBAN"],
                "BIC": current_app.config["SEPA_DEBTOR_BIC"]}
    for lot in session.execute(sa.select(LotPaiement).where(LotPaiement.id.in_(lot_ids))).scalars():
        refused = _controles(session, lot.id, ctx)
        for pid, aid, reason in refused:
            session.execute(sa.update(Paiement).where(Paiement.id == pid)
                            .values(statut=PS.REJETE, motif_rejet=reason, updated_at=ctx.now))
            moved = session.execute(sa.update(Allocation).where(Allocation.id == aid, Allocation.statut == AS.TRANSMISE)
                                    .values(statut=AS.REFUSEE, motif_refus=f"Refus du payeur : {reason}",
                                            version=Allocation.version + 1).returning(Allocation.id)).first()
            if moved:
                audit.record(session, entity="allocation", entity_id=aid, action="refus_payeur", actor_id=ctx.actor_id,
                             from_status="transmise", to_status="refusee", params={"motif": reason})
        ok = session.execute(sa.select(Paiement).where(Paiement.lot_id == lot.id, Paiement.statut == PS.EN_ATTENTE)
                             .order_by(Paiement.id)).scalars().all()
        if not ok:
            raise ValueError(f"Lot {lot.reference} : aucun paiement accepté, rien à émettre.")
        xml, sha = construire(msg_id=lot.reference, debiteur=debiteur, execution=lot.date_execution, now=ctx.now,
                              virements=[Virement(p.end_to_end_id, p.montant, p.titulaire, p.iban, p.bic, p.libelle)
                                         for p in ok])
        ids = [p.id for p in ok]
        session.execute(sa.update(Paiement).where(id_in(session, Paiement.id, ids))
                        .values(statut=PS.EMIS, updated_at=ctx.now).execution_options(synchronize_session=False))
        alloc_ids = [p.allocation_id for p in ok]
        moved = session.execute(sa.update(Allocation)
                                .where(id_in(session, Allocation.id, alloc_ids), Allocation.statut == AS.TRANSMISE)
                                .values(statut=AS.ACCEPTEE, version=Allocation.version + 1)
                                .returning(Allocation.id).execution_options(synchronize_session=False)).scalars().all()
        _audit_set(session, moved, "accepter_payeur", "transmise", "acceptee", ctx, {"lot": lot.reference})
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot.id)
                        .values(fichier_sepa=xml, fichier_sha256=sha, emis_at=ctx.now))
        _totaux(session, [lot.id], ctx.now)


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


def _audit_set(session, ids, action, before, after, ctx, params) -> None:
    """One audit event per allocation, written by one INSERT … SELECT."""
    from ..models import AuditEvent
    if not ids:
        return
    session.execute(sa.insert(AuditEvent).from_select(
        ["at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status", "params"],
        sa.select(sa.literal(ctx.now, sa.DateTime), sa.literal(ctx.actor_id, sa.Integer), sa.literal("allocation"),
                  Allocation.id, sa.literal(action), sa.literal(before), sa.literal(after),
                  sa.literal(params, AuditEvent.__table__.c.params.type) if params else sa.null())
        .where(id_in(session, Allocation.id, list(ids)))))


LOT_PAIEMENT = Workflow("lot_paiement", LotPaiement, [
    T("emettre", "Émettre le fichier SEPA", {S.PREPAREE}, S.EMISE, {R.COMPTABLE},
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
