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
    """One audited fact. Append-only: a database trigger refuses UPDATE and DELETE (migration 0007).

    Events are sealed after their commit in blocks (AuditSceau, backoffice.audit_chain); on PostgreSQL
    `xid` (a column default: the inserting transaction's id) says which block an event belongs to.
    `backoffice audit verify` recomputes the blocks and names the first event in cause.
    actor_id and bulk_run_id are kept as they were when the fact happened: no foreign keys (an append-only
    journal outlives what it mentions, and a per-row key check cost a fifth of a bulk transition's audit
    insert).
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now(), index=True)
    actor_id: Mapped[Optional[int]]
    entity: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[Optional[int]]
    action: Mapped[str] = mapped_column(sa.String(60))
    from_status: Mapped[Optional[str]] = mapped_column(sa.String(30))
    to_status: Mapped[Optional[str]] = mapped_column(sa.String(30))
    params: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    diff: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    bulk_run_id: Mapped[Optional[int]]  # the bulk run (BulkRun.id) it was part of; no key, like actor_id
    ip: Mapped[Optional[str]] = mapped_column(sa.String(45))
    # PostgreSQL: the inserting transaction (default pg_current_xact_id(), set by migration 0007); NULL on SQLite.
    # FetchedValue: the ORM leaves the column out of its INSERTs (an explicit NULL would escape the chain).
    xid: Mapped[Optional[int]] = mapped_column(sa.BigInteger, index=True, server_default=sa.FetchedValue())

    actor: Mapped[Optional[Compte]] = relationship(
        primaryjoin="foreign(AuditEvent.actor_id) == Compte.id", viewonly=True)

    __table_args__ = (
        sa.Index("ix_audit_event_entity", "entity", "entity_id", "id"),
        # partial: the system's events (no actor) and those outside a bulk run pay no entry (migration 0007)
        sa.Index("ix_audit_event_actor_id", "actor_id", postgresql_where=sa.text("actor_id IS NOT NULL"),
                 sqlite_where=sa.text("actor_id IS NOT NULL")),
        sa.Index("ix_audit_event_bulk_run_id", "bulk_run_id", postgresql_where=sa.text("bulk_run_id IS NOT NULL"),
                 sqlite_where=sa.text("bulk_run_id IS NOT NULL")),
    )


class AuditSceau(Base):
    """A sealed block of audit events: their digests in id order, chained to the previous block."""

    __tablename__ = "audit_sceau"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the block's number in the chain
    # transaction ids [borne_min, borne_max) on PostgreSQL, event ids on SQLite
    borne_min: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    borne_max: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    nb: Mapped[int]
    empreintes: Mapped[bytes] = mapped_column(sa.LargeBinary)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
    scelle_at: Mapped[datetime]


class BulkRun(TimestampMixin, Base):
    """A frozen selection for one transition; the job works through it chunk by chunk."""

    __tablename__ = "bulk_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow: Mapped[str] = mapped_column(sa.String(40))
    transition: Mapped[str] = mapped_column(sa.String(40))
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id"))
    params: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    # the frozen, previewed set (up to 100,000 ids): deferred, so that the job's per-chunk progress reads
    # and the run's page do not load it again
    ids: Mapped[list[int]] = mapped_column(JSON, default=list, deferred=True)
    statut: Mapped[BulkRunStatut] = mapped_column(
        enum_column(BulkRunStatut, "bulk_statut"), default=BulkRunStatut.EN_ATTENTE
    )
    total: Mapped[int] = mapped_column(default=0)
    traites: Mapped[int] = mapped_column(default=0)
    modifies: Mapped[int] = mapped_column(default=0)
    refus: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    description: Mapped[Optional[str]] = mapped_column(sa.String(300))
    erreur: Mapped[Optional[str]] = mapped_column(sa.String(2000))  # finding 8: bounded (0009_longueurs)
    termine_at: Mapped[Optional[datetime]]
    demarre_at: Mapped[Optional[datetime]]  # issue 18: when the job took it, for the rate and the time left

    actor: Mapped[Compte] = relationship()

    __table_args__ = (
        sa.CheckConstraint("traites <= total AND modifies <= traites", name="progression"),
    )
