"""Agreements of the other ASP programmes: NACRE (R51), Adultes-relais (R52), Service civique (R55)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import ConventionStatut
from .structures import Structure


class ConventionNacre(TimestampMixin, VersionMixin, Base):
    __tablename__ = "convention_nacre"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)
    operateur_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    subvention_annuelle: Mapped[Decimal] = mapped_column(Money)
    date_debut: Mapped[date]
    date_fin: Mapped[date]  # accompaniment up to 3 years
    date_premier_contrat: Mapped[Optional[date]]
    avance_versee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # R51: 25 %
    statut: Mapped[ConventionStatut] = mapped_column(
        enum_column(ConventionStatut, "convention_statut"), default=ConventionStatut.EN_COURS
    )
    # R51: the monthly price of an accompaniment in progress in each phase (workflows/nacre.py)
    tarif_phase_1: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    tarif_phase_2: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    tarif_phase_3: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    # the operator's account named in the convention (a snapshot goes on each payable)
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))
    motif_fin: Mapped[Optional[str]] = mapped_column(sa.String(300))  # why it was terminated early

    operateur: Mapped[Structure] = relationship()

    __table_args__ = (
        money_check("subvention_annuelle"),
        money_check("avance_versee"),
        money_check("tarif_phase_1"),
        money_check("tarif_phase_2"),
        money_check("tarif_phase_3"),
        sa.CheckConstraint("statut <> 'resiliee' OR motif_fin IS NOT NULL", name="resiliation_motivee"),
        sa.CheckConstraint("date_fin >= date_debut", name="dates_ordonnees"),
        sa.CheckConstraint("avance_versee <= subvention_annuelle", name="avance_plafonnee"),
    )

    def __str__(self) -> str:
        return self.numero


class PosteAdulteRelais(TimestampMixin, VersionMixin, Base):
    __tablename__ = "poste_adulte_relais"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero_convention: Mapped[str] = mapped_column(sa.String(24), unique=True)
    employeur_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    salarie_nom: Mapped[str] = mapped_column(sa.String(80))
    salarie_prenom: Mapped[str] = mapped_column(sa.String(80))
    salarie_date_naissance: Mapped[date]
    date_debut: Mapped[date]
    date_fin: Mapped[date]  # agreement for 3 years, renewable
    quotite: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("100.00"))
    aide_annuelle: Mapped[Decimal] = mapped_column(Money)  # R52
    aide_mensuelle: Mapped[Decimal] = mapped_column(Money)
    statut: Mapped[ConventionStatut] = mapped_column(
        enum_column(ConventionStatut, "convention_statut"), default=ConventionStatut.EN_COURS
    )
    # R52: the employee's eligibility on the hiring date (date_debut): dated age, QPV residence, without a job
    salarie_qpv: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    salarie_sans_emploi: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    date_fin_contrat: Mapped[Optional[date]]  # the employment contract's end, from a quarterly declaration
    renouvellements: Mapped[int] = mapped_column(default=0, server_default="0")
    # the employer's account named in the agreement (a snapshot goes on each payable)
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))
    motif_fin: Mapped[Optional[str]] = mapped_column(sa.String(300))

    employeur: Mapped[Structure] = relationship()

    __table_args__ = (
        money_check("aide_annuelle"),
        money_check("aide_mensuelle"),
        sa.CheckConstraint("date_fin >= date_debut", name="dates_ordonnees"),
        sa.CheckConstraint("quotite > 0 AND quotite <= 100", name="quotite"),
        sa.CheckConstraint("statut <> 'resiliee' OR motif_fin IS NOT NULL", name="resiliation_motivee"),
        sa.CheckConstraint("renouvellements >= 0", name="renouvellements"),
    )

    def __str__(self) -> str:
        return self.numero_convention


class ContratServiceCivique(TimestampMixin, VersionMixin, Base):
    __tablename__ = "contrat_service_civique"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)
    organisme_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    volontaire_nom: Mapped[str] = mapped_column(sa.String(80))
    volontaire_prenom: Mapped[str] = mapped_column(sa.String(80))
    volontaire_date_naissance: Mapped[date]
    date_debut: Mapped[date]
    date_fin: Mapped[date]
    majoration_sociale: Mapped[bool] = mapped_column(default=False)  # R55: RSA household or grant levels 5-7
    # R55: a full month's State indemnity (+ social increase), from the dated barème at the start (issue 16)
    indemnite_mensuelle: Mapped[Decimal] = mapped_column(Money)
    prestation_accueil: Mapped[Decimal] = mapped_column(Money)  # R55: owed by the host, ≥ 7,43 %
    # the volunteer's account (issue 16: the indemnity is paid to them, also abroad: any SEPA country, R76)
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))
    statut: Mapped[ConventionStatut] = mapped_column(
        enum_column(ConventionStatut, "convention_statut"), default=ConventionStatut.EN_COURS
    )

    organisme: Mapped[Structure] = relationship()

    __table_args__ = (
        money_check("indemnite_mensuelle"),
        money_check("prestation_accueil"),
        sa.CheckConstraint("date_fin >= date_debut", name="dates_ordonnees"),
    )

    def __str__(self) -> str:
        return self.numero
