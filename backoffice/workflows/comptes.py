"""Account life cycle: actif <-> verrouille (R68), desactive; login and password changes (R66, R67).

Every status change here writes an audit event. Lockout state lives in PostgreSQL, so it holds
whatever happens to Redis or to the web process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..models import Compte
from ..models.enums import CompteStatut
from ..passwords import hash_password, needs_rehash, verify_password
from . import audit

MAX_ECHECS = 3  # R68: three consecutive wrong passwords lock the account
DUREE_VERROUILLAGE = timedelta(minutes=30)  # R68: it unlocks itself 30 minutes after the 3rd failure
SEUIL_VERROUILLAGE_DEFINITIF = 100  # failures across auto-unlocks before only the support desk can unlock

MESSAGE_ECHEC = "Identifiant ou mot de passe incorrect, ou compte verrouillé."


@dataclass(frozen=True)
class LoginResult:
    compte: Compte | None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.compte is not None


def _auto_unlock_if_due(session, compte: Compte, now: datetime) -> None:
    if (compte.statut == CompteStatut.VERROUILLE and compte.locked_until is not None
            and now >= compte.locked_until):
        compte.statut = CompteStatut.ACTIF
        compte.failed_attempts = 0
        compte.locked_at = None
        compte.locked_until = None
        audit.record(session, entity="compte", entity_id=compte.id, action="deverrouillage_auto",
                     actor_id=None, from_status="verrouille", to_status="actif")


def authenticate(session, login: str, password: str, *, now: datetime, ip: str | None = None) -> LoginResult:
    """Check a login. Same answer for unknown user, wrong password and locked account (no enumeration)."""
    compte = session.execute(
        sa.select(Compte).where(Compte.login == (login or "").strip()).with_for_update()
    ).scalar_one_or_none()
    if compte is None:
        verify_password(None, password)  # same work as a real check: similar timing
        audit.record(session, entity="compte", entity_id=None, action="connexion_echec",
                     actor_id=None, params={"login": (login or "")[:64]}, ip=ip)
        return LoginResult(None, MESSAGE_ECHEC)

    _auto_unlock_if_due(session, compte, now)
    password_ok = verify_password(compte.password_hash, password)

    if compte.statut == CompteStatut.DESACTIVE:
        audit.record(session, entity="compte", entity_id=compte.id, action="connexion_refusee_desactive",
                     actor_id=None, ip=ip)
        return LoginResult(None, MESSAGE_ECHEC)
    if compte.statut == CompteStatut.VERROUILLE:
        audit.record(session, entity="compte", entity_id=compte.id, action="connexion_refusee_verrouille",
                     actor_id=None, ip=ip)
        return LoginResult(None, MESSAGE_ECHEC)

    if not password_ok:
        compte.failed_attempts += 1
        compte.failures_since_unlock_total += 1
        compte.last_failed_at = now
        audit.record(session, entity="compte", entity_id=compte.id, action="connexion_echec",
                     actor_id=None, params={"echecs_consecutifs": compte.failed_attempts}, ip=ip)
        if compte.failed_attempts >= MAX_ECHECS:
            compte.statut = CompteStatut.VERROUILLE
            compte.locked_at = now
            definitif = compte.failures_since_unlock_total >= SEUIL_VERROUILLAGE_DEFINITIF
            compte.locked_until = None if definitif else now + DUREE_VERROUILLAGE
            audit.record(session, entity="compte", entity_id=compte.id, action="verrouillage",
                         actor_id=None, from_status="actif", to_status="verrouille",
                         params={"definitif": definitif, "jusqu_a": compte.locked_until}, ip=ip)
        return LoginResult(None, MESSAGE_ECHEC)

    compte.failed_attempts = 0
    compte.last_login_at = now
    if needs_rehash(compte.password_hash):
        compte.password_hash = hash_password(password)
    audit.record(session, entity="compte", entity_id=compte.id, action="connexion", actor_id=compte.id, ip=ip)
    return LoginResult(compte)


def change_password(session, compte: Compte, new_password: str, *, now: datetime) -> None:
    """Set a new password (already checked against R67 by the form); revoke other sessions."""
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
