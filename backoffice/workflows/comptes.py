"""Account life cycle at login: actif <-> verrouille (R68), desactive; passwords (R66, R67); recovery
by e-mailed link (R69, R70: for staff, the mailbox proves who asks; a partner answers their secret question
first, workflows.inscriptions); the throttle log.

Every status change here writes an audit event. Lockout and throttle state live in the database, so
they hold whatever happens to Redis or to the web process. The support desk's unlock, deactivation
and forced change are transitions (workflows.compte_transitions).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..models import Compte, JetonCompte
from ..models.comptes import LimitationTentative
from ..models.enums import CompteStatut, Role
from ..passwords import hash_password, needs_rehash, verify_password
from . import audit
from .errors import RoleRefused, TransitionRefused

MAX_ECHECS = 3  # R68: three consecutive wrong passwords lock the account
DUREE_VERROUILLAGE = timedelta(minutes=30)  # R68: it unlocks itself 30 minutes after the 3rd failure
# Consecutive failures across auto-unlocks after which only the support desk can unlock (a slow,
# patient guesser gets 3 tries per 30 minutes: this caps it at 100 in all).
SEUIL_VERROUILLAGE_DEFINITIF = 100
DUREE_JETON = timedelta(minutes=30)  # R69: a reset link is valid 30 minutes, once
LOGIN_MAX = 64

MESSAGE_ECHEC = "Identifiant ou mot de passe incorrect, ou compte verrouillé."


@dataclass(frozen=True)
class LoginResult:
    compte: Compte | None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.compte is not None


def _clean_login(login: str | None) -> str | None:
    """The login as stored, or None when it cannot be one (too long, NUL, control characters):
    such input then takes the unknown-user path, with the same answer and the same work."""
    login = (login or "").strip()
    if not login or len(login) > LOGIN_MAX or any(unicodedata.category(c) == "Cc" for c in login):
        return None
    return login


def etat_verrouillage(compte: Compte, now: datetime) -> str:
    """The lock state as the accounts grid shows it (R68), e.g. « Verrouillé : encore 12 min »."""
    if compte.statut == CompteStatut.DESACTIVE:
        return "Désactivé"
    if compte.statut == CompteStatut.VERROUILLE:
        if compte.locked_until is None:
            return "Verrouillé : déblocage par l'assistance uniquement"
        reste = (compte.locked_until - now).total_seconds()
        if reste > 0:
            return f"Verrouillé : encore {math.ceil(reste / 60)} min"
        return "Actif (verrouillage expiré)"
    if compte.failed_attempts:
        return f"Actif ({compte.failed_attempts} échec{'s' if compte.failed_attempts > 1 else ''} récent" \
               f"{'s' if compte.failed_attempts > 1 else ''})"
    return "Actif"


# ---- login (R68) ---------------------------------------------------------------------------------

def _auto_unlock_if_due(session, compte: Compte, now: datetime, ip: str | None) -> None:
    if (compte.statut == CompteStatut.VERROUILLE and compte.locked_until is not None
            and now >= compte.locked_until):
        compte.statut = CompteStatut.ACTIF
        compte.failed_attempts = 0
        compte.locked_at = None
        compte.locked_until = None
        audit.record(session, entity="compte", entity_id=compte.id, action="deverrouillage_auto",
                     actor_id=None, from_status="verrouille", to_status="actif", ip=ip)


def _check(session, compte: Compte, password: str, *, now: datetime, ip: str | None,
           succes: str, echec: str, refus: str) -> LoginResult:
    """Password check of a known account, with the lockout rules; shared by login and re-auth."""
    _auto_unlock_if_due(session, compte, now, ip)
    password_ok = verify_password(compte.password_hash, password)  # always: same work when locked

    if compte.statut != CompteStatut.ACTIF:
        audit.record(session, entity="compte", entity_id=compte.id, action=f"{refus}_{compte.statut.value}",
                     actor_id=None, ip=ip)
        return LoginResult(None, MESSAGE_ECHEC)

    if not password_ok:
        compte.failed_attempts += 1
        compte.failures_since_unlock_total += 1
        compte.last_failed_at = now
        audit.record(session, entity="compte", entity_id=compte.id, action=echec, actor_id=None,
                     params={"echecs_consecutifs": compte.failed_attempts}, ip=ip)
        definitif = compte.failures_since_unlock_total >= SEUIL_VERROUILLAGE_DEFINITIF
        if definitif or compte.failed_attempts >= MAX_ECHECS:
            compte.statut = CompteStatut.VERROUILLE
            compte.locked_at = now
            compte.locked_until = None if definitif else now + DUREE_VERROUILLAGE
            audit.record(session, entity="compte", entity_id=compte.id, action="verrouillage",
                         actor_id=None, from_status="actif", to_status="verrouille",
                         params={"definitif": definitif, "jusqu_a": compte.locked_until}, ip=ip)
        return LoginResult(None, MESSAGE_ECHEC)

    compte.failed_attempts = 0  # R68: a success resets the counter (E11)
    compte.failures_since_unlock_total = 0
    if needs_rehash(compte.password_hash):
        compte.password_hash = hash_password(password)
    audit.record(session, entity="compte", entity_id=compte.id, action=succes, actor_id=compte.id, ip=ip)
    return LoginResult(compte)


def authenticate(session, login: str, password: str, *, now: datetime, ip: str | None = None) -> LoginResult:
    """Check a login. Same answer and the same argon2 work for an unknown user, a wrong password and a
    locked or deactivated account (no enumeration)."""
    clean = _clean_login(login)
    compte = None
    if clean is not None:
        compte = session.execute(sa.select(Compte).where(Compte.login == clean).with_for_update()
                                 ).scalar_one_or_none()
    if compte is None:
        verify_password(None, password)  # same work as a real check: similar timing
        audit.record(session, entity="compte", entity_id=None, action="connexion_echec", actor_id=None,
                     params={"login": (login or "")[:LOGIN_MAX].replace("\x00", "")}, ip=ip)
        return LoginResult(None, MESSAGE_ECHEC)
    result = _check(session, compte, password, now=now, ip=ip, succes="connexion", echec="connexion_echec",
                    refus="connexion_refusee")
    if result.ok:
        compte.last_login_at = now
    return result


def reauthenticate(session, compte: Compte, password: str, *, now: datetime, ip: str | None = None) -> LoginResult:
    """Re-enter the password before a sensitive action: failures count towards the lockout (R68)."""
    session.refresh(compte, with_for_update=True)
    return _check(session, compte, password, now=now, ip=ip, succes="reauthentification",
                  echec="reauthentification_echec", refus="reauthentification_refusee")


def change_password(session, compte: Compte, new_password: str, *, now: datetime) -> None:
    """Set a new password (already checked against R67 by the form); revoke every other session."""
    compte.password_hash = hash_password(new_password)
    compte.must_change_password = False
    compte.password_changed_at = now
    compte.session_generation += 1
    audit.record(session, entity="compte", entity_id=compte.id, action="changement_mot_de_passe",
                 actor_id=compte.id)


def logout(session, compte: Compte) -> None:
    """Revoke the session server-side: the old cookie no longer matches session_generation."""
    compte.session_generation += 1
    audit.record(session, entity="compte", entity_id=compte.id, action="deconnexion", actor_id=compte.id)


# ---- throttle log (sliding window) ---------------------------------------------------------------

def limite_atteinte(session, cle: str, *, nombre: int, fenetre: timedelta, now: datetime) -> bool:
    """True when `cle` already counted `nombre` attempts in the last `fenetre`."""
    n = session.execute(sa.select(sa.func.count()).select_from(LimitationTentative).where(
        LimitationTentative.cle == cle, LimitationTentative.at > now - fenetre)).scalar_one()
    return n >= nombre


def compter_tentative(session, cle: str, *, fenetre: timedelta, now: datetime) -> None:
    """Count one attempt for `cle`, and forget this key's attempts older than the window."""
    session.execute(sa.delete(LimitationTentative).where(LimitationTentative.cle == cle,
                                                         LimitationTentative.at <= now - fenetre))
    session.add(LimitationTentative(cle=cle, at=now))
    session.flush()


