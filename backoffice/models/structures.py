"""Organisations: the Mission Locale (siège, antennes), partners, establishments (SIRET)."""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin, VersionMixin, enum_column
from .enums import TypeStructure


class Structure(TimestampMixin, VersionMixin, Base):
    """A siège, an antenne (the *opérateur* of a dispositif), or a partner organisation."""

    __tablename__ = "structure"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    nom: Mapped[str] = mapped_column(sa.String(120))
    type: Mapped[TypeStructure] = mapped_column(enum_column(TypeStructure, "type_structure"))
    parent_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    siret: Mapped[Optional[str]] = mapped_column(sa.String(14), unique=True)
    adresse: Mapped[Optional[str]] = mapped_column(sa.String(200))
    code_postal: Mapped[Optional[str]] = mapped_column(sa.String(5))
    ville: Mapped[Optional[str]] = mapped_column(sa.String(80))
    email: Mapped[Optional[str]] = mapped_column(sa.String(254))
    telephone: Mapped[Optional[str]] = mapped_column(sa.String(20))
    # the account a partner's payables are paid to (issue 15, R79: the Afas acomptes and balance; checked by
    # schwifty with the RIB key, R76, and copied onto each payable)
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))

    parent: Mapped[Optional["Structure"]] = relationship(remote_side=[id])

    __table_args__ = (
        sa.CheckConstraint("siret IS NULL OR length(siret) = 14", name="siret_longueur"),
    )

    def __str__(self) -> str:
        return self.nom


class Etablissement(TimestampMixin, VersionMixin, Base):
    """An employer establishment on the Activité partielle extranet: one account per SIRET (R62)."""

    __tablename__ = "etablissement"

    id: Mapped[int] = mapped_column(primary_key=True)
    siret: Mapped[str] = mapped_column(sa.String(14), unique=True)
    raison_sociale: Mapped[str] = mapped_column(sa.String(120))
    libelle_voie: Mapped[str] = mapped_column(sa.String(28))  # R63: ≤ 28 characters
    complement_adresse: Mapped[Optional[str]] = mapped_column(sa.String(38))  # R63: ≤ 38
    code_postal: Mapped[str] = mapped_column(sa.String(5))
    ville: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str] = mapped_column(sa.String(254))
    telephone: Mapped[Optional[str]] = mapped_column(sa.String(20))
    effectif: Mapped[int] = mapped_column(default=0)
    referent_nom: Mapped[Optional[str]] = mapped_column(sa.String(120))  # R64: changeable referent
    # the account its Activité partielle allowance is paid to (issue 13: snapshot on each payable, R74)
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))

    __table_args__ = (
        sa.CheckConstraint("length(siret) = 14", name="siret_longueur"),
        sa.CheckConstraint("length(libelle_voie) <= 28", name="libelle_voie_longueur"),
        sa.CheckConstraint(
            "complement_adresse IS NULL OR length(complement_adresse) <= 38",
            name="complement_longueur",
        ),
        sa.CheckConstraint("effectif >= 0", name="effectif_positif"),
    )

    def __str__(self) -> str:
        return f"{self.raison_sociale} ({self.siret})"
