"""NACRE (R51) and Adultes-relais (R52) paid end to end (issue 16, parts 1-2): the conventions' phase prices and
account, the operators' monthly activity statements, the expertise with their attachments; the posts' employee
eligibility, contract end, renewals and account, the employers' quarterly declarations; two payable sources (an
expertise, a regularisation's complement).

Revision ID: 0019_nacre_ar
Revises: 0012_echeances
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_nacre_ar"
down_revision = "0021_afas_paiements"
branch_labels = None
depends_on = None

SOURCES = ("allocation", "di_activite_partielle", "afas_acompte", "afas_solde", "nacre_avance", "nacre_mensualite",
           "adulte_relais_mois", "service_civique_mois", "sc_subvention", "esat_garantie", "esat_dgf", "ea_aide_poste")
NOUVELLES = ("nacre_expertise", "adulte_relais_regul")
MONEY = "{c} IS NULL OR ({low} AND {c} <= 9999999999.99 AND {c} <> 'NaN')"


def _money(name, nullable=True):
    return sa.Column(name, sa.Numeric(precision=12, scale=2), nullable=nullable)


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True,
                   length=max(len(v) for v in values) + 4)


def _timestamps():
    return [sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
            sa.Column("version", sa.Integer(), server_default="1", nullable=False)]


def _checks(table, cols, *, negative=()):
    return [sa.CheckConstraint(MONEY.format(c=c, low=f"{c} >= -9999999999.99" if c in negative else f"{c} >= 0"),
                               name=op.f(f"ck_{table}_{c}_montant")) for c in cols]


def upgrade():
    with op.batch_alter_table("echeance") as batch:
        batch.drop_constraint(op.f("ck_echeance_source_echeance"), type_="check")
        batch.create_check_constraint("source_echeance", sa.column("source_type").in_(SOURCES + NOUVELLES))
    with op.batch_alter_table("convention_nacre") as batch:
        for k in (1, 2, 3):
            batch.add_column(sa.Column(f"tarif_phase_{k}", sa.Numeric(precision=12, scale=2), server_default="0",
                                       nullable=False))
            batch.create_check_constraint(f"tarif_phase_{k}_montant",
                                          sa.text(MONEY.format(c=f"tarif_phase_{k}", low=f"tarif_phase_{k} >= 0")))
        batch.add_column(sa.Column("iban", sa.String(length=34), nullable=True))
        batch.add_column(sa.Column("bic", sa.String(length=11), nullable=True))
        batch.add_column(sa.Column("motif_fin", sa.String(length=300), nullable=True))
        batch.create_check_constraint("resiliation_motivee", sa.text("statut <> 'resiliee' OR motif_fin IS NOT NULL"))
    with op.batch_alter_table("poste_adulte_relais") as batch:
        batch.add_column(sa.Column("salarie_qpv", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("salarie_sans_emploi", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("date_fin_contrat", sa.Date(), nullable=True))
        batch.add_column(sa.Column("renouvellements", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("iban", sa.String(length=34), nullable=True))
        batch.add_column(sa.Column("bic", sa.String(length=11), nullable=True))
        batch.add_column(sa.Column("motif_fin", sa.String(length=300), nullable=True))
        batch.create_check_constraint("resiliation_motivee", sa.text("statut <> 'resiliee' OR motif_fin IS NOT NULL"))
        batch.create_check_constraint("renouvellements", sa.text("renouvellements >= 0"))
    t = "etat_activite_nacre"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convention_id", sa.Integer(), nullable=False),
        sa.Column("mois", sa.Date(), nullable=False),
        sa.Column("nb_phase_1", sa.Integer(), nullable=False),
        sa.Column("nb_phase_2", sa.Integer(), nullable=False),
        sa.Column("nb_phase_3", sa.Integer(), nullable=False),
        _money("montant_activite"), _money("montant_verse"),
        sa.Column("statut", _enum(("en_saisie", "transmis", "valide", "verse", "rejete"), "etat_activite_statut"),
                  nullable=False),
        sa.Column("motif_rejet", sa.String(length=300), nullable=True),
        sa.Column("transmis_at", sa.DateTime(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["convention_id"], ["convention_nacre.id"],
                                name=op.f("fk_etat_activite_nacre_convention_id_convention_nacre")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etat_activite_nacre")),
        sa.UniqueConstraint("convention_id", "mois", name=op.f("uq_etat_activite_nacre_convention_id_mois")),
        *_checks(t, ("montant_activite", "montant_verse")),
        sa.CheckConstraint("nb_phase_1 >= 0 AND nb_phase_2 >= 0 AND nb_phase_3 >= 0",
                           name=op.f("ck_etat_activite_nacre_nombres_positifs")),
        sa.CheckConstraint("statut <> 'rejete' OR motif_rejet IS NOT NULL", name=op.f("ck_etat_activite_nacre_rejet_motive")),
        sa.CheckConstraint("statut NOT IN ('transmis', 'valide', 'verse') OR montant_activite IS NOT NULL",
                           name=op.f("ck_etat_activite_nacre_activite_calculee")),
    )
    op.create_index(op.f("ix_etat_activite_nacre_convention_id"), t, ["convention_id"])
    t = "expertise_nacre"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convention_id", sa.Integer(), nullable=False),
        sa.Column("prestataire", sa.String(length=120), nullable=False),
        sa.Column("objet", sa.String(length=200), nullable=False),
        _money("montant_contrat", False), _money("montant_facture", False),
        sa.Column("date_facture", sa.Date(), nullable=False),
        sa.Column("piece_contrat_id", sa.Integer(), nullable=True),
        sa.Column("piece_facture_id", sa.Integer(), nullable=True),
        _money("montant_paye"),
        sa.Column("statut", _enum(("deposee", "validee", "refusee"), "expertise_statut"), nullable=False),
        sa.Column("motif_refus", sa.String(length=300), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["convention_id"], ["convention_nacre.id"],
                                name=op.f("fk_expertise_nacre_convention_id_convention_nacre")),
        sa.ForeignKeyConstraint(["piece_contrat_id"], ["piece_jointe.id"],
                                name=op.f("fk_expertise_nacre_piece_contrat_id_piece_jointe")),
        sa.ForeignKeyConstraint(["piece_facture_id"], ["piece_jointe.id"],
                                name=op.f("fk_expertise_nacre_piece_facture_id_piece_jointe")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expertise_nacre")),
        *_checks(t, ("montant_contrat", "montant_facture", "montant_paye")),
        sa.CheckConstraint("montant_contrat > 0 AND montant_facture > 0", name=op.f("ck_expertise_nacre_montants_positifs")),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL", name=op.f("ck_expertise_nacre_refus_motive")),
    )
    op.create_index(op.f("ix_expertise_nacre_convention_id"), t, ["convention_id"])
    t = "declaration_adulte_relais"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poste_id", sa.Integer(), nullable=False),
        sa.Column("annee", sa.Integer(), nullable=False),
        sa.Column("trimestre", sa.Integer(), nullable=False),
        sa.Column("absences_mois_1", sa.Integer(), nullable=False),
        sa.Column("absences_mois_2", sa.Integer(), nullable=False),
        sa.Column("absences_mois_3", sa.Integer(), nullable=False),
        sa.Column("date_fin_contrat", sa.Date(), nullable=True),
        _money("montant_du"), _money("montant_verse"), _money("ecart"),
        sa.Column("reversement_id", sa.Integer(), nullable=True),
        sa.Column("statut", _enum(("en_saisie", "deposee", "regularisee"), "declaration_ar_statut"), nullable=False),
        sa.Column("deposee_at", sa.DateTime(), nullable=True),
        sa.Column("regularisee_at", sa.DateTime(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["poste_id"], ["poste_adulte_relais.id"],
                                name=op.f("fk_declaration_adulte_relais_poste_id_poste_adulte_relais")),
        sa.ForeignKeyConstraint(["reversement_id"], ["reversement.id"],
                                name=op.f("fk_declaration_adulte_relais_reversement_id_reversement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration_adulte_relais")),
        sa.UniqueConstraint("poste_id", "annee", "trimestre",
                            name=op.f("uq_declaration_adulte_relais_poste_id_annee_trimestre")),
        *_checks(t, ("montant_du", "montant_verse", "ecart"), negative=("ecart",)),
        sa.CheckConstraint("trimestre BETWEEN 1 AND 4", name=op.f("ck_declaration_adulte_relais_trimestre")),
        sa.CheckConstraint("absences_mois_1 BETWEEN 0 AND 31 AND absences_mois_2 BETWEEN 0 AND 31 "
                           "AND absences_mois_3 BETWEEN 0 AND 31", name=op.f("ck_declaration_adulte_relais_absences")),
        sa.CheckConstraint("statut <> 'regularisee' OR ecart IS NOT NULL",
                           name=op.f("ck_declaration_adulte_relais_regularisation_calculee")),
    )
    op.create_index(op.f("ix_declaration_adulte_relais_poste_id"), t, ["poste_id"])


def downgrade():
    op.drop_table("declaration_adulte_relais")
    op.drop_table("expertise_nacre")
    op.drop_table("etat_activite_nacre")
    with op.batch_alter_table("poste_adulte_relais") as batch:
        batch.drop_constraint(op.f("ck_poste_adulte_relais_renouvellements"), type_="check")
        batch.drop_constraint(op.f("ck_poste_adulte_relais_resiliation_motivee"), type_="check")
        for col in ("motif_fin", "bic", "iban", "renouvellements", "date_fin_contrat", "salarie_sans_emploi",
                    "salarie_qpv"):
            batch.drop_column(col)
    with op.batch_alter_table("convention_nacre") as batch:
        batch.drop_constraint(op.f("ck_convention_nacre_resiliation_motivee"), type_="check")
        for k in (1, 2, 3):
            batch.drop_constraint(op.f(f"ck_convention_nacre_tarif_phase_{k}_montant"), type_="check")
            batch.drop_column(f"tarif_phase_{k}")
        for col in ("motif_fin", "bic", "iban"):
            batch.drop_column(col)
    op.execute("DELETE FROM echeance WHERE source_type IN ('nacre_expertise', 'adulte_relais_regul')")
    with op.batch_alter_table("echeance") as batch:
        batch.drop_constraint(op.f("ck_echeance_source_echeance"), type_="check")
        batch.create_check_constraint("source_echeance", sa.column("source_type").in_(SOURCES))
