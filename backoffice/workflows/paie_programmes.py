"""What the monthly runs of NACRE (R51) and Adultes-relais (R52) share (issue 16): the month parameter, the payee's
snapshot on the payables, and sending what a run created to payment in the same transaction.

A monthly run is a transition on the agreements (conventions, posts) with the month as parameter: the same table
serves one row, the rows ticked, or every row a filter matches, as a dry run first (the month known, so the guards
and the amounts are the real ones) then confirmed on exactly the previewed rows. Its payables carry the exactly-once
key (source, n°, month): a replay finds the month paid and changes nothing.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from ..models import Compte
from .engine import Param

MOIS = Param("mois_paye", "Mois payé", kind="select", choices=lambda session: choix_mois())


def choix_mois(aujourd_hui: date | None = None, n: int = 15) -> list[tuple[str, str]]:
    """The months offered to a monthly run: this one and the 14 before, the most recent first."""
    from .. import clock
    d = (aujourd_hui or clock.now().date()).replace(day=1)
    out = []
    for _ in range(n):
        out.append((d.isoformat(), f"{d:%m/%Y}"))
        d = (d - timedelta(days=1)).replace(day=1)
    return out


def parse_mois(value) -> date | None:
    """A month given as a date, a datetime or an ISO text (« 2025-03-01 », « 2025-03 »); None when invalid."""
    if isinstance(value, datetime):
        return value.date().replace(day=1)
    if isinstance(value, date):
        return value.replace(day=1)
    if isinstance(value, str):
        texte = value.strip()
        try:
            if len(texte) == 7:
                return date.fromisoformat(texte + "-01")
            return date.fromisoformat(texte).replace(day=1)
        except ValueError:
            return None
    return None


def parse_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def mois_du_contexte(ctx) -> date | None:
    return parse_mois((ctx.params or {}).get("mois_paye"))


def fin_du_mois(mois: date) -> date:
    return mois.replace(day=calendar.monthrange(mois.year, mois.month)[1])


def mettre_en_paiement(session, echeance_ids: list[int], ctx) -> int:
    """The payables a run just created go into their programme's open batch (« Envoyer en paiement », with the
    same actor and time, caused by the run): the comptable then emits the SEPA file. A payable whose IBAN is refused
    (R76) stays « à payer » in the payables' grid."""
    from .echeances import ECHEANCE
    from .engine import run
    from .selection import Selection
    if not echeance_ids:
        return 0
    actor = session.get(Compte, ctx.actor_id) if ctx.actor_id is not None else None
    report = run(session, ECHEANCE, "mettre_en_lot", Selection.of_ids(echeance_ids), actor, now=ctx.now,
                 bulk_run_id=ctx.bulk_run_id, system=True)
    return report.changed


def executemany_update(session, table, rows: list[dict], **columns) -> None:
    """UPDATE table SET col = :b_col … WHERE id = :b_id, for many rows in one round trip (executemany)."""
    if not rows:
        return
    session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                    .values(**{c: sa.bindparam(f"b_{c}") for c in columns}),
                    [{"b_id": r["id"], **{f"b_{c}": r[c] for c in columns}} for r in rows])
