"""SQLAlchemy 2 typed models, one module per aggregate. Importing this package registers them all."""

from .activite_partielle import AutorisationAP, DemandeIndemnisation, LigneDI, PieceJointe, Salarie
from .adultes_relais import DeclarationAdulteRelais
from .afas import Anomalie, DeclarationPartenaire, HabilitationAfas, LieuAccueil, LigneActivite
from .allocations import Allocation, DemandeHorsDelai, Ressource
from .audit import AuditEvent, AuditSceau, BulkRun
from .base import Base, Money
from .beneficiaires import Beneficiaire, CompteBancaire, Dispositif, Inscription, MotifSortie
from .cerfa import Cerfa
from .echeances import CalendrierPaiement, Echeance
from .comptes import Compte, CompteEtablissement, DemandeHabilitation, JetonCompte
from .nacre import EtatActiviteNacre, ExpertiseNacre
from .outbox import JobOutbox, MailOutbox
from .paiements import LotPaiement, Paiement
from .programmes import ContratServiceCivique, ConventionNacre, PosteAdulteRelais
from .retours import RetourBancaire
from .reversements import Compensation, EcheancierLigne, Remboursement, RemiseReversement, Reversement
from .structures import Etablissement, Structure

__all__ = [
    "Allocation", "Anomalie", "AuditEvent", "AuditSceau", "AutorisationAP", "Base", "Beneficiaire", "BulkRun",
    "CalendrierPaiement", "Cerfa", "Compte", "CompteBancaire", "CompteEtablissement", "ContratServiceCivique",
    "ConventionNacre", "DeclarationPartenaire", "DemandeHabilitation", "DemandeHorsDelai", "DemandeIndemnisation",
    "Dispositif", "Echeance", "Etablissement", "Inscription", "JetonCompte", "HabilitationAfas", "JobOutbox",
    "LieuAccueil",
    "LigneActivite", "LigneDI", "LotPaiement", "MailOutbox", "Money", "MotifSortie", "Paiement",
    "PieceJointe", "PosteAdulteRelais", "Remboursement", "RetourBancaire", "Ressource", "Reversement", "Salarie",
    "Structure", "Compensation", "EcheancierLigne", "RemiseReversement",
    "DeclarationAdulteRelais", "EtatActiviteNacre", "ExpertiseNacre",
]
