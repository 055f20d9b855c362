"""Activité partielle end to end (issue 14): the UD agent role and the UD structure type, the attachments
(piece_jointe), the DAP's decision columns, its form of reduction and commitments (R73), the DI's decision
(R71, R72), the idle hours retained per line (R74); the DAP's secret code leaves the table (issue 12): only
its keyed digest stays (code_secret_hash).

Revision ID: 0016_activite_partielle
Revises: 0014_retours_banque
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_activite_partielle"
down_revision = "0011_hors_delai_montant"
branch_labels = None
depends_on = None

ROLES = ("admin", "siege", "manager", "support", "comptable", "conseiller", "partenaire")
TYPES = ("siege", "antenne", "partenaire_afas", "organisme_accueil", "operateur_nacre", "employeur")


def _swap_check(table, name, column, values):
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        batch.create_check_constraint(name, sa.column(column).in_(values))


def _hash_existing_codes():
    """Codes already issued in clear are kept usable through their digest (SECRET_KEY of the app running
    the migration); without an application the clear codes are dropped (to be issued again)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, code_secret FROM autorisation_ap WHERE code_secret IS NOT NULL")).all()
    if not rows:
        return
    try:
        from backoffice.workflows.activite_partielle import hash_code
        digests = [(r[0], hash_code(r[1])) for r in rows]
    except RuntimeError:  # no application context: no key
        digests = []
    for ident, digest in digests:
        bind.execute(sa.text("UPDATE autorisation_ap SET code_secret_hash = :h WHERE id = :i"),
                     {"h": digest, "i": ident})


def upgrade():
    _swap_check("compte", "role", "role", ROLES + ("ud",))
    _swap_check("structure", "type_structure", "type", TYPES + ("ud",))
    op.create_table(
        "piece_jointe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("nom_fichier", sa.String(length=255), nullable=False),
        sa.Column("type_mime", sa.String(length=100), nullable=False),
        sa.Column("taille", sa.Integer(), nullable=False),
        sa.Column("etablissement_id", sa.Integer(), nullable=True),
        sa.Column("depose_par_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("taille > 0", name=op.f("ck_piece_jointe_taille_positive")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_piece_jointe_sha256_longueur")),
        sa.ForeignKeyConstraint(["depose_par_id"], ["compte.id"], name=op.f("fk_piece_jointe_depose_par_id_compte")),
        sa.ForeignKeyConstraint(["etablissement_id"], ["etablissement.id"],
                                name=op.f("fk_piece_jointe_etablissement_id_etablissement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_piece_jointe")),
    )
    with op.batch_alter_table("piece_jointe") as batch:
        batch.create_index(batch.f("ix_piece_jointe_sha256"), ["sha256"], unique=False)
        batch.create_index(batch.f("ix_piece_jointe_etablissement_id"), ["etablissement_id"], unique=False)

    with op.batch_alter_table("autorisation_ap") as batch:
        batch.add_column(sa.Column("code_secret_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("forme_amenagement", sa.String(length=13), server_default="reduction",
                                   nullable=False))
        batch.add_column(sa.Column("engagements", sa.String(2000), nullable=True))
        batch.add_column(sa.Column("piece_cse_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("depose_par_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("decide_par_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("motif_refus", sa.String(length=500), nullable=True))
        batch.create_check_constraint("forme_amenagement",
                                      sa.column("forme_amenagement").in_(("reduction", "fermeture")))
        batch.create_unique_constraint(batch.f("uq_autorisation_ap_code_secret_hash"), ["code_secret_hash"])
        batch.create_foreign_key(batch.f("fk_autorisation_ap_piece_cse_id_piece_jointe"), "piece_jointe",
                                 ["piece_cse_id"], ["id"])
        batch.create_foreign_key(batch.f("fk_autorisation_ap_depose_par_id_compte"), "compte", ["depose_par_id"],
                                 ["id"])
        batch.create_foreign_key(batch.f("fk_autorisation_ap_decide_par_id_compte"), "compte", ["decide_par_id"],
                                 ["id"])
    op.execute("UPDATE autorisation_ap SET motif_refus = 'Refus (motif non renseigné)' "
               "WHERE statut = 'refusee' AND motif_refus IS NULL")
    _hash_existing_codes()
    with op.batch_alter_table("autorisation_ap") as batch:
        batch.drop_constraint(op.f("ck_autorisation_ap_code_secret"), type_="check")
        batch.drop_constraint(op.f("uq_autorisation_ap_code_secret"), type_="unique")
        batch.drop_column("code_secret")
        batch.create_check_constraint("refus_motive", sa.text("statut <> 'refusee' OR motif_refus IS NOT NULL"))

    op.execute("UPDATE demande_indemnisation SET motif_invalidation = 'Invalidée (motif non renseigné)' "
               "WHERE statut = 'invalidee' AND motif_invalidation IS NULL")
    with op.batch_alter_table("demande_indemnisation") as batch:
        batch.add_column(sa.Column("decide_par_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("decision_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key(batch.f("fk_demande_indemnisation_decide_par_id_compte"), "compte",
                                 ["decide_par_id"], ["id"])
        batch.create_check_constraint("invalidation_motivee",
                                      sa.text("statut <> 'invalidee' OR motif_invalidation IS NOT NULL"))
    with op.batch_alter_table("ligne_di") as batch:
        batch.add_column(sa.Column("heures_retenues", sa.Numeric(precision=6, scale=2), server_default="0",
                                   nullable=False))


def downgrade():
    with op.batch_alter_table("ligne_di") as batch:
        batch.drop_column("heures_retenues")
    with op.batch_alter_table("demande_indemnisation") as batch:
        batch.drop_constraint(op.f("ck_demande_indemnisation_invalidation_motivee"), type_="check")
        batch.drop_constraint(op.f("fk_demande_indemnisation_decide_par_id_compte"), type_="foreignkey")
        batch.drop_column("decision_at")
        batch.drop_column("decide_par_id")
    with op.batch_alter_table("autorisation_ap") as batch:
        batch.drop_constraint(op.f("ck_autorisation_ap_refus_motive"), type_="check")
        batch.drop_constraint(op.f("fk_autorisation_ap_decide_par_id_compte"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_autorisation_ap_depose_par_id_compte"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_autorisation_ap_piece_cse_id_piece_jointe"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_autorisation_ap_code_secret_hash"), type_="unique")
        batch.drop_constraint(op.f("ck_autorisation_ap_forme_amenagement"), type_="check")
        for col in ("motif_refus", "decide_par_id", "depose_par_id", "piece_cse_id", "engagements",
                    "forme_amenagement", "code_secret_hash"):
            batch.drop_column(col)
        # the codes are not recoverable from their digests: issued again after a downgrade
        batch.add_column(sa.Column("code_secret", sa.String(length=10), nullable=True))
        batch.create_unique_constraint(batch.f("uq_autorisation_ap_code_secret"), ["code_secret"])
        batch.create_check_constraint("code_secret", sa.text("code_secret IS NULL OR length(code_secret) = 10"))
    op.drop_table("piece_jointe")
    op.execute("DELETE FROM compte WHERE role = 'ud'")
    op.execute("UPDATE structure SET type = 'employeur' WHERE type = 'ud'")
    _swap_check("structure", "type_structure", "type", TYPES)
    _swap_check("compte", "role", "role", ROLES)
