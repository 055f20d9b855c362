"""The grids, in menu order. Area modules hold the view classes; this list wires them.

The endpoint is the policy key (policy.POLICY) and the URL: /admin/<endpoint>/.
"""

from __future__ import annotations

from .. import models as m
from . import (activite_partielle as ap, adultes_relais, allocations, beneficiaires, comptes, echeances, esat, nacre,
               paiements, partenaires, referentiel, reversements, service_civique, suivi)

JEUNES, ALLOCATIONS, PAIEMENTS = "Jeunes", "Allocations", "Paiements"
PARTENAIRES, AP, PROGRAMMES = "Partenaires", "Activité partielle", "Programmes"
SC, ESAT = "Service civique", "ESAT et entreprises adaptées"  # issue 16
REFERENTIEL, ADMINISTRATION, SUIVI = "Référentiel", "Administration", "Suivi"

# (view class, model, endpoint, French name, menu category)
GRIDS = [
    (beneficiaires.BeneficiaireView, m.Beneficiaire, "beneficiaire", "Bénéficiaires", JEUNES),
    (beneficiaires.CompteBancaireView, m.CompteBancaire, "compte_bancaire", "RIB", JEUNES),
    (beneficiaires.InscriptionView, m.Inscription, "inscription", "Parcours", JEUNES),
    (beneficiaires.CerfaView, m.Cerfa, "cerfa", "Cerfa", JEUNES),
    (allocations.AllocationView, m.Allocation, "allocation", "Allocations", ALLOCATIONS),
    (allocations.RessourceView, m.Ressource, "ressource", "Ressources déclarées", ALLOCATIONS),
    (allocations.DemandeHorsDelaiView, m.DemandeHorsDelai, "demande_hors_delai", "Hors délai", ALLOCATIONS),
    (echeances.EcheanceView, m.Echeance, "echeance", "Échéances (droits à payer)", PAIEMENTS),
    (paiements.LotPaiementView, m.LotPaiement, "lot_paiement", "Lots de paiement", PAIEMENTS),
    (paiements.PaiementView, m.Paiement, "paiement", "Paiements", PAIEMENTS),
    (reversements.ReversementView, m.Reversement, "reversement", "Reversements", PAIEMENTS),
    (reversements.RemboursementView, m.Remboursement, "remboursement", "Remboursements", PAIEMENTS),
    (partenaires.DeclarationPartenaireView, m.DeclarationPartenaire, "declaration_partenaire",
     "Déclarations Afas", PARTENAIRES),
    (partenaires.LieuAccueilView, m.LieuAccueil, "lieu_accueil", "Lieux d'accueil", PARTENAIRES),
    (partenaires.LigneActiviteView, m.LigneActivite, "ligne_activite", "Données d'activité", PARTENAIRES),
    (partenaires.AnomalieView, m.Anomalie, "anomalie", "Anomalies", PARTENAIRES),
    (partenaires.HabilitationAfasView, m.HabilitationAfas, "habilitation_afas", "Habilitations Afas", PARTENAIRES),
    (partenaires.ItemAnnuelAfasView, m.ItemAnnuelAfas, "item_annuel_afas", "Données annuelles Afas (R57)",
     PARTENAIRES),
    (ap.EtablissementView, m.Etablissement, "etablissement", "Établissements", AP),
    (ap.DemandeCreationCompteView, m.DemandeCreationCompte, "demande_creation_compte", "Inscriptions des employeurs",
     AP),
    (ap.AutorisationAPView, m.AutorisationAP, "autorisation_ap", "Autorisations", AP),
    (ap.SalarieView, m.Salarie, "salarie", "Salariés", AP),
    (ap.DemandeIndemnisationView, m.DemandeIndemnisation, "demande_indemnisation", "Demandes d'indemnisation", AP),
    (ap.LigneDIView, m.LigneDI, "ligne_di", "Heures par salarié", AP),
    # issue 16: NACRE (R51) and Adultes-relais (R52)
    (nacre.ConventionNacreView, m.ConventionNacre, "convention_nacre", "Conventions NACRE", PROGRAMMES),
    (nacre.EtatActiviteNacreView, m.EtatActiviteNacre, "etat_activite_nacre", "États d'activité NACRE", PROGRAMMES),
    (nacre.ExpertiseNacreView, m.ExpertiseNacre, "expertise_nacre", "Expertises NACRE", PROGRAMMES),
    (adultes_relais.PosteAdulteRelaisView, m.PosteAdulteRelais, "poste_adulte_relais", "Postes adultes-relais",
     PROGRAMMES),
    (adultes_relais.DeclarationAdulteRelaisView, m.DeclarationAdulteRelais, "declaration_adulte_relais",
     "Déclarations trimestrielles adultes-relais", PROGRAMMES),
    (adultes_relais.PaiementProgrammeView, m.Echeance, "paiement_programme", "Mes paiements", PROGRAMMES),
    (adultes_relais.ReversementProgrammeView, m.Reversement, "reversement_programme", "Mes ordres de reversement",
     PROGRAMMES),
    # issue 16: service civique (Elisa) and the ESAT extranet
    (service_civique.ContratServiceCiviqueView, m.ContratServiceCivique, "contrat_service_civique",
     "Contrats de service civique", SC),
    (service_civique.MoisServiceCiviqueView, m.MoisServiceCivique, "mois_service_civique", "Mois et paiements", SC),
    (service_civique.AgrementServiceCiviqueView, m.AgrementServiceCivique, "agrement_service_civique",
     "Agréments des organismes", SC),
    (esat.DeclarationGarantieView, m.DeclarationGarantie, "declaration_garantie", "Garantie de rémunération (GRTH)",
     ESAT),
    (esat.DotationDGFView, m.DotationDGF, "dotation_dgf", "Dotations globales (DGF)", ESAT),
    (esat.VersementDGFView, m.VersementDGF, "versement_dgf", "Versements de DGF", ESAT),
    (esat.DeclarationEAView, m.DeclarationEA, "declaration_ea", "Aide au poste (EA)", ESAT),
    (esat.AgrementEsatView, m.AgrementEsat, "agrement_esat", "Agréments ESAT et EA", ESAT),
    (esat.ReversementEsatView, m.Reversement, "reversement_esat", "Ordres de reversement (ESAT, EA)", ESAT),
    (referentiel.StructureView, m.Structure, "structure", "Structures", REFERENTIEL),
    (referentiel.DispositifView, m.Dispositif, "dispositif", "Dispositifs", REFERENTIEL),
    (referentiel.MotifSortieView, m.MotifSortie, "motif_sortie", "Motifs de sortie", REFERENTIEL),
    (echeances.CalendrierPaiementView, m.CalendrierPaiement, "calendrier_paiement", "Calendriers de paiement",
     REFERENTIEL),
    (comptes.CompteView, m.Compte, "compte", "Comptes", ADMINISTRATION),
    (comptes.CompteEtablissementView, m.CompteEtablissement, "compte_etablissement", "Habilitations partenaires",
     ADMINISTRATION),
    (comptes.DemandeHabilitationView, m.DemandeHabilitation, "demande_habilitation", "Demandes d'habilitation",
     ADMINISTRATION),
    (suivi.MailOutboxView, m.MailOutbox, "mail_outbox", "Mails", SUIVI),
    (suivi.JobOutboxView, m.JobOutbox, "job_outbox", "Jobs", SUIVI),
    (suivi.AuditEventView, m.AuditEvent, "audit_event", "Journal d'audit", SUIVI),
    (suivi.AuditSceauView, m.AuditSceau, "audit_sceau", "Sceaux du journal d'audit", SUIVI),
    (suivi.BulkRunView, m.BulkRun, "bulk_run", "Traitements de masse", SUIVI),
]


def all_views(session):
    return [cls(model, session, endpoint=endpoint, name=name, category=category)
            for cls, model, endpoint, name, category in GRIDS]
