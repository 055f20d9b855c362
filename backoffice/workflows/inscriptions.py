"""The employer's sign-up on the Activité partielle extranet (issue 14 §1; R62, R63, R64, R65) and the partner's
recovery by secret answer (R69, R70).

- R62: one account per SIRET: a sign-up is refused when an establishment (or a sign-up under review) has the
  SIRET; the SIRET is checked by python-stdnum (Luhn, valid SIREN, La Poste exception, R75).
- R63: the public page asks the SIRET, a captcha (workflows.captcha) and the terms of use first, then the form:
  mandatory fields, the two e-mails typed twice (compared here and in the form), landline numbers, address
  lengths, a secret question (from a list) and its answer, stored as an argon2 digest only.
- R64: the person signing up becomes the establishment's main contact (frozen name, first name and e-mail).
  A tiers déclarant repeats the sign-up for each establishment it files for [S004]: logged in, its sign-up carries
  its account (DemandeCreationCompte.compte_id from the filing on), its identity and secrets are the account's,
  and the validation links the new establishment to that account (its main contact) instead of creating a second
  one; 200 establishments per account at most [W24], counted with its sign-ups under review.
- R65: the siège or the UD (its département) validates (INSCRIPTION workflow, one row or in bulk on a filter);
  the establishment, the account and its link are created then, and three mails leave through the outbox: the
  login, the link to choose the password (48 hours, single use, never a password), the habilitation. A tiers
  déclarant's new establishment: the habilitation mail only (it already has its credentials, R65).
- R69: a partner who forgot their password gives their login and a captcha, then the answer to their secret
  question; the mail carries a single-use link. A user who never logged in is sent to the support desk
  (their secrets are not confirmed yet). An unknown login gets a question too (one of the list, chosen by a
  keyed digest of the login: always the same one) and the same refusal as a wrong answer.
- R70: a forgotten login: the e-mail, a captcha and the secret answer; the login is mailed to that address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

import sqlalchemy as sa

from .. import policy
from ..models import Compte, CompteEtablissement, DemandeCreationCompte, DemandeHabilitation, Etablissement
from ..models.enums import CompteStatut, CreationCompteStatut as S, HabilitationStatut, Role as R, RoleEtablissement
from ..passwords import hash_password, verify_password
from ..rules.identifiants import IdentifiantInvalide, verifier_siret
from . import audit
from .engine import Guard, Param, T, Workflow
from .errors import TransitionRefused
from .habilitations import DUREE_PREMIER_LIEN, MAX_ETABLISSEMENTS_PAR_COMPTE, MSG_SIRET_EXISTANT

# R63: the secret question is chosen from a list (an unknown login is then shown one of them, R69)
QUESTIONS = (
    "Quel est le nom de votre premier animal de compagnie ?",
    "Quelle est la ville de naissance de votre mère ?",
    "Quel était le nom de votre école primaire ?",
    "Quel est le prénom de votre meilleur ami d'enfance ?",
    "Quel était le modèle de votre première voiture ?",
    "Dans quelle rue avez-vous grandi ?",
)
REPONSE_MIN, REPONSE_MAX = 3, 100

MSG_INSCRIPTION_EN_COURS = ("Une demande de création de compte est déjà en cours d'examen pour ce SIRET : "
                            "un établissement n'a qu'un compte (R62).")
# R69 [S004]: the extranet's own wording
MSG_REPONSE_INCORRECTE = "Cette réponse est incorrecte. Nous ne pouvons pas vous envoyer un nouveau mot de passe."
MSG_REPONSE_INCORRECTE_IDENTIFIANT = "Cette réponse est incorrecte. Nous ne pouvons pas vous envoyer votre identifiant."
MSG_JAMAIS_CONNECTE = ("L'ensemble des secrets (question/réponse secrètes) n'étant pas renseigné pour votre compte "
                       "utilisateur, merci de bien vouloir prendre contact avec le support spécifique de votre "
                       "application (contact-ap@asp-public.fr).")
MSG_LIEN_ENVOYE = ("Votre réponse est validée : un lien pour choisir un nouveau mot de passe vient d'être envoyé à "
                   "l'adresse e-mail de votre compte. Il est valable 30 minutes et ne sert qu'une fois.")
MSG_IDENTIFIANT_ENVOYE = "Votre réponse est validée : votre identifiant vient d'être envoyé à votre adresse e-mail."
MSG_PLAFOND_TIERS = (f"Votre compte gère déjà {MAX_ETABLISSEMENTS_PAR_COMPTE} établissements (demandes en cours "
                     f"comprises) : un tiers déclarant en gère {MAX_ETABLISSEMENTS_PAR_COMPTE} au plus (R64).")
MSG_TIERS_INACTIF = "Seul un compte employeur actif rattache un nouvel établissement (R64)."
ESSAIS_REPONSE = 3  # wrong secret answers per account and per hour (each one costs a captcha as well)
FENETRE_REPONSE = timedelta(hours=1)


# ---- the secret answer (R63, R69) ----------------------------------------------------------------------------

def normaliser_reponse(reponse: str | None) -> str:
    """Case, accents and spaces do not count: « Médor » and « medor » are the same answer."""
    texte = unicodedata.normalize("NFKD", (reponse or "").casefold())
    return " ".join("".join(c for c in texte if not unicodedata.combining(c)).split())


def hash_reponse(reponse: str) -> str:
    """The stored digest: the project's password hasher (argon2id)."""
    return hash_password(normaliser_reponse(reponse))


