"""Fast grids (issue 6): indexes that serve each main grid's default sort under its usual filters.

A list page is `WHERE <filter> ORDER BY <sort>, id LIMIT 21`: a btree on (filter column, id) or
(sort column, id) answers it by reading 21 index entries, at page 1 as at page 2,000 (keyset).
The single-column indexes they replace are dropped. The name search gets a pattern-ops index so
`LIKE 'MARTIN%'` uses an index whatever the database's collation.

Revision ID: 0006_grilles
Revises: 0004_workflows, 0005_habilitations
"""
from alembic import op

revision = "0006_grilles"
down_revision = ("0004_workflows", "0005_habilitations")
branch_labels = None
depends_on = None

NEW = [
    ("allocation", "ix_allocation_antenne_tri", ["antenne_id", "id"]),
    ("beneficiaire", "ix_beneficiaire_antenne_tri", ["antenne_id", "id"]),
    ("cerfa", "ix_cerfa_statut_tri", ["statut", "id"]),
    ("cerfa", "ix_cerfa_antenne_tri", ["antenne_id", "id"]),
    ("paiement", "ix_paiement_statut_tri", ["statut", "id"]),
    ("paiement", "ix_paiement_antenne_tri", ["antenne_id", "id"]),
    ("paiement", "ix_paiement_montant", ["montant", "id"]),
]
REPLACED = [
    ("beneficiaire", "ix_beneficiaire_antenne_id", ["antenne_id"]),
    ("cerfa", "ix_cerfa_antenne_id", ["antenne_id"]),
    ("cerfa", "ix_cerfa_statut", ["statut"]),
    ("paiement", "ix_paiement_antenne_id", ["antenne_id"]),
]


def upgrade():
    for table, name, columns in NEW:
        op.create_index(name, table, columns)
    op.create_index("ix_beneficiaire_nom_motif", "beneficiaire", ["nom_recherche"],
                    postgresql_ops={"nom_recherche": "varchar_pattern_ops"})
    for table, name, _columns in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade():
    for table, name, columns in REPLACED:
        op.create_index(name, table, columns)
    op.drop_index("ix_beneficiaire_nom_motif", table_name="beneficiaire")
    for table, name, _columns in NEW:
        op.drop_index(name, table_name=table)
