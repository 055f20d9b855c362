"""Partner accounts (R62-R64): requests for added users, and the main contact frozen in the database.

- demande_habilitation: an added user of an establishment, requested by its main contact and granted
  (or refused) by the siège through workflows.habilitations;
- triggers (PostgreSQL and SQLite) behind the form checks, so no path (form, script, SQL) gets round R64:
  * the first user linked to an establishment is its main contact: a link of another role is refused
    while the establishment has none;
  * the main contact's link is never moved, demoted, promoted into, nor deleted;
  * the main contact's name, first name and e-mail never change.
  TRUNCATE is not blocked (row triggers do not see it; the test fixtures empty every table with it).

Revision ID: 0005_habilitations
Revises: 0002_securite
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_habilitations"
down_revision = "0002_securite"
branch_labels = None
depends_on = None

MSG_IDENTITE = "R64 : le nom, le prénom et l''e-mail du contact principal d''un établissement ne se modifient pas"
MSG_LIEN = "R64 : le lien du contact principal d''un établissement ne se modifie ni ne se supprime"
MSG_PREMIER = "R64 : le premier utilisateur d''un établissement en est le contact principal"

PG_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION contact_principal_identite_figee() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM compte_etablissement
                   WHERE compte_id = OLD.id AND role = 'contact_principal') THEN
            RAISE EXCEPTION '@MSG_IDENTITE@ (compte %)', OLD.id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END;
    $$""",
    """CREATE OR REPLACE FUNCTION contact_principal_lien_fige() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '@MSG_LIEN@ (lien %)', OLD.id USING ERRCODE = 'check_violation';
    END;
    $$""",
    """CREATE OR REPLACE FUNCTION contact_principal_en_premier() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM compte_etablissement
                       WHERE etablissement_id = NEW.etablissement_id AND role = 'contact_principal') THEN
            RAISE EXCEPTION '@MSG_PREMIER@ (établissement %)', NEW.etablissement_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END;
    $$""",
]

_LIEN_CHANGE = "(OLD.compte_id, OLD.etablissement_id, OLD.role) IS DISTINCT FROM " \
               "(NEW.compte_id, NEW.etablissement_id, NEW.role)"

PG_TRIGGERS = [
    """CREATE TRIGGER compte_contact_principal_fige BEFORE UPDATE OF nom, prenom, email ON compte
       FOR EACH ROW WHEN ((OLD.nom, OLD.prenom, OLD.email) IS DISTINCT FROM (NEW.nom, NEW.prenom, NEW.email))
       EXECUTE FUNCTION contact_principal_identite_figee()""",
    f"""CREATE TRIGGER compte_etablissement_contact_sans_modification BEFORE UPDATE ON compte_etablissement
       FOR EACH ROW WHEN ((OLD.role = 'contact_principal' OR NEW.role = 'contact_principal') AND {_LIEN_CHANGE})
       EXECUTE FUNCTION contact_principal_lien_fige()""",
    """CREATE TRIGGER compte_etablissement_contact_sans_suppression BEFORE DELETE ON compte_etablissement
       FOR EACH ROW WHEN (OLD.role = 'contact_principal') EXECUTE FUNCTION contact_principal_lien_fige()""",
    """CREATE TRIGGER compte_etablissement_contact_en_premier BEFORE INSERT ON compte_etablissement
       FOR EACH ROW WHEN (NEW.role <> 'contact_principal') EXECUTE FUNCTION contact_principal_en_premier()""",
]

SQLITE_TRIGGERS = [
    """CREATE TRIGGER compte_contact_principal_fige BEFORE UPDATE OF nom, prenom, email ON compte
       WHEN (OLD.nom IS NOT NEW.nom OR OLD.prenom IS NOT NEW.prenom OR OLD.email IS NOT NEW.email)
        AND EXISTS (SELECT 1 FROM compte_etablissement WHERE compte_id = OLD.id AND role = 'contact_principal')
       BEGIN SELECT RAISE(ABORT, '@MSG_IDENTITE@'); END""",
    """CREATE TRIGGER compte_etablissement_contact_sans_modification BEFORE UPDATE ON compte_etablissement
       WHEN (OLD.role = 'contact_principal' OR NEW.role = 'contact_principal')
        AND (OLD.compte_id IS NOT NEW.compte_id OR OLD.etablissement_id IS NOT NEW.etablissement_id
             OR OLD.role IS NOT NEW.role)
       BEGIN SELECT RAISE(ABORT, '@MSG_LIEN@'); END""",
    """CREATE TRIGGER compte_etablissement_contact_sans_suppression BEFORE DELETE ON compte_etablissement
       WHEN OLD.role = 'contact_principal'
       BEGIN SELECT RAISE(ABORT, '@MSG_LIEN@'); END""",
    """CREATE TRIGGER compte_etablissement_contact_en_premier BEFORE INSERT ON compte_etablissement
       WHEN NEW.role <> 'contact_principal' AND NOT EXISTS (
            SELECT 1 FROM compte_etablissement
            WHERE etablissement_id = NEW.etablissement_id AND role = 'contact_principal')
       BEGIN SELECT RAISE(ABORT, '@MSG_PREMIER@'); END""",
]

