"""Structural (issue 11, defect 1): no guard, value or money expression lets a subquery re-list the outer table.

SQLAlchemy auto-correlates a subquery only to the SELECT (or UPDATE) that immediately encloses it: one level
deeper (a list of versions inside a sum's IN), the outer table lands again in the subquery's own FROM and the
expression silently runs over the whole table. Every expression is compiled the way the engine runs it
(SELECT of the chunk's guards, conditional UPDATE), on PostgreSQL and SQLite, and every FROM below the top
level is read: the outer table may appear there only under an alias.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from backoffice.workflows import registry
from backoffice.workflows.engine import Context

NOW = datetime(2025, 6, 2, 9, 0)
DIALECTS = {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}
_END = re.compile(r"\b(WHERE|GROUP BY|HAVING|ORDER BY|LIMIT|OFFSET|FOR UPDATE|FOR SHARE|FOR KEY SHARE|FOR NO KEY|"
                  r"RETURNING|UNION|EXCEPT|INTERSECT|SET)\b")


def nested_froms(sql: str) -> list[str]:
    """The FROM lists (joins included) of every SELECT below the top level, nested parentheses blanked."""
    found = []
    for m in re.finditer(r"\bFROM\b", sql):
        depth = sql[:m.start()].count("(") - sql[:m.start()].count(")")
        if depth == 0:
            continue  # the statement's own FROM
        rest, level, out = sql[m.end():], 0, []
        for ch in rest:  # up to the parenthesis closing this subquery, inner ones blanked
            if ch == "(":
                level += 1
            elif ch == ")":
                if level == 0:
                    break
                level -= 1
            elif level == 0:
                out.append(ch)
                continue
            out.append(" ")
        text = "".join(out)
        end = _END.search(text)
        found.append(text[:end.start()] if end else text)
    return found


def relists(sql: str, table: str) -> list[str]:
    """Nested FROM lists naming `table` bare (not `table AS alias`, not `table.column` of a JOIN … ON)."""
    bare = re.compile(rf"(?<![\w.\"]){re.escape(table)}(?![\w.\"])(?!\s+AS\s)")
    return [f.strip() for f in nested_froms(sql) if bare.search(f)]


def compiled(stmt, dialect) -> str:
    return str(stmt.compile(dialect=DIALECTS[dialect]))


def test_the_check_catches_the_uncorrelated_versions_list_of_issue_11():
    """The detector itself: the expression of the defect (FROM allocation AS allocation_1, allocation) is found,
    its correlated form is not."""
    from backoffice.models import Allocation, Paiement

    def deja(correlate):
        other = aliased(Allocation)
        chain = sa.select(other.id).where(other.inscription_id == Allocation.inscription_id, other.id < Allocation.id)
        if correlate:
            chain = chain.correlate(Allocation)
        return sa.select(sa.func.sum(Paiement.montant)).where(Paiement.allocation_id.in_(chain)).scalar_subquery()
    for dialect in DIALECTS:
        wrong = compiled(sa.select(Allocation.id).where(deja(False) > 0), dialect)
        right = compiled(sa.select(Allocation.id).where(deja(True) > 0), dialect)
        assert relists(wrong, "allocation") and not relists(right, "allocation")
        assert not relists(compiled(sa.update(Allocation).where(deja(True) > 0).values(montant=0), dialect),
                           "allocation")


def _contexts(ref):
    params = {"motif_refus": "motif", "motif": "motif", "motif_invalidation": "motif"}
    yield None, Context(actor_id=None, role=None, now=NOW, params=params)
    for compte in ref.comptes.values():
        yield compte, Context(actor_id=compte.id, role=compte.role, now=NOW, params=params)


def _statements(db, wf, t, actor, ctx):
    """(what, SQL expression) pairs the engine builds for transition `t`: each guard, the scope, the values."""
    model = wf.model
    out = []
    for g in t.guards:
        if g.predicate is not None:
            out.append((f"garde {g.code}", g.predicate(ctx)))
        if g.resolve is not None:
            out.append((f"garde {g.code} (résolue)", g.resolve(db.session, [1, 2], ctx)))
    if actor is not None and wf.scope is not None:
        clause = wf.scope(model, actor)
        if clause is not None:
            out.append(("périmètre", clause))
    return out


def test_no_guard_nor_value_of_any_workflow_relists_its_outer_table_in_a_subquery(db, ref):
    """Every Workflow of the registry, every transition: its guards as the engine's SELECT and UPDATE use them,
    its `values` (SQL expressions set with the status), on both dialects."""
    from backoffice.workflows.engine import _values
    problems, checked = set(), 0
    for wf in registry().values():
        model, table = wf.model, wf.model.__tablename__
        for t in wf.transitions.values():
            for actor, ctx in _contexts(ref):
                clauses = _statements(db, wf, t, actor, ctx)
                stmts = []
                for what, clause in clauses:
                    stmts.append((what, "SELECT", sa.select(model.id, sa.case((sa.not_(sa.func.coalesce(
                        clause, sa.false())), sa.literal("x")), else_=sa.null())).where(model.id == 1)))
                    stmts.append((what, "UPDATE", sa.update(model).where(model.id == 1, sa.func.coalesce(
                        clause, sa.false())).values(**_values(model, t, ctx))))
                stmts.append(("valeurs", "UPDATE", sa.update(model).where(model.id == 1).values(**_values(model, t, ctx))))
                for what, kind, stmt in stmts:
                    for dialect in DIALECTS:
                        if "(résolue)" in what and dialect != db.engine.dialect.name:
                            continue  # built for the session's own database
                        checked += 1
                        bad = relists(compiled(stmt, dialect), table)
                        if bad:
                            problems.add(f"{wf.name}.{t.name} {what} ({kind}, {dialect}) : FROM {bad}")
    assert checked > 100
    assert not problems, "\n".join(sorted(problems))


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_money_expressions_stay_correlated_where_the_effects_use_them_R46_R47(dialect):
    """deja_verse_expr / differentiel_expr as creer_paiements (INSERT … SELECT), creer_reversements and
    corriger_allocation (SELECT by id) and the engine's UPDATE use them; and on an aliased allocation."""
    from backoffice.models import Allocation, Paiement
    from backoffice.workflows.allocations import deja_verse_expr, differentiel_expr
    amount = sa.case((Allocation.corrige_id.is_(None), Allocation.montant), else_=differentiel_expr())
    other = aliased(Allocation)
    stmts = {
        "corriger_allocation": sa.select(deja_verse_expr()).where(Allocation.id == 1),
        "creer_reversements": sa.select(Allocation.id, (-differentiel_expr()).label("t")).where(Allocation.id.in_([1])),
        "creer_paiements": sa.insert(Paiement.__table__).from_select(
            ["allocation_id", "montant"], sa.select(Allocation.id, amount).where(Allocation.id == 1, amount > 0)),
        "UPDATE": sa.update(Allocation).where(differentiel_expr() > 0).values(montant=0),
        "alias": sa.select(other.id, differentiel_expr(other)).where(other.id == 1),
    }
    for what, stmt in stmts.items():
        sql = compiled(stmt, dialect)
        assert not relists(sql, "allocation"), f"{what} : {relists(sql, 'allocation')}\n{sql}"
