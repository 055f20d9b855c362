"""NACRE (R51): the operator's monthly activity statements and the specialised expertise of a convention."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .activite_partielle import PieceJointe
from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import EtatActiviteStatut, ExpertiseStatut
from .programmes import ConventionNacre


class EtatActiviteNacre(TimestampMixin, VersionMixin, Base):
    """One month of a convention: the accompaniments in progress per phase (typed by the operator), the activity
    they are worth at the convention's prices (R51) and what the monthly run paid for it."""

    __tablename__ = "etat_activite_nacre"

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(sa.ForeignKey("convention_nacre.id"), index=True)
    mois: Mapped[date]  # first day of the month
    nb_phase_1: Mapped[int] = mapped_column(default=0)
    nb_phase_2: Mapped[int] = mapped_column(default=0)
    nb_phase_3: Mapped[int] = mapped_column(default=0)
    montant_activite: Mapped[Optional[Decimal]] = mapped_column(Money)  # computed when sent
    montant_verse: Mapped[Optional[Decimal]] = mapped_column(Money)  # the month's payment (0: absorbed)
    statut: Mapped[EtatActiviteStatut] = mapped_column(
        enum_column(EtatActiviteStatut, "etat_activite_statut"), default=EtatActiviteStatut.EN_SAISIE)
    motif_rejet: Mapped[Optional[str]] = mapped_column(sa.String(300))
    transmis_at: Mapped[Optional[datetime]]

    convention: Mapped[ConventionNacre] = relationship()

    __table_args__ = (
        money_check("montant_activite"),
        money_check("montant_verse"),
        sa.UniqueConstraint("convention_id", "mois"),
        sa.CheckConstraint("nb_phase_1 >= 0 AND nb_phase_2 >= 0 AND nb_phase_3 >= 0", name="nombres_positifs"),
        sa.CheckConstraint("statut <> 'rejete' OR motif_rejet IS NOT NULL", name="rejet_motive"),
        sa.CheckConstraint("statut NOT IN ('transmis', 'valide', 'verse') OR montant_activite IS NOT NULL",
                           name="activite_calculee"),
    )

    def __str__(self) -> str:
        return f"{self.convention_id} {self.mois:%m/%Y}"


class ExpertiseNacre(TimestampMixin, VersionMixin, Base):
    """R51: a specialised expertise bought for a project: paid on the expertise contract and the supplier's
    invoice, both attached (workflows.pieces)."""

    __tablename__ = "expertise_nacre"

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(sa.ForeignKey("convention_nacre.id"), index=True)
    prestataire: Mapped[str] = mapped_column(sa.String(120))
    objet: Mapped[str] = mapped_column(sa.String(200))
    montant_contrat: Mapped[Decimal] = mapped_column(Money)
    montant_facture: Mapped[Decimal] = mapped_column(Money)
    date_facture: Mapped[date]
    piece_contrat_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("piece_jointe.id"))
    piece_facture_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("piece_jointe.id"))
    montant_paye: Mapped[Optional[Decimal]] = mapped_column(Money)
    statut: Mapped[ExpertiseStatut] = mapped_column(
        enum_column(ExpertiseStatut, "expertise_statut"), default=ExpertiseStatut.DEPOSEE)
    motif_refus: Mapped[Optional[str]] = mapped_column(sa.String(300))

    convention: Mapped[ConventionNacre] = relationship()
    piece_contrat: Mapped[Optional[PieceJointe]] = relationship(foreign_keys=[piece_contrat_id])
    piece_facture: Mapped[Optional[PieceJointe]] = relationship(foreign_keys=[piece_facture_id])

    __table_args__ = (
        money_check("montant_contrat"),
        money_check("montant_facture"),
        money_check("montant_paye"),
        sa.CheckConstraint("montant_contrat > 0 AND montant_facture > 0", name="montants_positifs"),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL", name="refus_motive"),
    )

    def __str__(self) -> str:
        return f"{self.prestataire} — {self.objet}"
