"""Migration 0012_echeances (issue 13) moves the existing payments over: each becomes the payment of the payable of its
allocation version, in the status its payment implies; R41's calendar is written as data; down and up again."""

from datetime import date

import sqlalchemy as sa

OLD_ROWS = """
INSERT INTO structure (code, nom, type, version, created_at, updated_at) VALUES ('S','S','antenne',1,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP);
INSERT INTO dispositif (code, libelle, renouvelable, nb_renouvellements_max, allocation_autorisee, france_travail_requis,
  sortie_positive, actif, created_at, updated_at) VALUES ('CEJ','CEJ',false,0,true,false,false,true,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP);
INSERT INTO beneficiaire (identifiant_imilo, nom, prenom, nom_recherche, date_naissance, antenne_id, ressortissant_eee,
  inscrit_france_travail, qpv, rqth, tranche_fiscale, protection_juridique, micro_entrepreneur, version, created_at, updated_at)
  VALUES ('B1','N','P','N P','2003-01-01',1,true,true,false,false,'non_imposable','aucune',false,1,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP);
INSERT INTO compte_bancaire (beneficiaire_id, iban, titulaire, type_compte, compte_joint, actif, version, created_at, updated_at)
  VALUES (1,'FR7630006000011234567890189','T','courant',false,true,1,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP);
INSERT INTO inscription (numero, beneficiaire_id, dispositif_id, antenne_id, date_debut, date_fin_prevue, statut,
  sortie_positive, nb_renouvellements, version, created_at, updated_at)
  VALUES ('P1',1,1,1,'2024-01-01','2024-12-31','ouvert',false,0,1,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP);
INSERT INTO cerfa (numero, inscription_id, antenne_id, type_version, compte_bancaire_id, titulaire_rib, rib_imprime,
  montant_prevu, statut, version, created_at, updated_at)
  VALUES ('C1',1,1,'initial',1,'T',true,561.68,'valide_siege',1,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP);
INSERT INTO allocation (inscription_id, cerfa_id, beneficiaire_id, dispositif_id, antenne_id, mois, nature, statut,
  montant_forfaitaire, ressources_differentielles, montant, hors_delai, motif_refus, version, created_at, updated_at)
  VALUES (1,1,1,1,1,'2024-03-01','courante','versee',561.68,0,561.68,false,NULL,1,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP),
         (1,1,1,1,1,'2024-04-01','courante','refusee',561.68,0,561.68,false,'Refus du payeur',1,CURRENT_TIMESTAMP,
          CURRENT_TIMESTAMP);
INSERT INTO lot_paiement (reference, dispositif_id, date_execution, statut, nb_paiements, montant_total, fichier_sha256,
  version, created_at, updated_at) VALUES ('L1',1,'2024-04-01','rapprochee',2,1123.36,'x',1,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP);
INSERT INTO paiement (lot_id, allocation_id, beneficiaire_id, antenne_id, end_to_end_id, montant, titulaire, iban, libelle,
  statut, motif_rejet, created_at, updated_at)
  VALUES (1,1,1,1,'ALLOC-1',561.68,'T','FR7630006000011234567890189','ALLOC','execute',NULL,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP),
         (1,2,1,1,'ALLOC-2',561.68,'T','FR7630006000011234567890189','ALLOC','rejete','cerfa non validé (R45)',CURRENT_TIMESTAMP,CURRENT_TIMESTAMP)
"""


def test_the_migration_moves_existing_payments_to_their_allocation_payables_sqlite(tmp_path):
    from flask_migrate import downgrade, upgrade

    from backoffice import create_app
    from backoffice.config import TestConfig
    config = TestConfig.from_env()
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'mig.sqlite3'}"
    app = create_app(config)
    with app.app_context():
        from backoffice.extensions import db
        upgrade(revision="0010_rien_a_payer")
        for statement in OLD_ROWS.strip().split(";\n"):
            db.session.execute(sa.text(statement))
        db.session.commit()
        upgrade(revision="heads")
        rows = db.session.execute(sa.text(
            "SELECT e.source_type, e.source_id, e.periode, e.payee_type, e.payee_id, e.compte_bancaire_id, e.statut, "
            "e.motif, e.montant, p.end_to_end_id FROM echeance e JOIN paiement p ON p.echeance_id = e.id "
            "ORDER BY e.source_id")).all()
        assert [tuple(r[:8]) for r in rows] == [
            ("allocation", 1, str(date(2024, 3, 1)), "jeune", 1, 1, "payee", None),
            ("allocation", 2, str(date(2024, 4, 1)), "jeune", 1, 1, "rejetee", "cerfa non validé (R45)")]
        assert db.session.execute(sa.text("SELECT c.jours, c.mois_suivant FROM calendrier_paiement c")).all() == [
            ("1,15", 0)]
        db.session.commit()
        downgrade(revision="0010_rien_a_payer")
        assert db.session.execute(sa.text("SELECT count(*) FROM paiement")).scalar_one() == 2
        upgrade(revision="heads")
        db.session.remove()