def reponse_juste(reponse_hash: str | None, reponse: str | None) -> bool:
    return verify_password(reponse_hash, normaliser_reponse(reponse))  # same work when there is no hash


# ---- R62: the SIRET ----------------------------------------------------------------------------------------------

def verifier_siret_inscription(session, siret: str | None) -> str:
    """The compact SIRET (R75, La Poste exception by python-stdnum) when it may sign up, or a French refusal:
    an existing account (R62's message) or a sign-up under review."""
    try:
        siret = verifier_siret(siret)
    except IdentifiantInvalide as exc:
        raise TransitionRefused(exc.message) from None
    if session.execute(sa.select(Etablissement.id).where(Etablissement.siret == siret)).first() is not None:
        raise TransitionRefused(MSG_SIRET_EXISTANT)
    if session.execute(sa.select(DemandeCreationCompte.id).where(
            DemandeCreationCompte.siret == siret, DemandeCreationCompte.statut == S.DEPOSEE)).first() is not None:
        raise TransitionRefused(MSG_INSCRIPTION_EN_COURS)
    return siret


CHAMPS = ("raison_sociale", "libelle_voie", "complement_adresse", "code_postal", "ville", "email_etablissement",
          "telephone_etablissement", "effectif", "contact_nom", "contact_prenom", "contact_email",
          "contact_telephone", "question_secrete")
# R64: a tiers déclarant's further establishment: its contact is the account (name, first name, e-mail, secrets)
CHAMPS_RATTACHEMENT = ("raison_sociale", "libelle_voie", "complement_adresse", "code_postal", "ville",
                       "email_etablissement", "telephone_etablissement", "effectif", "contact_telephone")


def _verifier_email(saisie, confirmation, libelle) -> None:
    # R63: each e-mail typed twice, compared on the server (the browser discourages pasting)
    if (saisie or "").strip().casefold() != (confirmation or "").strip().casefold():
        raise TransitionRefused(f"Les deux saisies de l'adresse e-mail {libelle} ne correspondent pas (R63).")


def _valeurs_etablissement(donnees: dict, email_etablissement_confirmation: str) -> dict:
    """The establishment's part of the form, checked as the rules say (R63)."""
    _verifier_email(donnees.get("email_etablissement"), email_etablissement_confirmation, "de l'établissement")
    if len(donnees.get("libelle_voie") or "") > 28:
        raise TransitionRefused("Libellé de voie : 28 caractères au maximum (R63).")
    if len(donnees.get("complement_adresse") or "") > 38:
        raise TransitionRefused("Complément d'adresse : 38 caractères au maximum (R63).")
    valeurs = {k: donnees.get(k) for k in CHAMPS_RATTACHEMENT}
    valeurs["complement_adresse"] = valeurs["complement_adresse"] or None
    valeurs["effectif"] = int(valeurs["effectif"] or 0)
    return valeurs


