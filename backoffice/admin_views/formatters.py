"""Column formatters: amounts 1 234,56 €, dates JJ/MM/AAAA, months MM/AAAA, statuses as badges,
enum values as French labels, relations as links to their own grid; French labels.

Formatters are chosen from the column types (`formatters_for`), so every grid formats alike without
configuration; a view adds its own only for computed properties or special columns (IBAN).
"""

from __future__ import annotations

import enum
import json
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from markupsafe import Markup

from ..i18n import format_date, format_montant, format_nombre
from ..models.enums import ROLE_LABELS, STATUT_COLORS, STATUT_LABELS, Role

_SENTINELLE = "987654321987654321"
_LIENS: dict = {}


def lien_fiche(endpoint: str, ident) -> str:
    """`url_for(f"{endpoint}.details_view", id=ident)` for an integer id, the URL built once per grid (and script
    root) then completed: a record page or a grid links a dozen records, and werkzeug's URL building was a fifth of
    what a record page does beyond plain Flask-Admin's (issue 20, profiled)."""
    from flask import request, url_for
    key = (endpoint, request.script_root)
    parts = _LIENS.get(key)
    if parts is None:
        parts = _LIENS[key] = tuple(url_for(f"{endpoint}.details_view", id=_SENTINELLE).split(_SENTINELLE))
    if len(parts) != 2:  # the id not found once in the URL: built as usual
        return url_for(f"{endpoint}.details_view", id=ident)
    return f"{parts[0]}{int(ident)}{parts[1]}"


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
    # additions for the area grids
    "nom_recherche": "Nom (recherche)", "date_inscription_france_travail": "Inscrit à France Travail le",
    "reference_jugement": "Référence du jugement", "micro_entrepreneur": "Micro-entrepreneur",
    "activite_micro": "Activité micro-entreprise", "date_immatriculation_micro": "Immatriculé le",
    "actif": "Actif", "prescripteur": "Prescripteur", "pilote": "Pilote", "precedente": "Parcours précédent",
    "precedent": "Cerfa précédent", "duree_prevue_mois": "Durée prévue (mois)",
    "valide_siege_at": "Validé siège le", "decision_asp_at": "Décision ASP le", "corrige": "Version corrigée",
    "soumise_at": "Soumise le", "validee_at": "Validée le", "transmise_at": "Transmise le",
    "versee_at": "Versée le", "decision_at": "Décision le", "emis_at": "Émis le", "rapproche_at": "Rapproché le",
    "fichier_sha256": "Empreinte du fichier SEPA", "motif_rejet": "Motif du rejet", "solde_at": "Soldé le",
    "reste_du": "Reste dû", "libelle_voie": "Libellé de voie", "complement_adresse": "Complément d'adresse",
    "effectif": "Effectif", "referent_nom": "Référent", "deposee_at": "Déposée le", "avis_cse": "Avis du CSE",
    "heures_prevues": "Heures prévues", "numero_securite_sociale": "N° de sécurité sociale",
    "heures_contrat_mensuelles": "Heures mensuelles au contrat", "apprenti": "Apprenti",
    "envoyee_at": "Envoyée le", "motif_invalidation": "Motif d'invalidation", "periode": "Période",
    "budget": "Budget", "charges": "Charges", "produits": "Produits", "approuvee_par": "Approuvée par",
    "commune": "Commune", "declaration": "Déclaration", "heures_rencontres": "Heures de rencontres",
    "heures_entretiens": "Heures d'entretiens", "heures_organisation": "Heures d'organisation",
    "numero_convention": "N° de convention", "salarie_nom": "Nom du salarié",
    "salarie_prenom": "Prénom du salarié", "salarie_date_naissance": "Naissance du salarié",
    "volontaire_nom": "Nom du volontaire", "volontaire_prenom": "Prénom du volontaire",
    "volontaire_date_naissance": "Naissance du volontaire", "date_premier_contrat": "Premier contrat le",
    "compte": "Compte", "contexte": "Contexte", "job_id": "Identifiant RQ", "enqueued_at": "Mis en file le",
    "termine_at": "Terminé le", "arguments": "Arguments", "bulk_run_id": "Traitement de masse",
    "prev_hash": "Empreinte précédente", "hash": "Empreinte", "description": "Description",
    "erreur": "Erreur", "last_failed_at": "Dernier échec", "locked_at": "Verrouillé le",
    "password_changed_at": "Mot de passe changé le", "duree_min_jours": "Durée min. (jours)",
    "nb_renouvellements_max": "Renouvellements max.", "duree_renouvellement_mois": "Durée d'un renouvellement (mois)",
    "longueur_max_titulaire": "Titulaire RIB max. (caractères)", "france_travail_requis": "France Travail requis",
    "pilote_code": "Code pilote", "age_min": "Âge min.", "age_max": "Âge max.", "demande_par": "Demandé par",
    "decide_par": "Décidée par", "confirmation_email": "Confirmation de l'e-mail",
}

