"""Régions and départements (INSEE codes), reference data inserted by migration 0028 (issue 16, pilotage)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class Region(Base):
    __tablename__ = "region"

    code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    nom: Mapped[str] = mapped_column(sa.String(60))

    def __str__(self) -> str:
        return self.nom


class Departement(Base):
    __tablename__ = "departement"

    code: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    nom: Mapped[str] = mapped_column(sa.String(60))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("region.code"), index=True)

    region: Mapped[Region] = relationship()

    def __str__(self) -> str:
        return f"{self.code} – {self.nom}"
