"""Service civique (R55, issue 16): the host's agrément (associative or not, its account for the subsidy), the
months of a contract (what the ASP pays the volunteer and the host, what the host owes) and the supporting
documents a host uploads on Elisa. The contract itself is `programmes.ContratServiceCivique`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .activite_partielle import PieceJointe
from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import MoisProgrammeStatut
from .programmes import ContratServiceCivique
from .structures import Structure


class AgrementServiceCivique(TimestampMixin, VersionMixin, Base):
    """A host organisation's agrément by the ASC: associative hosts receive the subsidy (R55), paid to `iban`."""

    __tablename__ = "agrement_service_civique"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisme_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), unique=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)
    associatif: Mapped[bool] = mapped_column(default=False)
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))

    organisme: Mapped[Structure] = relationship()

    def __str__(self) -> str:
        return self.numero


class MoisServiceCivique(TimestampMixin, VersionMixin, Base):
    """One month of a contract (R55), computed from the dated barème: the indemnity and social increase paid to
    the volunteer, the subsidy paid to an associative host, the prestation the host owes (shown, not paid by the
    ASP). « Liquider » turns it into its payables (at most once: UNIQUE contract × month, and the payables'
    own key)."""

    __tablename__ = "mois_service_civique"

    id: Mapped[int] = mapped_column(primary_key=True)
    contrat_id: Mapped[int] = mapped_column(sa.ForeignKey("contrat_service_civique.id"))
    periode: Mapped[date]  # first day of the month
    fraction: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4))  # R55: prorated first and last months
    indemnite: Mapped[Decimal] = mapped_column(Money)
    majoration: Mapped[Decimal] = mapped_column(Money)
    prestation_due: Mapped[Decimal] = mapped_column(Money)
    subvention: Mapped[Decimal] = mapped_column(Money)
    bareme_du: Mapped[date]  # the barème line used (its start date)
    statut: Mapped[MoisProgrammeStatut] = mapped_column(
        enum_column(MoisProgrammeStatut, "mois_programme_statut"), default=MoisProgrammeStatut.CALCULE)
    motif: Mapped[Optional[str]] = mapped_column(sa.String(300))

    contrat: Mapped[ContratServiceCivique] = relationship()

    __table_args__ = (
        money_check("indemnite"), money_check("majoration"), money_check("prestation_due"), money_check("subvention"),
        sa.CheckConstraint("fraction > 0 AND fraction <= 1", name="fraction"),
        sa.UniqueConstraint("contrat_id", "periode", name="uq_mois_service_civique_contrat_periode"),
        sa.Index("ix_mois_service_civique_periode", "periode", "statut"),
    )

    @property
    def verse_au_volontaire(self) -> Decimal:
        return (self.indemnite or 0) + (self.majoration or 0)

    def __str__(self) -> str:
        return f"{self.contrat.numero if self.contrat else self.contrat_id} {self.periode:%m/%Y}"


class PieceServiceCivique(TimestampMixin, Base):
    """A supporting document a host uploaded for one of its contracts (Elisa)."""

    __tablename__ = "piece_service_civique"

    id: Mapped[int] = mapped_column(primary_key=True)
    contrat_id: Mapped[int] = mapped_column(sa.ForeignKey("contrat_service_civique.id"), index=True)
    piece_id: Mapped[int] = mapped_column(sa.ForeignKey("piece_jointe.id"))
    objet: Mapped[str] = mapped_column(sa.String(120))

    contrat: Mapped[ContratServiceCivique] = relationship()
    piece: Mapped[PieceJointe] = relationship()