def _deposer(session, siret: str, valeurs: dict, *, now: datetime, ip: str | None, actor_id: int | None = None,
             compte_id: int | None = None) -> DemandeCreationCompte:
    d = DemandeCreationCompte(siret=siret, **valeurs, cgu_acceptees_at=now, deposee_at=now, statut=S.DEPOSEE,
                              compte_id=compte_id)
    session.add(d)
    session.flush()
    params = {"siret": siret, **({"rattachement_compte": compte_id} if compte_id else {})}
    audit.record(session, entity="demande_creation_compte", entity_id=d.id, action="deposer", actor_id=actor_id,
                 to_status=S.DEPOSEE.value, params=params, ip=ip)
    return d


def deposer_inscription(session, *, siret: str, donnees: dict, email_etablissement_confirmation: str,
                        contact_email_confirmation: str, reponse_secrete: str, now: datetime,
                        ip: str | None = None) -> DemandeCreationCompte:
    """File the sign-up (« déposée »); the form checked each field, this checks what the rules say again."""
    siret = verifier_siret_inscription(session, siret)
    valeurs = _valeurs_etablissement(donnees, email_etablissement_confirmation)
    _verifier_email(donnees.get("contact_email"), contact_email_confirmation, "de la personne à contacter")
    if donnees.get("question_secrete") not in QUESTIONS:
        raise TransitionRefused("Choisissez une question secrète dans la liste.")
    if not REPONSE_MIN <= len(normaliser_reponse(reponse_secrete)) <= REPONSE_MAX:
        raise TransitionRefused(f"Réponse secrète : {REPONSE_MIN} à {REPONSE_MAX} caractères.")
    valeurs.update({k: donnees.get(k) for k in ("contact_nom", "contact_prenom", "contact_email",
                                                "question_secrete")})
    return _deposer(session, siret, {**valeurs, "reponse_secrete_hash": hash_reponse(reponse_secrete)},
                    now=now, ip=ip)


# ---- R64: a tiers déclarant's further establishments ------------------------------------------------------

def etablissements_geres(session, compte_id: int) -> int:
    """The establishments an account is linked to, plus its sign-ups under review (R64: 200 at most)."""
    liens = session.execute(sa.select(sa.func.count()).select_from(CompteEtablissement)
                            .where(CompteEtablissement.compte_id == compte_id)).scalar_one()
    en_cours = session.execute(sa.select(sa.func.count()).select_from(DemandeCreationCompte).where(
        DemandeCreationCompte.compte_id == compte_id, DemandeCreationCompte.statut == S.DEPOSEE)).scalar_one()
    return liens + en_cours


def verifier_tiers(session, compte) -> int:
    """The number of establishments a logged-in partner manages, or a French refusal (R64)."""
    if compte is None or getattr(compte, "role", None) != R.PARTENAIRE or compte.statut == CompteStatut.DESACTIVE:
        raise TransitionRefused(MSG_TIERS_INACTIF)
    nombre = etablissements_geres(session, compte.id)
    if nombre >= MAX_ETABLISSEMENTS_PAR_COMPTE:
        raise TransitionRefused(MSG_PLAFOND_TIERS)
    return nombre


def deposer_rattachement(session, *, compte: Compte, siret: str, donnees: dict,
                         email_etablissement_confirmation: str, now: datetime,
                         ip: str | None = None) -> DemandeCreationCompte:
    """R64: a tiers déclarant (logged in) files the sign-up of a further establishment: the same checks (R62,
    R63) for the establishment; its contact is the account itself, whose identity never changes."""
    siret = verifier_siret_inscription(session, siret)
    # one account's filings are counted one after the other (the 201st is refused whatever the timing)
    session.execute(sa.select(Compte.id).where(Compte.id == compte.id).with_for_update())
    verifier_tiers(session, compte)
    valeurs = _valeurs_etablissement(donnees, email_etablissement_confirmation)
    valeurs.update(contact_nom=compte.nom, contact_prenom=compte.prenom, contact_email=compte.email,
                   question_secrete=compte.question_secrete or "",
                   reponse_secrete_hash=compte.reponse_secrete_hash or "")
    return _deposer(session, siret, valeurs, now=now, ip=ip, actor_id=compte.id, compte_id=compte.id)