TRIGGERS = [("compte_contact_principal_fige", "compte"),
            ("compte_etablissement_contact_sans_modification", "compte_etablissement"),
            ("compte_etablissement_contact_sans_suppression", "compte_etablissement"),
            ("compte_etablissement_contact_en_premier", "compte_etablissement")]
FUNCTIONS = ["contact_principal_identite_figee", "contact_principal_lien_fige", "contact_principal_en_premier"]


def _sql(statement: str) -> str:
    """The DDL with its French messages (constants) in place of @MSG_…@."""
    for name, message in (("MSG_IDENTITE", MSG_IDENTITE), ("MSG_LIEN", MSG_LIEN), ("MSG_PREMIER", MSG_PREMIER)):
        statement = statement.replace(f"@{name}@", message)
    return statement


def upgrade():
    op.create_table(
        "demande_habilitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("etablissement_id", sa.Integer(), nullable=False),
        sa.Column("demandeur_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("nom", sa.String(length=80), nullable=False),
        sa.Column("prenom", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("statut", sa.Enum("demandee", "accordee", "refusee", "annulee", name="habilitation_statut",
                                    native_enum=False, create_constraint=True, length=12), nullable=False),
        sa.Column("decide_par_id", sa.Integer(), nullable=True),
        sa.Column("decision_at", sa.DateTime(), nullable=True),
        sa.Column("motif_refus", sa.String(length=500), nullable=True),
        sa.Column("compte_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("statut <> 'accordee' OR (compte_id IS NOT NULL AND decide_par_id IS NOT NULL)",
                           name=op.f("ck_demande_habilitation_accord_complet")),
        sa.CheckConstraint("statut <> 'refusee' OR motif_refus IS NOT NULL",
                           name=op.f("ck_demande_habilitation_refus_motive")),
        sa.ForeignKeyConstraint(["etablissement_id"], ["etablissement.id"],
                                name=op.f("fk_demande_habilitation_etablissement_id_etablissement")),
        sa.ForeignKeyConstraint(["demandeur_id"], ["compte.id"],
                                name=op.f("fk_demande_habilitation_demandeur_id_compte")),
        sa.ForeignKeyConstraint(["decide_par_id"], ["compte.id"],
                                name=op.f("fk_demande_habilitation_decide_par_id_compte")),
        sa.ForeignKeyConstraint(["compte_id"], ["compte.id"], name=op.f("fk_demande_habilitation_compte_id_compte")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demande_habilitation")),
    )
    with op.batch_alter_table("demande_habilitation") as batch:
        batch.create_index(batch.f("ix_demande_habilitation_etablissement_id"), ["etablissement_id"], unique=False)
        batch.create_index(batch.f("ix_demande_habilitation_demandeur_id"), ["demandeur_id"], unique=False)
        batch.create_index("uq_demande_habilitation_login_en_cours", ["login"], unique=True,
                           postgresql_where=sa.text("statut = 'demandee'"),
                           sqlite_where=sa.text("statut = 'demandee'"))

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in PG_FUNCTIONS + PG_TRIGGERS:
            op.execute(_sql(statement))
    elif dialect == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(_sql(statement))


def downgrade():
    dialect = op.get_bind().dialect.name
    for name, table in TRIGGERS:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        for name in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    with op.batch_alter_table("demande_habilitation") as batch:
        batch.drop_index("uq_demande_habilitation_login_en_cours")
        batch.drop_index(batch.f("ix_demande_habilitation_demandeur_id"))
        batch.drop_index(batch.f("ix_demande_habilitation_etablissement_id"))
    op.drop_table("demande_habilitation")
