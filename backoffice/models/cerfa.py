"""The contract form (cerfa CEJ / PACEA): saisi → signe_recu → valide_siege → transmis → accepte | refuse."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .beneficiaires import CompteBancaire, Inscription
from .structures import Structure
from .enums import CerfaStatut, CerfaType


class Cerfa(TimestampMixin, VersionMixin, Base):
    __tablename__ = "cerfa"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)
    inscription_id: Mapped[int] = mapped_column(sa.ForeignKey("inscription.id"), index=True)
    # Denormalised for antenne scoping and grid filters without a join.
    antenne_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"))
    type_version: Mapped[CerfaType] = mapped_column(enum_column(CerfaType, "cerfa_type"))
    date_signature: Mapped[Optional[date]]
    date_reception: Mapped[Optional[date]]
    compte_bancaire_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte_bancaire.id"))
    titulaire_rib: Mapped[Optional[str]] = mapped_column(sa.String(49))  # R38 as printed on the form
    rib_imprime: Mapped[bool] = mapped_column(default=False)
    montant_prevu: Mapped[Optional[Decimal]] = mapped_column(Money)
    duree_prevue_mois: Mapped[Optional[int]]
    statut: Mapped[CerfaStatut] = mapped_column(
        enum_column(CerfaStatut, "cerfa_statut"), default=CerfaStatut.SAISI
    )
    motif_refus: Mapped[Optional[str]] = mapped_column(sa.String(500))
    precedent_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("cerfa.id"))
    valide_siege_at: Mapped[Optional[datetime]]
    decision_asp_at: Mapped[Optional[datetime]]

    inscription: Mapped[Inscription] = relationship()
    antenne: Mapped[Structure] = relationship()
    compte_bancaire: Mapped[Optional[CompteBancaire]] = relationship()
    precedent: Mapped[Optional["Cerfa"]] = relationship(remote_side=[id])

    __table_args__ = (
        money_check("montant_prevu"),
        sa.CheckConstraint("statut <> 'refuse' OR motif_refus IS NOT NULL", name="refus_motive"),
        sa.CheckConstraint(
            "type_version <> 'correctif' OR precedent_id IS NOT NULL", name="correctif_precedent"
        ),
        sa.CheckConstraint(
            "duree_prevue_mois IS NULL OR duree_prevue_mois BETWEEN 1 AND 24", name="duree"
        ),
        sa.Index("ix_cerfa_statut_tri", "statut", "id"),  # status filter + default sort (issue 6)
        sa.Index("ix_cerfa_antenne_tri", "antenne_id", "id"),
    )

    def __str__(self) -> str:
        return self.numero