# ---- the INSCRIPTION workflow (R65) --------------------------------------------------------------------------

DC = DemandeCreationCompte


def _login_de(prenom: str, nom: str) -> str:
    """« prenom.nom » in lower-case ASCII (the extranet's own logins), before de-duplication."""
    def ascii_(s):
        s = unicodedata.normalize("NFKD", s or "").encode("ascii", "ignore").decode().lower()
        return re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    base = f"{ascii_(prenom)}.{ascii_(nom)}".strip(".") or "employeur"
    return (base if len(base) >= 3 else f"{base}-ap")[:56]


def _login_libre(session, base: str, pris: set[str]) -> str:
    existants = set(session.execute(sa.select(Compte.login).where(Compte.login.like(f"{base}%"))).scalars())
    existants |= set(session.execute(sa.select(DemandeHabilitation.login).where(
        DemandeHabilitation.login.like(f"{base}%"), DemandeHabilitation.statut == HabilitationStatut.DEMANDEE)
    ).scalars())
    existants |= pris
    if base not in existants:
        return base
    n = 2
    while f"{base}{n}" in existants:
        n += 1
    return f"{base}{n}"


def _siret_libre(ctx):
    return ~sa.exists().where(Etablissement.siret == DC.siret)


SIRET_LIBRE = Guard("R62", "un établissement a déjà ce SIRET (un compte par SIRET) : refusez la demande",
                    _siret_libre)


def _tiers_actif(ctx):
    return sa.or_(DC.compte_id.is_(None), sa.exists().where(Compte.id == DC.compte_id, Compte.role == R.PARTENAIRE,
                                                            Compte.statut != CompteStatut.DESACTIVE))


TIERS_ACTIF = Guard("R64", "le compte du tiers déclarant est désactivé", _tiers_actif)


def _au_dela_du_plafond(session, ids, ctx) -> set[int]:
    """R64 [W24]: the sign-ups that would link an account to more than 200 establishments, counted with the
    others of the same run (in id order: the first ones pass)."""
    rows = session.execute(sa.select(DC.id, DC.compte_id).where(DC.id.in_(ids), DC.compte_id.is_not(None))
                           .order_by(DC.id)).all()
    if not rows:
        return set()
    comptes = {r.compte_id for r in rows}
    liens = dict(session.execute(sa.select(CompteEtablissement.compte_id, sa.func.count())
                                 .where(CompteEtablissement.compte_id.in_(comptes))
                                 .group_by(CompteEtablissement.compte_id)).all())
    refus = set()
    for r in rows:
        if liens.get(r.compte_id, 0) >= MAX_ETABLISSEMENTS_PAR_COMPTE:
            refus.add(r.id)
        else:
            liens[r.compte_id] = liens.get(r.compte_id, 0) + 1
    return refus


PLAFOND_TIERS = Guard("R64", f"le compte du tiers déclarant gère déjà {MAX_ETABLISSEMENTS_PAR_COMPTE} "
                             "établissements", python=_au_dela_du_plafond)


