"""One demo account per role (DESIGN.md): login = role name, password Demo-2026!, no forced change."""

from __future__ import annotations

import sqlalchemy as sa

from backoffice.models import Compte
from backoffice.models.enums import Role
from backoffice.passwords import hash_password

DEMO_PASSWORD = "Demo-2026!"

# login, role, prénom, nom, structure code
DEMO_ACCOUNTS = [
    ("admin", Role.ADMIN, "Alice", "Administratrice", "ML-SIEGE"),
    ("siege", Role.SIEGE, "Sébastien", "Valideur", "ML-SIEGE"),
    ("manager", Role.MANAGER, "Margaux", "Responsable", "ML-SIEGE"),
    ("support", Role.SUPPORT, "Samir", "Assistance", "ML-SIEGE"),
    ("comptable", Role.COMPTABLE, "Claire", "Comptable", "ML-SIEGE"),
    ("conseiller", Role.CONSEILLER, "Camille", "Conseillère", "ML-ANT-NORD"),
    ("conseiller2", Role.CONSEILLER, "Karim", "Conseiller", "ML-ANT-SUD"),
    # activité partielle: the Nord's unité départementale (scope: the establishments of département 59)
    ("ud", Role.UD, "Ulysse", "Agent UD", "UD-59"),
    # Afas (issue 15): the Caf's agent, processes the Espaces de rencontre's declarations
    ("caf", Role.CAF, "Carole", "Agent Caf", "ML-SIEGE"),
    # ESAT (issue 16, R53): the ARS agent of Hauts-de-France, sets the DGF of the ESATs of its région
    ("ars", Role.ARS, "Arsène", "Agent ARS", "ARS-HDF"),
]


def _structure_ud(session, structures: dict):
    from backoffice.models import Structure
    from backoffice.models.enums import TypeStructure
    if "UD-59" not in structures:
        ud = session.scalars(sa.select(Structure).where(Structure.code == "UD-59")).first()
        if ud is None:
            ud = Structure(code="UD-59", nom="Unité départementale du Nord (DDETS 59)", type=TypeStructure.UD,
                           code_postal="59000", ville="Lille", email="ud59@ddets.example.fr")
            session.add(ud)
            session.flush()
        structures["UD-59"] = ud


def _structure_ars(session, structures: dict):
    from backoffice.models import Structure
    from backoffice.models.enums import TypeStructure
    if "ARS-HDF" not in structures:
        ars = session.scalars(sa.select(Structure).where(Structure.code == "ARS-HDF")).first()
        if ars is None:
            ars = Structure(code="ARS-HDF", nom="Agence régionale de santé Hauts-de-France", type=TypeStructure.ARS,
                            code_postal="59000", ville="Lille", email="ars-hdf@ars.example.fr")
            session.add(ars)
            session.flush()
        structures["ARS-HDF"] = ars


def load_demo_accounts(session, structures: dict, *, password: str = DEMO_PASSWORD) -> dict[str, Compte]:
    existing = {c.login: c for c in session.scalars(sa.select(Compte))}
    _structure_ud(session, structures)
    _structure_ars(session, structures)
    password_hash = hash_password(password)  # one hash for all: argon2 is slow on purpose
    for login, role, prenom, nom, code in DEMO_ACCOUNTS:
        if login in existing:
            continue
        compte = Compte(login=login, role=role, prenom=prenom, nom=nom,
                        email=f"{login}@ml-metropole.example.fr", structure_id=structures[code].id,
                        password_hash=password_hash, must_change_password=False)
        session.add(compte)
        existing[login] = compte
    session.flush()
    return existing


# R63/R69 (issue 14): the demo's partner accounts have a secret question and its hashed answer, and have logged in
# once, so that « Mot de passe oublié » / « Identifiant oublié » work for them in the demo. Demo-only accounts:
# the answer is public, like their password (README).
DEMO_QUESTION_INDEX = 0  # « Quel est le nom de votre premier animal de compagnie ? »
DEMO_REPONSE = "Médor"


def secrets_des_partenaires(session) -> int:
    """Each partner account of the seed without secrets: a first login a day after it was opened (R69: the
    secrets count once the user has logged in), then its question and answer chosen (workflows.inscriptions
    .choisir_secrets for the first one; the others get the same digest and the same audit, one argon2 for all)."""
    from datetime import timedelta

    from backoffice.workflows import audit
    from backoffice.workflows.inscriptions import QUESTIONS, choisir_secrets

    from . import horloge as H
    comptes = session.scalars(sa.select(Compte).where(Compte.role == Role.PARTENAIRE,
                                                      Compte.reponse_secrete_hash.is_(None)).order_by(Compte.id)).all()
    question, digest = QUESTIONS[DEMO_QUESTION_INDEX], None
    for compte in comptes:
        quand = H.a(min(compte.created_at + timedelta(days=1), H.t0() - timedelta(hours=1)))
        compte.last_login_at = quand
        audit.record(session, entity="compte", entity_id=compte.id, action="connexion", actor_id=compte.id)
        H.a(quand + timedelta(minutes=2))
        if digest is None:
            choisir_secrets(session, compte, question, DEMO_REPONSE)
            digest = compte.reponse_secrete_hash
        else:
            compte.question_secrete, compte.reponse_secrete_hash = question, digest
            audit.record(session, entity="compte", entity_id=compte.id, action="secrets_choisis", actor_id=compte.id)
    session.flush()
    return len(comptes)
