"""Youths (bénéficiaires), their bank accounts, the dispositif catalogue and enrolments (parcours)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql  # noqa: F401  (JSONB variant)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin, VersionMixin, enum_column, utcnow
from .comptes import Compte
from .enums import InscriptionStatut, ProtectionJuridique, TrancheFiscale, TypeCompteBancaire
from .structures import Structure


class Beneficiaire(TimestampMixin, VersionMixin, Base):
    __tablename__ = "beneficiaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    identifiant_imilo: Mapped[str] = mapped_column(sa.String(20), unique=True)
    nom: Mapped[str] = mapped_column(sa.String(80))
    prenom: Mapped[str] = mapped_column(sa.String(80))
    # Upper-case, accent-free "NOM PRENOM": served by an index for prefix search.
    nom_recherche: Mapped[str] = mapped_column(sa.String(170), default="")
    date_naissance: Mapped[date]
    email: Mapped[Optional[str]] = mapped_column(sa.String(254))
    telephone: Mapped[Optional[str]] = mapped_column(sa.String(20))
    adresse: Mapped[Optional[str]] = mapped_column(sa.String(200))
    code_postal: Mapped[Optional[str]] = mapped_column(sa.String(5))
    ville: Mapped[Optional[str]] = mapped_column(sa.String(80))
    antenne_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"))
    ressortissant_eee: Mapped[bool] = mapped_column(default=True)
    numero_agdref: Mapped[Optional[str]] = mapped_column(sa.String(10))
    date_fin_titre_sejour: Mapped[Optional[date]]
    inscrit_france_travail: Mapped[bool] = mapped_column(default=False)
    date_inscription_france_travail: Mapped[Optional[date]]
    qpv: Mapped[bool] = mapped_column(default=False)
    rqth: Mapped[bool] = mapped_column(default=False)
    tranche_fiscale: Mapped[TrancheFiscale] = mapped_column(
        enum_column(TrancheFiscale, "tranche_fiscale"), default=TrancheFiscale.NON_IMPOSABLE
    )
    protection_juridique: Mapped[ProtectionJuridique] = mapped_column(
        enum_column(ProtectionJuridique, "protection"), default=ProtectionJuridique.AUCUNE
    )
    reference_jugement: Mapped[Optional[str]] = mapped_column(sa.String(80))
    micro_entrepreneur: Mapped[bool] = mapped_column(default=False)
    activite_micro: Mapped[Optional[str]] = mapped_column(sa.String(20))
    date_immatriculation_micro: Mapped[Optional[date]]

    antenne: Mapped[Structure] = relationship()
    comptes_bancaires: Mapped[list["CompteBancaire"]] = relationship(back_populates="beneficiaire")
    inscriptions: Mapped[list["Inscription"]] = relationship(back_populates="beneficiaire")

    __table_args__ = (
        # R14: a non-EEA youth has an AGDREF number and a permit end date
        sa.CheckConstraint(
            "ressortissant_eee OR (numero_agdref IS NOT NULL AND date_fin_titre_sejour IS NOT NULL)",
            name="agdref_hors_eee",
        ),
        sa.CheckConstraint(
            "protection_juridique NOT IN ('tutelle', 'curatelle') OR reference_jugement IS NOT NULL",
            name="jugement_protection",
        ),
        sa.CheckConstraint(
            "activite_micro IS NULL OR activite_micro IN ('achat_revente', 'bic_services', 'bnc', 'agricole')",
            name="activite_micro",
        ),
        sa.Index("ix_beneficiaire_nom_recherche", "nom_recherche", "id"),
        # prefix search whatever the database collation (LIKE 'X%' needs C order or pattern ops)
        sa.Index("ix_beneficiaire_nom_motif", "nom_recherche", postgresql_ops={"nom_recherche": "varchar_pattern_ops"}),
        sa.Index("ix_beneficiaire_antenne_tri", "antenne_id", "id"),
    )

    def __str__(self) -> str:
        return f"{self.nom.upper()} {self.prenom} ({self.identifiant_imilo})"


class CompteBancaire(TimestampMixin, VersionMixin, Base):
    """A RIB. R38: no Livret A, holder length per cerfa, joint account shows the youth's name."""

    __tablename__ = "compte_bancaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiaire_id: Mapped[int] = mapped_column(sa.ForeignKey("beneficiaire.id"), index=True)
    iban: Mapped[str] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))
    titulaire: Mapped[str] = mapped_column(sa.String(70))
    type_compte: Mapped[TypeCompteBancaire] = mapped_column(
        enum_column(TypeCompteBancaire, "type_compte"), default=TypeCompteBancaire.COURANT
    )
    compte_joint: Mapped[bool] = mapped_column(default=False)
    actif: Mapped[bool] = mapped_column(default=True)

    beneficiaire: Mapped[Beneficiaire] = relationship(back_populates="comptes_bancaires")

    __table_args__ = (
        sa.CheckConstraint("type_compte = 'courant'", name="pas_de_livret"),  # R38
        sa.CheckConstraint("length(iban) BETWEEN 15 AND 34", name="iban_longueur"),
        sa.CheckConstraint("length(titulaire) BETWEEN 1 AND 49", name="titulaire_longueur"),  # R38 (CEJ ≤ 49)
    )

    def __str__(self) -> str:
        return f"{self.titulaire} · …{self.iban[-4:]}"


