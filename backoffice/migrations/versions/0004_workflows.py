"""Bulk runs: the 'apercu' state (a frozen selection previewed but not confirmed yet).

Revision ID: 0004_workflows
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_workflows"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD = ("en_attente", "en_cours", "termine", "echec")
NEW = ("apercu",) + OLD


def _swap(values):
    with op.batch_alter_table("bulk_run") as batch:
        batch.drop_constraint(op.f("ck_bulk_run_bulk_statut"), type_="check")
        batch.alter_column("statut", type_=sa.String(14), existing_type=sa.String(14))
        batch.create_check_constraint("bulk_statut", sa.column("statut").in_(values))


def upgrade():
    _swap(NEW)


def downgrade():
    op.execute("DELETE FROM bulk_run WHERE statut = 'apercu'")
    _swap(OLD)
