"""Parcours, the rules left of issue 17: the R7 justification (contracted 1 to 3 months after the first
interview), the Parrainage's mentor and joint acceptance (R8), the Avenir Pro attestation and bilan (R11), and
the actions an enrolment records (`action_parcours`: parrainage actions R8, Avenir Pro workshops R11, Déclic
days R12), with the catalogue columns that say which action a dispositif records and how many.

Revision ID: 0025_parcours_regles
Revises: 0012_echeances
"""
import sqlalchemy as sa
from alembic import op

revision = "0025_parcours_regles"
down_revision = "0022_ap_inscription"
branch_labels = None
depends_on = None

# code -> (nature_action, actions_min, actions_max, heures_par_action, France Travail required)
CATALOGUE = {"PARRAINAGE": ("parrainage", 2, None, None, None),  # R8
             "AVENIR_PRO": ("atelier", None, 4, None, None),  # R11
             "DECLIC": ("journee_declic", None, 6, 7, True)}  # R12; for jobseekers (demandeurs d'emploi)


def _triggers_r20_sqlite():
    """SQLite's batch mode rebuilds `dispositif` and `inscription` (copy, drop, rename): the R20 triggers of
    migration 0015 on `inscription`, which read `dispositif`, must be dropped first and made again after."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("_m0015", Path(__file__).with_name("0015_parcours.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SQLITE_TRIGGERS


def _sans_triggers_sqlite():
    if op.get_bind().dialect.name != "sqlite":
        return None
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS inscription_r20_{event}")
    return _triggers_r20_sqlite()


def _remettre_triggers(statements):
    for statement in statements or ():
        op.execute(statement)


def upgrade():
    triggers = _sans_triggers_sqlite()
    with op.batch_alter_table("dispositif") as batch:
        batch.add_column(sa.Column("nature_action", sa.String(20), nullable=True))
        batch.add_column(sa.Column("actions_min", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("actions_max", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heures_par_action", sa.Integer(), nullable=True))
        # (no CHECK here: on SQLite it would rebuild the table, which the R20 trigger of 0015 reads)
    with op.batch_alter_table("inscription") as batch:
        batch.add_column(sa.Column("justification_delai", sa.String(500), nullable=True))
        batch.add_column(sa.Column("parrain", sa.String(120), nullable=True))
        batch.add_column(sa.Column("date_acceptation_parrainage", sa.Date(), nullable=True))
        batch.add_column(sa.Column("eligibilite_attestee", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("bilan_france_travail", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "action_parcours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inscription_id", sa.Integer(), nullable=False),
        sa.Column("nature", sa.String(length=20), nullable=False),
        sa.Column("date_action", sa.Date(), nullable=False),
        sa.Column("domaine", sa.String(length=20), nullable=True),
        sa.Column("heures", sa.Integer(), nullable=True),
        sa.Column("type_evenement", sa.String(length=40), nullable=True),
        sa.Column("libelle", sa.String(length=200), nullable=True),
        sa.Column("saisi_par_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("nature IN ('parrainage', 'atelier', 'journee_declic')",
                           name=op.f("ck_action_parcours_nature_connue")),
        sa.CheckConstraint("nature <> 'parrainage' OR domaine = 'professionnel'",
                           name=op.f("ck_action_parcours_parrainage_professionnel")),
        sa.ForeignKeyConstraint(["inscription_id"], ["inscription.id"],
                                name=op.f("fk_action_parcours_inscription_id_inscription")),
        sa.ForeignKeyConstraint(["saisi_par_id"], ["compte.id"], name=op.f("fk_action_parcours_saisi_par_id_compte")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_parcours")),
        sa.UniqueConstraint("inscription_id", "nature", "date_action", name=op.f("uq_action_parcours_inscription_id_nature_date_action")),
    )
    op.create_index(op.f("ix_action_parcours_inscription_id"), "action_parcours", ["inscription_id"])
    dispositif = sa.table("dispositif", sa.column("code", sa.String), sa.column("nature_action", sa.String),
                          sa.column("actions_min", sa.Integer), sa.column("actions_max", sa.Integer),
                          sa.column("heures_par_action", sa.Integer), sa.column("france_travail_requis", sa.Boolean))
    for code, (nature, mini, maxi, heures, ft) in CATALOGUE.items():
        values = dict(nature_action=nature, actions_min=mini, actions_max=maxi, heures_par_action=heures)
        if ft is not None:
            values["france_travail_requis"] = ft
        op.execute(dispositif.update().where(dispositif.c.code == code).values(**values))

    _remettre_triggers(triggers)


def downgrade():
    triggers = _sans_triggers_sqlite()
    op.drop_index(op.f("ix_action_parcours_inscription_id"), table_name="action_parcours")
    op.drop_table("action_parcours")
    with op.batch_alter_table("inscription") as batch:
        for column in ("bilan_france_travail", "eligibilite_attestee", "date_acceptation_parrainage", "parrain",
                       "justification_delai"):
            batch.drop_column(column)
    with op.batch_alter_table("dispositif") as batch:
        for column in ("heures_par_action", "actions_max", "actions_min", "nature_action"):
            batch.drop_column(column)
    _remettre_triggers(triggers)
