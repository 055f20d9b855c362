"""Who may do what: one table (role × view × action × export × columns), deny by default.

A view with no entry here is closed to everyone. Row scope (a conseiller sees only their antenne)
is expressed once per model in `row_scope` and applied wherever a row can leave the server: list,
count, detail, edit, ajax lookups, actions and export.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from werkzeug.local import LocalProxy

from .models.enums import Role

A, S, M, SU, C, CO = Role.ADMIN, Role.SIEGE, Role.MANAGER, Role.SUPPORT, Role.COMPTABLE, Role.CONSEILLER
PA = Role.PARTENAIRE  # a partner's user (extranet): only their own establishments, never a staff grid
UD = Role.UD  # activité partielle's unité départementale: the establishments of its département (ud_scope)
CAF = Role.CAF  # Afas (issue 15): the Caf's agent processes the partners' declarations, all of them
ARS = Role.ARS  # ESAT (issue 16, R53): the ARS agent sets the DGF, sees its région's ESATs and EAs (ars_scope)
STAFF = frozenset({A, S, M, SU, C, CO})
NONE: frozenset = frozenset()


@dataclass(frozen=True)
class ViewPolicy:
    view: frozenset = NONE
    create: frozenset = NONE
    edit: frozenset = NONE
    delete: frozenset = NONE
    export: frozenset = NONE
    actions: frozenset = NONE  # roles that see the bulk-action menu at all; each transition checks its own
    export_hidden: dict = field(default_factory=dict)  # role -> columns never exported to that role
    # role -> columns never shown to that role: not in the grid, the record page, the export, nor in what
    # the audit journal shows of this entity's edits (audit.diff_visible)
    hidden: dict = field(default_factory=dict)


def P(view, create=(), edit=(), delete=(), export=(), actions=None, export_hidden=None, hidden=None) -> ViewPolicy:
    view = frozenset(view)
    return ViewPolicy(view, frozenset(create), frozenset(edit), frozenset(delete), frozenset(export),
                      frozenset(actions) if actions is not None else view, export_hidden or {}, hidden or {})


IBAN_HIDDEN = {SU: ("iban", "bic")}

POLICY: dict[str, ViewPolicy] = {
    # Référentiel
    "structure": P(STAFF, create={A}, edit={A}, export={A, S}, hidden=IBAN_HIDDEN),
    "dispositif": P(STAFF, create={A}, edit={A}, export={A}),
    "motif_sortie": P(STAFF, create={A}, edit={A}, delete={A}),
    "calendrier_paiement": P({A, S, M, C}, create={A}, edit={A}),  # issue 13: each programme's payment days
    # a partner sees the establishments they are linked to; their main contact changes the referent (R64)
    "etablissement": P({A, S, M, C, SU, PA, UD}, create={A, S}, edit={A, S, PA}, export={A, S},
                       actions={A, S, M, C, SU}, hidden=IBAN_HIDDEN),
    # Comptes
    "compte": P({A, SU}, create={A}, edit={A}, export={A, SU}),
    # a link is created or removed, never edited: the main contact's never changes (R64)
    "compte_etablissement": P({A, SU}, create={A}, delete={A}),
    # added users: requested by the establishment's main contact, granted by the siège (R64)
    "demande_habilitation": P({A, S, PA}, create={PA}, export={A, S}),
    # Jeunes et parcours
    "beneficiaire": P({A, S, M, C, CO}, create={A, CO}, edit={A, CO}, export={A, S, M, CO}),
    "compte_bancaire": P({A, S, M, C, CO}, create={A, CO}, edit={A, CO}, export={A, C}, hidden=IBAN_HIDDEN),
    "inscription": P({A, S, M, C, CO}, create={A, CO}, edit={A, CO}, export={A, S, M, CO}),
    "cerfa": P({A, S, M, C, CO}, create={A, CO}, edit={A, CO}, export={A, S, M}),
    "allocation": P({A, S, M, C, CO}, create={A, CO}, edit={A, CO}, export={A, S, M, C}),
    "ressource": P({A, S, M, C, CO}, create={A, CO}, edit={A, CO}, delete={A, CO}),
    "demande_hors_delai": P({A, S, M, CO}, create={A, CO}, edit={A, CO}, export={A, M}),
    # Paiements
    "echeance": P({A, S, M, C}, export={A, C}),  # issue 13: payables of every programme
    "lot_paiement": P({A, S, M, C}, export={A, C}),
    "paiement": P({A, S, M, C}, export={A, C}),
    "reversement": P({A, S, M, C, CO}, export={A, C, M}),
    "remboursement": P({A, M, C}, create={A, C}, export={A, C}),
    "retour_bancaire": P({A, C}),  # bank returns: import page (pain.002 / CSV) and its history
    # Partenaires et programmes
    # Afas (issue 15): a partner's user works on their service's declarations by habilitation (R60: activity
    # provider, financial provider, approver; workflows.afas checks which part each may change), the Caf
    # processes them; anomalies come from the checks (R59), partners write their justification
    "declaration_partenaire": P({A, S, M, CAF, PA}, create={A, S, PA}, edit={A, S, PA}, export={A, S, M, CAF},
                                actions={A, S, CAF, PA}),
    "lieu_accueil": P({A, S, M, CAF, PA}, create={A, S, CAF}, edit={A, S, CAF}, actions={A, S, CAF}),
    "ligne_activite": P({A, S, M, CAF, PA}, create={A, S, PA}, edit={A, S, PA}, delete={PA}, actions={A, S}),
    "anomalie": P({A, S, M, CAF, PA}, edit={A, S, PA}, actions={A, S}),
    "habilitation_afas": P({A, CAF, PA}, create={A, CAF}, delete={A, CAF}, actions={A, CAF}),
    # R57: the yearly items of the actual declaration, as data the administrator changes (issue 15 §2)
    "item_annuel_afas": P({A, S, M, CAF}, create={A}, edit={A}, export={A}, actions={A}),
    # Activité partielle (issue 14): the employer files (its establishments only), the UD decides and
    # checks (its département only); a DAP is filed through workflows.activite_partielle, a DI with its code
    "autorisation_ap": P({A, S, M, C, PA, UD}, create={PA}, edit={PA}, export={A, S, C, PA, UD},
                         actions={A, S, UD, PA}),
    "salarie": P({A, S, M, C, PA, UD}, create={A, S, PA}, edit={A, S, PA}, export={PA}, actions={A, S}),
    "demande_indemnisation": P({A, S, M, C, PA, UD}, create={PA}, export={A, S, C, PA, UD},
                               actions={A, S, UD, PA}),
    "ligne_di": P({A, S, M, C, PA, UD}, create={PA}, edit={PA}, delete={PA}, actions={A, S}),
    # R62, R63, R65: the employers' sign-ups from the public page, validated by the siège or the UD (its
    # département); a partner never sees them
    "demande_creation_compte": P({A, S, UD}, export={A, S}, actions={A, S, UD}),
    "piece_jointe": P({A, S, PA, UD}),  # attachments: downloaded within the role's scope
    # NACRE (R51) and Adultes-relais (R52), issue 16: the agency instructs and pays; the operator (its
    # conventions) types its monthly activity and files its expertise, the employer (its posts) its quarterly
    # declarations; each sees its own payables and orders (policy.programmes_scope)
    "convention_nacre": P({A, S, M, C, PA}, create={A, S}, edit={A, S}, export={A, C}, actions={A, S, C}),
    "etat_activite_nacre": P({A, S, M, C, PA}, create={PA}, edit={PA}, export={A, S, C}, actions={A, S, PA}),
    "expertise_nacre": P({A, S, M, C, PA}, create={PA}, export={A, S, C}, actions={A, S}),
    "poste_adulte_relais": P({A, S, M, C, PA}, create={A, S}, edit={A, S}, export={A, C}, actions={A, S, C}),
    "declaration_adulte_relais": P({A, S, M, C, PA}, create={PA}, edit={PA}, export={A, S, C},
                                   actions={A, S, PA}),
    "paiement_programme": P({PA}),  # a partner's payables (NACRE, adultes-relais)
    "reversement_programme": P({PA}),  # the orders a partner owes
    "reversement_esat": P({PA}),  # the ESAT extranet: the orders an ESAT or EA owes (R53, R54), its own only
    # Service civique (issue 16, R55): the ASP creates the contracts (R55 checks) and computes the months; the
    # host (Elisa: a partner whose account belongs to its structure) sees its contracts, their months and
    # payments, and uploads supporting documents
    "contrat_service_civique": P({A, S, M, C, PA}, create={A, S}, export={A, C}, actions={A, S},
                                 hidden={PA: ("iban", "bic")}),  # the volunteer's account is not the host's business
    "mois_service_civique": P({A, S, M, C, PA}, export={A, S, C}, actions={A, S, M, C}),
    "agrement_service_civique": P({A, S, M, C}, create={A, S}, export={A, C}, actions={A, S}),
    # ESAT extranet (issue 16, R53, R54): each actor by its habilitation — the ESAT/EA files its declarations
    # (its own), the ARS sets the DGF (its région), the ASP validates and pays
    "agrement_esat": P({A, S, M, C, ARS}, create={A, S}, export={A, C}, actions={A, S}),
    "declaration_garantie": P({A, S, M, C, PA, ARS}, create={PA}, export={A, S, C, ARS}, actions={A, S, C, ARS}),
    "declaration_ea": P({A, S, M, C, PA, ARS}, create={PA}, export={A, S, C, ARS}, actions={A, S, C}),
    "dotation_dgf": P({A, S, M, C, PA, ARS}, create={ARS}, export={A, C, ARS}, actions={A, ARS}),
    "versement_dgf": P({A, S, M, C, PA, ARS}, export={A, C, ARS}, actions={A, S, C}),
    # Pilotage (issue 16 §5): national restitutions of every programme's money — the agency's head office and
    # its accountants and managers; no partner, conseiller (one antenne) nor territorial agent (UD, Caf, ARS:
    # their scope is one programme in one territory, the screen crosses them all)
    "pilotage": P({A, S, M, C}, export={A, S, M, C}),
    # Suivi
    "mail_outbox": P({A, SU}, export={A}),
    "job_outbox": P({A}),
    "audit_event": P({A, M, SU}, export={A}),
    "audit_sceau": P({A}, export={A}),
    "bulk_run": P({A, S, M, C, SU}),
    "files": P({A}),  # queue health (RQ registries)
    # `backoffice demo` only (its mail sink, registered when DEMO_MAILBOX_DIR is set): the mails it received
    "boite_mail_demo": P({A, SU}),
}


# Money-routing columns (issue 12 §3): a change of any of them changes where a payment goes, so it needs the
# password entered within 15 minutes (security.FRESH_AUTH), whatever the path (create or edit form, inline
# edit), and a cerfa already validated goes back to the siège (workflows.cerfa.renvoyer_en_validation).
# A relationship is named with its foreign key. The payments copy a RIB's holder, IBAN and BIC (R39, R76).
MONEY_ROUTING: dict[str, frozenset] = {
    "compte_bancaire": frozenset({"iban", "bic", "titulaire"}),
    "cerfa": frozenset({"compte_bancaire", "compte_bancaire_id"}),
    "etablissement": frozenset({"iban", "bic"}),  # where an AP allowance is paid (issue 14, R74)
    # issue 16: the volunteer's, the associative host's and the ESAT's/EA's accounts
    "contrat_service_civique": frozenset({"iban", "bic"}),
    "agrement_service_civique": frozenset({"iban", "bic"}),
    "agrement_esat": frozenset({"iban", "bic"}),
    "structure": frozenset({"iban", "bic"}),  # issue 15: a partner's Afas acomptes and balance (R79)
    "convention_nacre": frozenset({"iban", "bic"}),  # issue 16: the operator's account
    "poste_adulte_relais": frozenset({"iban", "bic"}),  # the employer's account
}


def money_routing(endpoint: str) -> frozenset:
    return MONEY_ROUTING.get(endpoint, frozenset())


def policy_for(endpoint: str) -> ViewPolicy:
    return POLICY.get(endpoint, ViewPolicy())  # deny by default


def allows(endpoint: str, what: str, user) -> bool:
    if isinstance(user, LocalProxy):  # current_user: resolved once, not at each attribute (issue 20: a record
        user = user._get_current_object()  # page asks 19 times, menus and tabs included)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.role in getattr(policy_for(endpoint), what)


def hidden_columns(endpoint: str, role) -> frozenset:
    """Columns of a grid never shown to `role` (list, record page, audit journal); the export hides
    export_hidden too."""
    return frozenset(policy_for(endpoint).hidden.get(role, ()))


def column_visible(endpoint: str, column: str, role) -> bool:
    """May `role` read `column` of `endpoint`'s rows? Only where it has that grid and the column is not
    hidden from it: the rule the audit journal applies to the diffs it shows (issue 12 §2)."""
    pol = policy_for(endpoint)
    return role in pol.view and column not in pol.hidden.get(role, ()) and column not in pol.export_hidden.get(role, ())


def row_scope(model, user):
    """SQL clause limiting `model` to what `user` may see, or None for no limit."""
    if user is None or not getattr(user, "is_authenticated", False):
        return sa.false()
    if user.role == Role.PARTENAIRE:
        return partner_scope(model, user)
    if user.role == Role.UD:
        return ud_scope(model, user)
    if user.role == Role.ARS:
        return ars_scope(model, user)
    if user.role != Role.CONSEILLER:
        return None
    antenne_id = user.structure_id
    from . import models as m

    if hasattr(model, "antenne_id"):
        return model.antenne_id == antenne_id
    if model is m.CompteBancaire:
        return model.beneficiaire.has(m.Beneficiaire.antenne_id == antenne_id)
    if model is m.Ressource:
        return model.allocation.has(m.Allocation.antenne_id == antenne_id)
    if model is m.Remboursement:
        return model.reversement.has(m.Reversement.antenne_id == antenne_id)
    if model is m.Structure:
        return sa.or_(model.id == antenne_id, model.type != "antenne")
    if model is m.Compte:
        return model.structure_id == antenne_id
    if model in (m.Dispositif, m.MotifSortie):
        return None
    return sa.false()  # a model without a rule is invisible to a conseiller


def partner_scope(model, user):
    """A partner's user sees their own establishments (R62-R64), and the requests for added users of
    those they are the main contact of; nothing else, whatever the grid."""
    from . import models as m
    from .models.enums import RoleEtablissement

    links = sa.select(m.CompteEtablissement.etablissement_id).where(m.CompteEtablissement.compte_id == user.id)
    main = links.where(m.CompteEtablissement.role == RoleEtablissement.CONTACT_PRINCIPAL)
    if model is m.Etablissement:
        return model.id.in_(links)
    if model is m.DemandeHabilitation:
        return model.etablissement_id.in_(main)
    if model is m.CompteEtablissement:
        return sa.or_(model.compte_id == user.id, model.etablissement_id.in_(main))
    if model is m.Compte:
        return model.id == user.id
    programmes = programmes_scope(model, user)
    if programmes is not None:
        return programmes
    programme = structure_scope(model, user.structure_id)
    if programme is not None:
        return programme
    afas = afas_scope(model, user)
    if afas is not None:
        return afas
    return ap_scope(model, model_etablissements=links)


def programmes_scope(model, user):
    """NACRE (R51) and Adultes-relais (R52), issue 16: an operator's or an employer's user (its account's
    structure) sees that structure's conventions or posts, their statements, expertise and declarations, and the
    payables paid to it and the orders it owes; None when `model` is none of these."""
    from . import models as m

    mine = user.structure_id
    if mine is None:
        own = sa.false()
    if model is m.ConventionNacre:
        return model.operateur_id == mine if mine is not None else own
    if model is m.PosteAdulteRelais:
        return model.employeur_id == mine if mine is not None else own
    if model in (m.EtatActiviteNacre, m.ExpertiseNacre):
        return model.convention.has(m.ConventionNacre.operateur_id == mine) if mine is not None else own
    if model is m.DeclarationAdulteRelais:
        return model.poste.has(m.PosteAdulteRelais.employeur_id == mine) if mine is not None else own
    if model is m.Echeance:
        return sa.and_(model.payee_type == "partenaire", model.payee_id == mine) if mine is not None else own
    if model is m.Reversement:
        # issue 16: an ESAT's or an EA's orders too (debiteur « esat », its structure: R53, R54)
        return (sa.and_(model.debiteur_type.in_(["partenaire", "esat"]), model.debiteur_id == mine)
                if mine is not None else own)
    if model is m.Structure and mine is not None:
        return sa.or_(model.id == mine, afas_scope(model, user))
    return None


def structure_scope(model, structure_id):
    """Service civique, ESAT and EA rows (issue 16) of one structure: a host's, an ESAT's or an EA's user sees
    its own structure's records and payments; None when `model` is not one of them."""
    from . import models as m

    if structure_id is None and model is m.Structure:
        return None  # an Afas partner's services (afas_scope)
    sid = structure_id if structure_id is not None else -1
    return _programme_rows(model, lambda col: col == sid, m.Structure.id == sid)


