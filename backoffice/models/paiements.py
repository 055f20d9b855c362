"""Payment batches (SEPA pain.001 files) and payments: exactly one payment per allocation version."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .allocations import Allocation
from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .beneficiaires import Beneficiaire, Dispositif
from .enums import LotStatut, PaiementStatut


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


class Paiement(TimestampMixin, Base):
    __tablename__ = "paiement"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot_paiement.id"), index=True)
    # One live payment per allocation version (an allocation or one of its corrections): no double pay;
    # a payment rejected by the bank no longer counts, its allocation is paid again (partial unique index).
    allocation_id: Mapped[int] = mapped_column(sa.ForeignKey("allocation.id"))
    # Copies of the allocation's, written only by the INSERT … SELECT from it (creer_paiements): no
    # foreign key of their own (migration 0007), the one to the allocation already vouches for them.
    beneficiaire_id: Mapped[int] = mapped_column(index=True)
    antenne_id: Mapped[int]
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
    allocation: Mapped[Allocation] = relationship()
    beneficiaire: Mapped[Beneficiaire] = relationship(
        primaryjoin="foreign(Paiement.beneficiaire_id) == Beneficiaire.id", viewonly=True)

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),  # never a negative payment
        sa.CheckConstraint("statut <> 'rejete' OR motif_rejet IS NOT NULL", name="rejet_motive"),
        sa.Index("ix_paiement_statut_tri", "statut", "id"),  # grid filters and sorts (issue 6)
        sa.Index("ix_paiement_antenne_tri", "antenne_id", "id"),
        sa.Index("ix_paiement_montant", "montant", "id"),
        # bank returns (migration 0014): one live payment per allocation; the rejected ones looked up apart
        sa.Index("uq_paiement_allocation_vivant", "allocation_id", unique=True,
                 postgresql_where=sa.text("statut <> 'rejete'"), sqlite_where=sa.text("statut <> 'rejete'")),
        sa.Index("ix_paiement_allocation_rejete", "allocation_id",
                 postgresql_where=sa.text("statut = 'rejete'"), sqlite_where=sa.text("statut = 'rejete'")),
    )

    def __str__(self) -> str:
        return self.end_to_end_id
