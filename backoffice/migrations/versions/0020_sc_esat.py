"""Service civique, ESAT and entreprises adaptées (issue 16, R53-R55): the ARS agent role, the ESAT, EA and ARS
structure types, the payables' new sources (the host's subsidy, the GRTH reimbursement, the DGF instalments, the
EA aid) and payee (an ESAT or EA); the hosts' agréments, the contracts' months and supporting documents, the
volunteer's account; the ESATs' and EAs' agréments, declarations, DGF and instalments.

Revision ID: 0020_sc_esat
Revises: 0012_echeances
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_sc_esat"
down_revision = "0025_parcours_regles"
branch_labels = None
depends_on = None

ROLES = ("admin", "siege", "manager", "support", "comptable", "conseiller", "partenaire", "ud", "caf")
TYPES = ("siege", "antenne", "partenaire_afas", "organisme_accueil", "operateur_nacre", "employeur", "ud")
SOURCES = ("allocation", "di_activite_partielle", "afas_acompte", "afas_solde", "nacre_avance", "nacre_mensualite",
           "adulte_relais_mois", "service_civique_mois")
PAYEES = ("jeune", "etablissement", "partenaire", "structure_accueil", "volontaire")


def _swap_check(table, name, column, values):
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        batch.create_check_constraint(name, sa.column(column).in_(values))


def upgrade():
    _swap_check("compte", "role", "role", ROLES + ("ars",))
    _swap_check("structure", "type_structure", "type", TYPES + ("esat", "ea", "ars"))
    _swap_check("echeance", "source_echeance", "source_type",
                SOURCES + ("sc_subvention", "esat_garantie", "esat_dgf", "ea_aide_poste"))
    _swap_check("echeance", "type_beneficiaire_paiement", "payee_type", PAYEES + ("esat",))
    op.create_table('agrement_esat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=False),
    sa.Column('numero', sa.String(length=24), nullable=False),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('places >= 0', name=op.f('ck_agrement_esat_places_positives')),
    sa.ForeignKeyConstraint(['structure_id'], ['structure.id'], name=op.f('fk_agrement_esat_structure_id_structure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agrement_esat')),
    sa.UniqueConstraint('numero', name=op.f('uq_agrement_esat_numero')),
    sa.UniqueConstraint('structure_id', name=op.f('uq_agrement_esat_structure_id'))
    )
    op.create_table('agrement_service_civique',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisme_id', sa.Integer(), nullable=False),
    sa.Column('numero', sa.String(length=24), nullable=False),
    sa.Column('associatif', sa.Boolean(), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=True),
    sa.Column('bic', sa.String(length=11), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['organisme_id'], ['structure.id'], name=op.f('fk_agrement_service_civique_organisme_id_structure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agrement_service_civique')),
    sa.UniqueConstraint('numero', name=op.f('uq_agrement_service_civique_numero')),
    sa.UniqueConstraint('organisme_id', name=op.f('uq_agrement_service_civique_organisme_id'))
    )
    op.create_table('declaration_ea',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ea_id', sa.Integer(), nullable=False),
    sa.Column('periode', sa.Date(), nullable=False),
    sa.Column('effectif_total', sa.Integer(), nullable=False),
    sa.Column('effectif_th', sa.Integer(), nullable=False),
    sa.Column('postes_etp', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('montant', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('statut', sa.Enum('deposee', 'validee', 'liquidee', 'refusee', name='declaration_esat_statut', native_enum=False, create_constraint=True, length=12), nullable=False),
    sa.Column('motif', sa.String(length=300), nullable=True),
    sa.Column('deposee_par_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("montant IS NULL OR (montant >= 0 AND montant <= 9999999999.99 AND montant <> 'NaN')", name=op.f('ck_declaration_ea_montant_montant')),
    sa.CheckConstraint("statut <> 'refusee' OR motif IS NOT NULL", name=op.f('ck_declaration_ea_refus_motive')),
    sa.CheckConstraint('effectif_total > 0 AND effectif_th >= 0 AND effectif_th <= effectif_total', name=op.f('ck_declaration_ea_effectifs')),
    sa.CheckConstraint('postes_etp >= 0', name=op.f('ck_declaration_ea_postes_positifs')),
    sa.ForeignKeyConstraint(['deposee_par_id'], ['compte.id'], name=op.f('fk_declaration_ea_deposee_par_id_compte')),
    sa.ForeignKeyConstraint(['ea_id'], ['structure.id'], name=op.f('fk_declaration_ea_ea_id_structure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration_ea')),
    sa.UniqueConstraint('ea_id', 'periode', name='uq_declaration_ea_ea_periode')
    )
    with op.batch_alter_table('declaration_ea', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_declaration_ea_ea_id'), ['ea_id'], unique=False)

    op.create_table('declaration_garantie',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('esat_id', sa.Integer(), nullable=False),
    sa.Column('periode', sa.Date(), nullable=False),
    sa.Column('nb_travailleurs', sa.Integer(), nullable=False),
    sa.Column('etp', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('aide_au_poste', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('cotisations_obligatoires', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('prevoyance', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('formation', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('montant', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('statut', sa.Enum('deposee', 'validee', 'liquidee', 'refusee', name='declaration_esat_statut', native_enum=False, create_constraint=True, length=12), nullable=False),
    sa.Column('motif', sa.String(length=300), nullable=True),
    sa.Column('deposee_par_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("aide_au_poste IS NULL OR (aide_au_poste >= 0 AND aide_au_poste <= 9999999999.99 AND aide_au_poste <> 'NaN')", name=op.f('ck_declaration_garantie_aide_au_poste_montant')),
    sa.CheckConstraint("cotisations_obligatoires IS NULL OR (cotisations_obligatoires >= 0 AND cotisations_obligatoires <= 9999999999.99 AND cotisations_obligatoires <> 'NaN')", name=op.f('ck_declaration_garantie_cotisations_obligatoires_montant')),
    sa.CheckConstraint("formation IS NULL OR (formation >= 0 AND formation <= 9999999999.99 AND formation <> 'NaN')", name=op.f('ck_declaration_garantie_formation_montant')),
    sa.CheckConstraint("montant IS NULL OR (montant >= 0 AND montant <= 9999999999.99 AND montant <> 'NaN')", name=op.f('ck_declaration_garantie_montant_montant')),
    sa.CheckConstraint("prevoyance IS NULL OR (prevoyance >= 0 AND prevoyance <= 9999999999.99 AND prevoyance <> 'NaN')", name=op.f('ck_declaration_garantie_prevoyance_montant')),
    sa.CheckConstraint("statut <> 'refusee' OR motif IS NOT NULL", name=op.f('ck_declaration_garantie_refus_motive')),
    sa.CheckConstraint('abs(montant - (aide_au_poste + cotisations_obligatoires + prevoyance + formation)) < 0.005', name=op.f('ck_declaration_garantie_montant_somme')),
    sa.CheckConstraint('nb_travailleurs >= 0 AND etp >= 0', name=op.f('ck_declaration_garantie_effectifs_positifs')),
    sa.ForeignKeyConstraint(['deposee_par_id'], ['compte.id'], name=op.f('fk_declaration_garantie_deposee_par_id_compte')),
    sa.ForeignKeyConstraint(['esat_id'], ['structure.id'], name=op.f('fk_declaration_garantie_esat_id_structure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration_garantie')),
    sa.UniqueConstraint('esat_id', 'periode', name='uq_declaration_garantie_esat_periode')
    )
    with op.batch_alter_table('declaration_garantie', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_declaration_garantie_esat_id'), ['esat_id'], unique=False)

    op.create_table('dotation_dgf',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('esat_id', sa.Integer(), nullable=False),
    sa.Column('exercice', sa.Integer(), nullable=False),
    sa.Column('montant', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('nb_versements', sa.Integer(), nullable=False),
    sa.Column('fixee_par_id', sa.Integer(), nullable=True),
    sa.Column('fixee_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("montant IS NULL OR (montant >= 0 AND montant <= 9999999999.99 AND montant <> 'NaN')", name=op.f('ck_dotation_dgf_montant_montant')),
    sa.CheckConstraint('montant > 0', name=op.f('ck_dotation_dgf_montant_positif')),
    sa.CheckConstraint('nb_versements BETWEEN 1 AND 12', name=op.f('ck_dotation_dgf_nb_versements')),
    sa.ForeignKeyConstraint(['esat_id'], ['structure.id'], name=op.f('fk_dotation_dgf_esat_id_structure')),
    sa.ForeignKeyConstraint(['fixee_par_id'], ['compte.id'], name=op.f('fk_dotation_dgf_fixee_par_id_compte')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dotation_dgf')),
    sa.UniqueConstraint('esat_id', 'exercice', name='uq_dotation_dgf_esat_exercice')
    )
    with op.batch_alter_table('dotation_dgf', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dotation_dgf_esat_id'), ['esat_id'], unique=False)

    op.create_table('mois_service_civique',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contrat_id', sa.Integer(), nullable=False),
    sa.Column('periode', sa.Date(), nullable=False),
    sa.Column('fraction', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('indemnite', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('majoration', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('prestation_due', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('subvention', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('bareme_du', sa.Date(), nullable=False),
    sa.Column('statut', sa.Enum('calcule', 'liquide', 'annule', name='mois_programme_statut', native_enum=False, create_constraint=True, length=11), nullable=False),
    sa.Column('motif', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("indemnite IS NULL OR (indemnite >= 0 AND indemnite <= 9999999999.99 AND indemnite <> 'NaN')", name=op.f('ck_mois_service_civique_indemnite_montant')),
    sa.CheckConstraint("majoration IS NULL OR (majoration >= 0 AND majoration <= 9999999999.99 AND majoration <> 'NaN')", name=op.f('ck_mois_service_civique_majoration_montant')),
    sa.CheckConstraint("prestation_due IS NULL OR (prestation_due >= 0 AND prestation_due <= 9999999999.99 AND prestation_due <> 'NaN')", name=op.f('ck_mois_service_civique_prestation_due_montant')),
    sa.CheckConstraint("subvention IS NULL OR (subvention >= 0 AND subvention <= 9999999999.99 AND subvention <> 'NaN')", name=op.f('ck_mois_service_civique_subvention_montant')),
    sa.CheckConstraint('fraction > 0 AND fraction <= 1', name=op.f('ck_mois_service_civique_fraction')),
    sa.ForeignKeyConstraint(['contrat_id'], ['contrat_service_civique.id'], name=op.f('fk_mois_service_civique_contrat_id_contrat_service_civique')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mois_service_civique')),
    sa.UniqueConstraint('contrat_id', 'periode', name='uq_mois_service_civique_contrat_periode')
    )
    with op.batch_alter_table('mois_service_civique', schema=None) as batch_op:
        batch_op.create_index('ix_mois_service_civique_periode', ['periode', 'statut'], unique=False)

    op.create_table('piece_service_civique',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contrat_id', sa.Integer(), nullable=False),
    sa.Column('piece_id', sa.Integer(), nullable=False),
    sa.Column('objet', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['contrat_id'], ['contrat_service_civique.id'], name=op.f('fk_piece_service_civique_contrat_id_contrat_service_civique')),
    sa.ForeignKeyConstraint(['piece_id'], ['piece_jointe.id'], name=op.f('fk_piece_service_civique_piece_id_piece_jointe')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_piece_service_civique'))
    )
    with op.batch_alter_table('piece_service_civique', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_piece_service_civique_contrat_id'), ['contrat_id'], unique=False)

    op.create_table('versement_dgf',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dotation_id', sa.Integer(), nullable=False),
    sa.Column('rang', sa.Integer(), nullable=False),
    sa.Column('periode', sa.Date(), nullable=False),
    sa.Column('montant', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('statut', sa.Enum('calcule', 'liquide', 'annule', name='mois_programme_statut', native_enum=False, create_constraint=True, length=11), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("montant IS NULL OR (montant >= 0 AND montant <= 9999999999.99 AND montant <> 'NaN')", name=op.f('ck_versement_dgf_montant_montant')),
    sa.ForeignKeyConstraint(['dotation_id'], ['dotation_dgf.id'], name=op.f('fk_versement_dgf_dotation_id_dotation_dgf')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_versement_dgf')),
    sa.UniqueConstraint('dotation_id', 'rang', name='uq_versement_dgf_dotation_rang')
    )
    with op.batch_alter_table('versement_dgf', schema=None) as batch_op:
        batch_op.create_index('ix_versement_dgf_periode', ['periode', 'statut'], unique=False)

    with op.batch_alter_table('contrat_service_civique', schema=None) as batch_op:
        batch_op.add_column(sa.Column('iban', sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column('bic', sa.String(length=11), nullable=True))



def downgrade():
    op.execute("DELETE FROM paiement WHERE echeance_id IN (SELECT id FROM echeance WHERE source_type IN "
               "('sc_subvention', 'esat_garantie', 'esat_dgf', 'ea_aide_poste') OR payee_type = 'esat')")
    op.execute("DELETE FROM echeance WHERE source_type IN ('sc_subvention', 'esat_garantie', 'esat_dgf', "
               "'ea_aide_poste') OR payee_type = 'esat'")
    with op.batch_alter_table('contrat_service_civique', schema=None) as batch_op:
        batch_op.drop_column('bic')
        batch_op.drop_column('iban')

    with op.batch_alter_table('versement_dgf', schema=None) as batch_op:
        batch_op.drop_index('ix_versement_dgf_periode')

    op.drop_table('versement_dgf')
    with op.batch_alter_table('piece_service_civique', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_piece_service_civique_contrat_id'))

    op.drop_table('piece_service_civique')
    with op.batch_alter_table('mois_service_civique', schema=None) as batch_op:
        batch_op.drop_index('ix_mois_service_civique_periode')

    op.drop_table('mois_service_civique')
    with op.batch_alter_table('dotation_dgf', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dotation_dgf_esat_id'))

    op.drop_table('dotation_dgf')
    with op.batch_alter_table('declaration_garantie', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declaration_garantie_esat_id'))

    op.drop_table('declaration_garantie')
    with op.batch_alter_table('declaration_ea', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declaration_ea_ea_id'))

    op.drop_table('declaration_ea')
    op.drop_table('agrement_service_civique')
    op.drop_table('agrement_esat')
    op.execute("DELETE FROM compte WHERE role = 'ars'")
    op.execute("DELETE FROM structure WHERE type IN ('esat', 'ea', 'ars')")
    _swap_check("echeance", "type_beneficiaire_paiement", "payee_type", PAYEES)
    _swap_check("echeance", "source_echeance", "source_type", SOURCES)
    _swap_check("structure", "type_structure", "type", TYPES)
    _swap_check("compte", "role", "role", ROLES)
