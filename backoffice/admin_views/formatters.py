"""Column formatters: amounts 1 234,56 €, dates JJ/MM/AAAA, statuses as badges; French labels."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from markupsafe import Markup

from ..i18n import format_date, format_montant
from ..models.enums import ROLE_LABELS, STATUT_COLORS, STATUT_LABELS

LABELS = {
    "id": "N°", "nom": "Nom", "prenom": "Prénom", "date_naissance": "Date de naissance",
    "email": "E-mail", "telephone": "Téléphone", "adresse": "Adresse", "code_postal": "Code postal",
    "ville": "Ville", "statut": "Statut", "montant": "Montant", "mois": "Mois", "antenne": "Antenne",
    "beneficiaire": "Bénéficiaire", "dispositif": "Dispositif", "inscription": "Parcours",
    "cerfa": "Cerfa", "numero": "N°", "libelle": "Libellé", "code": "Code", "type": "Type",
    "created_at": "Créé le", "updated_at": "Modifié le", "version": "Version",
    "identifiant_imilo": "Identifiant i-milo", "ressortissant_eee": "Ressortissant EEE",
    "numero_agdref": "N° AGDREF", "date_fin_titre_sejour": "Fin du titre de séjour",
    "inscrit_france_travail": "Inscrit France Travail", "qpv": "QPV", "rqth": "RQTH",
    "tranche_fiscale": "Situation fiscale", "protection_juridique": "Protection juridique",
    "iban": "IBAN", "bic": "BIC", "titulaire": "Titulaire", "type_compte": "Type de compte",
    "compte_joint": "Compte joint", "date_debut": "Début", "date_fin_prevue": "Fin prévue",
    "date_fin_reelle": "Fin réelle", "date_fin": "Fin", "referent": "Référent",
    "type_version": "Version", "date_signature": "Signé le", "montant_prevu": "Montant prévu",
    "motif_refus": "Motif de refus", "nature": "Nature", "montant_forfaitaire": "Forfait",
    "ressources_differentielles": "Ressources différentielles", "hors_delai": "Hors délai",
    "motif_blocage": "Motif de blocage", "lot": "Lot", "end_to_end_id": "EndToEndId",
    "reference": "Référence", "date_execution": "Exécution", "nb_paiements": "Paiements",
    "montant_total": "Montant total", "montant_rembourse": "Remboursé", "montant_remis": "Remis",
    "date_echeance": "Échéance", "date_notification": "Notifié le", "destinataire": "Destinataire",
    "template": "Modèle", "tentatives": "Tentatives", "derniere_erreur": "Dernière erreur",
    "at": "Date", "actor": "Auteur", "entity": "Objet", "entity_id": "N° objet", "action": "Action",
    "from_status": "Avant", "to_status": "Après", "login": "Identifiant", "role": "Rôle",
    "structure": "Structure", "failed_attempts": "Échecs", "locked_until": "Verrouillé jusqu'à",
    "last_login_at": "Dernière connexion", "siret": "SIRET", "raison_sociale": "Raison sociale",
    "exercice": "Exercice", "partenaire": "Partenaire", "etablissement": "Établissement",
    "annee": "Année", "demandeur": "Demandeur", "approbateur": "Approbateur", "motif": "Motif",
    "montant_demande": "Montant demandé", "montant_approuve": "Montant approuvé",
    "droit_estime": "Droit estimé", "subvention_annuelle": "Subvention annuelle",
    "avance_versee": "Avance versée", "aide_mensuelle": "Aide mensuelle", "aide_annuelle": "Aide annuelle",
    "indemnite_mensuelle": "Indemnité mensuelle", "prestation_accueil": "Prestation d'accueil",
    "operateur": "Opérateur", "employeur": "Employeur", "organisme": "Organisme d'accueil",
    "taux_horaire_brut": "Taux horaire brut", "heures_chomees": "Heures chômées",
    "heures_travaillees": "Heures travaillées", "indemnite": "Indemnité", "allocation": "Allocation",
    "montant_allocation": "Allocation", "montant_indemnites": "Indemnités", "nb_salaries": "Salariés",
    "code_secret": "Code secret", "transition": "Transition", "workflow": "Workflow",
    "total": "Total", "traites": "Traités", "modifies": "Modifiés", "refus": "Refus",
    "must_change_password": "Changement de mot de passe exigé", "date_reception": "Reçu le",
    "categorie": "Catégorie", "type_ressource": "Ressource", "mois_reference": "Mois de référence",
    "parent": "Structure parente", "sortie_positive": "Sortie positive", "motif_sortie": "Motif de sortie",
    "nb_renouvellements": "Renouvellements", "allocation_autorisee": "Allocation autorisée",
    "renouvelable": "Renouvelable", "duree_max_mois": "Durée max. (mois)", "lieu": "Lieu",
    "compte_bancaire": "RIB", "titulaire_rib": "Titulaire (cerfa)", "rib_imprime": "RIB imprimé",
    "origine": "Origine", "mode": "Mode", "semestre": "Semestre", "justification": "Justification",
    "salarie": "Salarié", "demande": "DI", "autorisation": "Autorisation", "cle": "Clé",
    "fonction": "Job", "file": "File", "sujet": "Objet", "envoye_at": "Envoyé le",
    "prochain_essai_at": "Prochain essai", "params": "Paramètres", "diff": "Modifications",
    "ip": "Adresse IP", "quotite": "Quotité (%)", "majoration_sociale": "Majoration sociale",
}


def label_for(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    head = name.split(".")[-1]
    return LABELS.get(head, head.replace("_", " ").capitalize())


def statut_badge(value) -> Markup:
    key = str(getattr(value, "value", value))
    color = STATUT_COLORS.get(key, "light")
    return Markup('<span class="badge badge-{} badge-statut" data-statut="{}">{}</span>').format(
        color, key, STATUT_LABELS.get(key, key))


def _money(view, context, model, name):
    return format_montant(getattr(model, name))


def _date(view, context, model, name):
    return format_date(getattr(model, name))


def _statut(view, context, model, name):
    value = getattr(model, name)
    return statut_badge(value) if value is not None else ""


def _bool(view, context, model, name):
    value = getattr(model, name)
    return "Oui" if value else ("Non" if value is not None else "")


def _enum(view, context, model, name):
    value = getattr(model, name)
    if value is None:
        return ""
    return STATUT_LABELS.get(str(value.value), str(value.value).replace("_", " ").capitalize())


def _mois(view, context, model, name):
    value = getattr(model, name)
    return value.strftime("%m/%Y") if value else ""


def formatters_for(model) -> dict:
    """Formatters chosen from the column types, so every grid formats alike without configuration."""
    out = {}
    for col in sa.inspect(model).columns:
        t = col.type
        if col.key == "mois" and isinstance(t, sa.Date):
            out[col.key] = _mois
        elif isinstance(t, sa.Numeric) and not isinstance(t, sa.Float) and t.scale == 2 and t.precision == 12:
            out[col.key] = _money
        elif isinstance(t, sa.Enum) and col.key == "statut":
            out[col.key] = _statut
        elif isinstance(t, sa.Enum):
            out[col.key] = _enum
        elif isinstance(t, (sa.Date, sa.DateTime)):
            out[col.key] = _date
        elif isinstance(t, sa.Boolean):
            out[col.key] = _bool
    return out


def export_value(value):
    """Export cells: amounts with a decimal comma (French spreadsheets), enums as their labels."""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, enum.Enum):
        return STATUT_LABELS.get(str(value.value), str(value.value))
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    return "" if value is None else str(value)
