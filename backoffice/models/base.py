"""Declarative base, constraint naming convention, Money type and shared columns."""

from __future__ import annotations

import enum
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money is NUMERIC(12,2) in the database and Decimal in Python, never float.
Money = sa.Numeric(12, 2, asdecimal=True)
MONEY_MAX = Decimal("9999999999.99")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# The clock moved by the demo seed (backoffice.clock.deplacee): rows it writes through the workflows get the
# « Créé le » / « Modifié le » of the moment they happen in the demo's history, not of the day it was loaded.
HORLOGE_DEPLACEE: ContextVar[datetime | None] = ContextVar("horloge_deplacee", default=None)


def utcnow() -> datetime:
    moved = HORLOGE_DEPLACEE.get()
    return moved if moved is not None else datetime.now(timezone.utc).replace(tzinfo=None)


def money_check(column: str, *, allow_negative: bool = False, name: str | None = None) -> sa.CheckConstraint:
    """CHECK that refuses NaN (PostgreSQL NUMERIC accepts 'NaN'), Infinity and, by default, negatives.

    `col <> 'NaN'` is true for every number on PostgreSQL (NaN equals only itself there) and on SQLite
    (a number never equals a text); the upper bound refuses +Infinity, the lower one -Infinity.
    """
    low = f"{column} >= -{MONEY_MAX}" if allow_negative else f"{column} >= 0"
    return sa.CheckConstraint(
        f"{column} IS NULL OR ({low} AND {column} <= {MONEY_MAX} AND {column} <> 'NaN')",
        name=name or f"{column}_montant",
    )


def enum_column(enum_cls: type[enum.Enum], name: str, **kwargs) -> sa.Enum:
    """A status stored as text with a CHECK listing its values (StrEnum, like rq's JobStatus)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls) + 4,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        **kwargs,
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=sa.func.now()
    )


class VersionMixin:
    """Optimistic concurrency: a stale edit is refused (SQLAlchemy's version_id_col)."""

    version: Mapped[int] = mapped_column(default=1, server_default="1", nullable=False)

    @sa.orm.declared_attr.directive
    def __mapper_args__(cls):  # noqa: N805
        return {"version_id_col": cls.version}
