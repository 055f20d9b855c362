"""Security: append-only, hash-chained audit journal; throttle log for logins and account recovery.

- audit_event.chain_seq (position in the hash chain, given when a row is sealed) and a partial index
  on the rows still to seal;
- a trigger refuses UPDATE and DELETE on audit_event, except the single UPDATE that seals a row
  (chain_seq, prev_hash and hash go from NULL to a value, nothing else changes). TRUNCATE is not
  blocked (row triggers do not see it; the test fixtures empty every table with it);
- limitation_tentative: the sliding-window log of the per-IP and per-target throttles.

Revision ID: 0002_securite
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_securite"
down_revision = "0001"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The journal's content columns: the same list as audit_chain.CANONICAL_COLUMNS (a new column of
# audit_event must be added to both, with a new canonical version).
_AUDIT_COLUMNS = ("id", "at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status", "params",
                  "diff", "bulk_run_id", "ip")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_ajout_seul() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal d''audit en ajout seul : % refusé sur l''événement %', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

# The sealing UPDATE (the three chain columns go from NULL to a value, nothing else changes) is the
# only one that does not fire the refusal; the test sits in WHEN, evaluated without calling PL/pgSQL,
# so sealing 100,000 rows pays no per-row function call.
_SEALING = ("OLD.chain_seq IS NULL AND OLD.hash IS NULL AND OLD.prev_hash IS NULL "
            "AND NEW.chain_seq IS NOT NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL AND ("
            + ", ".join(f"OLD.{c}" for c in _AUDIT_COLUMNS) + ") IS NOT DISTINCT FROM ("
            + ", ".join(f"NEW.{c}" for c in _AUDIT_COLUMNS) + ")")

PG_TRIGGERS = [
    f"""CREATE TRIGGER audit_event_sans_modification BEFORE UPDATE ON audit_event
        FOR EACH ROW WHEN (NOT ({_SEALING})) EXECUTE FUNCTION audit_event_ajout_seul()""",
    """CREATE TRIGGER audit_event_sans_suppression BEFORE DELETE ON audit_event
       FOR EACH ROW EXECUTE FUNCTION audit_event_ajout_seul()""",
]

SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_event_sans_suppression BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'journal d''audit en ajout seul : DELETE refusé'); END""",
    """CREATE TRIGGER audit_event_sans_modification BEFORE UPDATE ON audit_event
       WHEN OLD.hash IS NOT NULL OR OLD.chain_seq IS NOT NULL OR """
    + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _AUDIT_COLUMNS) + """
       BEGIN SELECT RAISE(ABORT, 'journal d''audit en ajout seul : UPDATE refusé'); END""",
]


def upgrade():
    op.create_table(
        "limitation_tentative",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("cle", sa.String(length=120), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limitation_tentative")),
    )
    with op.batch_alter_table("limitation_tentative") as batch:
        batch.create_index("ix_limitation_tentative_cle_at", ["cle", "at"], unique=False)
        batch.create_index("ix_limitation_tentative_at", ["at"], unique=False)

    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("chain_seq", BIGINT, nullable=True))
        batch.create_unique_constraint(op.f("uq_audit_event_chain_seq"), ["chain_seq"])
        batch.create_index("ix_audit_event_a_sceller", ["id"], unique=False,
                           postgresql_where=sa.text("chain_seq IS NULL"),
                           sqlite_where=sa.text("chain_seq IS NULL"))

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    elif dialect == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_sans_modification ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_sans_suppression ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_ajout_seul()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_sans_suppression")
        op.execute("DROP TRIGGER IF EXISTS audit_event_sans_modification")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ix_audit_event_a_sceller")
        batch.drop_constraint(op.f("uq_audit_event_chain_seq"), type_="unique")
        batch.drop_column("chain_seq")
    op.drop_table("limitation_tentative")
