"""One StrEnum per life cycle; values are the French words stored in the database."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SIEGE = "siege"
    MANAGER = "manager"
    SUPPORT = "support"
    COMPTABLE = "comptable"
    CONSEILLER = "conseiller"
    PARTENAIRE = "partenaire"
    UD = "ud"  # unité départementale (activité partielle): decides DAP, checks DI, in its département
    CAF = "caf"  # agent of the Caf (Afas, issue 15): processes the partners' declarations, pays the PS
    ARS = "ars"  # agent of the Agence régionale de santé (issue 16, R53): sets the ESATs' DGF, in its région


ROLE_LABELS = {
    Role.ADMIN: "Administrateur",
    Role.SIEGE: "Siège (validation)",
    Role.MANAGER: "Manager",
    Role.SUPPORT: "Support",
    Role.COMPTABLE: "Agent comptable",
    Role.CONSEILLER: "Conseiller",
    Role.PARTENAIRE: "Partenaire (extranet)",
    Role.UD: "Agent de l'UD (activité partielle)",
    Role.CAF: "Agent de la Caf (Afas)",
    Role.ARS: "Agent de l'ARS (ESAT)",
}


class TypeStructure(StrEnum):
    SIEGE = "siege"
    ANTENNE = "antenne"
    PARTENAIRE_AFAS = "partenaire_afas"
    ORGANISME_ACCUEIL = "organisme_accueil"
    OPERATEUR_NACRE = "operateur_nacre"
    EMPLOYEUR = "employeur"
    UD = "ud"  # unité départementale: its code_postal gives the département its agents see
    ESAT = "esat"  # établissement et service d'aide par le travail (R53)
    EA = "ea"  # entreprise adaptée (R54)
    ARS = "ars"  # agence régionale de santé: its code_postal gives the région its agents see (R53)


class CompteStatut(StrEnum):
    ACTIF = "actif"
    VERROUILLE = "verrouille"
    DESACTIVE = "desactive"


class TrancheFiscale(StrEnum):
    NON_IMPOSABLE = "non_imposable"
    TRANCHE_1 = "tranche_1"
    AU_DELA = "au_dela"


class ProtectionJuridique(StrEnum):
    AUCUNE = "aucune"
    MINEUR = "mineur"
    TUTELLE = "tutelle"
    CURATELLE = "curatelle"


class TypeCompteBancaire(StrEnum):
    COURANT = "courant"
    LIVRET_A = "livret_a"
    EPARGNE = "epargne"


class InscriptionStatut(StrEnum):
    OUVERT = "ouvert"
    RENOUVELE = "renouvele"
    CLOTURE = "cloture"


class CerfaType(StrEnum):
    INITIAL = "initial"
    RENOUVELLEMENT = "renouvellement"
    CORRECTIF = "correctif"


class CerfaStatut(StrEnum):
    SAISI = "saisi"
    SIGNE_RECU = "signe_recu"
    VALIDE_SIEGE = "valide_siege"
    TRANSMIS = "transmis"
    ACCEPTE = "accepte"
    REFUSE = "refuse"


class AllocationNature(StrEnum):
    ENTREE = "entree"
    COURANTE = "courante"
    PREMIERE_RENOUVELLEMENT = "premiere_renouvellement"
    HORS_DELAI = "hors_delai"
    RECTIFICATIVE = "rectificative"


class AllocationStatut(StrEnum):
    ENREGISTREE = "enregistree"
    SOUMISE = "soumise"
    VALIDEE_SIEGE = "validee_siege"
    TRANSMISE = "transmise"
    ACCEPTEE = "acceptee"
    VERSEE = "versee"
    REFUSEE = "refusee"
    REMPLACEE = "remplacee"  # superseded by a corrective version (R46)
    RIEN_A_PAYER = "rien_a_payer"  # closed when sent to payment: amount 0 (R25) or correction differential 0 (R46)


class CategorieRessource(StrEnum):
    DEDUCTIBLE = "deductible"  # R24
    DEGRESSIVE = "degressive"  # R25
    SUSPENSIVE = "suspensive"  # R26
    NON_CUMULABLE = "non_cumulable"  # R27 (RSA, prime d'activité)
    EXCLUE = "exclue"  # R29


class HorsDelaiStatut(StrEnum):
    EN_ATTENTE = "en_attente"
    APPROUVEE = "approuvee"
    REFUSEE = "refusee"
    ANNULEE = "annulee"


class LotStatut(StrEnum):
    PREPAREE = "preparee"
    EMISE = "emise"
    RAPPROCHEE = "rapprochee"


class PaiementStatut(StrEnum):
    EN_ATTENTE = "en_attente"
    EMIS = "emis"
    EXECUTE = "execute"
    REJETE = "rejete"
    COMPENSE = "compense"  # wholly offset against a debt (recouvrement): no transfer, never in a file


class SourceEcheance(StrEnum):
    """What a payable (échéance) pays (issue 13): one source, paid at most once per period."""
    ALLOCATION = "allocation"  # a version of a CEJ/PACEA allowance (R41-R47)
    DI_ACTIVITE_PARTIELLE = "di_activite_partielle"  # an Activité partielle claim (R74)
    AFAS_ACOMPTE = "afas_acompte"
    AFAS_SOLDE = "afas_solde"
    NACRE_AVANCE = "nacre_avance"  # R51
    NACRE_MENSUALITE = "nacre_mensualite"
    ADULTE_RELAIS_MOIS = "adulte_relais_mois"  # R52
    SERVICE_CIVIQUE_MOIS = "service_civique_mois"  # R55: the volunteer's month (indemnity + social increase)
    SC_SUBVENTION = "sc_subvention"  # R55: the month's subsidy to an associative host
    ESAT_GARANTIE = "esat_garantie"  # R53: reimbursement of a monthly pay-guarantee declaration (GRTH)
    ESAT_DGF = "esat_dgf"  # R53: an instalment of the DGF set by the ARS
    EA_AIDE_POSTE = "ea_aide_poste"  # R54: the EA's aid per post for a declared month
    NACRE_EXPERTISE = "nacre_expertise"  # R51: a specialised expertise, on its contract and invoice
    ADULTE_RELAIS_REGUL = "adulte_relais_regul"  # R52: the complement of a quarterly regularisation


class TypeBeneficiairePaiement(StrEnum):
    """Who a payable is paid to."""
    JEUNE = "jeune"
    ETABLISSEMENT = "etablissement"
    PARTENAIRE = "partenaire"
    STRUCTURE_ACCUEIL = "structure_accueil"
    VOLONTAIRE = "volontaire"
    ESAT = "esat"  # an ESAT or an EA (structure id, R53, R54)


class EcheanceStatut(StrEnum):
    A_PAYER = "a_payer"
    EN_LOT = "en_lot"
    PAYEE = "payee"
    REJETEE = "rejetee"  # « à repayer »: its payment was refused or rejected
    ANNULEE = "annulee"


class ReversementStatut(StrEnum):
    EMIS = "emis"
    NOTIFIE = "notifie"
    EN_RECOUVREMENT = "en_recouvrement"
    REMISE_A_VALIDER = "remise_a_valider"  # a remise above the threshold waits for a second manager
    SOLDE = "solde"
    REMIS = "remis"
    ANNULE = "annule"


class MailStatut(StrEnum):
    EN_FILE = "en_file"
    ENVOYE = "envoye"
    ECHEC = "echec"


class JobOutboxStatut(StrEnum):
    A_ENVOYER = "a_envoyer"
    EN_FILE = "en_file"
    TERMINE = "termine"


class BulkRunStatut(StrEnum):
    APERCU = "apercu"  # frozen and previewed, not confirmed yet
    EN_ATTENTE = "en_attente"
    EN_COURS = "en_cours"
    TERMINE = "termine"
    ECHEC = "echec"


class DeclarationType(StrEnum):
    PREVISIONNELLE = "previsionnelle"
    ACTUALISATION = "actualisation"
    REELLE = "reelle"


class DeclarationStatut(StrEnum):
    EN_SAISIE = "en_saisie"
    CONTROLEE = "controlee"
    APPROUVEE = "approuvee"
    TRANSMISE = "transmise"
    EN_TRAITEMENT = "en_traitement"
    TRAITEE = "traitee"
    RENVOYEE = "renvoyee"  # back to the partner with a reason (issue 15), corrected, checked again


class HabilitationAfasRole(StrEnum):
    """R60: what a partner's user may do on their service's Afas declarations."""

    FOURNISSEUR_ACTIVITE = "fournisseur_activite"
    FOURNISSEUR_FINANCIER = "fournisseur_financier"
    APPROBATEUR = "approbateur"


class NatureAnomalie(StrEnum):
    """R59: a blocking anomaly must be fixed; a justifiable one needs a written justification."""

    BLOQUANTE = "bloquante"
    JUSTIFIABLE = "justifiable"


class ModeLieu(StrEnum):
    MONO_LIEU = "mono_lieu"
    ITINERANCE = "itinerance"
    ANTENNE = "antenne"


class TypeItemAfas(StrEnum):
    """R57: the kind of a yearly item of the actual declaration (issue 15 §2: items as data)."""

    ENTIER = "entier"
    DECIMAL = "decimal"
    MONTANT = "montant"
    OUI_NON = "oui_non"
    TEXTE = "texte"


class PartAfas(StrEnum):
    """R60: which provider fills a part of a declaration in."""

    ACTIVITE = "activite"
    FINANCES = "finances"


class MotifAP(StrEnum):
    CONJONCTURE = "1_conjoncture"
    APPROVISIONNEMENT = "2_approvisionnement"
    SINISTRE = "3_sinistre_intemperies"
    RESTRUCTURATION = "4_restructuration"
    AUTRE = "5_autre"


class AutorisationStatut(StrEnum):
    DEPOSEE = "deposee"
    ACCORDEE = "accordee"
    REFUSEE = "refusee"
    ACCORD_IMPLICITE = "accord_implicite"
    EXPIREE = "expiree"


class FormeAmenagement(StrEnum):
    """R71: how the activity is reduced: reduced hours (worked hours typed) or total closure."""

    REDUCTION = "reduction"
    FERMETURE = "fermeture"


class DIStatut(StrEnum):
    CREEE = "creee"
    EN_SAISIE = "en_saisie"
    ENVOYEE = "envoyee"
    VALIDEE = "validee"
    INVALIDEE = "invalidee"
    PAYEE = "payee"


class ConventionStatut(StrEnum):
    EN_COURS = "en_cours"
    TERMINEE = "terminee"
    RESILIEE = "resiliee"


class EtatActiviteStatut(StrEnum):
    """R51: the NACRE operator's monthly activity statement."""

    EN_SAISIE = "en_saisie"
    TRANSMIS = "transmis"
    VALIDE = "valide"
    VERSE = "verse"  # its month paid (or absorbed by the advance) by the monthly run
    REJETE = "rejete"


