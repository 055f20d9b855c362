"""Parcours (issue 17): the enrolment life cycle's fields (R7, R16, R18, R37) and R20 in the database: a PACEA
and a CEJ (or two of them) never overlap for one youth, whatever writes the row.

PostgreSQL: a BEFORE INSERT/UPDATE trigger serialised per youth by a transaction advisory lock (two
concurrent openings for one youth: the second waits, then sees the first), raising SQLSTATE 23P01
(exclusion_violation, an IntegrityError). No extension needed (an EXCLUDE constraint would need btree_gist
and a denormalised dispositif code). SQLite: the same check as two BEFORE triggers raising ABORT.

Revision ID: 0015_parcours
Revises: 0010_rien_a_payer
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_parcours"
down_revision = "0017_afas"
branch_labels = None
depends_on = None

R20_MESSAGE = "R20 : un PACEA et un CEJ ne se chevauchent jamais pour un même jeune"

_OVERLAP = """
    SELECT 1 FROM inscription i JOIN dispositif d ON d.id = i.dispositif_id
    WHERE i.beneficiaire_id = NEW.beneficiaire_id AND i.id <> NEW.id AND d.code IN ('PACEA', 'CEJ')
      AND i.date_debut <= coalesce(NEW.date_fin_reelle, NEW.date_fin_prevue)
      AND NEW.date_debut <= coalesce(i.date_fin_reelle, i.date_fin_prevue)"""

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION inscription_r20_sans_chevauchement() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM dispositif WHERE id = NEW.dispositif_id AND code IN ('PACEA', 'CEJ')) THEN
        PERFORM pg_advisory_xact_lock(17020, NEW.beneficiaire_id);
        IF EXISTS ({_OVERLAP}) THEN
            RAISE EXCEPTION '{R20_MESSAGE}' USING ERRCODE = '23P01';
        END IF;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql"""

PG_TRIGGER = """
CREATE TRIGGER inscription_r20 BEFORE INSERT OR UPDATE OF beneficiaire_id, dispositif_id, date_debut,
    date_fin_prevue, date_fin_reelle ON inscription FOR EACH ROW EXECUTE FUNCTION inscription_r20_sans_chevauchement()"""

SQLITE_TRIGGERS = [f"""
CREATE TRIGGER inscription_r20_{event.lower()} BEFORE {event} ON inscription
WHEN EXISTS (SELECT 1 FROM dispositif WHERE id = NEW.dispositif_id AND code IN ('PACEA', 'CEJ'))
 AND EXISTS ({_OVERLAP.replace("i.id <> NEW.id", "i.id IS NOT NEW.id")})
BEGIN SELECT RAISE(ABORT, '{R20_MESSAGE}'); END""" for event in ("INSERT", "UPDATE")]


def upgrade():
    with op.batch_alter_table("inscription") as batch:
        batch.add_column(sa.Column("date_premier_entretien", sa.Date(), nullable=True))
        batch.add_column(sa.Column("motif_cloture", sa.String(200), nullable=True))
        batch.add_column(sa.Column("dernier_contact", sa.Date(), nullable=True))
        batch.add_column(sa.Column("signalement_france_travail", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("niveau_cep", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heures_activite", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                   nullable=True))
        batch.add_column(sa.Column("nb_manquements", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("sanction_1_mois", sa.Date(), nullable=True))
        batch.add_column(sa.Column("sanction_1_motif", sa.String(500), nullable=True))
        batch.add_column(sa.Column("sanction_2_mois", sa.Date(), nullable=True))
        batch.add_column(sa.Column("sanction_2_motif", sa.String(500), nullable=True))
        batch.create_check_constraint("manquements_r37", sa.text("nb_manquements BETWEEN 0 AND 3"))
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    elif dialect == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS inscription_r20 ON inscription")
        op.execute("DROP FUNCTION IF EXISTS inscription_r20_sans_chevauchement()")
    elif dialect == "sqlite":
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS inscription_r20_{event}")
    with op.batch_alter_table("inscription") as batch:
        batch.drop_constraint(op.f("ck_inscription_manquements_r37"), type_="check")
        for column in ("sanction_2_motif", "sanction_2_mois", "sanction_1_motif", "sanction_1_mois",
                       "nb_manquements", "heures_activite", "niveau_cep", "signalement_france_travail", "dernier_contact",
                       "motif_cloture", "date_premier_entretien"):
            batch.drop_column(column)
