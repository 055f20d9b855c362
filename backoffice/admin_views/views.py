"""The grids, in menu order. Area modules hold the view classes; this list wires them.

The endpoint is the policy key (policy.POLICY) and the URL: /admin/<endpoint>/.
"""

from __future__ import annotations

from .. import models as m
from . import (activite_partielle as ap, adultes_relais, allocations, beneficiaires, comptes, echeances, nacre,
               paiements, partenaires, programmes, referentiel, reversements, suivi)

JEUNES, ALLOCATIONS, PAIEMENTS = "Jeunes", "Allocations", "Paiements"
PARTENAIRES, AP, PROGRAMMES = "Partenaires", "Activité partielle", "Programmes"
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
    (ap.EtablissementView, m.Etablissement, "etablissement", "Établissements", AP),
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
    (programmes.ContratServiceCiviqueView, m.ContratServiceCivique, "contrat_service_civique", "Service civique",
     PROGRAMMES),
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
