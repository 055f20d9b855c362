"""Payment batches (SEPA pain.001 files) and payments: at most one live payment per payable (échéance, issue 13)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .allocations import Allocation
from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .beneficiaires import Beneficiaire, Dispositif
from .echeances import Echeance
from .enums import LotStatut, PaiementStatut


# issue 13 (migration 0031): on PostgreSQL these foreign keys are checked once per statement by triggers, not by
# per-row constraints; the models keep them (ORM joins, SQLite). The schema comparison skips them by name.
CONTROLES_ENSEMBLISTES = frozenset({"fk_paiement_lot_id_lot_paiement", "fk_paiement_echeance_id_echeance",
                                    "fk_paiement_allocation_id_allocation", "fk_echeance_dispositif_id_dispositif"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter (autogenerate, schema comparison): those foreign keys are not missing."""
    return not (type_ == "foreign_key_constraint" and name in CONTROLES_ENSEMBLISTES)


class LotPaiement(TimestampMixin, VersionMixin, Base):
    __tablename__ = "lot_paiement"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(35), unique=True)  # SEPA MsgId (R77: ≤ 35)
    dispositif_id: Mapped[int] = mapped_column(sa.ForeignKey("dispositif.id"))
    date_execution: Mapped[date]
    statut: Mapped[LotStatut] = mapped_column(
        enum_column(LotStatut, "lot_statut"), default=LotStatut.PREPAREE
    )
    nb_paiements: Mapped[int] = mapped_column(default=0)
    montant_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    fichier_sepa: Mapped[Optional[bytes]] = mapped_column(sa.LargeBinary, deferred=True)
    fichier_sha256: Mapped[Optional[str]] = mapped_column(sa.String(64))
    cree_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    emis_at: Mapped[Optional[datetime]]
    rapproche_at: Mapped[Optional[datetime]]

    dispositif: Mapped[Dispositif] = relationship()

    __table_args__ = (
        money_check("montant_total"),
        sa.CheckConstraint("nb_paiements >= 0", name="nb_positif"),
        sa.CheckConstraint("statut = 'preparee' OR fichier_sha256 IS NOT NULL", name="fichier_emis"),
        # "send to payment" twice for one dispositif and date yields one open batch
        sa.Index("uq_lot_paiement_ouvert", "dispositif_id", "date_execution", unique=True,
                 postgresql_where=sa.text("statut = 'preparee'"),
                 sqlite_where=sa.text("statut = 'preparee'")),
    )

    def __str__(self) -> str:
        return self.reference


# A payment not rejected (the checks rejet_motive and motif_si_rejete): the predicate of the exactly-once index, and
# the ON CONFLICT that meets it (workflows.paiements)
VIVANT = sa.text("motif_rejet IS NULL")


class Paiement(TimestampMixin, Base):
    __tablename__ = "paiement"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot_paiement.id"), index=True)
    # The payable it pays (issue 13): one live payment per payable (partial unique index below), a rejected one
    # may be followed by another; the allocation version is kept for allocation sources (R46's « déjà versé »).
    echeance_id: Mapped[int] = mapped_column(sa.ForeignKey("echeance.id"))
    allocation_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("allocation.id"))
    # Copies of the allocation's (youth and antenne; empty for the other programmes' payees), written only by the
    # INSERT … SELECT (creer_paiements): no foreign key of their own (migration 0007).
    beneficiaire_id: Mapped[Optional[int]] = mapped_column(index=True)
    antenne_id: Mapped[Optional[int]]
    end_to_end_id: Mapped[str] = mapped_column(sa.String(35), unique=True)
    montant: Mapped[Decimal] = mapped_column(Money)
    titulaire: Mapped[str] = mapped_column(sa.String(70))
    iban: Mapped[str] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))
    libelle: Mapped[str] = mapped_column(sa.String(140))
    statut: Mapped[PaiementStatut] = mapped_column(
        enum_column(PaiementStatut, "paiement_statut"), default=PaiementStatut.EN_ATTENTE
    )
    motif_rejet: Mapped[Optional[str]] = mapped_column(sa.String(300))

    lot: Mapped[LotPaiement] = relationship()
    echeance: Mapped[Echeance] = relationship()
    allocation: Mapped[Optional[Allocation]] = relationship()
    beneficiaire: Mapped[Beneficiaire] = relationship(
        primaryjoin="foreign(Paiement.beneficiaire_id) == Beneficiaire.id", viewonly=True)

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),  # never a negative payment
        sa.CheckConstraint("statut <> 'rejete' OR motif_rejet IS NOT NULL", name="rejet_motive"),
        # …and only a rejected payment has one: « motif_rejet IS NULL » is « not rejected » (the index below)
        sa.CheckConstraint("statut = 'rejete' OR motif_rejet IS NULL", name="motif_si_rejete"),
        # No index reads `statut` (migration 0032): the emission's and the bank's status changes are HOT updates
        # (no index entry rewritten; PostgreSQL's fillfactor 50 leaves the room). The grid filters the status in
        # the primary key's order.
        sa.Index("ix_paiement_antenne_tri", "antenne_id", "id"),
        sa.Index("ix_paiement_montant", "montant", "id"),
        # the exactly-once guarantee (issue 13): one payment per payable that is not rejected
        sa.Index("uq_paiement_echeance_vivant", "echeance_id", unique=True,
                 postgresql_where=VIVANT, sqlite_where=VIVANT),
        sa.Index("ix_paiement_allocation_id", "allocation_id", postgresql_where=sa.text("allocation_id IS NOT NULL"),
                 sqlite_where=sa.text("allocation_id IS NOT NULL")),
    )

    def __str__(self) -> str:
        return self.end_to_end_id
