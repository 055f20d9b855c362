"""CNAF Afas partner declarations (R56-R61): venues, activity lines, financial data, anomalies."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import DeclarationStatut, DeclarationType, ModeLieu
from .structures import Structure


class LieuAccueil(TimestampMixin, Base):
    __tablename__ = "lieu_accueil"

    id: Mapped[int] = mapped_column(primary_key=True)
    partenaire_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    nom: Mapped[str] = mapped_column(sa.String(120))
    mode: Mapped[ModeLieu] = mapped_column(enum_column(ModeLieu, "mode_lieu"))
    commune: Mapped[Optional[str]] = mapped_column(sa.String(80))

    partenaire: Mapped[Structure] = relationship()

    def __str__(self) -> str:
        return self.nom


class DeclarationPartenaire(TimestampMixin, VersionMixin, Base):
    __tablename__ = "declaration_partenaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    partenaire_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    exercice: Mapped[int]
    type: Mapped[DeclarationType] = mapped_column(enum_column(DeclarationType, "declaration_type"))
    statut: Mapped[DeclarationStatut] = mapped_column(
        enum_column(DeclarationStatut, "declaration_statut"), default=DeclarationStatut.EN_SAISIE
    )
    budget: Mapped[Optional[Decimal]] = mapped_column(Money)  # financial data at global level (R58)
    charges: Mapped[Optional[Decimal]] = mapped_column(Money)
    produits: Mapped[Optional[Decimal]] = mapped_column(Money)
    droit_estime: Mapped[Optional[Decimal]] = mapped_column(Money)  # R59: estimate shown at once
    approuvee_par: Mapped[Optional[str]] = mapped_column(sa.String(120))

    partenaire: Mapped[Structure] = relationship()
    lignes: Mapped[list["LigneActivite"]] = relationship(back_populates="declaration")
    anomalies: Mapped[list["Anomalie"]] = relationship(back_populates="declaration")

    __table_args__ = (
        sa.UniqueConstraint("partenaire_id", "exercice", "type"),  # R56: one forecast, one actual
        sa.CheckConstraint("exercice BETWEEN 2000 AND 2100", name="exercice"),
        money_check("budget"),
        money_check("charges"),
        money_check("produits"),
        money_check("droit_estime"),
    )

    def __str__(self) -> str:
        return f"{self.type.value} {self.exercice}"


class LigneActivite(Base):
    """Activity data per venue (R58)."""

    __tablename__ = "ligne_activite"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declaration_partenaire.id"), index=True)
    lieu_id: Mapped[int] = mapped_column(sa.ForeignKey("lieu_accueil.id"))
    semestre: Mapped[int] = mapped_column(default=1)  # R57: twice a year
    heures_rencontres: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2), default=Decimal("0"))
    heures_entretiens: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2), default=Decimal("0"))
    heures_organisation: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2), default=Decimal("0"))

    declaration: Mapped[DeclarationPartenaire] = relationship(back_populates="lignes")
    lieu: Mapped[LieuAccueil] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("declaration_id", "lieu_id", "semestre"),
        sa.CheckConstraint("semestre IN (1, 2)", name="semestre"),
        sa.CheckConstraint(
            "heures_rencontres >= 0 AND heures_entretiens >= 0 AND heures_organisation >= 0 "
            "AND heures_rencontres <> 'NaN' AND heures_entretiens <> 'NaN' AND heures_organisation <> 'NaN'",
            name="heures_positives",
        ),
    )


class Anomalie(Base):
    """A consistency-check finding; it must be justified before transmission (R59)."""

    __tablename__ = "anomalie"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declaration_partenaire.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(20))
    libelle: Mapped[str] = mapped_column(sa.String(300))
    justification: Mapped[Optional[str]] = mapped_column(sa.String(1000))

    declaration: Mapped[DeclarationPartenaire] = relationship(back_populates="anomalies")

    __table_args__ = (sa.UniqueConstraint("declaration_id", "code"),)