class Dispositif(TimestampMixin, Base):
    """The catalogue: each programme's rules as data (durations, renewal, allowance, exits)."""

    __tablename__ = "dispositif"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    libelle: Mapped[str] = mapped_column(sa.String(120))
    duree_min_jours: Mapped[Optional[int]]
    duree_max_mois: Mapped[Optional[int]]
    renouvelable: Mapped[bool] = mapped_column(default=False)
    nb_renouvellements_max: Mapped[int] = mapped_column(default=0)
    duree_renouvellement_mois: Mapped[Optional[int]]
    allocation_autorisee: Mapped[bool] = mapped_column(default=False)
    longueur_max_titulaire: Mapped[Optional[int]]  # R38: 38 PACEA, 49 CEJ
    france_travail_requis: Mapped[bool] = mapped_column(default=False)  # R13 / R10
    sortie_positive: Mapped[bool] = mapped_column(default=False)
    pilote_code: Mapped[Optional[str]] = mapped_column(sa.String(20))
    age_min: Mapped[Optional[int]]
    age_max: Mapped[Optional[int]]
    actif: Mapped[bool] = mapped_column(default=True)
    # issue 17: the actions a dispositif records (R8 parrainage, R11 Avenir Pro workshops, R12 Déclic days)
    nature_action: Mapped[Optional[str]] = mapped_column(sa.String(20))  # one of NATURES_ACTION
    actions_min: Mapped[Optional[int]]  # R8: a Parrainage is validated with 2 actions at least
    actions_max: Mapped[Optional[int]]  # R11: a cycle of 4 workshops; Déclic: 6 days
    heures_par_action: Mapped[Optional[int]]  # R12: a Déclic day counts 7 h

    motifs_sortie: Mapped[list["MotifSortie"]] = relationship(back_populates="dispositif")

    __table_args__ = (
        sa.CheckConstraint("nb_renouvellements_max >= 0", name="renouvellements_positif"),
        sa.CheckConstraint("renouvelable OR nb_renouvellements_max = 0", name="renouvellement_coherent"),
    )

    def __str__(self) -> str:
        return self.code


class MotifSortie(Base):
    __tablename__ = "motif_sortie"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispositif_id: Mapped[int] = mapped_column(sa.ForeignKey("dispositif.id"), index=True)
    libelle: Mapped[str] = mapped_column(sa.String(80))
    sortie_positive: Mapped[bool] = mapped_column(default=False)

    dispositif: Mapped[Dispositif] = relationship(back_populates="motifs_sortie")

    __table_args__ = (sa.UniqueConstraint("dispositif_id", "libelle"),)

    def __str__(self) -> str:
        return self.libelle


