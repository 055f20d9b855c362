"""The employer's sign-up on the Activité partielle extranet (R62, R63, R65) and the captcha challenges of the
public pages (sign-up, recovery R69)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin, VersionMixin, enum_column
from .comptes import Compte
from .enums import CreationCompteStatut
from .structures import Etablissement


class DemandeCreationCompte(TimestampMixin, VersionMixin, Base):
    """A sign-up filed on the public page: the establishment (one per SIRET, R62) and its first user, the main
    contact (R64). deposee -> validee (establishment, account and link created, 3 mails, R65) | refusee: only
    through workflows.inscriptions. The secret answer is kept as an argon2 digest only."""

    __tablename__ = "demande_creation_compte"

    id: Mapped[int] = mapped_column(primary_key=True)
    siret: Mapped[str] = mapped_column(sa.String(14), index=True)
    raison_sociale: Mapped[str] = mapped_column(sa.String(120))
    libelle_voie: Mapped[str] = mapped_column(sa.String(28))  # R63: ≤ 28 characters
    complement_adresse: Mapped[Optional[str]] = mapped_column(sa.String(38))  # R63: ≤ 38
    code_postal: Mapped[str] = mapped_column(sa.String(5))
    ville: Mapped[str] = mapped_column(sa.String(80))
    email_etablissement: Mapped[str] = mapped_column(sa.String(254))
    telephone_etablissement: Mapped[str] = mapped_column(sa.String(20))
    effectif: Mapped[int] = mapped_column(default=0)
    contact_nom: Mapped[str] = mapped_column(sa.String(80))
    contact_prenom: Mapped[str] = mapped_column(sa.String(80))
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    contact_telephone: Mapped[str] = mapped_column(sa.String(20))
    question_secrete: Mapped[str] = mapped_column(sa.String(120))
    reponse_secrete_hash: Mapped[str] = mapped_column(sa.String(255))
    cgu_acceptees_at: Mapped[datetime]
    statut: Mapped[CreationCompteStatut] = mapped_column(
        enum_column(CreationCompteStatut, "creation_compte_statut"), default=CreationCompteStatut.DEPOSEE)
    deposee_at: Mapped[datetime]
    decide_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    decision_at: Mapped[Optional[datetime]]
    motif_refus: Mapped[Optional[str]] = mapped_column(sa.String(500))
    etablissement_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("etablissement.id"))  # on validation
    compte_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))  # on validation

    etablissement: Mapped[Optional[Etablissement]] = relationship()
    compte: Mapped[Optional[Compte]] = relationship(foreign_keys=[compte_id])
    decide_par: Mapped[Optional[Compte]] = relationship(foreign_keys=[decide_par_id])

    __table_args__ = (
        sa.CheckConstraint("length(siret) = 14", name="siret_longueur"),
        sa.CheckConstraint("length(libelle_voie) <= 28", name="libelle_voie_longueur"),
        sa.CheckConstraint("complement_adresse IS NULL OR length(complement_adresse) <= 38",
                           name="complement_longueur"),
        sa.CheckConstraint("statut <> 'validee' OR (compte_id IS NOT NULL AND etablissement_id IS NOT NULL)",
                           name="validation_complete"),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL", name="refus_motive"),
        # R62: one sign-up under review per SIRET
        sa.Index("uq_demande_creation_compte_siret_en_cours", "siret", unique=True,
                 postgresql_where=sa.text("statut = 'deposee'"), sqlite_where=sa.text("statut = 'deposee'")),
    )

    def __str__(self) -> str:
        return f"Inscription {self.id} · {self.raison_sociale} ({self.siret})"


class DefiCaptcha(Base):
    """A captcha challenge of a public page. Neither the answer nor anything that gives it is stored: the
    browser holds a random key, the table its SHA-256; the answer is derived from the key and SECRET_KEY
    (workflows.captcha). One answer per challenge (right or wrong), then, once solved, one use of the page it
    opens (consomme_at); both expire."""

    __tablename__ = "defi_captcha"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    cle_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    usage: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    repondu_at: Mapped[Optional[datetime]]
    resolu: Mapped[bool] = mapped_column(default=False)
    consomme_at: Mapped[Optional[datetime]]

    __table_args__ = (
        sa.CheckConstraint("usage IN ('inscription', 'recuperation', 'identifiant')", name="usage"),
        sa.CheckConstraint("NOT resolu OR repondu_at IS NOT NULL", name="resolu_repondu"),
    )
