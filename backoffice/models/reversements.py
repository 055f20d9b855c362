"""Ordres de reversement (trop-perçu, indus) of any origin and their recovery (R46, R47, D5316-15 [W30]):
repayments, an instalment plan (échéancier), offsets against the debtor's next payment, remises."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .allocations import Allocation
from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .beneficiaires import Beneficiaire, Dispositif
from .enums import ReversementStatut

# Who owes (the payees of issue 13: a youth today, an employer's establishment, a partner, a host organisation,
# a volunteer tomorrow): the same words as the payment side's TypeBeneficiairePaiement.
DEBITEURS = ("jeune", "etablissement", "partenaire", "structure_accueil", "volontaire", "esat")  # esat: an ESAT or EA
# Where the debt comes from: a correction (R46/R47), a quarterly regularisation (adultes-relais), a control
# (R31 self-employed income, R36 missing documents), an unjustified Afas gap, a cancelled claim.
ORIGINES = ("correction", "regularisation", "controle_r31", "controle_r36", "ecart_afas", "demande_annulee",
            "correction_declaration")  # issue 16: an ESAT's GRTH over-declared (R53), an EA under 80 % (R54)
ORIGINE_LABELS = {"correction": "Correction d'allocation", "regularisation": "Régularisation",
                  "controle_r31": "Contrôle des revenus (R31)", "controle_r36": "Contrôle des justificatifs (R36)",
                  "ecart_afas": "Écart Afas non justifié", "demande_annulee": "Demande annulée",
                  "correction_declaration": "Correction de déclaration (ESAT, EA)"}
MODES_REMBOURSEMENT = ("virement", "cheque", "prelevement")


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _debiteur_par_defaut(context):
    """A row written with only its youth (older code, fixtures): the youth is the debtor."""
    return context.get_current_parameters().get("beneficiaire_id")


def _dispositif_par_defaut(context):
    """…on the dispositif of the corrected allocation, else of the youth's first enrolment."""
    params = context.get_current_parameters()
    if params.get("allocation_id") is not None:
        return context.connection.execute(sa.text("SELECT dispositif_id FROM allocation WHERE id = :i"),
                                          {"i": params["allocation_id"]}).scalar()
    return context.connection.execute(sa.text("SELECT MIN(dispositif_id) FROM inscription WHERE beneficiaire_id = :b"),
                                      {"b": params.get("beneficiaire_id")}).scalar()


class Reversement(TimestampMixin, VersionMixin, Base):
    __tablename__ = "reversement"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(sa.String(24), unique=True)
    # The corrective allocation version whose differential is a trop-perçu: one order per correction.
    allocation_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("allocation.id"), unique=True)
    # The debtor, generic (type + id + dispositif); the youth's foreign key stays for the youth debtors.
    debiteur_type: Mapped[str] = mapped_column(sa.String(20), default="jeune")
    debiteur_id: Mapped[int] = mapped_column(default=_debiteur_par_defaut)
    dispositif_id: Mapped[int] = mapped_column(sa.ForeignKey("dispositif.id"), index=True,
                                               default=_dispositif_par_defaut)
    debiteur_nom: Mapped[Optional[str]] = mapped_column(sa.String(140))
    debiteur_email: Mapped[Optional[str]] = mapped_column(sa.String(254))
    beneficiaire_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("beneficiaire.id"), index=True)
    antenne_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    origine: Mapped[str] = mapped_column(sa.String(40), default="correction")
    montant: Mapped[Decimal] = mapped_column(Money)
    montant_rembourse: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    montant_remis: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    montant_compense: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    statut: Mapped[ReversementStatut] = mapped_column(
        enum_column(ReversementStatut, "reversement_statut"), default=ReversementStatut.EMIS
    )
    date_notification: Mapped[Optional[date]]
    date_echeance: Mapped[Optional[date]]
    motif: Mapped[Optional[str]] = mapped_column(sa.String(500))
    emis_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    solde_at: Mapped[Optional[datetime]]
    # Offsetting against the next payment needs the debtor's agreement, recorded (who, when, which letter)
    accord_compensation_at: Mapped[Optional[datetime]]
    accord_compensation_ref: Mapped[Optional[str]] = mapped_column(sa.String(200))
    accord_compensation_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    # The remise waiting for its second manager (four eyes above SEUIL_REMISE_DOUBLE_VALIDATION)
    remise_proposee: Mapped[Optional[Decimal]] = mapped_column(Money)
    remise_motif: Mapped[Optional[str]] = mapped_column(sa.String(500))
    remise_proposee_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    # What was already recovered when the instalment plan was granted: the plan covers the rest
    echeancier_recouvre_avant: Mapped[Optional[Decimal]] = mapped_column(Money)

    allocation: Mapped[Optional[Allocation]] = relationship()
    beneficiaire: Mapped[Optional[Beneficiaire]] = relationship()
    dispositif: Mapped[Dispositif] = relationship()
    remboursements: Mapped[list["Remboursement"]] = relationship(back_populates="reversement",
                                                                 order_by="Remboursement.id")
    echeances: Mapped[list["EcheancierLigne"]] = relationship(back_populates="reversement",
                                                             order_by="EcheancierLigne.rang")
    compensations: Mapped[list["Compensation"]] = relationship(back_populates="reversement",
                                                               order_by="Compensation.id")
    remises: Mapped[list["RemiseReversement"]] = relationship(back_populates="reversement",
                                                              order_by="RemiseReversement.id")

    __table_args__ = (
        money_check("montant"),
        money_check("montant_rembourse"),
        money_check("montant_remis"),
        money_check("montant_compense"),
        money_check("remise_proposee"),
        money_check("echeancier_recouvre_avant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),
        sa.CheckConstraint(
            "montant_rembourse + montant_remis + montant_compense <= montant", name="pas_de_sur_recouvrement"
        ),
        sa.CheckConstraint(
            "statut NOT IN ('annule', 'remis') OR motif IS NOT NULL", name="annulation_motivee"
        ),
        # settled only when nothing is left due (R47); the other way round is the `solder` transition's job
        sa.CheckConstraint(
            "statut <> 'solde' OR montant_rembourse + montant_remis + montant_compense = montant",
            name="solde_rien_du"),
        sa.CheckConstraint(_in("debiteur_type", DEBITEURS), name="debiteur_type"),
        sa.CheckConstraint(_in("origine", ORIGINES), name="origine"),
        sa.CheckConstraint("debiteur_type <> 'jeune' OR beneficiaire_id = debiteur_id", name="debiteur_jeune"),
        sa.CheckConstraint("statut <> 'remise_a_valider' OR (remise_proposee > 0 AND remise_motif IS NOT NULL"
                           " AND remise_proposee_par_id IS NOT NULL)", name="remise_proposee_motivee"),
        sa.Index("ix_reversement_debiteur", "debiteur_type", "debiteur_id", "dispositif_id"),
    )

    @hybrid_property
    def reste_du(self) -> Decimal:
        return self.montant - self.montant_rembourse - self.montant_remis - self.montant_compense

    @property
    def origine_label(self) -> str:
        return ORIGINE_LABELS.get(self.origine, self.origine)

    def __str__(self) -> str:
        return self.numero


class Remboursement(TimestampMixin, Base):
    __tablename__ = "remboursement"

    id: Mapped[int] = mapped_column(primary_key=True)
    reversement_id: Mapped[int] = mapped_column(sa.ForeignKey("reversement.id"), index=True)
    date_reception: Mapped[date]
    montant: Mapped[Decimal] = mapped_column(Money)
    mode: Mapped[str] = mapped_column(sa.String(20), default="virement")
    reference: Mapped[Optional[str]] = mapped_column(sa.String(60))
    saisi_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))

    reversement: Mapped[Reversement] = relationship(back_populates="remboursements")

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),
        sa.CheckConstraint("mode IN ('virement', 'cheque', 'prelevement', 'compensation')", name="mode"),
        sa.UniqueConstraint("reversement_id", "reference"),
    )


