"""Payables of every programme (issue 13): table echeance (the exactly-once key moves to it), a payment calendar per
programme as data (calendrier_paiement), paiement.echeance_id.

Existing payments move over: each becomes the payment of a payable whose source is its allocation version (period:
the allocation's month, payee: the youth, account: the cerfa's RIB, amount and IBAN as paid), in the status its
payment implies (en_attente / emis → en_lot, execute → payee, rejete → rejetee with the reason). Then
paiement.echeance_id is NOT NULL, "one live payment per payable" is a partial unique index (statut <> 'rejete') and
paiement.allocation_id is no longer unique (a rejected payment may be followed by another; kept for allocation
sources). beneficiaire_id and antenne_id become nullable (the other programmes' payees are not youths).
The R41 calendar of CEJ and PACEA is written as data.
After 0014_retours_banque (bank returns) an allocation may already have a rejected payment and its repayment: it gets
one payable, in its last payment's state (compense, from 0013_recouvrement, → payee); 0014's per-allocation partial
indexes give way to the per-payable one. The establishments get the account their Activité partielle allowance is
paid to (etablissement.iban, bic: copied onto each payable, R74).

Revision ID: 0012_echeances
Revises: 0013_recouvrement
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_echeances"
down_revision = "0015_parcours"
branch_labels = None
depends_on = None

SOURCES = ("allocation", "di_activite_partielle", "afas_acompte", "afas_solde", "nacre_avance", "nacre_mensualite",
           "adulte_relais_mois", "service_civique_mois")
PAYEES = ("jeune", "etablissement", "partenaire", "structure_accueil", "volontaire")
STATUTS = ("a_payer", "en_lot", "payee", "rejetee", "annulee")


def upgrade():
    op.create_table(
        "echeance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispositif_id", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.Enum(*SOURCES, name="source_echeance", native_enum=False, create_constraint=True,
                                         length=25), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("periode", sa.Date(), nullable=False),
        sa.Column("payee_type", sa.Enum(*PAYEES, name="type_beneficiaire_paiement", native_enum=False,
                                        create_constraint=True, length=21), nullable=False),
        sa.Column("payee_id", sa.Integer(), nullable=False),
        sa.Column("compte_bancaire_id", sa.Integer(), nullable=True),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("titulaire", sa.String(length=70), nullable=False),
        sa.Column("libelle", sa.String(length=140), nullable=False),
        sa.Column("montant", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("statut", sa.Enum(*STATUTS, name="echeance_statut", native_enum=False, create_constraint=True,
                                    length=11), nullable=False),
        sa.Column("tentatives", sa.Integer(), nullable=False),
        sa.Column("motif", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("montant IS NULL OR (montant >= 0 AND montant <= 9999999999.99 AND montant <> 'NaN')",
                           name=op.f("ck_echeance_montant_montant")),
        sa.CheckConstraint("montant > 0", name=op.f("ck_echeance_montant_strictement_positif")),
        sa.CheckConstraint("statut NOT IN ('rejetee', 'annulee') OR motif IS NOT NULL",
                           name=op.f("ck_echeance_motif_requis")),
        sa.ForeignKeyConstraint(["dispositif_id"], ["dispositif.id"], name=op.f("fk_echeance_dispositif_id_dispositif")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_echeance")),
        sa.UniqueConstraint("source_type", "source_id", "periode", name="uq_echeance_source_periode"),
    )
    op.create_index("ix_echeance_dispositif_periode", "echeance", ["dispositif_id", "periode"])
    op.create_index("ix_echeance_statut_tri", "echeance", ["statut", "id"])
    op.create_index("ix_echeance_payee", "echeance", ["payee_type", "payee_id"])

    op.create_table(
        "calendrier_paiement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispositif_id", sa.Integer(), nullable=False),
        sa.Column("jours", sa.String(length=40), nullable=False),
        sa.Column("mois_suivant", sa.Boolean(), nullable=False),
        sa.Column("commentaire", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("jours <> ''", name=op.f("ck_calendrier_paiement_jours_requis")),
        sa.ForeignKeyConstraint(["dispositif_id"], ["dispositif.id"],
                                name=op.f("fk_calendrier_paiement_dispositif_id_dispositif")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendrier_paiement")),
        sa.UniqueConstraint("dispositif_id", name=op.f("uq_calendrier_paiement_dispositif_id")),
    )
    # R41 as data: CEJ on the 1st or the 15th, PACEA on the 1st of the next month
    op.execute("""INSERT INTO calendrier_paiement (dispositif_id, jours, mois_suivant, commentaire, created_at, updated_at)
                  SELECT id, CASE code WHEN 'PACEA' THEN '1' ELSE '1,15' END, code = 'PACEA',
                         'R41', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
                  FROM dispositif WHERE code IN ('CEJ', 'PACEA')""")

    # the account an establishment's Activité partielle allowance is paid to (R74), copied onto its payables
    with op.batch_alter_table("etablissement") as batch:
        batch.add_column(sa.Column("iban", sa.String(length=34), nullable=True))
        batch.add_column(sa.Column("bic", sa.String(length=11), nullable=True))

    # the existing payments' payables: their allocation versions
    op.execute("""
        INSERT INTO echeance (dispositif_id, source_type, source_id, periode, payee_type, payee_id, compte_bancaire_id,
                              iban, bic, titulaire, libelle, montant, statut, tentatives, motif, created_at,
                              updated_at, version)
        SELECT a.dispositif_id, 'allocation', a.id, a.mois, 'jeune', a.beneficiaire_id, c.compte_bancaire_id,
               p.iban, p.bic, p.titulaire, p.libelle, p.montant,
               CASE p.statut WHEN 'execute' THEN 'payee' WHEN 'compense' THEN 'payee' WHEN 'rejete' THEN 'rejetee'
                             ELSE 'en_lot' END,
               (SELECT count(*) FROM paiement p2 WHERE p2.allocation_id = p.allocation_id),
               CASE p.statut WHEN 'rejete' THEN p.motif_rejet END, p.created_at, p.updated_at, 1
        FROM paiement p JOIN allocation a ON a.id = p.allocation_id LEFT JOIN cerfa c ON c.id = a.cerfa_id
        WHERE p.id = (SELECT max(p3.id) FROM paiement p3 WHERE p3.allocation_id = p.allocation_id)""")
    # (0014: an allocation rejected by the bank may have been paid again — one payable, its last payment's state)
    with op.batch_alter_table("paiement") as batch:
        batch.add_column(sa.Column("echeance_id", sa.Integer(), nullable=True))
    op.execute("""UPDATE paiement SET echeance_id = (SELECT e.id FROM echeance e WHERE e.source_type = 'allocation'
                                                    AND e.source_id = paiement.allocation_id)""")
    with op.batch_alter_table("paiement") as batch:
        batch.alter_column("echeance_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("allocation_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("beneficiaire_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("antenne_id", existing_type=sa.Integer(), nullable=True)
        # 0014's "one live payment per allocation" moves to the payable; the lookup index covers all allocations
        batch.drop_index("uq_paiement_allocation_vivant")
        batch.drop_index("ix_paiement_allocation_rejete")
        batch.create_foreign_key("fk_paiement_echeance_id_echeance", "echeance", ["echeance_id"], ["id"])
        batch.create_index("uq_paiement_echeance_vivant", ["echeance_id"], unique=True,
                           postgresql_where=sa.text("statut <> 'rejete'"), sqlite_where=sa.text("statut <> 'rejete'"))
        batch.create_index("ix_paiement_allocation_id", ["allocation_id"], unique=False,
                           postgresql_where=sa.text("allocation_id IS NOT NULL"),
                           sqlite_where=sa.text("allocation_id IS NOT NULL"))


def downgrade():
    """Back to allocation payments only: the other programmes' payments (and a rejected allocation's repayment)
    cannot be expressed there and are refused rather than lost."""
    bind = op.get_bind()
    autres = bind.execute(sa.text("SELECT count(*) FROM paiement WHERE allocation_id IS NULL")).scalar()
    if autres:
        raise RuntimeError(f"retour impossible : {autres} paiements hors allocations")
    with op.batch_alter_table("paiement") as batch:
        batch.drop_index("ix_paiement_allocation_id")
        batch.drop_index("uq_paiement_echeance_vivant")
        batch.drop_constraint("fk_paiement_echeance_id_echeance", type_="foreignkey")
        batch.create_index("uq_paiement_allocation_vivant", ["allocation_id"], unique=True,
                           postgresql_where=sa.text("statut <> 'rejete'"), sqlite_where=sa.text("statut <> 'rejete'"))
        batch.create_index("ix_paiement_allocation_rejete", ["allocation_id"], unique=False,
                           postgresql_where=sa.text("statut = 'rejete'"), sqlite_where=sa.text("statut = 'rejete'"))
        batch.alter_column("antenne_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("beneficiaire_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("allocation_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("echeance_id")
    with op.batch_alter_table("etablissement") as batch:
        batch.drop_column("bic")
        batch.drop_column("iban")
    op.drop_table("calendrier_paiement")
    op.drop_index("ix_echeance_payee", table_name="echeance")
    op.drop_index("ix_echeance_statut_tri", table_name="echeance")
    op.drop_index("ix_echeance_dispositif_periode", table_name="echeance")
    op.drop_table("echeance")