# Values of the non-status enums (statuses are in models.enums.STATUT_LABELS).
ENUM_LABELS: dict[str, str] = {
    # TypeCompteBancaire
    "courant": "Compte courant", "livret_a": "Livret A", "epargne": "Compte d'épargne",
    # TrancheFiscale
    "non_imposable": "Non imposable", "tranche_1": "Tranche 1", "au_dela": "Au-delà de la tranche 1",
    # ProtectionJuridique
    "aucune": "Aucune", "mineur": "Mineur", "tutelle": "Tutelle", "curatelle": "Curatelle",
    # CerfaType
    "initial": "Initial", "renouvellement": "Renouvellement", "correctif": "Correctif",
    # AllocationNature
    "entree": "Entrée", "courante": "Courante", "premiere_renouvellement": "1re de renouvellement",
    "hors_delai": "Hors délai", "rectificative": "Rectificative",
    # CategorieRessource
    "deductible": "Déductible", "degressive": "Dégressive", "suspensive": "Suspensive",
    "non_cumulable": "Non cumulable", "exclue": "Exclue",
    # TypeStructure
    "siege": "Siège", "antenne": "Antenne", "partenaire_afas": "Partenaire Afas",
    "organisme_accueil": "Organisme d'accueil", "operateur_nacre": "Opérateur NACRE", "employeur": "Employeur",
    # DeclarationType, ModeLieu
    "previsionnelle": "Prévisionnelle", "actualisation": "Actualisation", "reelle": "Réelle",
    "mono_lieu": "Mono-lieu", "itinerance": "Itinérance",
    # TypeItemAfas, PartAfas (issue 15 §2)
    "entier": "Nombre entier", "decimal": "Nombre décimal", "oui_non": "Oui / non", "texte": "Texte",
    "activite": "Données d'activité", "finances": "Données financières",
    # MotifAP
    "1_conjoncture": "1 – Conjoncture économique", "2_approvisionnement": "2 – Difficultés d'approvisionnement",
    "3_sinistre_intemperies": "3 – Sinistre ou intempéries", "4_restructuration": "4 – Restructuration",
    "5_autre": "5 – Autre circonstance exceptionnelle",
    # RoleEtablissement
    "contact_principal": "Contact principal", "utilisateur": "Utilisateur", "tiers_declarant": "Tiers déclarant",
    # SourceEcheance of NACRE and Adultes-relais (issue 16)
    "nacre_avance": "Avance NACRE (25 %)", "nacre_mensualite": "Paiement mensuel NACRE",
    "nacre_expertise": "Expertise NACRE", "adulte_relais_mois": "Aide mensuelle adulte-relais",
    "adulte_relais_regul": "Complément de régularisation adulte-relais",
}


