"""Recouvrement (issue 13, part 2): reversements of any origin owed by any debtor (type + id + dispositif),
instalment plans, offsets against the next payment, remises with four eyes; a payment wholly offset.

Revision ID: 0013_recouvrement
Revises: 0010_rien_a_payer
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_recouvrement"
down_revision = "0009_longueurs"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=12, scale=2)
REV_OLD = ("emis", "notifie", "en_recouvrement", "solde", "remis", "annule")
REV_NEW = ("emis", "notifie", "en_recouvrement", "remise_a_valider", "solde", "remis", "annule")
PAI_OLD = ("en_attente", "emis", "execute", "rejete")
PAI_NEW = PAI_OLD + ("compense",)
DEBITEURS = ("jeune", "etablissement", "partenaire", "structure_accueil", "volontaire")
ORIGINES = ("correction", "regularisation", "controle_r31", "controle_r36", "ecart_afas", "demande_annulee")


def _money_check(table, column):
    return sa.CheckConstraint(f"{column} IS NULL OR ({column} >= 0 AND {column} <= 9999999999.99 AND {column} <> 'NaN')",
                              name=op.f(f"ck_{table}_{column}_montant"))


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table("reversement") as batch:
        batch.add_column(sa.Column("debiteur_type", sa.String(20), nullable=True))
        batch.add_column(sa.Column("debiteur_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dispositif_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("debiteur_nom", sa.String(140), nullable=True))
        batch.add_column(sa.Column("debiteur_email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("montant_compense", MONEY, nullable=False, server_default="0"))
        batch.add_column(sa.Column("accord_compensation_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("accord_compensation_ref", sa.String(200), nullable=True))
        batch.add_column(sa.Column("accord_compensation_par_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("remise_proposee", MONEY, nullable=True))
        batch.add_column(sa.Column("remise_motif", sa.String(500), nullable=True))
        batch.add_column(sa.Column("remise_proposee_par_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("echeancier_recouvre_avant", MONEY, nullable=True))
    # the existing orders are a youth's debts on the dispositif of their corrected allocation
    op.execute("""
        UPDATE reversement SET debiteur_type = 'jeune', debiteur_id = beneficiaire_id,
          debiteur_nom = (SELECT b.prenom || ' ' || b.nom FROM beneficiaire b WHERE b.id = reversement.beneficiaire_id),
          debiteur_email = (SELECT b.email FROM beneficiaire b WHERE b.id = reversement.beneficiaire_id),
          dispositif_id = COALESCE(
            (SELECT a.dispositif_id FROM allocation a WHERE a.id = reversement.allocation_id),
            (SELECT MIN(i.dispositif_id) FROM inscription i WHERE i.beneficiaire_id = reversement.beneficiaire_id),
            (SELECT MIN(d.id) FROM dispositif d))""")
    with op.batch_alter_table("reversement") as batch:
        batch.alter_column("debiteur_type", existing_type=sa.String(20), nullable=False)
        batch.alter_column("debiteur_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("dispositif_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("montant_compense", existing_type=MONEY, server_default=None)
        batch.alter_column("beneficiaire_id", existing_type=sa.Integer(), nullable=True)
        batch.drop_constraint(op.f("ck_reversement_pas_de_sur_recouvrement"), type_="check")
        batch.drop_constraint(op.f("ck_reversement_reversement_statut"), type_="check")
        batch.alter_column("statut", type_=sa.String(20), existing_type=sa.String(19))
        batch.create_check_constraint("reversement_statut", sa.column("statut").in_(REV_NEW))
        batch.create_check_constraint("pas_de_sur_recouvrement",
                                      "montant_rembourse + montant_remis + montant_compense <= montant")
        batch.create_check_constraint("montant_compense_montant", "montant_compense IS NULL OR (montant_compense >= 0 "
                                      "AND montant_compense <= 9999999999.99 AND montant_compense <> 'NaN')")
        batch.create_check_constraint("remise_proposee_montant", "remise_proposee IS NULL OR (remise_proposee >= 0 "
                                      "AND remise_proposee <= 9999999999.99 AND remise_proposee <> 'NaN')")
        batch.create_check_constraint("echeancier_recouvre_avant_montant",
                                      "echeancier_recouvre_avant IS NULL OR (echeancier_recouvre_avant >= 0 AND "
                                      "echeancier_recouvre_avant <= 9999999999.99 AND echeancier_recouvre_avant <> 'NaN')")
        batch.create_check_constraint("solde_rien_du", "statut <> 'solde' OR montant_rembourse + montant_remis + "
                                      "montant_compense = montant")
        batch.create_check_constraint("debiteur_type", _in("debiteur_type", DEBITEURS))
        batch.create_check_constraint("origine", _in("origine", ORIGINES))
        batch.create_check_constraint("debiteur_jeune", "debiteur_type <> 'jeune' OR beneficiaire_id = debiteur_id")
        batch.create_check_constraint("remise_proposee_motivee",
                                      "statut <> 'remise_a_valider' OR (remise_proposee > 0 AND remise_motif IS NOT NULL"
                                      " AND remise_proposee_par_id IS NOT NULL)")
        batch.create_foreign_key(op.f("fk_reversement_dispositif_id_dispositif"), "dispositif", ["dispositif_id"], ["id"])
        batch.create_foreign_key(op.f("fk_reversement_accord_compensation_par_id_compte"), "compte",
                                 ["accord_compensation_par_id"], ["id"])
        batch.create_foreign_key(op.f("fk_reversement_remise_proposee_par_id_compte"), "compte",
                                 ["remise_proposee_par_id"], ["id"])
        batch.create_index(op.f("ix_reversement_dispositif_id"), ["dispositif_id"])
        batch.create_index("ix_reversement_debiteur", ["debiteur_type", "debiteur_id", "dispositif_id"])
    with op.batch_alter_table("paiement") as batch:
        batch.drop_constraint(op.f("ck_paiement_paiement_statut"), type_="check")
        batch.create_check_constraint("paiement_statut", sa.column("statut").in_(PAI_NEW))

    op.create_table(
        "echeancier_ligne",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reversement_id", sa.Integer(), nullable=False),
        sa.Column("rang", sa.Integer(), nullable=False),
        sa.Column("date_echeance", sa.Date(), nullable=False),
        sa.Column("montant", MONEY, nullable=False),
        sa.Column("relance_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        _money_check("echeancier_ligne", "montant"),
        sa.CheckConstraint("montant > 0", name=op.f("ck_echeancier_ligne_montant_strictement_positif")),
        sa.ForeignKeyConstraint(["reversement_id"], ["reversement.id"],
                                name=op.f("fk_echeancier_ligne_reversement_id_reversement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_echeancier_ligne")),
        sa.UniqueConstraint("reversement_id", "rang", name=op.f("uq_echeancier_ligne_reversement_id_rang")),
    )
    op.create_index(op.f("ix_echeancier_ligne_reversement_id"), "echeancier_ligne", ["reversement_id"])
    op.create_index("ix_echeancier_ligne_a_relancer", "echeancier_ligne", ["date_echeance"],
                    postgresql_where=sa.text("relance_at IS NULL"), sqlite_where=sa.text("relance_at IS NULL"))
    op.create_table(
        "compensation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reversement_id", sa.Integer(), nullable=False),
        sa.Column("paiement_id", sa.Integer(), nullable=False),
        sa.Column("montant", MONEY, nullable=False),
        sa.Column("montant_paiement_avant", MONEY, nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        _money_check("compensation", "montant"),
        _money_check("compensation", "montant_paiement_avant"),
        sa.CheckConstraint("montant > 0 AND montant <= montant_paiement_avant",
                           name=op.f("ck_compensation_montant_compense")),
        sa.ForeignKeyConstraint(["reversement_id"], ["reversement.id"],
                                name=op.f("fk_compensation_reversement_id_reversement")),
        sa.ForeignKeyConstraint(["paiement_id"], ["paiement.id"], name=op.f("fk_compensation_paiement_id_paiement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation")),
        sa.UniqueConstraint("reversement_id", "paiement_id", name=op.f("uq_compensation_reversement_id_paiement_id")),
    )
    op.create_index(op.f("ix_compensation_reversement_id"), "compensation", ["reversement_id"])
    op.create_index(op.f("ix_compensation_paiement_id"), "compensation", ["paiement_id"])
    op.create_table(
        "remise_reversement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reversement_id", sa.Integer(), nullable=False),
        sa.Column("montant", MONEY, nullable=False),
        sa.Column("motif", sa.String(500), nullable=False),
        sa.Column("statut", sa.String(12), nullable=False),
        sa.Column("propose_par_id", sa.Integer(), nullable=True),
        sa.Column("propose_at", sa.DateTime(), nullable=False),
        sa.Column("decide_par_id", sa.Integer(), nullable=True),
        sa.Column("decide_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        _money_check("remise_reversement", "montant"),
        sa.CheckConstraint("montant > 0", name=op.f("ck_remise_reversement_montant_strictement_positif")),
        sa.CheckConstraint("statut IN ('a_valider', 'accordee', 'refusee')", name=op.f("ck_remise_reversement_statut")),
        sa.CheckConstraint("statut <> 'refusee' OR decide_par_id IS NOT NULL",
                           name=op.f("ck_remise_reversement_refus_decide")),
        sa.ForeignKeyConstraint(["reversement_id"], ["reversement.id"],
                                name=op.f("fk_remise_reversement_reversement_id_reversement")),
        sa.ForeignKeyConstraint(["propose_par_id"], ["compte.id"], name=op.f("fk_remise_reversement_propose_par_id_compte")),
        sa.ForeignKeyConstraint(["decide_par_id"], ["compte.id"], name=op.f("fk_remise_reversement_decide_par_id_compte")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remise_reversement")),
    )
    op.create_index(op.f("ix_remise_reversement_reversement_id"), "remise_reversement", ["reversement_id"])


def downgrade():
    op.drop_table("remise_reversement")
    op.drop_table("compensation")
    op.drop_table("echeancier_ligne")
    op.execute("UPDATE paiement SET statut = 'emis' WHERE statut = 'compense'")
    with op.batch_alter_table("paiement") as batch:
        batch.drop_constraint(op.f("ck_paiement_paiement_statut"), type_="check")
        batch.create_check_constraint("paiement_statut", sa.column("statut").in_(PAI_OLD))
    op.execute("UPDATE reversement SET statut = 'en_recouvrement' WHERE statut = 'remise_a_valider'")
    op.execute("DELETE FROM reversement WHERE beneficiaire_id IS NULL")
    op.execute("UPDATE reversement SET montant_rembourse = montant_rembourse + montant_compense")
    with op.batch_alter_table("reversement") as batch:
        for name in ("remise_proposee_motivee", "debiteur_jeune", "origine", "debiteur_type", "solde_rien_du",
                     "echeancier_recouvre_avant_montant", "remise_proposee_montant", "montant_compense_montant",
                     "pas_de_sur_recouvrement", "reversement_statut"):
            batch.drop_constraint(op.f(f"ck_reversement_{name}"), type_="check")
        batch.drop_index("ix_reversement_debiteur")
        batch.drop_index(op.f("ix_reversement_dispositif_id"))
        for fk in ("fk_reversement_dispositif_id_dispositif", "fk_reversement_accord_compensation_par_id_compte",
                   "fk_reversement_remise_proposee_par_id_compte"):
            batch.drop_constraint(op.f(fk), type_="foreignkey")
        for col in ("debiteur_type", "debiteur_id", "dispositif_id", "debiteur_nom", "debiteur_email",
                    "montant_compense", "accord_compensation_at", "accord_compensation_ref",
                    "accord_compensation_par_id", "remise_proposee", "remise_motif", "remise_proposee_par_id",
                    "echeancier_recouvre_avant"):
            batch.drop_column(col)
        batch.alter_column("beneficiaire_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("statut", type_=sa.String(19), existing_type=sa.String(20))
        batch.create_check_constraint("reversement_statut", sa.column("statut").in_(REV_OLD))
        batch.create_check_constraint("pas_de_sur_recouvrement", "montant_rembourse + montant_remis <= montant")
