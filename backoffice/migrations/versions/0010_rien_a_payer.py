"""Allocations: the 'rien_a_payer' state (issue 11): sent to payment with nothing to pay (amount 0, R25, or a
correction whose differential is 0, R46), closed instead of staying `validee_siege` for ever.

Revision ID: 0010_rien_a_payer
Revises: 0007_debit_paiements
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_rien_a_payer"
down_revision = "0008_secrets"
branch_labels = None
depends_on = None

OLD = ("enregistree", "soumise", "validee_siege", "transmise", "acceptee", "versee", "refusee", "remplacee")
NEW = OLD + ("rien_a_payer",)


def _swap(values):
    with op.batch_alter_table("allocation") as batch:
        batch.drop_constraint(op.f("ck_allocation_allocation_statut"), type_="check")
        batch.alter_column("statut", type_=sa.String(17), existing_type=sa.String(17))
        batch.create_check_constraint("allocation_statut", sa.column("statut").in_(values))


def upgrade():
    _swap(NEW)


def downgrade():
    # back to where they waited before this state existed
    op.execute("UPDATE allocation SET statut = 'validee_siege' WHERE statut = 'rien_a_payer'")
    _swap(OLD)
