"""Partner accounts (R62-R65): one account per SIRET, the main contact, added users, tiers déclarants.

- R62: one establishment (one account) per SIRET; a SIRET is never changed (a new SIRET is a new account).
- R64: the first user linked to an establishment is its main contact; their name, first name and
  e-mail never change, the referent (Etablissement.referent_nom) does. Other users are requested by
  the main contact (DemandeHabilitation) and granted or refused by the siège: the HABILITATION
  workflow below. A tiers déclarant is one account linked to several establishments (≤ 200, W24).
- R65: a granted user gets their login and a link to choose their password (48 hours) by mail.

The database backs the same rules (migration 0005: triggers, partial unique index): these functions
give the French answer before it comes to that.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .. import policy
from ..models import Compte, CompteEtablissement, DemandeHabilitation, Etablissement
from ..models.enums import CompteStatut, HabilitationStatut as S, Role as R, RoleEtablissement
from . import audit
from .engine import Guard, Param, T, Workflow
from .errors import TransitionRefused

MAX_ETABLISSEMENTS_PAR_COMPTE = 200  # R64 [W24]: a tiers déclarant, up to 200 establishments
DUREE_PREMIER_LIEN = timedelta(hours=48)  # R65: the mails arrive within 48 hours
IDENTITE_FIGEE = ("nom", "prenom", "email")  # R64: the main contact's
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

MSG_IDENTITE_FIGEE = ("Le nom, le prénom et l'e-mail du contact principal d'un établissement ne se modifient "
                      "pas (R64).")
MSG_SIRET_EXISTANT = ("Ce SIRET a déjà un compte : contactez l'utilisateur principal de ce compte ; "
                      "un établissement n'a qu'un compte (R62).")
MSG_SIRET_FIGE = "Le SIRET d'un compte ne change pas : un nouveau SIRET demande un nouveau compte (R62)."
MSG_PAS_CONTACT = "Seul le contact principal de l'établissement demande l'ajout d'un utilisateur (R64)."
MSG_REFERENT = "Seul le contact principal de l'établissement change le référent (R64)."


def _contact(etablissement_id, compte_id=None):
    clause = [CompteEtablissement.etablissement_id == etablissement_id,
              CompteEtablissement.role == RoleEtablissement.CONTACT_PRINCIPAL]
    if compte_id is not None:
        clause.append(CompteEtablissement.compte_id == compte_id)
    return sa.exists().where(*clause)


# These checks run from a form's on_model_change, on an object already added to the session: no
# autoflush, or the pending row would reach the database (and its triggers) before the French answer.

def est_contact_principal(session, compte_id: int | None, etablissement_id: int | None) -> bool:
    if compte_id is None or etablissement_id is None:
        return False
    with session.no_autoflush:
        return bool(session.execute(sa.select(_contact(etablissement_id, compte_id))).scalar())


def est_contact_principal_quelque_part(session, compte_id: int | None) -> bool:
    if compte_id is None:
        return False
    with session.no_autoflush:
        return bool(session.execute(sa.select(sa.exists().where(
            CompteEtablissement.compte_id == compte_id,
            CompteEtablissement.role == RoleEtablissement.CONTACT_PRINCIPAL))).scalar())


def etablissements_du_contact(compte_id: int):
    """SELECT of the establishment ids `compte_id` is the main contact of."""
    return sa.select(CompteEtablissement.etablissement_id).where(
        CompteEtablissement.compte_id == compte_id, CompteEtablissement.role == RoleEtablissement.CONTACT_PRINCIPAL)


# ---- R62: one account per SIRET --------------------------------------------------------------------

def verifier_siret_libre(session, siret: str | None, *, sauf_id: int | None = None) -> None:
    if not siret:
        return
    query = sa.select(Etablissement.id).where(Etablissement.siret == siret)
    if sauf_id is not None:
        query = query.where(Etablissement.id != sauf_id)
    with session.no_autoflush:
        if session.execute(query.limit(1)).first() is not None:
            raise TransitionRefused(MSG_SIRET_EXISTANT)


# ---- R64: the main contact is frozen ---------------------------------------------------------------

def verifier_identite_figee(session, compte: Compte) -> None:
    """Refuse a pending change of a main contact's name, first name or e-mail (ORM history)."""
    if compte.id is None:
        return
    state = sa.inspect(compte)
    changed = [k for k in IDENTITE_FIGEE if state.attrs[k].history.has_changes()]
    if changed and est_contact_principal_quelque_part(session, compte.id):
        raise TransitionRefused(MSG_IDENTITE_FIGEE)


def peut_changer_referent(session, user, etablissement_id: int | None) -> bool:
    """Staff with the edit right on establishments, or the establishment's own main contact (R64)."""
    if getattr(user, "role", None) != R.PARTENAIRE:
        return True  # the policy table already decided for staff
    return est_contact_principal(session, user.id, etablissement_id)


