"""Afas payments and yearly items (issue 15 §2, §6): the partner structure's account (structure.iban, bic: the
acomptes and balance of R79 are paid to it, copied onto each payable), the order a negative balance made
(declaration_partenaire.reversement_id), and the ~20 yearly items of the actual
declaration (R57) as data: item_annuel_afas (type, bounds, provider, mandatory; edited by the administrator, no
migration to change them) and valeur_item_afas (their values on a declaration). The initial items are written
here as data [derived: the CNAF's leaflet listing them is not in the sources].

No enum change: the two acomptes of a forecast are two payables of source « afas_acompte » on the same
declaration, told apart by their period (R79, workflows.afas_paiements.PERIODE_ACOMPTE: January of N for the 1st, July
of N for the 2nd), so the exactly-once key (source_type, source_id, periode) holds as it is.

Revision ID: 0021_afas_paiements
Revises: 0012_echeances
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_afas_paiements"
down_revision = "0020_sc_esat"
branch_labels = None
depends_on = None

TYPES = ("entier", "decimal", "montant", "oui_non", "texte")
PARTS = ("activite", "finances")

# code, libellé, type, part, minimum, maximum, obligatoire — a frozen copy of
# workflows.afas_items.ITEMS_PAR_DEFAUT at this revision (the seeds write that list into an emptied database)
ITEMS = [
    ("NB_FAMILLES", "Nombre de familles accueillies dans l'année", "entier", "activite", 0, 10000, True),
    ("NB_ENFANTS", "Nombre d'enfants accueillis dans l'année", "entier", "activite", 0, 20000, True),
    ("NB_NOUVELLES_SITUATIONS", "Nombre de nouvelles situations dans l'année", "entier", "activite", 0, 10000, True),
    ("NB_SITUATIONS_TERMINEES", "Nombre de situations terminées dans l'année", "entier", "activite", 0, 10000, True),
    ("NB_MESURES_JUDICIAIRES", "Situations orientées par une décision de justice", "entier", "activite", 0, 10000,
     True),
    ("NB_MESURES_CONVENTIONNELLES", "Situations hors décision de justice (démarche des parents)", "entier",
     "activite", 0, 10000, True),
    ("NB_RENCONTRES", "Nombre de rencontres parents-enfants réalisées", "entier", "activite", 0, 100000, True),
    ("NB_RENCONTRES_ANNULEES", "Nombre de rencontres annulées", "entier", "activite", 0, 100000, True),
    ("NB_PASSAGES_BRAS", "Nombre de « passages de bras » entre les parents", "entier", "activite", 0, 100000, True),
    ("DUREE_MOYENNE_MOIS", "Durée moyenne d'une situation (mois)", "decimal", "activite", 0, 120, True),
    ("DELAI_ATTENTE_JOURS", "Délai moyen entre la demande et la première rencontre (jours)", "entier", "activite",
     0, 730, True),
    ("LISTE_ATTENTE", "Familles en liste d'attente au 31 décembre", "entier", "activite", 0, 10000, True),
    ("JOURS_OUVERTURE", "Jours d'ouverture au public dans l'année", "entier", "activite", 0, 366, True),
    ("OUVERTURE_SAMEDI", "Ouverture le samedi", "oui_non", "activite", None, None, True),
    ("ETP_ACCUEILLANTS", "Accueillants salariés (équivalents temps plein)", "decimal", "finances", 0, 100, True),
    ("ETP_COORDINATION", "Coordination et direction (équivalents temps plein)", "decimal", "finances", 0, 50, True),
    ("NB_BENEVOLES", "Nombre de bénévoles", "entier", "finances", 0, 500, True),
    ("HEURES_ANALYSE_PRATIQUE", "Heures d'analyse de la pratique des accueillants", "decimal", "finances", 0, 2000,
     True),
    ("PARTICIPATION_FAMILLES", "Participation financière des familles (€)", "montant", "finances", 0, 1000000, True),
    ("FINANCEMENT_JUSTICE", "Financement du ministère de la Justice (€)", "montant", "finances", 0, 10000000, True),
    ("FAITS_MARQUANTS", "Faits marquants de l'année", "texte", "activite", None, 500, False),
]


def upgrade():
    with op.batch_alter_table("structure") as batch:
        batch.add_column(sa.Column("iban", sa.String(length=34), nullable=True))
        batch.add_column(sa.Column("bic", sa.String(length=11), nullable=True))
    with op.batch_alter_table("declaration_partenaire") as batch:
        batch.add_column(sa.Column("reversement_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_declaration_partenaire_reversement_id_reversement"), "reversement",
                                 ["reversement_id"], ["id"])
    op.create_table(
        "item_annuel_afas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("libelle", sa.String(length=200), nullable=False),
        sa.Column("type", sa.Enum(*TYPES, name="type_item_afas", native_enum=False, create_constraint=True,
                                  length=11), nullable=False),
        sa.Column("part", sa.Enum(*PARTS, name="part_afas", native_enum=False, create_constraint=True, length=12),
                  nullable=False),
        sa.Column("minimum", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("maximum", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("obligatoire", sa.Boolean(), nullable=False),
        sa.Column("actif", sa.Boolean(), nullable=False),
        sa.Column("ordre", sa.Integer(), nullable=False),
        sa.Column("aide", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("minimum IS NULL OR maximum IS NULL OR minimum <= maximum",
                           name=op.f("ck_item_annuel_afas_bornes")),
        sa.CheckConstraint("minimum <> 'NaN' AND maximum <> 'NaN'", name=op.f("ck_item_annuel_afas_bornes_nombres")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_annuel_afas")),
        sa.UniqueConstraint("code", name=op.f("uq_item_annuel_afas_code")),
    )
    op.create_table(
        "valeur_item_afas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("valeur_nombre", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("valeur_texte", sa.String(length=500), nullable=True),
        sa.Column("saisie_par_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("valeur_nombre <> 'NaN'", name=op.f("ck_valeur_item_afas_valeur_nombre")),
        sa.ForeignKeyConstraint(["declaration_id"], ["declaration_partenaire.id"],
                                name=op.f("fk_valeur_item_afas_declaration_id_declaration_partenaire")),
        sa.ForeignKeyConstraint(["item_id"], ["item_annuel_afas.id"],
                                name=op.f("fk_valeur_item_afas_item_id_item_annuel_afas")),
        sa.ForeignKeyConstraint(["saisie_par_id"], ["compte.id"], name=op.f("fk_valeur_item_afas_saisie_par_id_compte")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_valeur_item_afas")),
        sa.UniqueConstraint("declaration_id", "item_id", name=op.f("uq_valeur_item_afas_declaration_id_item_id")),
    )
    with op.batch_alter_table("valeur_item_afas") as batch:
        batch.create_index(batch.f("ix_valeur_item_afas_declaration_id"), ["declaration_id"])
    table = sa.table("item_annuel_afas", sa.column("code"), sa.column("libelle"), sa.column("type"),
                     sa.column("part"), sa.column("minimum"), sa.column("maximum"), sa.column("obligatoire"),
                     sa.column("actif"), sa.column("ordre"))
    op.bulk_insert(table, [{"code": c, "libelle": l, "type": t, "part": p, "minimum": lo, "maximum": hi,
                            "obligatoire": o, "actif": True, "ordre": 10 * (k + 1)}
                           for k, (c, l, t, p, lo, hi, o) in enumerate(ITEMS)])


def downgrade():
    op.drop_table("valeur_item_afas")
    op.drop_table("item_annuel_afas")
    with op.batch_alter_table("declaration_partenaire") as batch:
        batch.drop_constraint(op.f("fk_declaration_partenaire_reversement_id_reversement"), type_="foreignkey")
        batch.drop_column("reversement_id")
    with op.batch_alter_table("structure") as batch:
        batch.drop_column("bic")
        batch.drop_column("iban")