def purger_tentatives(session, *, avant: datetime) -> int:
    """Forget every counted attempt older than `avant` (keys nobody retried)."""
    return session.execute(sa.delete(LimitationTentative).where(LimitationTentative.at < avant)).rowcount


def _cle_cible(prefixe: str, valeur: str) -> str:
    # a digest, not the login or e-mail itself: the throttle log holds no personal data
    return f"{prefixe}:{hashlib.sha256(valeur.strip().casefold().encode('utf-8', 'replace')).hexdigest()[:40]}"


# ---- recovery (R69, R70: the mailbox proves who you are, no secret question) ----------------------

LIMITE_PAR_CIBLE = 3  # mails per login or e-mail address and per hour: no mailbombing
FENETRE_CIBLE = timedelta(hours=1)


def hash_jeton(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


# ---- the token itself is never stored (issue 12, finding 1) -----------------------------------------
# A link's token is derived from SECRET_KEY and a random nonce: token = HMAC-SHA256(K, "jeton_compte:v1:
# <usage>:<nonce>"), K itself an HMAC of SECRET_KEY (a key of its own, not the session-signing one).
# The database keeps the token's SHA-256 (jeton_compte.token_hash, for the lookup) and the mail outbox
# keeps only a reference {id of the token row, nonce} under REF_JETON: the mail job derives the token
# again at send time, and a resend derives the same one. Neither the nonce nor the digest gives the
# token without SECRET_KEY: no screen, export, log or database reader can rebuild the link. A changed
# SECRET_KEY invalidates the links not yet sent (a new request gives a new one).

REF_JETON = "jeton_ref"  # key of the reference in mail_outbox.contexte
_ETIQUETTE = b"backoffice/jeton_compte/v1"


def _cle_jetons() -> bytes:
    from flask import current_app
    secret = current_app.config["SECRET_KEY"]
    secret = secret if isinstance(secret, bytes) else str(secret).encode("utf-8")
    return hmac.new(secret, _ETIQUETTE, hashlib.sha256).digest()


def deriver_jeton(usage: str, nonce: str) -> str:
    """The token of a link (43 url-safe characters), from its nonce and SECRET_KEY."""
    mac = hmac.new(_cle_jetons(), f"jeton_compte:v1:{usage}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def lien_reinitialisation(token: str) -> str:
    """The absolute link, on the configured public address (PUBLIC_URL), never on the request's Host
    header: a forged Host would otherwise send the victim's token to the attacker's site."""
    from flask import current_app
    base = (current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")
    return f"{base}/password/reset/{token}"


def lien_de_reference(ref: dict) -> str:
    """The link a mail's reference stands for (the mail job, at send time)."""
    return lien_reinitialisation(deriver_jeton(ref.get("usage", "reinitialisation"), ref["nonce"]))


def _emettre_lien(session, compte: Compte, *, now: datetime, duree: timedelta = DUREE_JETON,
                  template: str = "reinitialisation_mot_de_passe", contexte: dict | None = None) -> None:
    """A new single-use link (older unused ones die), stored hashed, mailed to the account's address.
    The outbox row holds a reference to the token row, never the token (see deriver_jeton).
    (A new partner user's first link lasts 48 hours, R65: workflows.habilitations.)"""
    from .mail import queue_mail

    session.execute(sa.update(JetonCompte).where(
        JetonCompte.compte_id == compte.id, JetonCompte.usage == "reinitialisation",
        JetonCompte.used_at.is_(None)).values(used_at=now))
    nonce = secrets.token_urlsafe(24)
    jeton = JetonCompte(compte_id=compte.id, usage="reinitialisation",
                        token_hash=hash_jeton(deriver_jeton("reinitialisation", nonce)), expires_at=now + duree)
    session.add(jeton)
    session.flush()
    queue_mail(session, cle=f"reinitialisation-{jeton.id}", destinataire=compte.email, template=template,
               contexte={"prenom": compte.prenom, **(contexte or {}),
                         REF_JETON: {"id": jeton.id, "usage": "reinitialisation", "nonce": nonce}},
               antenne_id=compte.structure_id)


def demander_reinitialisation(session, login: str, *, now: datetime, ip: str | None = None) -> None:
    """Forgotten password: mail a link if the account exists. Returns nothing, so the caller cannot
    answer differently whether it exists or not."""
    clean = _clean_login(login)
    cle = _cle_cible("oubli_mdp", clean or "")
    if clean is None or limite_atteinte(session, cle, nombre=LIMITE_PAR_CIBLE, fenetre=FENETRE_CIBLE, now=now):
        return
    compter_tentative(session, cle, fenetre=FENETRE_CIBLE, now=now)
    compte = session.execute(sa.select(Compte).where(Compte.login == clean)).scalar_one_or_none()
    if compte is None or compte.statut == CompteStatut.DESACTIVE or not compte.email:
        return
    if compte.role == Role.PARTENAIRE:  # R69: a partner proves it with the secret answer (extranet pages)
        return
    _emettre_lien(session, compte, now=now)
    audit.record(session, entity="compte", entity_id=compte.id, action="reinitialisation_demandee",
                 actor_id=None, ip=ip)


def envoyer_identifiant(session, email: str, *, now: datetime, ip: str | None = None) -> None:
    """Forgotten login: mail it to the address on record (each account with that address)."""
    from .mail import queue_mail

    email = (email or "").strip()
    cle = _cle_cible("oubli_identifiant", email)
    if (not email or len(email) > 254 or "\x00" in email
            or limite_atteinte(session, cle, nombre=LIMITE_PAR_CIBLE, fenetre=FENETRE_CIBLE, now=now)):
        return
    compter_tentative(session, cle, fenetre=FENETRE_CIBLE, now=now)
    # R70: a partner's login is sent after the secret answer (extranet pages), not from this page
    comptes = session.execute(sa.select(Compte).where(sa.func.lower(Compte.email) == email.lower(),
                                                      Compte.role != Role.PARTENAIRE,
                                                      Compte.statut != CompteStatut.DESACTIVE)).scalars().all()
    for compte in comptes:
        queue_mail(session, cle=f"identifiant-{compte.id}-{now:%Y%m%d%H%M%S%f}", destinataire=compte.email,
                   template="identifiant_oublie", contexte={"prenom": compte.prenom, "login": compte.login},
                   antenne_id=compte.structure_id)
        audit.record(session, entity="compte", entity_id=compte.id, action="identifiant_envoye",
                     actor_id=None, ip=ip)


def declencher_reinitialisation(session, compte_id: int, actor_id: int, *, now: datetime | None = None) -> None:
    """The support desk (or an admin) sends a user a reset link. The desk never sees the link nor a
    password: the link goes to the user's own mailbox (R69)."""
    from .. import clock

    now = now or clock.now()
    actor = session.get(Compte, actor_id)
    if actor is None or actor.role not in (Role.SUPPORT, Role.ADMIN):
        raise RoleRefused("Seuls l'assistance et les administrateurs peuvent envoyer un lien de réinitialisation.")
    compte = session.get(Compte, compte_id)
    if compte is None:
        raise TransitionRefused("Compte introuvable.")
    if compte.role == Role.ADMIN and actor.role != Role.ADMIN:  # the hierarchy of compte_transitions
        raise TransitionRefused("Seul un administrateur agit sur le compte d'un administrateur.")
    if compte.statut == CompteStatut.DESACTIVE:
        raise TransitionRefused("Compte désactivé : réactivez-le d'abord.")
    if not compte.email:
        raise TransitionRefused("Ce compte n'a pas d'adresse e-mail.")
    _emettre_lien(session, compte, now=now)
    audit.record(session, entity="compte", entity_id=compte.id, action="reinitialisation_declenchee",
                 actor_id=actor_id)


def jeton_valide(session, token: str, *, now: datetime) -> JetonCompte | None:
    """The reset token if it is usable now (known, unused, unexpired, account not deactivated)."""
    if not token or len(token) > 128:
        return None
    return session.execute(sa.select(JetonCompte).join(Compte, Compte.id == JetonCompte.compte_id).where(
        JetonCompte.token_hash == hash_jeton(token), JetonCompte.usage == "reinitialisation",
        JetonCompte.used_at.is_(None), JetonCompte.expires_at > now,
        Compte.statut != CompteStatut.DESACTIVE)).scalar_one_or_none()


def reinitialiser_mot_de_passe(session, token: str, new_password: str, *, now: datetime,
                               ip: str | None = None) -> Compte | None:
    """Consume the token (one conditional UPDATE: two clicks cannot both use it) and set the
    password (R67 checked by the form). Nothing more is forced; every open session is revoked; a
    temporary lock is lifted (the mailbox proved who asks), a definitive one stays for the desk."""
    if not token or len(token) > 128:
        return None
    compte_id = session.execute(
        sa.update(JetonCompte).where(
            JetonCompte.token_hash == hash_jeton(token), JetonCompte.usage == "reinitialisation",
            JetonCompte.used_at.is_(None), JetonCompte.expires_at > now)
        .values(used_at=now).returning(JetonCompte.compte_id)).scalar_one_or_none()
    if compte_id is None:
        return None
    compte = session.execute(sa.select(Compte).where(Compte.id == compte_id).with_for_update()).scalar_one()
    if compte.statut == CompteStatut.DESACTIVE:
        return None
    compte.password_hash = hash_password(new_password)
    compte.must_change_password = False
    compte.password_changed_at = now
    compte.session_generation += 1
    if compte.statut == CompteStatut.VERROUILLE and compte.locked_until is not None:
        compte.statut = CompteStatut.ACTIF
        compte.failed_attempts = 0
        compte.locked_at = compte.locked_until = None
        audit.record(session, entity="compte", entity_id=compte.id, action="deverrouillage_reinitialisation",
                     actor_id=compte.id, from_status="verrouille", to_status="actif", ip=ip)
    audit.record(session, entity="compte", entity_id=compte.id, action="reinitialisation_mot_de_passe",
                 actor_id=compte.id, ip=ip)
    return compte
