"""Text input hygiene (issue 12, finding 8): no unbounded text column left.

mail_outbox.derniere_erreur and bulk_run.erreur were TEXT; they become VARCHAR(2000) (the mail job
already keeps the first 2,000 characters of an SMTP error). A longer value already stored is cut to
2,000 characters first, so the ALTER never fails on existing data. Every other text column was already
a bounded VARCHAR; the forms check the same lengths (admin_views/converters.py).

Revision ID: 0009_longueurs
Revises: 0007_debit_paiements
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_longueurs"
down_revision = "0016_activite_partielle"
branch_labels = None
depends_on = None

COLUMNS = [("mail_outbox", "derniere_erreur", 2000), ("bulk_run", "erreur", 2000)]


def upgrade():
    for table, column, length in COLUMNS:
        op.execute(sa.text(f"UPDATE {table} SET {column} = substr({column}, 1, {length}) "  # nosec B608
                           f"WHERE length({column}) > {length}"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.Text(), type_=sa.String(length), existing_nullable=True)


def downgrade():
    for table, column, length in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(length), type_=sa.Text(), existing_nullable=True)
