"""SQLAlchemy 2 typed models, one module per aggregate. Importing this package registers them all."""

from .activite_partielle import AutorisationAP, DemandeIndemnisation, LigneDI, PieceJointe, Salarie
from .adultes_relais import DeclarationAdulteRelais
from .afas import (Anomalie, DeclarationPartenaire, HabilitationAfas, ItemAnnuelAfas, LieuAccueil, LigneActivite,
                   ValeurItemAfas)
from .allocations import Allocation, DemandeHorsDelai, Ressource
from .audit import AuditEvent, AuditSceau, BulkRun
from .base import Base, Money
from .beneficiaires import ActionParcours, Beneficiaire, CompteBancaire, Dispositif, Inscription, MotifSortie
from .cerfa import Cerfa
from .echeances import CalendrierPaiement, Echeance
from .inscriptions import DefiCaptcha, DemandeCreationCompte
from .grilles import FiltreEnregistre
from .esat import AgrementEsat, DeclarationEA, DeclarationGarantie, DotationDGF, VersementDGF
from .comptes import Compte, CompteEtablissement, DemandeHabilitation, JetonCompte
from .nacre import EtatActiviteNacre, ExpertiseNacre
from .outbox import JobOutbox, MailOutbox
from .paiements import CONTROLES_ENSEMBLISTES, LotPaiement, Paiement
from .programmes import ContratServiceCivique, ConventionNacre, PosteAdulteRelais
from .retours import RetourBancaire
from .service_civique import AgrementServiceCivique, MoisServiceCivique, PieceServiceCivique
from .reversements import Compensation, EcheancierLigne, Remboursement, RemiseReversement, Reversement
from .structures import Etablissement, Structure
from .territoires import Departement, Region

__all__ = [
    "CONTROLES_ENSEMBLISTES", "ActionParcours", "Allocation", "Anomalie", "AuditEvent", "AuditSceau", "AutorisationAP", "Base", "Beneficiaire", "BulkRun",
    "CalendrierPaiement", "Cerfa", "Compte", "CompteBancaire", "CompteEtablissement", "ContratServiceCivique",
    "ConventionNacre", "DeclarationPartenaire", "DefiCaptcha", "DemandeCreationCompte", "DemandeHabilitation", "DemandeHorsDelai", "DemandeIndemnisation",
    "Dispositif", "Echeance", "Etablissement", "Inscription", "JetonCompte", "HabilitationAfas", "JobOutbox",
    "LieuAccueil",
    "LigneActivite", "LigneDI", "LotPaiement", "MailOutbox", "Money", "MotifSortie", "Paiement",
    "PieceJointe", "PosteAdulteRelais", "Remboursement", "RetourBancaire", "Ressource", "Reversement", "Salarie",
    "Structure", "Compensation", "EcheancierLigne", "RemiseReversement",
    # issue 16: service civique, ESAT and entreprises adaptées
    "AgrementEsat", "AgrementServiceCivique", "DeclarationEA", "DeclarationGarantie", "DotationDGF",
    "MoisServiceCivique", "PieceServiceCivique", "VersementDGF",
    "Structure", "Compensation", "EcheancierLigne", "RemiseReversement", "ItemAnnuelAfas", "ValeurItemAfas",
    "DeclarationAdulteRelais", "EtatActiviteNacre", "ExpertiseNacre",
    "Departement", "Region",  # issue 16: pilotage's referential
    "FiltreEnregistre",  # issue 18: saved filters per user
]

from .grilles import _declare_indexes  # noqa: E402  (every table registered first)

_declare_indexes()
