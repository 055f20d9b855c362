"""Payment chain speed (issue 13): the emission's UPDATE of the payments (en_attente → emis) no longer rewrites
their indexes.

PostgreSQL updates a row « HOT » (heap-only: no new index entry) when no indexed column changes value and the page
has room for the new version. Two indexes read `paiement.statut`: the grid's `ix_paiement_statut_tri` and the
predicate of `uq_paiement_echeance_vivant` (one live payment per payable, WHERE statut <> 'rejete'), so each emitted
payment wrote nine index entries. Measured on 100,000 payments (2026-12-02, PostgreSQL 15): 1,568 ms for the
UPDATE with them, 193 ms without them and with room on the pages.
- The exactly-once index reads `motif_rejet IS NULL` instead: a payment is rejected exactly when it carries a
  reason (the existing check `rejet_motive`, and the new `motif_si_rejete`: no reason on a live payment), so the
  index holds the same rows. The emission and the bank's execution never touch `motif_rejet`.
- `ix_paiement_statut_tri` goes: the payments grid filters its status by the primary key's order (the payments of a
  status are not rare), the batch pages by `lot_id`.
- PostgreSQL: fillfactor 50, so that a page holds its payments and their emitted versions (the batch is emitted in
  the transaction that sees both).

Revision ID: 0032_paiement_hot
Revises: 0028_pilotage
"""
import sqlalchemy as sa
from alembic import op

revision = "0032_paiement_hot"
down_revision = "0028_pilotage"
branch_labels = None
depends_on = None


def _pg():
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    vivants = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM paiement WHERE statut <> 'rejete' AND motif_rejet IS NOT NULL")).scalar_one()
    if vivants:
        raise RuntimeError(f"{vivants} paiements non rejetés portent un motif de rejet : à corriger avant migration")
    with op.batch_alter_table("paiement") as batch:  # SQLite: the table is rebuilt first, the indexes after
        batch.create_check_constraint("motif_si_rejete", "statut = 'rejete' OR motif_rejet IS NULL")
    op.drop_index("ix_paiement_statut_tri", table_name="paiement")
    op.drop_index("uq_paiement_echeance_vivant", table_name="paiement")
    op.create_index("uq_paiement_echeance_vivant", "paiement", ["echeance_id"], unique=True,
                    postgresql_where=sa.text("motif_rejet IS NULL"), sqlite_where=sa.text("motif_rejet IS NULL"))
    if _pg():
        op.execute("ALTER TABLE paiement SET (fillfactor = 50)")


def downgrade():
    if _pg():
        op.execute("ALTER TABLE paiement RESET (fillfactor)")
    with op.batch_alter_table("paiement") as batch:
        batch.drop_constraint("motif_si_rejete", type_="check")
    op.drop_index("uq_paiement_echeance_vivant", table_name="paiement")
    op.create_index("uq_paiement_echeance_vivant", "paiement", ["echeance_id"], unique=True,
                    postgresql_where=sa.text("statut <> 'rejete'"), sqlite_where=sa.text("statut <> 'rejete'"))
    op.create_index("ix_paiement_statut_tri", "paiement", ["statut", "id"])