# ---- links made by the siège or an admin (the main contact, tiers déclarants) ----------------------

def role_nouvelle_habilitation(session, *, compte: Compte | None, etablissement: Etablissement | None,
                               role) -> RoleEtablissement:
    with session.no_autoflush:
        return _role_nouvelle_habilitation(session, compte, etablissement, role)


def _role_nouvelle_habilitation(session, compte, etablissement, role) -> RoleEtablissement:
    """The role a new link gets, or a French refusal (R64):
    - only a partner's account is linked to an establishment;
    - the first user of an establishment becomes its main contact, whatever was asked;
    - there is one main contact, who is never replaced;
    - other users are requested by the main contact (demande d'habilitation), not linked by hand;
    - a tiers déclarant is linked to 200 establishments at most (W24)."""
    if compte is None or etablissement is None:
        raise TransitionRefused("Choisissez un compte et un établissement.")
    if compte.role != R.PARTENAIRE:
        raise TransitionRefused("Seul un compte partenaire (extranet) est rattaché à un établissement.")
    deja = session.execute(sa.select(CompteEtablissement.id).where(
        CompteEtablissement.compte_id == compte.id, CompteEtablissement.etablissement_id == etablissement.id)).first()
    if deja is not None:
        raise TransitionRefused("Ce compte est déjà rattaché à cet établissement.")
    nombre = session.execute(sa.select(sa.func.count()).select_from(CompteEtablissement)
                             .where(CompteEtablissement.compte_id == compte.id)).scalar_one()
    if nombre >= MAX_ETABLISSEMENTS_PAR_COMPTE:
        raise TransitionRefused(f"Un compte est rattaché à {MAX_ETABLISSEMENTS_PAR_COMPTE} établissements au plus "
                                "(R64).")
    if not session.execute(sa.select(_contact(etablissement.id))).scalar():
        return RoleEtablissement.CONTACT_PRINCIPAL  # R64: the first user is the main contact
    role = RoleEtablissement(getattr(role, "value", role)) if role else RoleEtablissement.TIERS_DECLARANT
    if role == RoleEtablissement.CONTACT_PRINCIPAL:
        raise TransitionRefused("Cet établissement a déjà son contact principal ; il ne se remplace pas (R64).")
    if role == RoleEtablissement.UTILISATEUR:
        raise TransitionRefused("Un utilisateur supplémentaire est demandé par le contact principal de "
                                "l'établissement (demandes d'habilitation, R64).")
    return role


def verifier_suppression_habilitation(lien: CompteEtablissement) -> None:
    if lien.role == RoleEtablissement.CONTACT_PRINCIPAL:
        raise TransitionRefused("Le contact principal d'un établissement reste rattaché à son établissement (R64).")


# ---- requests by the main contact --------------------------------------------------------------------

def normaliser_login(login: str | None) -> str:
    return (login or "").strip().lower()


def verifier_demande(session, *, demandeur, etablissement_id: int | None, login: str) -> None:
    """A new request: made by the establishment's main contact, for a login nobody has (R64)."""
    with session.no_autoflush:
        _verifier_demande(session, demandeur, etablissement_id, login)


def _verifier_demande(session, demandeur, etablissement_id, login) -> None:
    if getattr(demandeur, "role", None) != R.PARTENAIRE or not est_contact_principal(session, demandeur.id,
                                                                                      etablissement_id):
        raise TransitionRefused(MSG_PAS_CONTACT)
    if not LOGIN_RE.match(login):
        raise TransitionRefused("Identifiant : 3 à 64 caractères, lettres minuscules, chiffres, point, tiret ou "
                                "souligné.")
    if session.execute(sa.select(Compte.id).where(Compte.login == login)).first() is not None:
        raise TransitionRefused("Cet identifiant est déjà utilisé : choisissez-en un autre.")
    pending = session.execute(sa.select(DemandeHabilitation.id).where(
        DemandeHabilitation.login == login, DemandeHabilitation.statut == S.DEMANDEE)).first()
    if pending is not None:
        raise TransitionRefused("Une demande est déjà en cours pour cet identifiant.")


# ---- the workflow --------------------------------------------------------------------------------------

DH = DemandeHabilitation

DEMANDEUR_CONTACT = Guard("R64", "le demandeur n'est pas le contact principal de l'établissement",
                          lambda ctx: _contact(DH.etablissement_id, DH.demandeur_id))
LOGIN_LIBRE = Guard("identifiant", "identifiant déjà utilisé : refusez la demande, le contact principal en "
                    "proposera un autre", lambda ctx: ~sa.exists().where(Compte.login == DH.login))
PAR_LE_DEMANDEUR = Guard("R64", "seul le contact principal qui l'a faite annule une demande",
                         lambda ctx: DH.demandeur_id == sa.literal(ctx.actor_id))