def _creer_comptes(session, ids, ctx) -> None:
    """Before the move, on the locked eligible sign-ups: the establishment, its main contact's account (a
    password nobody knows, chosen through the mailed link, R66) with the secret question and answer's digest,
    and the link (R64: the first user is the main contact). A tiers déclarant's sign-up (compte_id already set):
    the establishment is linked to that account, no second account (R64)."""
    rows = session.execute(sa.select(DC).where(DC.id.in_(ids)).order_by(DC.id)).scalars().all()
    events, pris = [], set()
    for d in rows:
        etab = Etablissement(siret=d.siret, raison_sociale=d.raison_sociale, libelle_voie=d.libelle_voie,
                             complement_adresse=d.complement_adresse, code_postal=d.code_postal, ville=d.ville,
                             email=d.email_etablissement, telephone=d.telephone_etablissement, effectif=d.effectif,
                             referent_nom=f"{d.contact_prenom} {d.contact_nom}"[:120])
        session.add(etab)
        rattachement = d.compte_id is not None  # R64: the tiers déclarant's account, no second one
        if not rattachement:
            login = _login_libre(session, _login_de(d.contact_prenom, d.contact_nom), pris)
            pris.add(login)
            compte = Compte(login=login, email=d.contact_email, nom=d.contact_nom, prenom=d.contact_prenom,
                            role=R.PARTENAIRE, structure_id=None, statut=CompteStatut.ACTIF,
                            must_change_password=True, password_hash=hash_password(secrets.token_urlsafe(32)),
                            question_secrete=d.question_secrete, reponse_secrete_hash=d.reponse_secrete_hash)
            session.add(compte)
        session.flush()
        compte_id = d.compte_id if rattachement else compte.id
        # the first user is the main contact (R64); a tiers' link is requested by the account itself
        lien = CompteEtablissement(compte_id=compte_id, etablissement_id=etab.id,
                                   role=RoleEtablissement.CONTACT_PRINCIPAL,
                                   demande_par_id=compte_id if rattachement else None)
        session.add(lien)
        session.flush()
        session.execute(sa.update(DC).where(DC.id == d.id).values(etablissement_id=etab.id, compte_id=compte_id)
                        .execution_options(synchronize_session=False))
        params = {"demande_creation_compte": d.id, "siret": d.siret,
                  **({"rattachement_compte": compte_id} if rattachement else {})}
        crees = [("etablissement", etab.id)] + ([] if rattachement else [("compte", compte_id)])
        for entity, entity_id in crees + [("compte_etablissement", lien.id)]:
            events.append(dict(at=ctx.now, actor_id=ctx.actor_id, entity=entity, entity_id=entity_id,
                               action="rattachement_inscription" if rattachement else "creation_inscription",
                               params=params, bulk_run_id=ctx.bulk_run_id))
    audit.record_many(session, events)


def _effect_trois_mails(session, ids, ctx) -> None:
    """R65: three mails to the main contact: the login, the link to choose a password (48 hours, once), the
    habilitation on the establishment. A tiers déclarant's further establishment: the habilitation only (its
    login and password do not change, R64, R65)."""
    from .comptes import _emettre_lien
    from .mail import queue_mail

    # a tiers déclarant's link was requested by the account itself (_creer_comptes); a new account's was not
    lien = sa.and_(CompteEtablissement.compte_id == DC.compte_id,
                   CompteEtablissement.etablissement_id == DC.etablissement_id)
    rows = session.execute(sa.select(DC.id, DC.siret, DC.raison_sociale, DC.compte_id,
                                     CompteEtablissement.demande_par_id.is_not(None).label("rattachement"))
                           .outerjoin(CompteEtablissement, lien)
                           .where(DC.id.in_(list(ids))).order_by(DC.id)).all()
    for r in rows:
        compte = session.get(Compte, r.compte_id)
        etab = f"{r.raison_sociale} (SIRET {r.siret})"
        if r.rattachement:
            queue_mail(session, cle=f"inscription-habilitation-{r.id}", destinataire=compte.email,
                       template="inscription_habilitation",
                       contexte={"prenom": compte.prenom, "login": compte.login, "etablissement": etab,
                                 "rattachement": True})
            continue
        queue_mail(session, cle=f"inscription-identifiant-{r.id}", destinataire=compte.email,
                   template="inscription_identifiant",
                   contexte={"prenom": compte.prenom, "login": compte.login, "etablissement": etab})
        _emettre_lien(session, compte, now=ctx.now, duree=DUREE_PREMIER_LIEN, template="premier_mot_de_passe",
                      contexte={"login": compte.login})
        queue_mail(session, cle=f"inscription-habilitation-{r.id}", destinataire=compte.email,
                   template="inscription_habilitation",
                   contexte={"prenom": compte.prenom, "login": compte.login, "etablissement": etab})


