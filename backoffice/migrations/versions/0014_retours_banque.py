"""Bank returns (issue 13, part 3): the imported status reports, and one *live* payment per allocation.

`paiement.allocation_id` was UNIQUE: a payment rejected by the bank blocked its allocation for ever. It becomes
a partial unique index (`WHERE statut <> 'rejete'`), so the allocation is paid again once, in a later batch,
after its RIB changed; a small partial index finds the rejected payments (the "RIB changed" guard).

Revision ID: 0014_retours_banque
Revises: 0010_rien_a_payer
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_retours_banque"
down_revision = "0010_rien_a_payer"
branch_labels = None
depends_on = None

VIVANT = sa.text("statut <> 'rejete'")
REJETE = sa.text("statut = 'rejete'")


def upgrade():
    op.create_table(
        "retour_bancaire",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("fichier_sha256", sa.String(length=64), nullable=False),
        sa.Column("nom_fichier", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("importe_par_id", sa.Integer(), nullable=True),
        sa.Column("importe_at", sa.DateTime(), nullable=False),
        sa.Column("nb_acceptes", sa.Integer(), nullable=False),
        sa.Column("nb_rejetes", sa.Integer(), nullable=False),
        sa.Column("montant_accepte", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("montant_rejete", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("format IN ('pain002', 'csv')", name=op.f("ck_retour_bancaire_format_connu")),
        sa.CheckConstraint("nb_acceptes >= 0 AND nb_rejetes >= 0", name=op.f("ck_retour_bancaire_nb_positifs")),
        sa.CheckConstraint("montant_accepte IS NULL OR (montant_accepte >= 0 AND montant_accepte <= 9999999999.99 "
                           "AND montant_accepte <> 'NaN')", name=op.f("ck_retour_bancaire_montant_accepte_montant")),
        sa.CheckConstraint("montant_rejete IS NULL OR (montant_rejete >= 0 AND montant_rejete <= 9999999999.99 "
                           "AND montant_rejete <> 'NaN')", name=op.f("ck_retour_bancaire_montant_rejete_montant")),
        sa.ForeignKeyConstraint(["importe_par_id"], ["compte.id"], name=op.f("fk_retour_bancaire_importe_par_id_compte")),
        sa.ForeignKeyConstraint(["lot_id"], ["lot_paiement.id"], name=op.f("fk_retour_bancaire_lot_id_lot_paiement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retour_bancaire")),
        sa.UniqueConstraint("fichier_sha256", name=op.f("uq_retour_bancaire_fichier_sha256")),
    )
    with op.batch_alter_table("retour_bancaire") as batch:
        batch.create_index(batch.f("ix_retour_bancaire_lot_id"), ["lot_id"], unique=False)
    with op.batch_alter_table("paiement") as batch:
        batch.drop_constraint(op.f("uq_paiement_allocation_id"), type_="unique")
    op.create_index("uq_paiement_allocation_vivant", "paiement", ["allocation_id"], unique=True,
                    postgresql_where=VIVANT, sqlite_where=VIVANT)
    op.create_index("ix_paiement_allocation_rejete", "paiement", ["allocation_id"], unique=False,
                    postgresql_where=REJETE, sqlite_where=REJETE)


def downgrade():
    op.drop_index("ix_paiement_allocation_rejete", table_name="paiement")
    op.drop_index("uq_paiement_allocation_vivant", table_name="paiement")
    # back to one payment per allocation: the rejected ones that were paid again go
    op.execute("DELETE FROM paiement WHERE statut = 'rejete' AND allocation_id IN "
               "(SELECT allocation_id FROM paiement WHERE statut <> 'rejete')")
    with op.batch_alter_table("paiement") as batch:
        batch.create_unique_constraint(op.f("uq_paiement_allocation_id"), ["allocation_id"])
    op.drop_table("retour_bancaire")
