"""Ordres de reversement (trop-perçu) and the repayments recorded against them (R46, R47)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .allocations import Allocation
from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .beneficiaires import Beneficiaire
from .enums import ReversementStatut


class Reversement(TimestampMixin, VersionMixin, Base):
    __tablename__ = "reversement"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)
    # The corrective allocation version whose differential is a trop-perçu: one order per correction.
    allocation_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("allocation.id"), unique=True)
    beneficiaire_id: Mapped[int] = mapped_column(sa.ForeignKey("beneficiaire.id"), index=True)
    antenne_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    origine: Mapped[str] = mapped_column(sa.String(40), default="correction")
    montant: Mapped[Decimal] = mapped_column(Money)
    montant_rembourse: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    montant_remis: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    statut: Mapped[ReversementStatut] = mapped_column(
        enum_column(ReversementStatut, "reversement_statut"), default=ReversementStatut.EMIS
    )
    date_notification: Mapped[Optional[date]]
    date_echeance: Mapped[Optional[date]]
    motif: Mapped[Optional[str]] = mapped_column(sa.String(500))
    emis_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    solde_at: Mapped[Optional[datetime]]

    allocation: Mapped[Optional[Allocation]] = relationship()
    beneficiaire: Mapped[Beneficiaire] = relationship()
    remboursements: Mapped[list["Remboursement"]] = relationship(back_populates="reversement")

    __table_args__ = (
        money_check("montant"),
        money_check("montant_rembourse"),
        money_check("montant_remis"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),
        sa.CheckConstraint(
            "montant_rembourse + montant_remis <= montant", name="pas_de_sur_recouvrement"
        ),
        sa.CheckConstraint(
            "statut NOT IN ('annule', 'remis') OR motif IS NOT NULL", name="annulation_motivee"
        ),
    )

    @property
    def reste_du(self) -> Decimal:
        return self.montant - self.montant_rembourse - self.montant_remis

    def __str__(self) -> str:
        return self.numero


class Remboursement(TimestampMixin, Base):
    __tablename__ = "remboursement"

    id: Mapped[int] = mapped_column(primary_key=True)
    reversement_id: Mapped[int] = mapped_column(sa.ForeignKey("reversement.id"), index=True)
    date_reception: Mapped[date]
    montant: Mapped[Decimal] = mapped_column(Money)
    mode: Mapped[str] = mapped_column(sa.String(20), default="virement")
    reference: Mapped[Optional[str]] = mapped_column(sa.String(60))
    saisi_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))

    reversement: Mapped[Reversement] = relationship(back_populates="remboursements")

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),
        sa.CheckConstraint("mode IN ('virement', 'cheque', 'prelevement', 'compensation')", name="mode"),
        sa.UniqueConstraint("reversement_id", "reference"),
    )
