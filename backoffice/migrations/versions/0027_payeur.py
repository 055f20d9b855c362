"""ESAT and EA as debtors (issue 16, R53, R54): an ESAT or an EA may owe an ordre de reversement (debiteur_type
« esat », the payee type of their payables), of origin « correction_declaration »: a GRTH declaration corrected
downwards, an EA declaration whose ≥ 80 % condition fails afterwards; each declaration keeps the order its
correction made (reversement_id). No trigger on these tables: the batch rebuilds on SQLite lose nothing.

Revision ID: 0027_payeur
Revises: 0026_grilles_recherche
"""
import sqlalchemy as sa
from alembic import op

revision = "0027_payeur"
down_revision = "0026_grilles_recherche"
branch_labels = None
depends_on = None

DEBITEURS = ("jeune", "etablissement", "partenaire", "structure_accueil", "volontaire")
ORIGINES = ("correction", "regularisation", "controle_r31", "controle_r36", "ecart_afas", "demande_annulee")


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _checks(debiteurs, origines):
    with op.batch_alter_table("reversement") as batch:
        batch.drop_constraint(op.f("ck_reversement_debiteur_type"), type_="check")
        batch.drop_constraint(op.f("ck_reversement_origine"), type_="check")
        batch.create_check_constraint("debiteur_type", _in("debiteur_type", debiteurs))
        batch.create_check_constraint("origine", _in("origine", origines))


def upgrade():
    _checks(DEBITEURS + ("esat",), ORIGINES + ("correction_declaration",))
    for table in ("declaration_garantie", "declaration_ea"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reversement_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(op.f(f"fk_{table}_reversement_id_reversement"), "reversement",
                                     ["reversement_id"], ["id"])


def downgrade():
    for table in ("declaration_garantie", "declaration_ea"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_reversement_id_reversement"), type_="foreignkey")
            batch.drop_column("reversement_id")
    op.execute("DELETE FROM reversement WHERE debiteur_type = 'esat' OR origine = 'correction_declaration'")
    _checks(DEBITEURS, ORIGINES)