class Inscription(TimestampMixin, VersionMixin, Base):
    """An enrolment in a dispositif (parcours), with its N° parcours/dispositif."""

    __tablename__ = "inscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(sa.String(20), unique=True)
    beneficiaire_id: Mapped[int] = mapped_column(sa.ForeignKey("beneficiaire.id"), index=True)
    dispositif_id: Mapped[int] = mapped_column(sa.ForeignKey("dispositif.id"), index=True)
    antenne_id: Mapped[int] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    referent_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    prescripteur: Mapped[Optional[str]] = mapped_column(sa.String(80))
    pilote: Mapped[Optional[str]] = mapped_column(sa.String(20))
    date_debut: Mapped[date]
    date_fin_prevue: Mapped[date]
    date_fin_reelle: Mapped[Optional[date]]
    statut: Mapped[InscriptionStatut] = mapped_column(
        enum_column(InscriptionStatut, "inscription_statut"), default=InscriptionStatut.OUVERT
    )
    motif_sortie_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("motif_sortie.id"))
    sortie_positive: Mapped[bool] = mapped_column(default=False)
    nb_renouvellements: Mapped[int] = mapped_column(default=0)
    precedente_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("inscription.id"))
    # issue 17: the life cycle (workflows/parcours.py) and the follow-up it carries
    date_premier_entretien: Mapped[Optional[date]]  # R7: contracted within 3 months of it
    motif_cloture: Mapped[Optional[str]] = mapped_column(sa.String(200))  # automatic ends, sanctions
    dernier_contact: Mapped[Optional[date]]  # R16: last individual interview (PACEA: one a month)
    signalement_france_travail: Mapped[bool] = mapped_column(default=False)  # R16: FT de-registers the youth
    niveau_cep: Mapped[Optional[int]]  # R18: PACEA accompaniment recorded as CEP level 2
    # R5: CEJ weekly activity hours (15-20 h), per month: {"2025-03": "17.5"}
    heures_activite: Mapped[Optional[dict]] = mapped_column(
        sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"))
    # R37: CEJ sanctions decided by a manager (1st: -25 % of a month, 2nd: that month removed, 3rd: the end)
    nb_manquements: Mapped[int] = mapped_column(default=0)
    sanction_1_mois: Mapped[Optional[date]]
    sanction_1_motif: Mapped[Optional[str]] = mapped_column(sa.String(500))
    sanction_2_mois: Mapped[Optional[date]]
    sanction_2_motif: Mapped[Optional[str]] = mapped_column(sa.String(500))
    # R7: contracted more than 1 month after the first interview (3 at most): the justification
    justification_delai: Mapped[Optional[str]] = mapped_column(sa.String(500))
    # R8: a Parrainage starts after both the youth and the mentor accept
    parrain: Mapped[Optional[str]] = mapped_column(sa.String(120))
    date_acceptation_parrainage: Mapped[Optional[date]]
    # R11: Avenir Pro, for final-year vocational students with no further study planned (attested at
    # entry); at the end of the cycle the ML hands France Travail a bilan
    eligibilite_attestee: Mapped[bool] = mapped_column(default=False)
    bilan_france_travail: Mapped[bool] = mapped_column(default=False)

    beneficiaire: Mapped[Beneficiaire] = relationship(back_populates="inscriptions")
    dispositif: Mapped[Dispositif] = relationship()
    antenne: Mapped[Structure] = relationship()
    referent: Mapped[Optional[Compte]] = relationship()
    motif_sortie: Mapped[Optional[MotifSortie]] = relationship()
    precedente: Mapped[Optional["Inscription"]] = relationship(remote_side=[id])
    actions: Mapped[list["ActionParcours"]] = relationship(back_populates="inscription",
                                                           order_by="ActionParcours.date_action")

    __table_args__ = (
        sa.CheckConstraint("date_fin_prevue >= date_debut", name="dates_ordonnees"),
        sa.CheckConstraint(
            "date_fin_reelle IS NULL OR date_fin_reelle >= date_debut", name="fin_reelle_apres_debut"
        ),
        sa.CheckConstraint("nb_renouvellements >= 0", name="renouvellements_positif"),
        sa.CheckConstraint(
            "statut <> 'cloture' OR date_fin_reelle IS NOT NULL", name="cloture_datee"
        ),
        sa.CheckConstraint("nb_manquements BETWEEN 0 AND 3", name="manquements_r37"),
        # R20 (PACEA and CEJ never overlap for one youth) is a trigger: migrations/versions/0015_parcours.py
    )

    def __str__(self) -> str:
        return self.numero


# issue 17: the kinds of action an enrolment records, each for the dispositif whose catalogue names it
NATURES_ACTION = {"parrainage": "Action de parrainage (R8)", "atelier": "Atelier (R11)",
                  "journee_declic": "Journée « situation non professionnelle » + mesure Déclic (R12)"}
DOMAINES_ACTION = {"professionnel": "Professionnel", "social": "Social", "sante": "Santé", "logement": "Logement"}


class ActionParcours(Base):
    """An action recorded on an enrolment (one per kind and day): a parrainage action (R8, professional only),
    an Avenir Pro workshop (R11), a Déclic pour l'action day (R12: 7 h, an interne + administratif event,
    not a workshop). Written only by the PARCOURS transition « Action » (workflows/parcours.py)."""

    __tablename__ = "action_parcours"

    id: Mapped[int] = mapped_column(primary_key=True)
    inscription_id: Mapped[int] = mapped_column(sa.ForeignKey("inscription.id"), index=True)
    nature: Mapped[str] = mapped_column(sa.String(20))
    date_action: Mapped[date]
    domaine: Mapped[Optional[str]] = mapped_column(sa.String(20))
    heures: Mapped[Optional[int]]
    type_evenement: Mapped[Optional[str]] = mapped_column(sa.String(40))
    libelle: Mapped[Optional[str]] = mapped_column(sa.String(200))
    saisi_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now())

    inscription: Mapped[Inscription] = relationship(back_populates="actions")

    __table_args__ = (
        sa.UniqueConstraint("inscription_id", "nature", "date_action"),  # one per kind and day: a replay adds nothing
        sa.CheckConstraint("nature IN ('parrainage', 'atelier', 'journee_declic')", name="nature_connue"),
        # R8: parrainage actions are professional only
        sa.CheckConstraint("nature <> 'parrainage' OR domaine = 'professionnel'", name="parrainage_professionnel"),
    )

    def __str__(self) -> str:
        return f"{NATURES_ACTION.get(self.nature, self.nature)} du {self.date_action:%d/%m/%Y}"
