"""Audit events (append-only, hash-chained) and bulk runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin, enum_column, utcnow
from .comptes import Compte
from .enums import BulkRunStatut
from .outbox import JSON


class AuditEvent(Base):
    """One audited fact. Append-only: a database trigger refuses UPDATE and DELETE (migration 0002),
    except the one UPDATE that seals a row (fills chain_seq, prev_hash, hash once).

    Rows are sealed after their commit, in chain order (backoffice.audit_chain): chain_seq is the
    position in the chain, hash = SHA-256(prev_hash ‖ SHA-256(canonical row)); `backoffice audit
    verify` recomputes both and names the first broken event.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now(), index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("compte.id"), index=True)
    entity: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[Optional[int]]
    action: Mapped[str] = mapped_column(sa.String(60))
    from_status: Mapped[Optional[str]] = mapped_column(sa.String(30))
    to_status: Mapped[Optional[str]] = mapped_column(sa.String(30))
    params: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    diff: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    bulk_run_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("bulk_run.id"), index=True)
    ip: Mapped[Optional[str]] = mapped_column(sa.String(45))
    prev_hash: Mapped[Optional[str]] = mapped_column(sa.String(64))
    hash: Mapped[Optional[str]] = mapped_column(sa.String(64))
    # Position in the hash chain, given at sealing (not the id: a transaction may commit a lower id
    # after a higher one was sealed).
    chain_seq: Mapped[Optional[int]] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                                     unique=True)

    actor: Mapped[Optional[Compte]] = relationship()

    __table_args__ = (
        sa.Index("ix_audit_event_entity", "entity", "entity_id", "id"),
        # the sealing step finds the rows still to chain without scanning the journal
        sa.Index("ix_audit_event_a_sceller", "id", postgresql_where=sa.text("chain_seq IS NULL"),
                 sqlite_where=sa.text("chain_seq IS NULL")),
    )


class BulkRun(TimestampMixin, Base):
    """A frozen selection for one transition; the job works through it chunk by chunk."""

    __tablename__ = "bulk_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow: Mapped[str] = mapped_column(sa.String(40))
    transition: Mapped[str] = mapped_column(sa.String(40))
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id"))
    params: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # the frozen, previewed set
    statut: Mapped[BulkRunStatut] = mapped_column(
        enum_column(BulkRunStatut, "bulk_statut"), default=BulkRunStatut.EN_ATTENTE
    )
    total: Mapped[int] = mapped_column(default=0)
    traites: Mapped[int] = mapped_column(default=0)
    modifies: Mapped[int] = mapped_column(default=0)
    refus: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    description: Mapped[Optional[str]] = mapped_column(sa.String(300))
    erreur: Mapped[Optional[str]] = mapped_column(sa.Text)
    termine_at: Mapped[Optional[datetime]]

    actor: Mapped[Compte] = relationship()

    __table_args__ = (
        sa.CheckConstraint("traites <= total AND modifies <= traites", name="progression"),
    )
