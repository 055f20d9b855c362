"""Payment chain speed (issue 13): the foreign keys of the payments and payables are checked once per statement,
not once per row.

PostgreSQL checks a foreign key with one trigger call per inserted row (an index probe and a row lock each): for
the 10,000 payments of a send, the four keys below cost as much as the INSERT itself (EXPLAIN ANALYZE, 2026-12-02:
717 ms against 355 ms for 10,000 rows). They are replaced by the same guarantees, set-based:
- AFTER INSERT … FOR EACH STATEMENT with the inserted rows as a transition table: one anti-join per key and per
  statement; an orphan raises SQLSTATE 23503 (foreign_key_violation), as the foreign key did;
- BEFORE UPDATE OF the key columns, per row but only WHEN the key changes (never in the chain: free);
- on the referenced tables, AFTER DELETE … FOR EACH STATEMENT: deleting a row still referenced is refused (the
  foreign keys' NO ACTION).
The models keep their ForeignKey (the ORM's joins, SQLite's real constraints: the demo is small);
`models.CONTROLES_ENSEMBLISTES` names the constraints so that the schema comparison knows. SQLite: nothing changes.

Revision ID: 0031_integrite_ensembliste
Revises: 0019_nacre_ar
"""
from alembic import op

revision = "0031_integrite_ensembliste"
down_revision = "0019_nacre_ar"
branch_labels = None
depends_on = None

# (constraint, table, column, referenced table)
CLES = [
    ("fk_paiement_lot_id_lot_paiement", "paiement", "lot_id", "lot_paiement"),
    ("fk_paiement_echeance_id_echeance", "paiement", "echeance_id", "echeance"),
    ("fk_paiement_allocation_id_allocation", "paiement", "allocation_id", "allocation"),
    ("fk_echeance_dispositif_id_dispositif", "echeance", "dispositif_id", "dispositif"),
]


def _pg():
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _pg():
        return
    for table in ("paiement", "echeance"):
        cles = [(c, col, ref) for c, t, col, ref in CLES if t == table]
        orphelins = " OR ".join(
            f"EXISTS (SELECT 1 FROM nouveaux n WHERE n.{col} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {ref} r WHERE r.id = n.{col}))" for _, col, ref in cles)
        op.execute(f"""
            CREATE FUNCTION {table}_cles_ensemble() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF {orphelins} THEN
                RAISE EXCEPTION '{table} : référence vers une ligne absente (intégrité)'
                  USING ERRCODE = 'foreign_key_violation';
              END IF;
              RETURN NULL;
            END $$""")
        op.execute(f"""CREATE TRIGGER {table}_cles_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS nouveaux
                       FOR EACH STATEMENT EXECUTE FUNCTION {table}_cles_ensemble()""")
        changees = " OR ".join(f"OLD.{col} IS DISTINCT FROM NEW.{col}" for _, col, _ in cles)
        verifs = "\n".join(
            f"IF NEW.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {ref} WHERE id = NEW.{col}) THEN "
            f"RAISE EXCEPTION '{table}.{col} : % absent (intégrité)', NEW.{col} USING ERRCODE = 'foreign_key_violation'; "
            f"END IF;" for _, col, ref in cles)
        op.execute(f"""
            CREATE FUNCTION {table}_cles_ligne() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              {verifs}
              RETURN NEW;
            END $$""")
        op.execute(f"""CREATE TRIGGER {table}_cles_update BEFORE UPDATE OF {", ".join(c for _, c, _ in cles)}
                       ON {table} FOR EACH ROW WHEN ({changees}) EXECUTE FUNCTION {table}_cles_ligne()""")
        for contrainte, _, _ in cles:
            op.drop_constraint(contrainte, table, type_="foreignkey")
    for ref in sorted({r for _, _, _, r in CLES}):
        references = " OR ".join(
            f"EXISTS (SELECT 1 FROM anciens o JOIN {t} x ON x.{col} = o.id)" for _, t, col, r in CLES if r == ref)
        op.execute(f"""
            CREATE FUNCTION {ref}_reference_ensemble() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF {references} THEN
                RAISE EXCEPTION '{ref} : ligne encore référencée par un paiement ou une échéance (intégrité)'
                  USING ERRCODE = 'foreign_key_violation';
              END IF;
              RETURN NULL;
            END $$""")
        op.execute(f"""CREATE TRIGGER {ref}_reference_delete AFTER DELETE ON {ref} REFERENCING OLD TABLE AS anciens
                       FOR EACH STATEMENT EXECUTE FUNCTION {ref}_reference_ensemble()""")


def downgrade():
    if not _pg():
        return
    for ref in sorted({r for _, _, _, r in CLES}):
        op.execute(f"DROP TRIGGER {ref}_reference_delete ON {ref}")
        op.execute(f"DROP FUNCTION {ref}_reference_ensemble()")
    for table in ("paiement", "echeance"):
        op.execute(f"DROP TRIGGER {table}_cles_insert ON {table}")
        op.execute(f"DROP TRIGGER {table}_cles_update ON {table}")
        op.execute(f"DROP FUNCTION {table}_cles_ensemble()")
        op.execute(f"DROP FUNCTION {table}_cles_ligne()")
    for contrainte, table, col, ref in CLES:
        op.create_foreign_key(contrainte, table, ref, [col], ["id"])