def label_for(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    head = name.split(".")[-1]
    return LABELS.get(head, head.replace("_", " ").capitalize())


def enum_label(value) -> str:
    """French label of a StrEnum member or of its stored value."""
    if value is None:
        return ""
    if isinstance(value, Role):  # "siege" is a role and a type of structure: the class decides
        return ROLE_LABELS.get(value, value.value)
    key = str(getattr(value, "value", value))
    return STATUT_LABELS.get(key) or ENUM_LABELS.get(key) or key.replace("_", " ").capitalize()


def enum_choices(enum_cls, exclude=()) -> list[tuple[str, str]]:
    """[(stored value, French label)] for a select box or a filter."""
    return [(m.value, enum_label(m)) for m in enum_cls if m not in exclude and m.value not in exclude]


def statut_badge(value) -> Markup:
    key = str(getattr(value, "value", value))
    color = STATUT_COLORS.get(key, "light")
    return Markup('<span class="badge badge-{} badge-statut" data-statut="{}">{}</span>').format(
        color, key, STATUT_LABELS.get(key, key))


def _attr(model, name):
    value = model
    for part in name.split("."):
        value = getattr(value, part, None) if value is not None else None
    return value


def money(view, context, model, name):
    value = _attr(model, name)
    if value is None:
        return ""
    # data-valeur: the exact amount, which static/totaux.js sums for the ticked rows (issue 18)
    return Markup('<span class="bo-montant" data-valeur="{}">{}</span>').format(f"{Decimal(value):.2f}",
                                                                               format_montant(value))


def nombre(view, context, model, name):
    """A decimal that is not money (hours, a rate): 151,67 (issue 19 §2)."""
    value = _attr(model, name)
    return format_nombre(value) if value is not None else ""


# The mail templates (templates/mail/<code>.txt) as a user reads them in the mails grid (issue 19 §2).
MAIL_TEMPLATE_LABELS = {
    "allocation_refusee": "Allocation refusée", "ap_decision": "AP : décision sur la demande",
    "ap_di_envoyee": "AP : demande d'indemnisation envoyée", "ap_di_invalidee": "AP : demande d'indemnisation invalidée",
    "ap_di_payee": "AP : allocation versée", "ap_di_validee": "AP : demande d'indemnisation validée",
    "compte_deverrouille": "Compte déverrouillé", "demande_habilitation_traitee": "Demande d'habilitation traitée",
    "habilitation_accordee": "Habilitation accordée", "identifiant_oublie": "Identifiant oublié",
    "payeur": "Message au payeur", "premier_mot_de_passe": "Premier mot de passe",
    "reinitialisation_mot_de_passe": "Réinitialisation du mot de passe", "reversement_notifie": "Reversement notifié",
    "reversement_echeancier": "Reversement : échéancier accordé", "reversement_relance": "Reversement : relance d'échéance",
    "afas_transmise": "Afas : déclaration transmise", "afas_en_traitement": "Afas : déclaration en traitement",
    "afas_traitee": "Afas : déclaration traitée", "afas_renvoyee": "Afas : déclaration renvoyée",
    "inscription_identifiant": "AP : identifiant du nouveau compte", "inscription_habilitation": "AP : habilitation créée",
    "inscription_refusee": "AP : création de compte refusée",
}


def mail_template(view, context, model, name):
    code = _attr(model, name)
    return MAIL_TEMPLATE_LABELS.get(code, code or "")


def mail_sujet(view, context, model, name):
    """A mail's « Objet »: the one it was sent with, or, while it waits in the outbox, the first line of its
    template (« Objet : … ») rendered with its own context (issue 19 §2: the column was empty until sending)."""
    if model.sujet:
        return model.sujet
    from flask import current_app
    try:
        source, _f, _u = current_app.jinja_env.loader.get_source(current_app.jinja_env, f"mail/{model.template}.txt")
        ligne = source.partition("\n")[0]
        sujet = current_app.jinja_env.from_string(ligne).render(**(model.contexte or {}))
    except Exception:  # noqa: BLE001 - an unknown template or a context the line cannot use: the column stays empty
        return ""
    return sujet.removeprefix("Objet :").strip()


def date_fr(view, context, model, name):
    return format_date(_attr(model, name))


def statut(view, context, model, name):
    value = _attr(model, name)
    return statut_badge(value) if value else ""


def yes_no(view, context, model, name):
    value = _attr(model, name)
    return "Oui" if value else ("Non" if value is not None else "")


def enum_fr(view, context, model, name):
    return enum_label(_attr(model, name))


def mois(view, context, model, name):
    value = _attr(model, name)
    return value.strftime("%m/%Y") if value else ""


def iban_groupes(view, context, model, name):
    """FR76 3000 6000 0112 3456 7890 189: readable and still copyable."""
    value = _attr(model, name)
    if not value:
        return ""
    return Markup('<span class="bo-iban">{}</span>').format(" ".join(value[i:i + 4] for i in range(0, len(value), 4)))


def json_pre(view, context, model, name):
    value = _attr(model, name)
    if value in (None, {}, []):
        return ""
    return Markup('<pre class="bo-json">{}</pre>').format(json.dumps(value, ensure_ascii=False, indent=1,
                                                                   sort_keys=True, default=str))


def _diff_shown(model):
    """An audit event's diff as the current user may read it (audit.diff_visible: the one masking function)."""
    from flask import has_request_context
    from flask_login import current_user

    from ..workflows import audit
    role = getattr(current_user, "role", None) if has_request_context() else None
    return audit.diff_visible(model.entity, model.diff, role)


def audit_diff(view, context, model, name):
    """The « Modifications » of an audit event, masked per the policy (issue 12 §2)."""
    value = _diff_shown(model)
    if value in (None, {}, []):
        return ""
    return Markup('<pre class="bo-json">{}</pre>').format(json.dumps(value, ensure_ascii=False, indent=1,
                                                                   sort_keys=True, default=str))


def audit_diff_export(view, context, model, name):
    value = _diff_shown(model)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) if value else ""


