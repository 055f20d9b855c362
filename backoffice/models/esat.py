"""ESAT and entreprises adaptées (R53, R54, issue 16): each one's agrément and account, the ESATs' monthly
pay-guarantee declarations (GRTH), the DGF set by the ARS and its instalments, the EAs' monthly aid-per-post
declarations. ESATs and EAs are structures (type « esat », « ea »)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import DeclarationEsatStatut, MoisProgrammeStatut
from .structures import Structure


class AgrementEsat(TimestampMixin, VersionMixin, Base):
    """An ESAT's or EA's record: FINESS or agreement number, places, the account the ASP pays."""

    __tablename__ = "agrement_esat"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), unique=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)  # FINESS (ESAT) or EA agreement
    places: Mapped[int] = mapped_column(default=0)
    iban: Mapped[str] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))

    structure: Mapped[Structure] = relationship()

    __table_args__ = (sa.CheckConstraint("places >= 0", name="places_positives"),)

    def __str__(self) -> str:
        return self.numero


class DeclarationGarantie(TimestampMixin, VersionMixin, Base):
    """An ESAT's monthly declaration of the workers' pay guarantee (R53): the reimbursement it gives."""

    __tablename__ = "declaration_garantie"

    id: Mapped[int] = mapped_column(primary_key=True)
    esat_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    periode: Mapped[date]
    nb_travailleurs: Mapped[int]
    etp: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2))
    aide_au_poste: Mapped[Decimal] = mapped_column(Money)  # computed (R53)
    cotisations_obligatoires: Mapped[Decimal] = mapped_column(Money)
    prevoyance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    formation: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    montant: Mapped[Decimal] = mapped_column(Money)  # the reimbursement: the four above
    statut: Mapped[DeclarationEsatStatut] = mapped_column(
        enum_column(DeclarationEsatStatut, "declaration_esat_statut"), default=DeclarationEsatStatut.DEPOSEE)
    motif: Mapped[Optional[str]] = mapped_column(sa.String(300))
    deposee_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    # issue 16: the ordre de reversement its correction made (R53 over-declared, R54 condition failed afterwards)
    reversement_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("reversement.id"))

    esat: Mapped[Structure] = relationship()

    __table_args__ = (
        money_check("aide_au_poste"), money_check("cotisations_obligatoires"), money_check("prevoyance"),
        money_check("formation"), money_check("montant"),
        sa.CheckConstraint("nb_travailleurs >= 0 AND etp >= 0", name="effectifs_positifs"),
        # to the cent (SQLite, the demo's database, stores NUMERIC as a float)
        sa.CheckConstraint("abs(montant - (aide_au_poste + cotisations_obligatoires + prevoyance + formation)) < 0.005",
                           name="montant_somme"),
        sa.CheckConstraint("statut <> 'refusee' OR motif IS NOT NULL", name="refus_motive"),
        sa.UniqueConstraint("esat_id", "periode", name="uq_declaration_garantie_esat_periode"),
    )

    def __str__(self) -> str:
        return f"GRTH {self.esat_id} {self.periode:%m/%Y}"


class DotationDGF(TimestampMixin, VersionMixin, Base):
    """The DGF of an ESAT for a year, set by the ARS (R53), paid in instalments (VersementDGF)."""

    __tablename__ = "dotation_dgf"

    id: Mapped[int] = mapped_column(primary_key=True)
    esat_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    exercice: Mapped[int]
    montant: Mapped[Decimal] = mapped_column(Money)
    nb_versements: Mapped[int] = mapped_column(default=12)
    fixee_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    fixee_at: Mapped[datetime]

    esat: Mapped[Structure] = relationship()

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_positif"),
        sa.CheckConstraint("nb_versements BETWEEN 1 AND 12", name="nb_versements"),
        sa.UniqueConstraint("esat_id", "exercice", name="uq_dotation_dgf_esat_exercice"),
    )

    def __str__(self) -> str:
        return f"DGF {self.exercice} {self.esat_id}"


class VersementDGF(TimestampMixin, VersionMixin, Base):
    """One instalment of a DGF: its month and amount (the instalments add up to the DGF exactly)."""

    __tablename__ = "versement_dgf"

    id: Mapped[int] = mapped_column(primary_key=True)
    dotation_id: Mapped[int] = mapped_column(sa.ForeignKey("dotation_dgf.id"))
    rang: Mapped[int]
    periode: Mapped[date]
    montant: Mapped[Decimal] = mapped_column(Money)
    statut: Mapped[MoisProgrammeStatut] = mapped_column(
        enum_column(MoisProgrammeStatut, "mois_programme_statut"), default=MoisProgrammeStatut.CALCULE)

    dotation: Mapped[DotationDGF] = relationship()

    __table_args__ = (
        money_check("montant"),
        sa.UniqueConstraint("dotation_id", "rang", name="uq_versement_dgf_dotation_rang"),
        sa.Index("ix_versement_dgf_periode", "periode", "statut"),
    )

    def __str__(self) -> str:
        return f"DGF {self.dotation_id} n° {self.rang} ({self.periode:%m/%Y})"


class DeclarationEA(TimestampMixin, VersionMixin, Base):
    """An EA's monthly declaration: headcount, handicapped workers (R54: ≥ 80 %), aided posts → the aid."""

    __tablename__ = "declaration_ea"

    id: Mapped[int] = mapped_column(primary_key=True)
    ea_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    periode: Mapped[date]
    effectif_total: Mapped[int]
    effectif_th: Mapped[int]  # handicapped workers among them
    postes_etp: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2))
    montant: Mapped[Decimal] = mapped_column(Money)  # computed (R54)
    statut: Mapped[DeclarationEsatStatut] = mapped_column(
        enum_column(DeclarationEsatStatut, "declaration_esat_statut"), default=DeclarationEsatStatut.DEPOSEE)
    motif: Mapped[Optional[str]] = mapped_column(sa.String(300))
    deposee_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    # issue 16: the ordre de reversement its correction made (R53 over-declared, R54 condition failed afterwards)
    reversement_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("reversement.id"))

    ea: Mapped[Structure] = relationship()

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("effectif_total > 0 AND effectif_th >= 0 AND effectif_th <= effectif_total",
                           name="effectifs"),
        sa.CheckConstraint("postes_etp >= 0", name="postes_positifs"),
        sa.CheckConstraint("statut <> 'refusee' OR motif IS NOT NULL", name="refus_motive"),
        sa.UniqueConstraint("ea_id", "periode", name="uq_declaration_ea_ea_periode"),
    )

    def __str__(self) -> str:
        return f"EA {self.ea_id} {self.periode:%m/%Y}"
