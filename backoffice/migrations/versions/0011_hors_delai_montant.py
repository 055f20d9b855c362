"""Hors-délai requests carry the allocation as it should have been (R48, issue 11).

demande_hors_delai gains the resources of M-1 declared with the request (JSON), the amount the rules
compute on them (shown to the manager, the approval binds to it) and the reason when it is zero.

Revision ID: 0011_hors_delai_montant
Revises: 0007_debit_paiements
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_hors_delai_montant"
down_revision = "0014_retours_banque"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("demande_hors_delai", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ressources_declarees", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("montant_calcule", sa.Numeric(12, 2), nullable=True))
        batch_op.add_column(sa.Column("motif_calcul", sa.String(300), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_demande_hors_delai_montant_calcule_montant"),
            "montant_calcule IS NULL OR (montant_calcule >= 0 AND montant_calcule <= 9999999999.99 "
            "AND montant_calcule <> 'NaN')")


def downgrade():
    with op.batch_alter_table("demande_hors_delai", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_demande_hors_delai_montant_calcule_montant"), type_="check")
        batch_op.drop_column("motif_calcul")
        batch_op.drop_column("montant_calcule")
        batch_op.drop_column("ressources_declarees")
