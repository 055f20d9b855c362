"""Payables (« droits à payer », échéances) of every programme, and each programme's payment calendar (issue 13).

A payable is what one source owes one payee for one period: an allocation version (CEJ/PACEA), an Activité
partielle claim, an Afas acompte or balance, a NACRE advance or monthly payment, an Adultes-relais month, a
Service civique month. The exactly-once guarantee lives here: UNIQUE (source_type, source_id, periode) — a
source is owed at most once per period — and at most one live payment per payable (partial unique index on
paiement.echeance_id, WHERE motif_rejet IS NULL: not rejected): a payable is paid again only after its payment was
rejected.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .beneficiaires import Dispositif
from .enums import EcheanceStatut, SourceEcheance, TypeBeneficiairePaiement


class Echeance(TimestampMixin, VersionMixin, Base):
    __tablename__ = "echeance"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispositif_id: Mapped[int] = mapped_column(sa.ForeignKey("dispositif.id"))
    source_type: Mapped[SourceEcheance] = mapped_column(enum_column(SourceEcheance, "source_echeance"))
    source_id: Mapped[int]
    periode: Mapped[date]  # first day of the month paid
    payee_type: Mapped[TypeBeneficiairePaiement] = mapped_column(
        enum_column(TypeBeneficiairePaiement, "type_beneficiaire_paiement"))
    payee_id: Mapped[int]
    # the account it is paid to: a snapshot, and the account row when there is one (a youth's RIB);
    # no foreign key (like paiement's copies, migration 0007: written only by the set-based INSERT … SELECT)
    compte_bancaire_id: Mapped[Optional[int]]
    iban: Mapped[str] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))
    titulaire: Mapped[str] = mapped_column(sa.String(70))
    libelle: Mapped[str] = mapped_column(sa.String(140))
    montant: Mapped[Decimal] = mapped_column(Money)
    statut: Mapped[EcheanceStatut] = mapped_column(
        enum_column(EcheanceStatut, "echeance_statut"), default=EcheanceStatut.A_PAYER)
    tentatives: Mapped[int] = mapped_column(default=0)  # payments made for it (a rejected one is paid again)
    motif: Mapped[Optional[str]] = mapped_column(sa.String(300))  # why it was rejected or cancelled

    dispositif: Mapped[Dispositif] = relationship()

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),
        sa.CheckConstraint("statut NOT IN ('rejetee', 'annulee') OR motif IS NOT NULL", name="motif_requis"),
        # the exactly-once key (issue 13): one payable per source and period
        sa.UniqueConstraint("source_type", "source_id", "periode", name="uq_echeance_source_periode"),
        # the grid's filters and sorts (programme and period, status, payee)
        sa.Index("ix_echeance_dispositif_periode", "dispositif_id", "periode"),
        sa.Index("ix_echeance_statut_tri", "statut", "id"),
        sa.Index("ix_echeance_payee", "payee_type", "payee_id"),
    )

    def __str__(self) -> str:
        return f"{self.source_type.value} {self.source_id} {self.periode:%m/%Y}"


class CalendrierPaiement(TimestampMixin, Base):
    """A programme's payment dates, as data (R41 for CEJ and PACEA): the batch of a send made on day D goes on
    the next of `jours` (days of the month, D included), or, with `mois_suivant`, always on the first of them in
    the month after D's."""

    __tablename__ = "calendrier_paiement"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispositif_id: Mapped[int] = mapped_column(sa.ForeignKey("dispositif.id"), unique=True)
    jours: Mapped[str] = mapped_column(sa.String(40))  # "1,15"
    mois_suivant: Mapped[bool] = mapped_column(default=False)
    commentaire: Mapped[Optional[str]] = mapped_column(sa.String(200))

    dispositif: Mapped[Dispositif] = relationship()

    __table_args__ = (
        sa.CheckConstraint("jours <> ''", name="jours_requis"),
    )

    def __str__(self) -> str:
        return f"{self.jours}{' (mois suivant)' if self.mois_suivant else ''}"
