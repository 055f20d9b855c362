"""Adultes-relais (R52): the employer's quarterly declaration of a post and its regularisation."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import DeclarationARStatut
from .programmes import PosteAdulteRelais


class DeclarationAdulteRelais(TimestampMixin, VersionMixin, Base):
    """One quarter of a post: the employee's presence (unpaid absence days per month), the contract's end if it
    ended, and the regularisation it gave (what the months were due against what was paid: a complement payable
    or an ordre de reversement, R52)."""

    __tablename__ = "declaration_adulte_relais"

    id: Mapped[int] = mapped_column(primary_key=True)
    poste_id: Mapped[int] = mapped_column(sa.ForeignKey("poste_adulte_relais.id"), index=True)
    annee: Mapped[int]
    trimestre: Mapped[int]
    absences_mois_1: Mapped[int] = mapped_column(default=0)  # calendar days of unpaid absence
    absences_mois_2: Mapped[int] = mapped_column(default=0)
    absences_mois_3: Mapped[int] = mapped_column(default=0)
    date_fin_contrat: Mapped[Optional[date]]
    montant_du: Mapped[Optional[Decimal]] = mapped_column(Money)
    montant_verse: Mapped[Optional[Decimal]] = mapped_column(Money)
    ecart: Mapped[Optional[Decimal]] = mapped_column(Money)  # > 0 complement, < 0 reversement
    reversement_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("reversement.id"))
    statut: Mapped[DeclarationARStatut] = mapped_column(
        enum_column(DeclarationARStatut, "declaration_ar_statut"), default=DeclarationARStatut.EN_SAISIE)
    deposee_at: Mapped[Optional[datetime]]
    regularisee_at: Mapped[Optional[datetime]]

    poste: Mapped[PosteAdulteRelais] = relationship()

    __table_args__ = (
        money_check("montant_du"),
        money_check("montant_verse"),
        money_check("ecart", allow_negative=True),
        sa.UniqueConstraint("poste_id", "annee", "trimestre"),
        sa.CheckConstraint("trimestre BETWEEN 1 AND 4", name="trimestre"),
        sa.CheckConstraint("absences_mois_1 BETWEEN 0 AND 31 AND absences_mois_2 BETWEEN 0 AND 31 "
                           "AND absences_mois_3 BETWEEN 0 AND 31", name="absences"),
        sa.CheckConstraint("statut <> 'regularisee' OR ecart IS NOT NULL", name="regularisation_calculee"),
    )

    def __str__(self) -> str:
        return f"T{self.trimestre} {self.annee}"
