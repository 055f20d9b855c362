"""Afas declarations end to end (issue 15): the Caf agent role, partner habilitations (R60), venues opened
and closed (R58), who filled in and approved a declaration, the Caf's decision and reason, the send-back
status and reason, the acomptes and balance (R79), the anomalies' kind and justification author (R59).

Revision ID: 0017_afas
Revises: 0016_activite_partielle
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_afas"
down_revision = "0013_recouvrement"
branch_labels = None
depends_on = None

ROLES = ("admin", "siege", "manager", "support", "comptable", "conseiller", "partenaire", "ud")
STATUTS = ("en_saisie", "controlee", "approuvee", "transmise", "en_traitement", "traitee")
MONEY = "{c} IS NULL OR ({low} AND {c} <= 9999999999.99 AND {c} <> 'NaN')"


def _swap_check(table, name, column, values):
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        batch.create_check_constraint(name, sa.column(column).in_(values))


def upgrade():
    _swap_check("compte", "role", "role", ROLES + ("caf",))
    _swap_check("declaration_partenaire", "declaration_statut", "statut", STATUTS + ("renvoyee",))
    with op.batch_alter_table("lieu_accueil") as batch:
        batch.add_column(sa.Column("ouvert_le", sa.Date(), nullable=True))
        batch.add_column(sa.Column("ferme_le", sa.Date(), nullable=True))
        batch.create_check_constraint("dates_lieu", sa.text("ferme_le IS NULL OR ouvert_le IS NULL OR ferme_le >= ouvert_le"))
    with op.batch_alter_table("declaration_partenaire") as batch:
        for col in ("saisie_activite_par_id", "saisie_finances_par_id", "approuvee_par_id"):
            batch.add_column(sa.Column(col, sa.Integer(), nullable=True))
            batch.create_foreign_key(batch.f(f"fk_declaration_partenaire_{col}_compte"), "compte", [col], ["id"])
        for col in ("approuvee_at", "transmise_at", "traitee_at"):
            batch.add_column(sa.Column(col, sa.DateTime(), nullable=True))
        for col in ("droit_retenu", "acompte_1", "acompte_2", "solde"):
            batch.add_column(sa.Column(col, sa.Numeric(precision=12, scale=2), nullable=True))
            low = f"{col} >= -9999999999.99" if col == "solde" else f"{col} >= 0"
            batch.create_check_constraint(f"{col}_montant", sa.text(MONEY.format(c=col, low=low)))
        batch.add_column(sa.Column("motif_droit", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("motif_renvoi", sa.String(length=500), nullable=True))
        batch.create_check_constraint("renvoi_motive", sa.text("statut <> 'renvoyee' OR motif_renvoi IS NOT NULL"))
        batch.create_check_constraint("traitee_droit", sa.text("statut <> 'traitee' OR droit_retenu IS NOT NULL"))
    # the demo's old rows: a « traitée » declaration retains its estimate
    op.execute("UPDATE declaration_partenaire SET droit_retenu = coalesce(droit_estime, 0) "
               "WHERE statut = 'traitee' AND droit_retenu IS NULL")
    with op.batch_alter_table("anomalie") as batch:
        batch.add_column(sa.Column("nature", sa.Enum("bloquante", "justifiable", name="nature_anomalie",
                                                     native_enum=False, create_constraint=True, length=15),
                                   server_default="justifiable", nullable=False))
        batch.add_column(sa.Column("justifiee_par_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("justifiee_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key(batch.f("fk_anomalie_justifiee_par_id_compte"), "compte", ["justifiee_par_id"],
                                 ["id"])
        batch.create_check_constraint("bloquante_non_justifiee",
                                      sa.text("nature <> 'bloquante' OR justification IS NULL"))
    op.create_table(
        "habilitation_afas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compte_id", sa.Integer(), nullable=False),
        sa.Column("partenaire_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.Enum("fournisseur_activite", "fournisseur_financier", "approbateur",
                                  name="habilitation_afas_role", native_enum=False, create_constraint=True,
                                  length=25), nullable=False),
        sa.Column("accordee_par_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["compte_id"], ["compte.id"], name=op.f("fk_habilitation_afas_compte_id_compte")),
        sa.ForeignKeyConstraint(["accordee_par_id"], ["compte.id"],
                                name=op.f("fk_habilitation_afas_accordee_par_id_compte")),
        sa.ForeignKeyConstraint(["partenaire_id"], ["structure.id"],
                                name=op.f("fk_habilitation_afas_partenaire_id_structure")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_habilitation_afas")),
        sa.UniqueConstraint("compte_id", "partenaire_id", "role",
                            name=op.f("uq_habilitation_afas_compte_id_partenaire_id_role")),
    )
    with op.batch_alter_table("habilitation_afas") as batch:
        batch.create_index(batch.f("ix_habilitation_afas_compte_id"), ["compte_id"])
        batch.create_index(batch.f("ix_habilitation_afas_partenaire_id"), ["partenaire_id"])


def downgrade():
    op.drop_table("habilitation_afas")
    with op.batch_alter_table("anomalie") as batch:
        batch.drop_constraint(op.f("ck_anomalie_bloquante_non_justifiee"), type_="check")
        batch.drop_constraint(op.f("ck_anomalie_nature_anomalie"), type_="check")
        batch.drop_constraint(op.f("fk_anomalie_justifiee_par_id_compte"), type_="foreignkey")
        batch.drop_column("justifiee_at")
        batch.drop_column("justifiee_par_id")
        batch.drop_column("nature")
    op.execute("UPDATE declaration_partenaire SET statut = 'en_saisie' WHERE statut = 'renvoyee'")
    with op.batch_alter_table("declaration_partenaire") as batch:
        batch.drop_constraint(op.f("ck_declaration_partenaire_renvoi_motive"), type_="check")
        batch.drop_constraint(op.f("ck_declaration_partenaire_traitee_droit"), type_="check")
        for col in ("droit_retenu", "acompte_1", "acompte_2", "solde"):
            batch.drop_constraint(op.f(f"ck_declaration_partenaire_{col}_montant"), type_="check")
            batch.drop_column(col)
        for col in ("saisie_activite_par_id", "saisie_finances_par_id", "approuvee_par_id"):
            batch.drop_constraint(op.f(f"fk_declaration_partenaire_{col}_compte"), type_="foreignkey")
            batch.drop_column(col)
        for col in ("approuvee_at", "transmise_at", "traitee_at", "motif_droit", "motif_renvoi"):
            batch.drop_column(col)
    with op.batch_alter_table("lieu_accueil") as batch:
        batch.drop_constraint(op.f("ck_lieu_accueil_dates_lieu"), type_="check")
        batch.drop_column("ferme_le")
        batch.drop_column("ouvert_le")
    _swap_check("declaration_partenaire", "declaration_statut", "statut", STATUTS)
    op.execute("DELETE FROM compte WHERE role = 'caf'")
    _swap_check("compte", "role", "role", ROLES)