def is_money_type(t) -> bool:
    return isinstance(t, sa.Numeric) and not isinstance(t, sa.Float) and t.scale == 2 and t.precision == 12


def formatters_for(model) -> dict:
    """Formatters chosen from the column types, so every grid formats alike without configuration."""
    out = {}
    for col in sa.inspect(model).columns:
        t = col.type
        if col.key in ("mois", "mois_reference") and isinstance(t, sa.Date):
            out[col.key] = mois
        elif is_money_type(t):
            out[col.key] = money
        elif isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
            out[col.key] = nombre
        elif isinstance(t, sa.Enum) and col.key == "statut":
            out[col.key] = statut
        elif isinstance(t, sa.Enum):
            out[col.key] = enum_fr
        elif isinstance(t, (sa.Date, sa.DateTime)):
            out[col.key] = date_fr
        elif isinstance(t, sa.Boolean):
            out[col.key] = yes_no
        elif isinstance(t, sa.JSON):
            out[col.key] = json_pre
    return out


def money_columns(model) -> list[str]:
    return [c.key for c in sa.inspect(model).columns if is_money_type(c.type)]


def export_value(value):
    """Export cells: amounts with a decimal comma (French spreadsheets), enums as their labels."""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, enum.Enum):
        return enum_label(value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    return "" if value is None else str(value)


def export_mois(view, context, model, name):
    value = _attr(model, name)
    return value.strftime("%m/%Y") if value else ""


# A text cell that a spreadsheet would run as a formula: `=HYPERLINK(…)`, `+…`, `-…`, `@SUM(…)`, or one of these
# after a tab or a carriage return (OWASP « CSV injection »). Typed by anyone who can enter a name.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutraliser_formule(text: str) -> str:
    """The text with a leading single quote when a spreadsheet would read it as a formula (OWASP advice):
    shown as typed, never run."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def export_cell(value):
    """One export cell, the same for CSV and XLSX: an amount (Decimal) or a count stays a number, whatever its sign;
    anything else is text, neutralised when it could be read as a formula. Only strings are touched:
    `-12.50` as an amount is a number, « -12,50 » typed in a name field is text."""
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return neutraliser_formule(export_value(value))  # enums (StrEnum: str too) as their labels


def csv_cell(value) -> str:
    """An export cell (export_cell) as CSV text: amounts 1234,56 (French spreadsheets)."""
    return export_value(value)