class ExpertiseStatut(StrEnum):
    """R51: a specialised expertise, filed with its contract and the supplier's invoice."""

    DEPOSEE = "deposee"
    VALIDEE = "validee"
    REFUSEE = "refusee"


class DeclarationARStatut(StrEnum):
    """R52: the employer's quarterly declaration of an adulte-relais post."""

    EN_SAISIE = "en_saisie"
    DEPOSEE = "deposee"
    REGULARISEE = "regularisee"


class RoleEtablissement(StrEnum):
    CONTACT_PRINCIPAL = "contact_principal"
    UTILISATEUR = "utilisateur"
    TIERS_DECLARANT = "tiers_declarant"


class CreationCompteStatut(StrEnum):
    """An employer's sign-up on the Activité partielle extranet, one per SIRET (R62, R63), validated by the
    siège or the UD (R65)."""

    DEPOSEE = "deposee"
    VALIDEE = "validee"
    REFUSEE = "refusee"


class HabilitationStatut(StrEnum):
    """An added user of an establishment, requested by its main contact (R64)."""

    DEMANDEE = "demandee"
    ACCORDEE = "accordee"
    REFUSEE = "refusee"
    ANNULEE = "annulee"


class MoisProgrammeStatut(StrEnum):
    """A programme's monthly line (a service civique month, a DGF instalment): computed, then paid."""

    CALCULE = "calcule"
    LIQUIDE = "liquide"  # its payables are created and sent to payment
    ANNULE = "annule"