def _programme_rows(model, within, structure_clause):
    """`within(structure id column)` applied to each service civique / ESAT / EA model; None for the others."""
    from . import models as m

    if model is m.Structure:
        return structure_clause
    if model is m.ContratServiceCivique:
        return within(model.organisme_id)
    if model is m.AgrementServiceCivique:
        return within(model.organisme_id)
    if model in (m.MoisServiceCivique, m.PieceServiceCivique):
        return model.contrat.has(within(m.ContratServiceCivique.organisme_id))
    if model is m.AgrementEsat:
        return within(model.structure_id)
    if model in (m.DeclarationGarantie, m.DotationDGF):
        return within(model.esat_id)
    if model is m.DeclarationEA:
        return within(model.ea_id)
    if model is m.VersementDGF:
        return model.dotation.has(within(m.DotationDGF.esat_id))
    return None


def region(code_postal):
    """SQL: the région (2016) of a postcode, for the ARS (rules.esat.REGIONS)."""
    from .rules.esat import REGIONS

    dep = departement(code_postal)
    return sa.case(*[(dep.in_(deps), code) for code, deps in REGIONS.items()], else_=sa.null())


def ars_scope(model, user):
    """An ARS agent (issue 16, R53) sees the ESATs and EAs of its région (its structure's postcode, type « ars »)
    and their records; service civique is not its business; without a structure, nothing."""
    from . import models as m
    from .models.enums import TypeStructure

    if model is m.Compte:
        return model.id == user.id
    if user.structure_id is None:
        return sa.false()
    sa_struct = sa.orm.aliased(m.Structure)
    sa_ars = sa.orm.aliased(m.Structure)
    sa_reg = sa.select(region(sa_ars.code_postal)).where(sa_ars.id == user.structure_id).scalar_subquery()
    ids = sa.select(sa_struct.id).where(sa_struct.type.in_([TypeStructure.ESAT, TypeStructure.EA]),
                                        region(sa_struct.code_postal) == sa_reg)
    if model in (m.ContratServiceCivique, m.AgrementServiceCivique, m.MoisServiceCivique, m.PieceServiceCivique):
        return sa.false()
    clause = _programme_rows(model, lambda col: col.in_(ids),
                             sa.or_(m.Structure.id.in_(ids), m.Structure.id == user.structure_id))
    return clause if clause is not None else sa.false()


