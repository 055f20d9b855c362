"""Monthly allowance requests, their declared resources, and hors-délai approvals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .beneficiaires import Beneficiaire, Dispositif, Inscription
from .cerfa import Cerfa
from .comptes import Compte
from .enums import AllocationNature, AllocationStatut, CategorieRessource, HorsDelaiStatut
from .structures import Structure


class Allocation(TimestampMixin, VersionMixin, Base):
    """One youth, one month. A correction is a new row pointing at the version it replaces (R46)."""

    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    inscription_id: Mapped[int] = mapped_column(sa.ForeignKey("inscription.id"), index=True)
    cerfa_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("cerfa.id"), index=True)
    # Denormalised from the enrolment: scoping, filters and R15/R20 uniqueness without joins.
    beneficiaire_id: Mapped[int] = mapped_column(sa.ForeignKey("beneficiaire.id"), index=True)
    dispositif_id: Mapped[int] = mapped_column(sa.ForeignKey("dispositif.id"))
    antenne_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"))
    mois: Mapped[date]  # first day of the month the allowance is for
    nature: Mapped[AllocationNature] = mapped_column(enum_column(AllocationNature, "nature"))
    statut: Mapped[AllocationStatut] = mapped_column(
        enum_column(AllocationStatut, "allocation_statut"), default=AllocationStatut.ENREGISTREE
    )
    montant_forfaitaire: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    ressources_differentielles: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    montant: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # computed by rules
    motif_blocage: Mapped[Optional[str]] = mapped_column(sa.String(300))
    motif_refus: Mapped[Optional[str]] = mapped_column(sa.String(500))
    # looked up through uq_allocation_corrige (partial on NOT NULL): no second index on the column
    corrige_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("allocation.id"))
    hors_delai: Mapped[bool] = mapped_column(default=False)
    demande_hors_delai_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("demande_hors_delai.id")
    )
    cree_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    soumise_at: Mapped[Optional[datetime]]
    validee_at: Mapped[Optional[datetime]]
    transmise_at: Mapped[Optional[datetime]]
    versee_at: Mapped[Optional[datetime]]

    inscription: Mapped[Inscription] = relationship()
    cerfa: Mapped[Optional[Cerfa]] = relationship()
    beneficiaire: Mapped[Beneficiaire] = relationship()
    dispositif: Mapped[Dispositif] = relationship()
    antenne: Mapped[Structure] = relationship()
    corrige: Mapped[Optional["Allocation"]] = relationship(remote_side=[id])
    ressources: Mapped[list["Ressource"]] = relationship(
        back_populates="allocation", cascade="all, delete-orphan"
    )

    __table_args__ = (
        money_check("montant_forfaitaire"),
        money_check("ressources_differentielles"),
        money_check("montant"),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL", name="refus_motive"),
        sa.CheckConstraint(
            "nature <> 'rectificative' OR corrige_id IS NOT NULL", name="rectificative_corrige"
        ),
        sa.CheckConstraint("NOT hors_delai OR nature = 'hors_delai'", name="hors_delai_nature"),
        # R15/R20: never two allowances for one youth and month (corrections and replaced versions aside)
        sa.Index(
            "uq_allocation_beneficiaire_mois",
            "beneficiaire_id",
            "mois",
            unique=True,
            postgresql_where=sa.text("corrige_id IS NULL AND statut <> 'remplacee'"),
            sqlite_where=sa.text("corrige_id IS NULL AND statut <> 'remplacee'"),
        ),
        # A version is corrected at most once at a time (the chain stays linear)
        sa.Index("uq_allocation_corrige", "corrige_id", unique=True,
                 postgresql_where=sa.text("corrige_id IS NOT NULL"),
                 sqlite_where=sa.text("corrige_id IS NOT NULL")),
        sa.Index("ix_allocation_statut_mois", "statut", "mois", "id"),
        sa.Index("ix_allocation_antenne_statut", "antenne_id", "statut", "id"),
        sa.Index("ix_allocation_dispositif_mois", "dispositif_id", "mois", "id"),
        sa.Index("ix_allocation_montant", "montant", "id"),
        sa.Index("ix_allocation_antenne_tri", "antenne_id", "id"),  # antenne filter, conseiller scope (issue 6)
    )

    def __str__(self) -> str:
        return f"Allocation {self.id} · {self.mois:%m/%Y}"


class Ressource(Base):
    """A declared resource line of the month used as the basis (R28)."""

    __tablename__ = "ressource"

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("allocation.id", ondelete="CASCADE"), index=True
    )
    type_ressource: Mapped[str] = mapped_column(sa.String(60))
    categorie: Mapped[CategorieRessource] = mapped_column(
        enum_column(CategorieRessource, "categorie_ressource")
    )
    montant: Mapped[Decimal] = mapped_column(Money)
    mois_reference: Mapped[date]

    allocation: Mapped[Allocation] = relationship(back_populates="ressources")

    __table_args__ = (money_check("montant"),)


class DemandeHorsDelai(TimestampMixin, VersionMixin, Base):
    """A late allocation request (R48): four eyes, the requester never approves."""

    __tablename__ = "demande_hors_delai"

    id: Mapped[int] = mapped_column(primary_key=True)
    inscription_id: Mapped[int] = mapped_column(sa.ForeignKey("inscription.id"), index=True)
    antenne_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    mois: Mapped[date]
    montant_demande: Mapped[Decimal] = mapped_column(Money)
    motif: Mapped[str] = mapped_column(sa.String(500))
    statut: Mapped[HorsDelaiStatut] = mapped_column(
        enum_column(HorsDelaiStatut, "hors_delai_statut"), default=HorsDelaiStatut.EN_ATTENTE
    )
    demandeur_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id"))
    approbateur_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    decision_at: Mapped[Optional[datetime]]
    motif_refus: Mapped[Optional[str]] = mapped_column(sa.String(500))
    # The approval is bound to what the manager saw (R48): a later edit sends it back to pending.
    montant_approuve: Mapped[Optional[Decimal]] = mapped_column(Money)
    mois_approuve: Mapped[Optional[date]]
    # R48 "enter the allocation as it should have been": the resources of M-1 declared with the request
    # ([[type, "montant"], …]) and the amount the rules compute on them, shown to the manager; the
    # approval binds to it and the allocation carries it (issue 11)
    ressources_declarees: Mapped[Optional[list]] = mapped_column(sa.JSON)
    montant_calcule: Mapped[Optional[Decimal]] = mapped_column(Money)
    motif_calcul: Mapped[Optional[str]] = mapped_column(sa.String(300))

    inscription: Mapped[Inscription] = relationship()
    demandeur: Mapped[Compte] = relationship(foreign_keys=[demandeur_id])
    approbateur: Mapped[Optional[Compte]] = relationship(foreign_keys=[approbateur_id])

    __table_args__ = (
        money_check("montant_demande"),
        money_check("montant_approuve"),
        money_check("montant_calcule"),
        sa.CheckConstraint(
            "approbateur_id IS NULL OR approbateur_id <> demandeur_id", name="quatre_yeux"
        ),
        sa.CheckConstraint(
            "statut <> 'approuvee' OR (approbateur_id IS NOT NULL AND montant_approuve IS NOT NULL)",
            name="approbation_complete",
        ),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL", name="refus_motive"),
    )

    def __str__(self) -> str:
        return f"Hors délai {self.id} · {self.mois:%m/%Y}"