class DeclarationEsatStatut(StrEnum):
    """An ESAT's pay-guarantee declaration (R53) or an EA's aid-per-post declaration (R54)."""

    DEPOSEE = "deposee"
    VALIDEE = "validee"
    LIQUIDEE = "liquidee"  # its payable is created and sent to payment
    REFUSEE = "refusee"


STATUT_LABELS: dict[str, str] = {
    "actif": "Actif", "verrouille": "Verrouillé", "desactive": "Désactivé",
    "ouvert": "Ouvert", "renouvele": "Renouvelé", "cloture": "Clôturé",
    "saisi": "Saisi", "signe_recu": "Signé reçu", "valide_siege": "Validé siège",
    "transmis": "Transmis ASP", "accepte": "Accepté ASP", "refuse": "Refusé",
    "enregistree": "Enregistrée", "soumise": "Soumise", "validee_siege": "Validée siège",
    "transmise": "Transmise ASP", "acceptee": "Acceptée ASP", "versee": "Versée",
    "refusee": "Refusée", "remplacee": "Remplacée (corrigée)", "rien_a_payer": "Close : rien à payer",
    "en_attente": "En attente", "approuvee": "Approuvée", "annulee": "Annulée",
    "preparee": "Préparé", "emise": "Émis", "rapprochee": "Rapproché",
    "emis": "Émis", "execute": "Exécuté", "rejete": "Rejeté",
    "notifie": "Notifié", "en_recouvrement": "En recouvrement", "solde": "Soldé",
    "remis": "Remis", "annule": "Annulé",
    "remise_a_valider": "Remise à valider", "compense": "Compensé",
    "en_file": "En file", "envoye": "Envoyé", "echec": "Échec",
    "en_cours": "En cours", "termine": "Terminé", "apercu": "Aperçu (non confirmé)",
    "en_saisie": "En saisie", "controlee": "Contrôlée", "en_traitement": "En traitement",
    "traitee": "Traitée", "renvoyee": "Renvoyée au partenaire",
    "deposee": "Déposée", "accordee": "Accordée", "accord_implicite": "Accord implicite",
    "expiree": "Expirée", "creee": "Créée", "envoyee": "Envoyée à l'UD", "validee": "Validée",
    "invalidee": "Invalidée", "payee": "Payée", "terminee": "Terminée", "resiliee": "Résiliée",
    "demandee": "Demandée",
    "reduction": "Réduction de l'horaire", "fermeture": "Fermeture totale",
    "a_payer": "À payer", "en_lot": "En lot", "rejetee": "À repayer (rejetée)",
    "calcule": "Calculé", "liquide": "Liquidé (envoyé en paiement)", "liquidee": "Liquidée (envoyée en paiement)",
    "valide": "Validé", "verse": "Versé", "regularisee": "Régularisée",
}