def _prepare_comptes(session, ids, ctx) -> None:
    """Before the move, on the locked eligible requests: the account (a partner's, password to choose
    through the mailed link, R66) and its link to the establishment, role `utilisateur`."""
    from ..passwords import hash_password

    rows = session.execute(sa.select(DH).where(DH.id.in_(ids)).order_by(DH.id)).scalars().all()
    events = []
    for d in rows:
        compte = Compte(login=d.login, email=d.email, nom=d.nom, prenom=d.prenom, role=R.PARTENAIRE,
                        structure_id=None, statut=CompteStatut.ACTIF, must_change_password=True,
                        # nobody knows this password: the user chooses theirs through the mailed link
                        password_hash=hash_password(secrets.token_urlsafe(32)))
        session.add(compte)
        session.flush()
        lien = CompteEtablissement(compte_id=compte.id, etablissement_id=d.etablissement_id,
                                   role=RoleEtablissement.UTILISATEUR, demande_par_id=d.demandeur_id)
        session.add(lien)
        session.flush()
        # Core UPDATE: the request's version stays what the user saw (the engine checks it next)
        session.execute(sa.update(DH).where(DH.id == d.id).values(compte_id=compte.id)
                        .execution_options(synchronize_session=False))
        params = {"demande": d.id, "etablissement": d.etablissement_id}
        events.append(dict(at=ctx.now, actor_id=ctx.actor_id, entity="compte", entity_id=compte.id,
                           action="creation_habilitation", params=params, bulk_run_id=ctx.bulk_run_id))
        events.append(dict(at=ctx.now, actor_id=ctx.actor_id, entity="compte_etablissement", entity_id=lien.id,
                           action="creation_habilitation", params=params, bulk_run_id=ctx.bulk_run_id))
    audit.record_many(session, events)


def _rows_for_mail(session, ids):
    demandeur = aliased(Compte)
    return session.execute(
        sa.select(DH.id, DH.login, DH.prenom, DH.email, DH.motif_refus, DH.compte_id, Etablissement.siret,
                  Etablissement.raison_sociale, demandeur.prenom.label("demandeur_prenom"),
                  demandeur.email.label("demandeur_email"))
        .join(Etablissement, Etablissement.id == DH.etablissement_id)
        .join(demandeur, demandeur.id == DH.demandeur_id)
        .where(DH.id.in_(ids)).order_by(DH.id)).all()


def _effect_mails_accord(session, ids, ctx) -> None:
    """R65: the login, then the link to choose a password (48 h), to the new user; the decision to the
    main contact who asked."""
    from .comptes import _emettre_lien
    from .mail import queue_mail

    for r in _rows_for_mail(session, ids):
        etab = f"{r.raison_sociale} (SIRET {r.siret})"
        queue_mail(session, cle=f"habilitation-accordee-{r.id}", destinataire=r.email,
                   template="habilitation_accordee", contexte={"prenom": r.prenom, "login": r.login,
                                                               "etablissement": etab})
        _emettre_lien(session, session.get(Compte, r.compte_id), now=ctx.now, duree=DUREE_PREMIER_LIEN,
                      template="premier_mot_de_passe", contexte={"login": r.login})
        queue_mail(session, cle=f"habilitation-decision-{r.id}", destinataire=r.demandeur_email,
                   template="demande_habilitation_traitee",
                   contexte={"prenom": r.demandeur_prenom, "utilisateur": r.login, "etablissement": etab,
                             "accordee": True, "motif": ""})


def _effect_mail_refus(session, ids, ctx) -> None:
    from .mail import queue_mail

    for r in _rows_for_mail(session, ids):
        queue_mail(session, cle=f"habilitation-decision-{r.id}", destinataire=r.demandeur_email,
                   template="demande_habilitation_traitee",
                   contexte={"prenom": r.demandeur_prenom, "utilisateur": r.login,
                             "etablissement": f"{r.raison_sociale} (SIRET {r.siret})", "accordee": False,
                             "motif": ctx.params.get("motif_refus", "")})


HABILITATION = Workflow("habilitation", DemandeHabilitation, [
    T("accorder", "Accorder", {S.DEMANDEE}, S.ACCORDEE, {R.SIEGE, R.ADMIN},
      guards=[DEMANDEUR_CONTACT, LOGIN_LIBRE], prepare=[_prepare_comptes],
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now},
      effects=[_effect_mails_accord], style="success"),
    T("refuser", "Refuser", {S.DEMANDEE}, S.REFUSEE, {R.SIEGE, R.ADMIN},
      params=[Param("motif_refus", "Motif du refus", kind="textarea")],
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now,
                          "motif_refus": ctx.params["motif_refus"]},
      effects=[_effect_mail_refus], style="danger"),
    T("annuler", "Annuler la demande", {S.DEMANDEE}, S.ANNULEE, {R.PARTENAIRE}, guards=[PAR_LE_DEMANDEUR],
      values=lambda ctx: {"decision_at": ctx.now}, style="secondary"),
], entity="demande_habilitation", scope=policy.row_scope)
