"""Bank returns: one row per payment status report (pain.002 or the bank's CSV) imported for a batch.

The file's SHA-256 is unique: the same file imported twice is recognised and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, money_check
from .comptes import Compte
from .paiements import LotPaiement


class RetourBancaire(TimestampMixin, Base):
    __tablename__ = "retour_bancaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot_paiement.id"), index=True)
    fichier_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    nom_fichier: Mapped[str] = mapped_column(sa.String(255))
    format: Mapped[str] = mapped_column(sa.String(8))  # pain002 | csv
    importe_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    importe_at: Mapped[datetime]
    nb_acceptes: Mapped[int] = mapped_column(default=0)
    nb_rejetes: Mapped[int] = mapped_column(default=0)
    montant_accepte: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    montant_rejete: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))

    lot: Mapped[LotPaiement] = relationship()
    importe_par: Mapped[Optional[Compte]] = relationship()

    __table_args__ = (
        money_check("montant_accepte"),
        money_check("montant_rejete"),
        sa.CheckConstraint("format IN ('pain002', 'csv')", name="format_connu"),
        sa.CheckConstraint("nb_acceptes >= 0 AND nb_rejetes >= 0", name="nb_positifs"),
    )

    def __str__(self) -> str:
        return self.nom_fichier