STATUT_COLORS: dict[str, str] = {
    "verrouille": "danger", "desactive": "secondary", "refuse": "danger", "refusee": "danger",
    "rejete": "danger", "echec": "danger", "invalidee": "danger", "annule": "secondary",
    "annulee": "secondary", "remplacee": "secondary", "cloture": "secondary", "rien_a_payer": "secondary",
    "valide_siege": "info", "validee_siege": "info", "soumise": "primary", "signe_recu": "primary",
    "transmis": "primary", "transmise": "primary", "en_attente": "warning", "en_file": "warning",
    "accepte": "success", "acceptee": "success", "versee": "success", "solde": "success",
    "envoye": "success", "actif": "success", "approuvee": "success", "payee": "success",
    "emise": "primary", "emis": "primary", "execute": "success", "rapprochee": "success",
    "termine": "success", "en_recouvrement": "warning", "notifie": "info",
    "demandee": "warning", "accordee": "success",
    "remise_a_valider": "warning", "compense": "info",
    "renvoyee": "danger", "traitee": "success", "controlee": "info", "en_traitement": "primary",
    "a_payer": "info", "en_lot": "primary", "rejetee": "danger",
    "calcule": "info", "liquide": "success", "liquidee": "success", "deposee": "warning",
    "valide": "info", "verse": "success", "regularisee": "success",
}