class EcheancierLigne(TimestampMixin, Base):
    """One instalment of a reversement's plan; covered in due-date order by what is recovered."""

    __tablename__ = "echeancier_ligne"

    id: Mapped[int] = mapped_column(primary_key=True)
    reversement_id: Mapped[int] = mapped_column(sa.ForeignKey("reversement.id"), index=True)
    rang: Mapped[int]
    date_echeance: Mapped[date]
    montant: Mapped[Decimal] = mapped_column(Money)
    relance_at: Mapped[Optional[datetime]]  # the reminder of a missed instalment, sent once

    reversement: Mapped[Reversement] = relationship(back_populates="echeances")

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),
        sa.UniqueConstraint("reversement_id", "rang"),
        sa.Index("ix_echeancier_ligne_a_relancer", "date_echeance",
                 postgresql_where=sa.text("relance_at IS NULL"), sqlite_where=sa.text("relance_at IS NULL")),
    )


class Compensation(TimestampMixin, Base):
    """Part of a debt recovered on the debtor's next payment of the same dispositif (with their agreement)."""

    __tablename__ = "compensation"

    id: Mapped[int] = mapped_column(primary_key=True)
    reversement_id: Mapped[int] = mapped_column(sa.ForeignKey("reversement.id"), index=True)
    paiement_id: Mapped[int] = mapped_column(sa.ForeignKey("paiement.id"), index=True)
    montant: Mapped[Decimal] = mapped_column(Money)
    montant_paiement_avant: Mapped[Decimal] = mapped_column(Money)  # the payment before the offset

    reversement: Mapped[Reversement] = relationship(back_populates="compensations")

    __table_args__ = (
        money_check("montant"),
        money_check("montant_paiement_avant"),
        sa.CheckConstraint("montant > 0 AND montant <= montant_paiement_avant", name="montant_compense"),
        sa.UniqueConstraint("reversement_id", "paiement_id"),
    )


class RemiseReversement(TimestampMixin, Base):
    """A manager's remise decision (D5316-15): amount, reason, who proposed, who approved (four eyes)."""

    __tablename__ = "remise_reversement"

    id: Mapped[int] = mapped_column(primary_key=True)
    reversement_id: Mapped[int] = mapped_column(sa.ForeignKey("reversement.id"), index=True)
    montant: Mapped[Decimal] = mapped_column(Money)
    motif: Mapped[str] = mapped_column(sa.String(500))
    statut: Mapped[str] = mapped_column(sa.String(12), default="a_valider")
    propose_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    propose_at: Mapped[datetime]
    decide_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    decide_at: Mapped[Optional[datetime]]

    reversement: Mapped[Reversement] = relationship(back_populates="remises")

    __table_args__ = (
        money_check("montant"),
        sa.CheckConstraint("montant > 0", name="montant_strictement_positif"),
        sa.CheckConstraint("statut IN ('a_valider', 'accordee', 'refusee')", name="statut"),
        # four eyes: an approval above the threshold is someone else's (the engine's guard enforces when)
        sa.CheckConstraint("statut <> 'refusee' OR decide_par_id IS NOT NULL", name="refus_decide"),
    )
