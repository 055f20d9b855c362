"""Grids (issue 18): saved filters per user, the bulk run's start time, the name search's trigram indexes.

- `filtre_enregistre`: a user's named filters of one grid (never shared: every read is by compte_id).
- `bulk_run.demarre_at`: when the job took the run (the progress page's rate and estimated end).
- (statut, id) on the workflow grids that lacked it: a status tab under the default sort.
- PostgreSQL only: the pg_trgm and unaccent extensions, `bo_normalise(text)` (upper case, accents removed,
  IMMUTABLE so an index may use it) and GIN trigram indexes on the grids' name columns, which serve
  `LIKE '%TERME%'`. No index on a secret (IBAN, e-mail, token). SQLite (the demo) searches with a plain
  LIKE and registers bo_normalise as a Python function (admin_views/grille.py).

Revision ID: 0026_grilles_recherche
Revises: 0031_integrite_ensembliste
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026_grilles_recherche"
down_revision = "0031_integrite_ensembliste"
branch_labels = None
depends_on = None

TRGM_COLONNES = (("beneficiaire", "nom_recherche"), ("etablissement", "siret"), ("demande_creation_compte", "siret"))
TRGM_NORMALISEES = (("etablissement", "raison_sociale"), ("demande_creation_compte", "raison_sociale"),
                    ("reversement", "debiteur_nom"), ("contrat_service_civique", "volontaire_nom"),
                    ("poste_adulte_relais", "salarie_nom"))

# the status tabs under the default sort (id descending), on both databases (a plain index: no batch rebuild)
STATUT_TRI = ("allocation", "demande_hors_delai", "demande_indemnisation", "reversement", "lot_paiement",
              "autorisation_ap", "declaration_partenaire")


def _nom(table, column):
    return f"ix_{table}_{column}_trgm"[:63]


def upgrade():
    op.create_table(
        "filtre_enregistre",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compte_id", sa.Integer(), nullable=False),
        sa.Column("vue", sa.String(length=60), nullable=False),
        sa.Column("nom", sa.String(length=80), nullable=False),
        sa.Column("etat", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.ForeignKeyConstraint(["compte_id"], ["compte.id"], name="fk_filtre_enregistre_compte_id_compte",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_filtre_enregistre"),
        sa.UniqueConstraint("compte_id", "vue", "nom", name="uq_filtre_enregistre_nom"),
    )
    # ADD COLUMN without a batch rebuild: SQLite keeps its triggers (see 0025)
    op.add_column("bulk_run", sa.Column("demarre_at", sa.DateTime(), nullable=True))
    for table in STATUT_TRI:
        op.create_index(f"ix_{table}_statut_tri", table, ["statut", "id"])
    # the i-milo identifier's prefix, OR-ed with the name's trigram: a pattern-ops btree (non-C collation)
    op.create_index("ix_beneficiaire_imilo_motif", "beneficiaire", ["identifiant_imilo"],
                    postgresql_ops={"identifiant_imilo": "varchar_pattern_ops"})
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("""CREATE OR REPLACE FUNCTION bo_normalise(texte text) RETURNS text
                  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
                  AS $$ SELECT upper(public.unaccent('public.unaccent'::regdictionary, texte)) $$""")
    for table, column in TRGM_COLONNES:
        op.execute(f"CREATE INDEX {_nom(table, column)} ON {table} USING gin ({column} gin_trgm_ops)")
    for table, column in TRGM_NORMALISEES:
        op.execute(f"CREATE INDEX {_nom(table, column)} ON {table} USING gin (bo_normalise({column}) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, column in TRGM_COLONNES + TRGM_NORMALISEES:
            op.execute(f"DROP INDEX IF EXISTS {_nom(table, column)}")
        op.execute("DROP FUNCTION IF EXISTS bo_normalise(text)")
    for table in STATUT_TRI:
        op.drop_index(f"ix_{table}_statut_tri", table_name=table)
    op.drop_index("ix_beneficiaire_imilo_motif", table_name="beneficiaire")
    with op.batch_alter_table("bulk_run") as batch:
        batch.drop_column("demarre_at")
    op.drop_table("filtre_enregistre")