def _effect_mail_refus(session, ids, ctx) -> None:
    from .mail import queue_mail

    rows = session.execute(sa.select(DC.id, DC.siret, DC.raison_sociale, DC.contact_prenom, DC.contact_email)
                           .where(DC.id.in_(list(ids)))).all()
    for r in rows:
        queue_mail(session, cle=f"inscription-refusee-{r.id}", destinataire=r.contact_email,
                   template="inscription_refusee",
                   contexte={"prenom": r.contact_prenom, "etablissement": f"{r.raison_sociale} (SIRET {r.siret})",
                             "motif": ctx.params.get("motif_refus", "")})


INSCRIPTION = Workflow("demande_creation_compte", DemandeCreationCompte, [
    T("valider", "Valider l'inscription", {S.DEPOSEE}, S.VALIDEE, {R.SIEGE, R.UD, R.ADMIN},
      guards=[SIRET_LIBRE, TIERS_ACTIF, PLAFOND_TIERS], prepare=[_creer_comptes],
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now},
      effects=[_effect_trois_mails], style="success"),
    T("refuser", "Refuser", {S.DEPOSEE}, S.REFUSEE, {R.SIEGE, R.UD, R.ADMIN},
      params=[Param("motif_refus", "Motif du refus", kind="textarea")],
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now,
                          "motif_refus": ctx.params["motif_refus"]},
      effects=[_effect_mail_refus], style="danger"),
], entity="demande_creation_compte", scope=policy.row_scope)


# ---- R69 / R70: recovery by secret answer ------------------------------------------------------------------

def _cle_question() -> bytes:
    from flask import current_app
    secret = current_app.config["SECRET_KEY"]
    secret = secret if isinstance(secret, bytes) else str(secret).encode("utf-8")
    return hmac.new(secret, b"backoffice/question_leurre/v1", hashlib.sha256).digest()


def _question_leurre(valeur: str) -> str:
    """The question shown for an unknown login or address: always the same one for the same input."""
    mac = hmac.new(_cle_question(), (valeur or "").strip().casefold().encode("utf-8", "replace"),
                   hashlib.sha256).digest()
    return QUESTIONS[mac[0] % len(QUESTIONS)]


def _partenaire(session, login: str | None) -> Compte | None:
    login = (login or "").strip()
    if not login or len(login) > 64:
        return None
    return session.execute(sa.select(Compte).where(Compte.login == login, Compte.role == R.PARTENAIRE)
                           ).scalar_one_or_none()


def _partenaires_par_email(session, email: str | None) -> list[Compte]:
    email = (email or "").strip()
    if not email or len(email) > 254:
        return []
    return session.execute(sa.select(Compte).where(sa.func.lower(Compte.email) == email.lower(),
                                                   Compte.role == R.PARTENAIRE).order_by(Compte.id)).scalars().all()


def _secrets_confirmes(compte: Compte) -> bool:
    # R69 [S004]: the secrets count once the user has logged in (a never-logged-in user goes to the support desk)
    return compte.last_login_at is not None and bool(compte.reponse_secrete_hash and compte.question_secrete)


def question_pour_login(session, login: str) -> tuple[str | None, str | None]:
    """(question, None) to ask, or (None, refusal) for a user who never logged in (R69)."""
    compte = _partenaire(session, login)
    if compte is not None and compte.statut != CompteStatut.DESACTIVE:
        if not _secrets_confirmes(compte):
            return None, MSG_JAMAIS_CONNECTE
        return compte.question_secrete, None
    return _question_leurre(login), None


def question_pour_email(session, email: str) -> tuple[str | None, str | None]:
    comptes = [c for c in _partenaires_par_email(session, email) if c.statut != CompteStatut.DESACTIVE]
    if comptes:
        if not any(_secrets_confirmes(c) for c in comptes):
            return None, MSG_JAMAIS_CONNECTE
        return next(c.question_secrete for c in comptes if _secrets_confirmes(c)), None
    return _question_leurre(email), None


