"""Outboxes: mails and jobs are rows first, written in the transaction that decided them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, enum_column
from .enums import JobOutboxStatut, MailStatut

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


class MailOutbox(TimestampMixin, Base):
    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    cle: Mapped[str] = mapped_column(sa.String(120), unique=True)  # one event yields one mail
    destinataire: Mapped[str] = mapped_column(sa.String(254))
    template: Mapped[str] = mapped_column(sa.String(60))
    contexte: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sujet: Mapped[Optional[str]] = mapped_column(sa.String(200))
    statut: Mapped[MailStatut] = mapped_column(
        enum_column(MailStatut, "mail_statut"), default=MailStatut.EN_FILE
    )
    tentatives: Mapped[int] = mapped_column(default=0)
    derniere_erreur: Mapped[Optional[str]] = mapped_column(sa.String(2000))  # finding 8: bounded (0009_longueurs)
    prochain_essai_at: Mapped[Optional[datetime]]
    envoye_at: Mapped[Optional[datetime]]
    antenne_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("structure.id"))

    __table_args__ = (
        sa.CheckConstraint("tentatives >= 0", name="tentatives_positif"),
        sa.Index("ix_mail_outbox_statut", "statut", "id"),
    )


class JobOutbox(TimestampMixin, Base):
    """A job to enqueue after commit; the relay re-drives rows Redis lost."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    cle: Mapped[str] = mapped_column(sa.String(120), unique=True)
    fonction: Mapped[str] = mapped_column(sa.String(120))  # dotted path of the RQ job
    arguments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    file: Mapped[str] = mapped_column(sa.String(20))  # RQ queue name
    statut: Mapped[JobOutboxStatut] = mapped_column(
        enum_column(JobOutboxStatut, "job_outbox_statut"), default=JobOutboxStatut.A_ENVOYER
    )
    job_id: Mapped[Optional[str]] = mapped_column(sa.String(80))
    enqueued_at: Mapped[Optional[datetime]]
    termine_at: Mapped[Optional[datetime]]

    __table_args__ = (
        sa.CheckConstraint("file IN ('payments', 'mail', 'bulk', 'default')", name="file"),
        sa.Index("ix_job_outbox_statut", "statut", "id"),
    )
