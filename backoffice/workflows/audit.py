"""Audit events: one per changed row, written set-based; JSON-safe diffs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Iterable

import sqlalchemy as sa

from .. import policy
from ..models import AuditEvent
from ..models.base import utcnow


def jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def record(session, *, entity: str, entity_id: int | None, action: str, actor_id: int | None,
           from_status: str | None = None, to_status: str | None = None,
           params: dict | None = None, diff: dict | None = None, ip: str | None = None,
           bulk_run_id: int | None = None, at=None) -> None:
    """One event (logins, account changes, single edits). `at`: the time of the transition whose effect
    wrote the row, when there is one (issue 11), else now."""
    session.execute(sa.insert(AuditEvent).values(
        at=at or utcnow(), entity=entity, entity_id=entity_id, action=action, actor_id=actor_id,
        from_status=from_status, to_status=to_status, params=jsonable(params) if params else None,
        diff=jsonable(diff) if diff else None, ip=ip, bulk_run_id=bulk_run_id,
    ))


def record_many(session, rows: Iterable[dict]) -> int:
    """Many events in one executemany (psycopg batches it into multi-row INSERTs)."""
    rows = [dict(r, at=r.get("at") or utcnow()) for r in rows]
    if rows:
        session.execute(sa.insert(AuditEvent), [jsonable_row(r) for r in rows])
    return len(rows)


def jsonable_row(row: dict) -> dict:
    out = dict(row)
    for key in ("params", "diff"):
        if out.get(key) is not None:
            out[key] = jsonable(out[key])
    return out


def diff_of(before: dict, after: dict) -> dict:
    """{column: [before, after]} for the columns that changed."""
    return {k: [jsonable(before.get(k)), jsonable(v)] for k, v in after.items()
            if jsonable(before.get(k)) != jsonable(v)}


# ---- what a diff shows (issue 12 §2) ----------------------------------------------------------------
# The journal keeps every changed column, sealed (audit_chain); what it *shows* follows the policy's column
# rules of the diff's entity: a role that may not see a column in that entity's grid sees it masked, in
# every place that renders a diff (audit list and record, history panels, export). One function does it.

MASQUE = "•••"
IBAN_COLUMNS = frozenset({"iban"})


def masquer_iban(value: Any) -> str:
    """« FR76 •••• •••• 0189 »: enough to tell two accounts apart, never enough to pay into one."""
    text = "".join(str(value).split())
    return f"{text[:4]} •••• •••• {text[-4:]}" if len(text) >= 12 else MASQUE


def masquer(column: str, value: Any) -> Any:
    """A hidden value as shown: an IBAN by its ends, anything else « ••• »; an empty value stays empty (that
    a field was blank tells nothing)."""
    if value is None or value == "":
        return value
    return masquer_iban(value) if column in IBAN_COLUMNS else MASQUE


def diff_visible(entity: str, diff: dict | None, role) -> dict | None:
    """`diff` ({column: [before, after]}) as `role` may read it: columns it may not see in `entity`'s grid
    (policy.column_visible) masked, their names kept (which fields changed is not secret)."""
    if not diff or not isinstance(diff, dict):
        return diff
    shown = {}
    for column, change in diff.items():
        if policy.column_visible(entity, column, role):
            shown[column] = change
        elif isinstance(change, (list, tuple)):
            shown[column] = [masquer(column, v) for v in change]
        else:
            shown[column] = masquer(column, change)
    return shown