def _essai_reponse(session, cle: str, *, now: datetime) -> bool:
    """Count one answer for this target; False when it already had its 3 wrong tries this hour."""
    from .comptes import _cle_cible, compter_tentative, limite_atteinte
    cible = _cle_cible("reponse_secrete", cle)
    if limite_atteinte(session, cible, nombre=ESSAIS_REPONSE, fenetre=FENETRE_REPONSE, now=now):
        return False
    compter_tentative(session, cible, fenetre=FENETRE_REPONSE, now=now)
    return True


def reinitialiser_par_reponse(session, login: str, reponse: str, *, now: datetime,
                              ip: str | None = None) -> tuple[bool, str]:
    """R69: the right answer mails a single-use link (never a password); (ok, French message)."""
    from .comptes import _emettre_lien

    compte = _partenaire(session, login)
    if compte is not None and compte.statut != CompteStatut.DESACTIVE and not _secrets_confirmes(compte):
        return False, MSG_JAMAIS_CONNECTE
    permis = _essai_reponse(session, login or "", now=now)
    juste = reponse_juste(compte.reponse_secrete_hash if compte is not None else None, reponse)
    if compte is None or compte.statut == CompteStatut.DESACTIVE or not permis or not juste or not compte.email:
        if compte is not None:
            audit.record(session, entity="compte", entity_id=compte.id, action="reponse_secrete_refusee",
                         actor_id=None, params={"limite": not permis}, ip=ip)
        return False, MSG_REPONSE_INCORRECTE
    _emettre_lien(session, compte, now=now)
    audit.record(session, entity="compte", entity_id=compte.id, action="reinitialisation_par_reponse",
                 actor_id=None, ip=ip)
    return True, MSG_LIEN_ENVOYE


def identifiant_par_reponse(session, email: str, reponse: str, *, now: datetime,
                            ip: str | None = None) -> tuple[bool, str]:
    """R70: the right answer mails the login(s) of that address whose answer it is."""
    from .mail import queue_mail

    comptes = [c for c in _partenaires_par_email(session, email) if c.statut != CompteStatut.DESACTIVE]
    if comptes and not any(_secrets_confirmes(c) for c in comptes):
        return False, MSG_JAMAIS_CONNECTE
    permis = _essai_reponse(session, f"email:{email or ''}", now=now)
    justes = [c for c in comptes if _secrets_confirmes(c) and reponse_juste(c.reponse_secrete_hash, reponse)]
    if not comptes:
        reponse_juste(None, reponse)  # same work as a real check
    if not permis or not justes:
        for c in comptes:
            audit.record(session, entity="compte", entity_id=c.id, action="reponse_secrete_refusee", actor_id=None,
                         params={"limite": not permis}, ip=ip)
        return False, MSG_REPONSE_INCORRECTE_IDENTIFIANT
    for c in justes:
        queue_mail(session, cle=f"identifiant-{c.id}-{now:%Y%m%d%H%M%S%f}", destinataire=c.email,
                   template="identifiant_oublie", contexte={"prenom": c.prenom, "login": c.login})
        audit.record(session, entity="compte", entity_id=c.id, action="identifiant_par_reponse", actor_id=None, ip=ip)
    return True, MSG_IDENTIFIANT_ENVOYE


def choisir_secrets(session, compte: Compte, question: str, reponse: str) -> None:
    """R69: a partner's own secret question and answer (an added user has none until they choose them)."""
    if compte.role != R.PARTENAIRE:
        raise TransitionRefused("Seul un compte employeur (extranet) a une question secrète.")
    if question not in QUESTIONS:
        raise TransitionRefused("Choisissez une question secrète dans la liste.")
    if not REPONSE_MIN <= len(normaliser_reponse(reponse)) <= REPONSE_MAX:
        raise TransitionRefused(f"Réponse secrète : {REPONSE_MIN} à {REPONSE_MAX} caractères.")
    compte.question_secrete, compte.reponse_secrete_hash = question, hash_reponse(reponse)
    audit.record(session, entity="compte", entity_id=compte.id, action="secrets_choisis", actor_id=compte.id)
