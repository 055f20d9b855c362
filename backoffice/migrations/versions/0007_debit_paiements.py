"""Payment throughput (issue 4): fewer writes per payment and per audited row.

- The audit journal is sealed in blocks (table audit_sceau, backoffice.audit_chain) instead of one
  UPDATE per event: an event is now never updated, the trigger refuses every UPDATE and DELETE. On
  PostgreSQL each event carries the id of the transaction that inserted it (`xid`, a column default);
  a block covers a range of those. The per-row chain columns (chain_seq, prev_hash, hash) and their two
  indexes are dropped; the events already there go into the first block at the next sealing (xid 0).
- paiement.beneficiaire_id and paiement.antenne_id lose their foreign keys: both are copies of the
  allocation's, written only by the INSERT … SELECT from it; the key to the allocation stays.
- audit_event.actor_id and bulk_run_id lose their foreign keys: the journal keeps the ids as they were when
  the fact happened (a key check cost every audited row). Their indexes become partial (IS NOT NULL):
  system events and events outside a bulk run (most of them) no longer pay an entry.
- allocation: ix_allocation_corrige_id is dropped, uq_allocation_corrige (partial, NOT NULL) serves the
  same lookups and the plain index held one NULL entry per allocation.

Revision ID: 0007_debit_paiements
Revises: 0006_grilles
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_debit_paiements"
down_revision = "0006_grilles"
branch_labels = None
depends_on = None

PG_UPDATE_TRIGGER = """CREATE TRIGGER audit_event_sans_modification BEFORE UPDATE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_ajout_seul()"""
SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_event_sans_suppression BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'journal d''audit en ajout seul : DELETE refusé'); END""",
    """CREATE TRIGGER audit_event_sans_modification BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'journal d''audit en ajout seul : UPDATE refusé'); END""",
]
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _drop_update_triggers(dialect: str) -> None:
    """Before changing audit_event: its UPDATE trigger (and on SQLite, where batch mode rebuilds the table,
    both)."""
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_sans_modification ON audit_event")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_sans_suppression")
        op.execute("DROP TRIGGER IF EXISTS audit_event_sans_modification")


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("paiement") as batch:
        batch.drop_constraint("fk_paiement_beneficiaire_id_beneficiaire", type_="foreignkey")
        batch.drop_constraint("fk_paiement_antenne_id_structure", type_="foreignkey")
    with op.batch_alter_table("allocation") as batch:
        batch.drop_index("ix_allocation_corrige_id")

    _drop_update_triggers(dialect)
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_constraint("fk_audit_event_actor_id_compte", type_="foreignkey")
        batch.drop_constraint("fk_audit_event_bulk_run_id_bulk_run", type_="foreignkey")
        batch.drop_index("ix_audit_event_a_sceller")
        batch.drop_constraint("uq_audit_event_chain_seq", type_="unique")
        batch.drop_column("chain_seq")
        batch.drop_column("prev_hash")
        batch.drop_column("hash")
        batch.add_column(sa.Column("xid", sa.BigInteger(), nullable=True))
        batch.create_index("ix_audit_event_xid", ["xid"], unique=False)
        for column in ("actor_id", "bulk_run_id"):  # partial: most events have neither
            batch.drop_index(f"ix_audit_event_{column}")
            batch.create_index(f"ix_audit_event_{column}", [column], unique=False,
                               postgresql_where=sa.text(f"{column} IS NOT NULL"),
                               sqlite_where=sa.text(f"{column} IS NOT NULL"))
    if dialect == "postgresql":
        op.execute("UPDATE audit_event SET xid = 0")  # the events already there: the first block
        # the inserting transaction, plus the offset `backoffice audit recaler` sets after a logical restore
        op.execute("ALTER TABLE audit_event ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint + "
                   "coalesce(nullif(current_setting('backoffice.xid_decalage', true), ''), '0')::bigint)")
        op.execute(PG_UPDATE_TRIGGER)
    elif dialect == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)

    op.create_table(
        "audit_sceau",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("borne_min", BIGINT, nullable=False),
        sa.Column("borne_max", BIGINT, nullable=False),
        sa.Column("nb", sa.Integer(), nullable=False),
        sa.Column("empreintes", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("scelle_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_sceau")),
    )


def downgrade():
    """Back to the per-row chain: every event is left unsealed (`backoffice audit seal` chains them)."""
    dialect = op.get_bind().dialect.name
    op.drop_table("audit_sceau")
    _drop_update_triggers(dialect)
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ix_audit_event_xid")
        for column in ("actor_id", "bulk_run_id"):
            batch.drop_index(f"ix_audit_event_{column}")
            batch.create_index(f"ix_audit_event_{column}", [column], unique=False)
        batch.drop_column("xid")
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("chain_seq", BIGINT, nullable=True))
        batch.create_unique_constraint("uq_audit_event_chain_seq", ["chain_seq"])
        batch.create_index("ix_audit_event_a_sceller", ["id"], unique=False,
                           postgresql_where=sa.text("chain_seq IS NULL"), sqlite_where=sa.text("chain_seq IS NULL"))
        batch.create_foreign_key("fk_audit_event_actor_id_compte", "compte", ["actor_id"], ["id"])
        batch.create_foreign_key("fk_audit_event_bulk_run_id_bulk_run", "bulk_run", ["bulk_run_id"], ["id"])
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("securite_0002", Path(__file__).with_name("0002_securite.py"))
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    if dialect == "postgresql":
        op.execute(previous.PG_TRIGGERS[0])
    elif dialect == "sqlite":
        for statement in previous.SQLITE_TRIGGERS:
            op.execute(statement)
    with op.batch_alter_table("allocation") as batch:
        batch.create_index("ix_allocation_corrige_id", ["corrige_id"], unique=False)
    with op.batch_alter_table("paiement") as batch:
        batch.create_foreign_key("fk_paiement_beneficiaire_id_beneficiaire", "beneficiaire", ["beneficiaire_id"],
                                 ["id"])
        batch.create_foreign_key("fk_paiement_antenne_id_structure", "structure", ["antenne_id"], ["id"])
