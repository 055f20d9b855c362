"""User accounts (staff and partners), their sessions and one-time tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin, VersionMixin, enum_column
from .enums import CompteStatut, HabilitationStatut, Role, RoleEtablissement
from .structures import Etablissement, Structure


class Compte(TimestampMixin, VersionMixin, Base):
    """A login. Lockout fields implement R68; must_change_password R66."""

    __tablename__ = "compte"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    nom: Mapped[str] = mapped_column(sa.String(80))
    prenom: Mapped[str] = mapped_column(sa.String(80))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    structure_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("structure.id"), index=True)
    statut: Mapped[CompteStatut] = mapped_column(
        enum_column(CompteStatut, "compte_statut"), default=CompteStatut.ACTIF
    )
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)  # consecutive, reset by a success (R68)
    failures_since_unlock_total: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[Optional[datetime]]
    locked_at: Mapped[Optional[datetime]]
    locked_until: Mapped[Optional[datetime]] = mapped_column(index=True)
    last_login_at: Mapped[Optional[datetime]]
    password_changed_at: Mapped[Optional[datetime]]
    # Bumped on logout/password change: every older session cookie is refused server-side.
    session_generation: Mapped[int] = mapped_column(default=0)
    # R63, R69: a partner's secret question and its answer (argon2 digest only; set at sign-up)
    question_secrete: Mapped[Optional[str]] = mapped_column(sa.String(120))
    reponse_secrete_hash: Mapped[Optional[str]] = mapped_column(sa.String(255))

    structure: Mapped[Optional[Structure]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("failed_attempts >= 0", name="failed_attempts_positif"),
        sa.CheckConstraint(
            "role NOT IN ('conseiller') OR structure_id IS NOT NULL", name="conseiller_structure"
        ),
    )

    # Flask-Login protocol (kept here so the model needs no Flask import)
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.statut != CompteStatut.DESACTIVE

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"

    @property
    def nom_complet(self) -> str:
        return f"{self.prenom} {self.nom}"

    def __str__(self) -> str:
        return f"{self.login} ({self.prenom} {self.nom})"


class CompteEtablissement(TimestampMixin, Base):
    """Partner user ↔ establishment (R62-R64): one main contact per SIRET, tiers déclarants.

    The first user of an establishment is its main contact (workflows.habilitations); the main
    contact's link never changes nor goes away, and their name, first name and e-mail are frozen
    (migration 0005: triggers on compte and compte_etablissement, on top of the form checks).
    """

    __tablename__ = "compte_etablissement"

    id: Mapped[int] = mapped_column(primary_key=True)
    compte_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id"), index=True)
    etablissement_id: Mapped[int] = mapped_column(sa.ForeignKey("etablissement.id"), index=True)
    role: Mapped[RoleEtablissement] = mapped_column(enum_column(RoleEtablissement, "role_etab"))
    demande_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))

    compte: Mapped[Compte] = relationship(foreign_keys=[compte_id])
    etablissement: Mapped[Etablissement] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("compte_id", "etablissement_id"),
        # R64: exactly one main contact per establishment
        sa.Index(
            "uq_compte_etablissement_contact_principal",
            "etablissement_id",
            unique=True,
            postgresql_where=sa.text("role = 'contact_principal'"),
            sqlite_where=sa.text("role = 'contact_principal'"),
        ),
    )


class DemandeHabilitation(TimestampMixin, VersionMixin, Base):
    """An added user of an establishment, requested by its main contact, granted by the siège (R64).

    demandee -> accordee (the account and its link are created then) | refusee | annulee: only
    through workflows.habilitations.
    """

    __tablename__ = "demande_habilitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    etablissement_id: Mapped[int] = mapped_column(sa.ForeignKey("etablissement.id"), index=True)
    demandeur_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id"), index=True)
    login: Mapped[str] = mapped_column(sa.String(64))
    nom: Mapped[str] = mapped_column(sa.String(80))
    prenom: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str] = mapped_column(sa.String(254))
    statut: Mapped[HabilitationStatut] = mapped_column(
        enum_column(HabilitationStatut, "habilitation_statut"), default=HabilitationStatut.DEMANDEE
    )
    decide_par_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))
    decision_at: Mapped[Optional[datetime]]
    motif_refus: Mapped[Optional[str]] = mapped_column(sa.String(500))
    compte_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"))  # created on grant

    etablissement: Mapped[Etablissement] = relationship()
    demandeur: Mapped[Compte] = relationship(foreign_keys=[demandeur_id])
    decide_par: Mapped[Optional[Compte]] = relationship(foreign_keys=[decide_par_id])
    compte: Mapped[Optional[Compte]] = relationship(foreign_keys=[compte_id])

    __table_args__ = (
        sa.CheckConstraint("statut <> 'accordee' OR (compte_id IS NOT NULL AND decide_par_id IS NOT NULL)",
                           name="accord_complet"),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL", name="refus_motive"),
        # one pending request per wished login
        sa.Index("uq_demande_habilitation_login_en_cours", "login", unique=True,
                 postgresql_where=sa.text("statut = 'demandee'"), sqlite_where=sa.text("statut = 'demandee'")),
    )

    def __str__(self) -> str:
        return f"Demande {self.id} · {self.prenom} {self.nom}"


class JetonCompte(TimestampMixin, Base):
    """Single-use, expiring token for password reset / forgotten login (R69, R70); stored hashed."""

    __tablename__ = "jeton_compte"

    id: Mapped[int] = mapped_column(primary_key=True)
    compte_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id"), index=True)
    usage: Mapped[str] = mapped_column(sa.String(20))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[Optional[datetime]]

    compte: Mapped[Compte] = relationship()

    __table_args__ = (
        sa.CheckConstraint("usage IN ('reinitialisation', 'identifiant')", name="usage"),
    )


class LimitationTentative(Base):
    """Sliding-window throttle log (per IP, per recovery target): one row per counted attempt.

    Lives in the database, like the lockout itself, so it holds across web processes and whatever
    happens to Redis; rows older than the longest window are pruned as new ones arrive.
    """

    __tablename__ = "limitation_tentative"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    cle: Mapped[str] = mapped_column(sa.String(120))
    at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_limitation_tentative_cle_at", "cle", "at"),
                      sa.Index("ix_limitation_tentative_at", "at"))
