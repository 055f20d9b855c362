"""CNAF Afas partner declarations (R56-R61): venues, activity lines, financial data, anomalies."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Money, TimestampMixin, VersionMixin, enum_column, money_check
from .enums import (DeclarationStatut, DeclarationType, HabilitationAfasRole, ModeLieu, NatureAnomalie, PartAfas,
                    TypeItemAfas)
from .structures import Structure


class LieuAccueil(TimestampMixin, Base):
    __tablename__ = "lieu_accueil"

    id: Mapped[int] = mapped_column(primary_key=True)
    partenaire_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    nom: Mapped[str] = mapped_column(sa.String(120))
    mode: Mapped[ModeLieu] = mapped_column(enum_column(ModeLieu, "mode_lieu"))
    commune: Mapped[Optional[str]] = mapped_column(sa.String(80))
    # venues are added and closed over the years (R58): a closed venue declares nothing after it closed
    ouvert_le: Mapped[Optional[date]]
    ferme_le: Mapped[Optional[date]]

    partenaire: Mapped[Structure] = relationship()

    __table_args__ = (sa.CheckConstraint("ferme_le IS NULL OR ouvert_le IS NULL OR ferme_le >= ouvert_le",
                                         name="dates_lieu"),)

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
    # issue 15: who filled in each part (R60), who approved (never one of them), the Caf's decision
    saisie_activite_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    saisie_finances_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    approuvee_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    approuvee_at: Mapped[Optional[datetime]]
    transmise_at: Mapped[Optional[datetime]]
    traitee_at: Mapped[Optional[datetime]]
    droit_retenu: Mapped[Optional[Decimal]] = mapped_column(Money)  # by the Caf, may differ from the estimate
    motif_droit: Mapped[Optional[str]] = mapped_column(sa.String(500))
    motif_renvoi: Mapped[Optional[str]] = mapped_column(sa.String(500))
    # R79: what this declaration made payable (acomptes on a forecast, the balance on an actual)
    acompte_1: Mapped[Optional[Decimal]] = mapped_column(Money)
    acompte_2: Mapped[Optional[Decimal]] = mapped_column(Money)
    solde: Mapped[Optional[Decimal]] = mapped_column(Money)  # negative: a reversement
    # issue 15 §6: the ordre de reversement a negative balance made (once per actual declaration)
    reversement_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("reversement.id"))

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
        money_check("droit_retenu"),
        money_check("acompte_1"),
        money_check("acompte_2"),
        money_check("solde", allow_negative=True),
        sa.CheckConstraint("statut <> 'renvoyee' OR motif_renvoi IS NOT NULL", name="renvoi_motive"),
        sa.CheckConstraint("statut <> 'traitee' OR droit_retenu IS NOT NULL", name="traitee_droit"),
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
    nature: Mapped[NatureAnomalie] = mapped_column(enum_column(NatureAnomalie, "nature_anomalie"),
                                                   default=NatureAnomalie.JUSTIFIABLE,
                                                   server_default=NatureAnomalie.JUSTIFIABLE.value)
    justifiee_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    justifiee_at: Mapped[Optional[datetime]]

    declaration: Mapped[DeclarationPartenaire] = relationship(back_populates="anomalies")

    __table_args__ = (
        sa.UniqueConstraint("declaration_id", "code"),
        # R59: a blocking anomaly is fixed, never justified away
        sa.CheckConstraint("nature <> 'bloquante' OR justification IS NULL", name="bloquante_non_justifiee"),
    )

    def __str__(self) -> str:
        return self.code


class HabilitationAfas(TimestampMixin, Base):
    """R60: a partner's user habilitated on a service (structure) as activity-data provider, financial-data
    provider or approver; granted by the Caf (or by the partner's main contact where it delegates)."""

    __tablename__ = "habilitation_afas"

    id: Mapped[int] = mapped_column(primary_key=True)
    compte_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id"), index=True)
    partenaire_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    role: Mapped[HabilitationAfasRole] = mapped_column(enum_column(HabilitationAfasRole, "habilitation_afas_role"))
    accordee_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))

    compte = relationship("Compte", foreign_keys=[compte_id])
    partenaire: Mapped[Structure] = relationship()

    __table_args__ = (sa.UniqueConstraint("compte_id", "partenaire_id", "role"),)

    def __str__(self) -> str:
        return f"{self.role.value} · {self.partenaire_id}"


class ItemAnnuelAfas(TimestampMixin, Base):
    """R57: one of the ~20 yearly items asked with the actual declaration, defined as data (issue 15 §2): its
    type and bounds, which provider fills it in (R60), mandatory or not. The administrator adds, changes or
    retires an item here: no migration."""

    __tablename__ = "item_annuel_afas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    libelle: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[TypeItemAfas] = mapped_column(enum_column(TypeItemAfas, "type_item_afas"))
    part: Mapped[PartAfas] = mapped_column(enum_column(PartAfas, "part_afas"), default=PartAfas.ACTIVITE)
    minimum: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(14, 2))  # numbers: inclusive bounds
    maximum: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(14, 2))  # text: maximum length
    obligatoire: Mapped[bool] = mapped_column(default=True)
    actif: Mapped[bool] = mapped_column(default=True)  # retired items stay for the declarations that have them
    ordre: Mapped[int] = mapped_column(default=0)
    aide: Mapped[Optional[str]] = mapped_column(sa.String(300))

    __table_args__ = (
        sa.CheckConstraint("minimum IS NULL OR maximum IS NULL OR minimum <= maximum", name="bornes"),
        sa.CheckConstraint("minimum <> 'NaN' AND maximum <> 'NaN'", name="bornes_nombres"),
    )

    def __str__(self) -> str:
        return self.libelle


class ValeurItemAfas(TimestampMixin, Base):
    """The value of a yearly item on a declaration (R57): a number (entier, décimal, montant, oui/non as 1/0)
    or a text; checked against the item's bounds when it is saved (workflows.afas.saisir_items)."""

    __tablename__ = "valeur_item_afas"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declaration_partenaire.id"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("item_annuel_afas.id"))
    valeur_nombre: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(14, 2))
    valeur_texte: Mapped[Optional[str]] = mapped_column(sa.String(500))
    saisie_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))

    declaration: Mapped[DeclarationPartenaire] = relationship()
    item: Mapped[ItemAnnuelAfas] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("declaration_id", "item_id"),
        sa.CheckConstraint("valeur_nombre <> 'NaN'", name="valeur_nombre"),
    )
