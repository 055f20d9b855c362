"""Activité partielle: authorisations (DAP), employees, monthly claims (DI) with hours (R71-R74)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import AutorisationStatut, DIStatut, FormeAmenagement, MotifAP
from .structures import Etablissement


class PieceJointe(TimestampMixin, Base):
    """An uploaded document (the CSE opinion of a DAP, R73; reusable by the other programmes): the file lives
    under instance/pieces/ by its SHA-256, checked for size and type on upload (workflows.pieces)."""

    __tablename__ = "piece_jointe"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    nom_fichier: Mapped[str] = mapped_column(sa.String(255))
    type_mime: Mapped[str] = mapped_column(sa.String(100))
    taille: Mapped[int]
    etablissement_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("etablissement.id"), index=True)
    depose_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))

    etablissement: Mapped[Optional[Etablissement]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("taille > 0", name="taille_positive"),
        sa.CheckConstraint("length(sha256) = 64", name="sha256_longueur"),
    )

    def __str__(self) -> str:
        return self.nom_fichier


class AutorisationAP(TimestampMixin, VersionMixin, Base):
    __tablename__ = "autorisation_ap"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)
    etablissement_id: Mapped[int] = mapped_column(sa.ForeignKey("etablissement.id"), index=True)
    motif: Mapped[MotifAP] = mapped_column(enum_column(MotifAP, "motif_ap"))
    date_debut: Mapped[date]
    date_fin: Mapped[date]
    nb_salaries: Mapped[int]
    heures_prevues: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    avis_cse: Mapped[Optional[str]] = mapped_column(sa.String(300))  # required from 50 employees
    statut: Mapped[AutorisationStatut] = mapped_column(
        enum_column(AutorisationStatut, "autorisation_statut"), default=AutorisationStatut.DEPOSEE
    )
    deposee_at: Mapped[datetime]
    decision_at: Mapped[Optional[datetime]]
    # R71: the 10-character code is never stored, only its keyed digest (issue 12: workflows.activite_partielle)
    code_secret_hash: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)
    forme_amenagement: Mapped[FormeAmenagement] = mapped_column(
        enum_column(FormeAmenagement, "forme_amenagement"), default=FormeAmenagement.REDUCTION,
        server_default=FormeAmenagement.REDUCTION.value)
    engagements: Mapped[Optional[str]] = mapped_column(sa.String(2000))  # R73: AP used in the previous 36 months
    piece_cse_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("piece_jointe.id"))
    depose_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    decide_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    motif_refus: Mapped[Optional[str]] = mapped_column(sa.String(500))

    etablissement: Mapped[Etablissement] = relationship()
    piece_cse: Mapped[Optional[PieceJointe]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("date_fin >= date_debut", name="dates_ordonnees"),
        sa.CheckConstraint("nb_salaries > 0", name="nb_salaries"),
        sa.CheckConstraint("heures_prevues >= 0 AND heures_prevues <> 'NaN'", name="heures"),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL", name="refus_motive"),
        sa.CheckConstraint("nb_salaries < 50 OR avis_cse IS NOT NULL", name="avis_cse"),
    )

    def __str__(self) -> str:
        return self.numero


class Salarie(TimestampMixin, Base):
    __tablename__ = "salarie"

    id: Mapped[int] = mapped_column(primary_key=True)
    etablissement_id: Mapped[int] = mapped_column(sa.ForeignKey("etablissement.id"), index=True)
    nom: Mapped[str] = mapped_column(sa.String(80))
    prenom: Mapped[str] = mapped_column(sa.String(80))
    numero_securite_sociale: Mapped[Optional[str]] = mapped_column(sa.String(15))
    taux_horaire_brut: Mapped[Decimal] = mapped_column(Money)
    heures_contrat_mensuelles: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2), default=Decimal("151.67"))
    apprenti: Mapped[bool] = mapped_column(default=False)

    etablissement: Mapped[Etablissement] = relationship()

    __table_args__ = (
        money_check("taux_horaire_brut"),
        sa.UniqueConstraint("etablissement_id", "numero_securite_sociale"),
    )

    def __str__(self) -> str:
        return f"{self.nom.upper()} {self.prenom}"


class DemandeIndemnisation(TimestampMixin, VersionMixin, Base):
    """DI: one per authorisation and month (R71, R72)."""

    __tablename__ = "demande_indemnisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    autorisation_id: Mapped[int] = mapped_column(sa.ForeignKey("autorisation_ap.id"), index=True)
    annee: Mapped[int]
    mois: Mapped[int]
    statut: Mapped[DIStatut] = mapped_column(enum_column(DIStatut, "di_statut"), default=DIStatut.CREEE)
    montant_indemnites: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    montant_allocation: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    envoyee_at: Mapped[Optional[datetime]]
    motif_invalidation: Mapped[Optional[str]] = mapped_column(sa.String(300))
    decide_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    decision_at: Mapped[Optional[datetime]]

    autorisation: Mapped[AutorisationAP] = relationship()
    lignes: Mapped[list["LigneDI"]] = relationship(back_populates="demande")

    __table_args__ = (
        sa.UniqueConstraint("autorisation_id", "annee", "mois"),
        sa.CheckConstraint("mois BETWEEN 1 AND 12", name="mois"),
        money_check("montant_indemnites"),
        money_check("montant_allocation"),
        sa.CheckConstraint("statut <> 'invalidee' OR motif_invalidation IS NOT NULL", name="invalidation_motivee"),
    )

    def __str__(self) -> str:
        return f"DI {self.mois:02d}/{self.annee}"


class LigneDI(Base):
    __tablename__ = "ligne_di"

    id: Mapped[int] = mapped_column(primary_key=True)
    demande_id: Mapped[int] = mapped_column(sa.ForeignKey("demande_indemnisation.id"), index=True)
    salarie_id: Mapped[int] = mapped_column(sa.ForeignKey("salarie.id"))
    heures_travaillees: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2), default=Decimal("0"))
    heures_chomees: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2), default=Decimal("0"))
    # R74: the idle hours paid: at most the contract hours not worked, and the annual quota
    heures_retenues: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2), default=Decimal("0"), server_default="0")
    indemnite: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # R74: 60 %
    allocation: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # R74: 36 %, floor

    demande: Mapped[DemandeIndemnisation] = relationship(back_populates="lignes")
    salarie: Mapped[Salarie] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("demande_id", "salarie_id"),
        sa.CheckConstraint(
            "heures_travaillees >= 0 AND heures_chomees >= 0 AND heures_chomees <= 400 "
            "AND heures_travaillees <> 'NaN' AND heures_chomees <> 'NaN'",
            name="heures",
        ),
        money_check("indemnite"),
        money_check("allocation"),
    )
