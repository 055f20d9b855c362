"""What « the demo data is consistent » means (issue 19), checked on any loaded demo: dates in the past of its
"today", each record's steps in order, statuses that match their dates."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.base import Base
from backoffice.models.enums import CompteStatut, InscriptionStatut, LotStatut

# the only instants that may lie after "today": when a lock ends, a link expires, a mail is retried
A_VENIR = {"locked_until", "expires_at", "prochain_essai_at"}


def incoherences(session, t0: datetime) -> list[str]:
    """Every contradiction found, in French, empty when the demo tells one story."""
    found: list[str] = []
    for table in Base.metadata.sorted_tables:
        if table.name == "audit_sceau":  # the journal's seals are the machine's real time, by design
            continue
        dates = [c for c in table.columns if isinstance(c.type, sa.DateTime) and c.name not in A_VENIR]
        if not dates:
            continue
        for c in dates:  # nothing happened after the demo's "today"
            n = session.execute(sa.select(sa.func.count()).select_from(table).where(c > t0)).scalar_one()
            if n:
                found.append(f"{table.name}.{c.name} : {n} ligne(s) après le {t0:%d/%m/%Y %H:%M}")
        if "created_at" in table.columns:  # « Créé le » before anything that happened to the row
            cree = table.columns["created_at"]
            for c in dates:
                if c.name == "created_at" or c.name in ("last_login_at", "password_changed_at", "last_failed_at"):
                    continue
                n = session.execute(sa.select(sa.func.count()).select_from(table).where(c < cree)).scalar_one()
                if n:
                    found.append(f"{table.name}.{c.name} : {n} ligne(s) avant leur création")
    a = m.Allocation  # the allowance's steps in order
    for avant, apres in ((a.soumise_at, a.validee_at), (a.validee_at, a.transmise_at), (a.transmise_at, a.versee_at)):
        n = session.execute(sa.select(sa.func.count()).where(apres < avant)).scalar_one()
        if n:
            found.append(f"allocation : {n} ligne(s) avec {apres.key} avant {avant.key}")
    n = session.execute(sa.select(sa.func.count()).select_from(m.LotPaiement).where(
        m.LotPaiement.statut == LotStatut.RAPPROCHEE,
        sa.or_(m.LotPaiement.rapproche_at.is_(None), m.LotPaiement.rapproche_at < m.LotPaiement.emis_at))).scalar_one()
    if n:
        found.append(f"lot_paiement : {n} lot(s) « Rapproché » sans date de rapprochement après l'émission")
    n = session.execute(sa.select(sa.func.count()).select_from(m.LotPaiement).where(
        m.LotPaiement.statut.in_([LotStatut.EMISE, LotStatut.RAPPROCHEE]), m.LotPaiement.emis_at.is_(None))).scalar_one()
    if n:
        found.append(f"lot_paiement : {n} lot(s) émis sans date d'émission")
    n = session.execute(sa.select(sa.func.count()).select_from(m.Inscription).where(
        m.Inscription.statut.in_([InscriptionStatut.OUVERT, InscriptionStatut.RENOUVELE]),
        m.Inscription.date_fin_prevue < t0.date())).scalar_one()
    if n:
        found.append(f"inscription : {n} parcours encore ouverts après leur fin prévue")
    n = session.execute(sa.select(sa.func.count()).select_from(m.Compte).where(
        m.Compte.statut == CompteStatut.VERROUILLE, m.Compte.locked_until.is_not(None),
        m.Compte.locked_until <= t0)).scalar_one()
    if n:
        found.append(f"compte : {n} compte(s) « Verrouillé » dont le verrouillage est fini")
    return found
