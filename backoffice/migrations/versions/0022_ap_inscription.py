"""Activité partielle sign-up (issue 14 §1): the employer's sign-up per SIRET (demande_creation_compte, R62,
R63, R65), the captcha challenges of the public pages (defi_captcha: the key's digest only), the partner's
secret question and hashed answer on the account (R63, R69).

Revision ID: 0022_ap_inscription
Revises: 0012_echeances
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_ap_inscription"
down_revision = "0012_echeances"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("compte") as batch:
        batch.add_column(sa.Column("question_secrete", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("reponse_secrete_hash", sa.String(length=255), nullable=True))

    op.create_table(
        "demande_creation_compte",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("raison_sociale", sa.String(length=120), nullable=False),
        sa.Column("libelle_voie", sa.String(length=28), nullable=False),
        sa.Column("complement_adresse", sa.String(length=38), nullable=True),
        sa.Column("code_postal", sa.String(length=5), nullable=False),
        sa.Column("ville", sa.String(length=80), nullable=False),
        sa.Column("email_etablissement", sa.String(length=254), nullable=False),
        sa.Column("telephone_etablissement", sa.String(length=20), nullable=False),
        sa.Column("effectif", sa.Integer(), nullable=False),
        sa.Column("contact_nom", sa.String(length=80), nullable=False),
        sa.Column("contact_prenom", sa.String(length=80), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("contact_telephone", sa.String(length=20), nullable=False),
        sa.Column("question_secrete", sa.String(length=120), nullable=False),
        sa.Column("reponse_secrete_hash", sa.String(length=255), nullable=False),
        sa.Column("cgu_acceptees_at", sa.DateTime(), nullable=False),
        sa.Column("statut", sa.Enum("deposee", "validee", "refusee", name="creation_compte_statut",
                                    native_enum=False, create_constraint=True, length=11), nullable=False),
        sa.Column("deposee_at", sa.DateTime(), nullable=False),
        sa.Column("decide_par_id", sa.Integer(), nullable=True),
        sa.Column("decision_at", sa.DateTime(), nullable=True),
        sa.Column("motif_refus", sa.String(length=500), nullable=True),
        sa.Column("etablissement_id", sa.Integer(), nullable=True),
        sa.Column("compte_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("length(siret) = 14", name=op.f("ck_demande_creation_compte_siret_longueur")),
        sa.CheckConstraint("length(libelle_voie) <= 28",
                           name=op.f("ck_demande_creation_compte_libelle_voie_longueur")),
        sa.CheckConstraint("complement_adresse IS NULL OR length(complement_adresse) <= 38",
                           name=op.f("ck_demande_creation_compte_complement_longueur")),
        sa.CheckConstraint("statut <> 'validee' OR (compte_id IS NOT NULL AND etablissement_id IS NOT NULL)",
                           name=op.f("ck_demande_creation_compte_validation_complete")),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL",
                           name=op.f("ck_demande_creation_compte_refus_motive")),
        sa.ForeignKeyConstraint(["compte_id"], ["compte.id"], name=op.f("fk_demande_creation_compte_compte_id_compte")),
        sa.ForeignKeyConstraint(["decide_par_id"], ["compte.id"],
                                name=op.f("fk_demande_creation_compte_decide_par_id_compte")),
        sa.ForeignKeyConstraint(["etablissement_id"], ["etablissement.id"],
                                name=op.f("fk_demande_creation_compte_etablissement_id_etablissement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demande_creation_compte")),
    )
    with op.batch_alter_table("demande_creation_compte") as batch:
        batch.create_index(batch.f("ix_demande_creation_compte_siret"), ["siret"], unique=False)
        batch.create_index("uq_demande_creation_compte_siret_en_cours", ["siret"], unique=True,
                           postgresql_where=sa.text("statut = 'deposee'"), sqlite_where=sa.text("statut = 'deposee'"))

    op.create_table(
        "defi_captcha",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cle_hash", sa.String(length=64), nullable=False),
        sa.Column("usage", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("repondu_at", sa.DateTime(), nullable=True),
        sa.Column("resolu", sa.Boolean(), nullable=False),
        sa.Column("consomme_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("usage IN ('inscription', 'recuperation', 'identifiant')",
                           name=op.f("ck_defi_captcha_usage")),
        sa.CheckConstraint("NOT resolu OR repondu_at IS NOT NULL", name=op.f("ck_defi_captcha_resolu_repondu")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_defi_captcha")),
        sa.UniqueConstraint("cle_hash", name=op.f("uq_defi_captcha_cle_hash")),
    )
    with op.batch_alter_table("defi_captcha") as batch:
        batch.create_index(batch.f("ix_defi_captcha_expires_at"), ["expires_at"], unique=False)


def downgrade():
    op.drop_table("defi_captcha")
    op.drop_table("demande_creation_compte")
    with op.batch_alter_table("compte") as batch:
        batch.drop_column("reponse_secrete_hash")
        batch.drop_column("question_secrete")
