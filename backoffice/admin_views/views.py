"""The grids, in menu order. Area modules hold the view classes; this list wires them."""

from __future__ import annotations

from .. import models as m
from .base import ReadOnlyModelView, SecureModelView

# (model, endpoint, French name, menu category, base class)
GRIDS = [
    (m.Beneficiaire, "beneficiaire", "Bénéficiaires", "Jeunes", SecureModelView),
    (m.CompteBancaire, "compte_bancaire", "RIB", "Jeunes", SecureModelView),
    (m.Inscription, "inscription", "Parcours", "Jeunes", SecureModelView),
    (m.Cerfa, "cerfa", "Cerfa", "Jeunes", SecureModelView),
    (m.Allocation, "allocation", "Allocations", "Allocations", SecureModelView),
    (m.Ressource, "ressource", "Ressources déclarées", "Allocations", SecureModelView),
    (m.DemandeHorsDelai, "demande_hors_delai", "Hors délai", "Allocations", SecureModelView),
    (m.LotPaiement, "lot_paiement", "Lots de paiement", "Paiements", ReadOnlyModelView),
    (m.Paiement, "paiement", "Paiements", "Paiements", ReadOnlyModelView),
    (m.Reversement, "reversement", "Reversements", "Paiements", ReadOnlyModelView),
    (m.Remboursement, "remboursement", "Remboursements", "Paiements", SecureModelView),
    (m.DeclarationPartenaire, "declaration_partenaire", "Déclarations Afas", "Partenaires", SecureModelView),
    (m.LieuAccueil, "lieu_accueil", "Lieux d'accueil", "Partenaires", SecureModelView),
    (m.LigneActivite, "ligne_activite", "Données d'activité", "Partenaires", SecureModelView),
    (m.Anomalie, "anomalie", "Anomalies", "Partenaires", SecureModelView),
    (m.Etablissement, "etablissement", "Établissements", "Activité partielle", SecureModelView),
    (m.AutorisationAP, "autorisation_ap", "Autorisations", "Activité partielle", SecureModelView),
    (m.Salarie, "salarie", "Salariés", "Activité partielle", SecureModelView),
    (m.DemandeIndemnisation, "demande_indemnisation", "Demandes d'indemnisation", "Activité partielle", SecureModelView),
    (m.LigneDI, "ligne_di", "Heures par salarié", "Activité partielle", SecureModelView),
    (m.ConventionNacre, "convention_nacre", "Conventions NACRE", "Programmes", SecureModelView),
    (m.PosteAdulteRelais, "poste_adulte_relais", "Postes adultes-relais", "Programmes", SecureModelView),
    (m.ContratServiceCivique, "contrat_service_civique", "Service civique", "Programmes", SecureModelView),
    (m.Structure, "structure", "Structures", "Référentiel", SecureModelView),
    (m.Dispositif, "dispositif", "Dispositifs", "Référentiel", SecureModelView),
    (m.MotifSortie, "motif_sortie", "Motifs de sortie", "Référentiel", SecureModelView),
    (m.Compte, "compte", "Comptes", "Administration", SecureModelView),
    (m.CompteEtablissement, "compte_etablissement", "Habilitations partenaires", "Administration", SecureModelView),
    (m.MailOutbox, "mail_outbox", "Mails", "Suivi", ReadOnlyModelView),
    (m.JobOutbox, "job_outbox", "Jobs", "Suivi", ReadOnlyModelView),
    (m.AuditEvent, "audit_event", "Journal d'audit", "Suivi", ReadOnlyModelView),
    (m.BulkRun, "bulk_run", "Traitements de masse", "Suivi", ReadOnlyModelView),
]


def all_views(session):
    views = []
    for model, endpoint, name, category, base in GRIDS:
        cls = type(f"{model.__name__}View", (base,), {})
        views.append(cls(model, session, endpoint=endpoint, name=name, category=category))
    return views