def afas_scope(model, user):
    """Afas rows (issue 15) of the services the partner's user holds a habilitation on (R60); None when
    `model` is not an Afas model."""
    from . import models as m

    services = sa.select(m.HabilitationAfas.partenaire_id).where(m.HabilitationAfas.compte_id == user.id)
    if model is m.HabilitationAfas:
        return model.compte_id == user.id
    if model is m.Structure:
        return model.id.in_(services)
    if model in (m.DeclarationPartenaire, m.LieuAccueil):
        return model.partenaire_id.in_(services)
    if model in (m.LigneActivite, m.Anomalie):
        return model.declaration.has(m.DeclarationPartenaire.partenaire_id.in_(services))
    return None


def ap_scope(model, *, model_etablissements):
    """Activité partielle rows whose establishment is in `model_etablissements` (a SELECT of ids);
    nothing when `model` is not an AP model."""
    from . import models as m

    if model is m.Etablissement:
        return model.id.in_(model_etablissements)
    if model in (m.AutorisationAP, m.Salarie, m.PieceJointe):
        return model.etablissement_id.in_(model_etablissements)
    if model is m.DemandeIndemnisation:
        return model.autorisation.has(m.AutorisationAP.etablissement_id.in_(model_etablissements))
    if model is m.LigneDI:
        return model.demande.has(m.DemandeIndemnisation.autorisation.has(
            m.AutorisationAP.etablissement_id.in_(model_etablissements)))
    return sa.false()


def departement(code_postal):
    """SQL: the département of a postcode (overseas: 3 digits; Corsica's 2A/2B share « 20 »)."""
    return sa.case((sa.func.substr(code_postal, 1, 2).in_(("97", "98")), sa.func.substr(code_postal, 1, 3)),
                   else_=sa.func.substr(code_postal, 1, 2))


def ud_scope(model, user):
    """A UD agent sees the AP records of the establishments of its département: its structure's (type
    « ud ») postcode; without a structure, nothing."""
    from . import models as m

    if model is m.Compte:
        return model.id == user.id
    if user.structure_id is None:
        return sa.false()
    dep = sa.select(departement(m.Structure.code_postal)).where(m.Structure.id == user.structure_id
                                                                ).scalar_subquery()
    if model is m.DemandeCreationCompte:  # a sign-up: by the postcode of the establishment it creates
        return departement(model.code_postal) == dep
    etablissements = sa.select(m.Etablissement.id).where(departement(m.Etablissement.code_postal) == dep)
    return ap_scope(model, model_etablissements=etablissements)
