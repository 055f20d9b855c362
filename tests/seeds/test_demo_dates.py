"""Issue 19: the demo is dated relative to the day it is loaded, for every programme, with a coherent history.

Loaded on the real today and on a day far away (10/03/2031), the same invariants hold across all the tables of
all the programmes (CEJ/PACEA, Afas, activité partielle, NACRE, adultes-relais, service civique, ESAT/EA): nothing
happened after « now », no step of a record before its creation, reconciled batches dated, the locked account
inside its lock window (R68), contracts and conventions in progress around today, batch dates from the calendar
(R41). Once also on SQLite, through `backoffice seed` (the `backoffice demo` path: the real today)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.base import Base
from seeds import load_demo

BIN = Path(sys.executable).parent / "backoffice"

# deadlines (not facts) and what the demo does not write: the journal's seals are made at commit by the real clock,
# the Afas yearly items by the migration (0021)
PAS_DES_FAITS = {"expires_at", "locked_until", "prochain_essai_at", "scelle_at"}
HORS_DEMO = {"audit_sceau", "item_annuel_afas"}
EN_COURS = {"contrat_service_civique": "en_cours", "convention_nacre": "en_cours", "poste_adulte_relais": "en_cours"}


def _colonnes_datees(table):
    return [c.name for c in table.columns if isinstance(c.type, sa.DateTime) and c.name not in PAS_DES_FAITS]


def incoherences(session, today: date, maintenant: datetime) -> list[str]:
    """Every break of the demo's chronology, in French (empty: the history is coherent)."""
    from backoffice.workflows.echeances import date_de_lot
    out = []
    tables = [t for t in Base.metadata.sorted_tables if t.name not in HORS_DEMO]
    creations = {}
    for t in tables:
        cols = _colonnes_datees(t)
        if not cols:
            continue
        has_id, has_created = "id" in t.c, "created_at" in t.c
        rows = session.execute(sa.select(*(t.c[c] for c in cols), *([t.c.id] if has_id else []))).all()
        for row in rows:
            values = dict(zip(cols, row))
            for c, v in values.items():
                if v is not None and v > maintenant:  # nothing happened after « now »
                    out.append(f"{t.name}.{c} = {v} après maintenant ({maintenant})")
            created = values.get("created_at")
            if has_created and created is not None:
                for c, v in values.items():  # every step of a record (validated, decided, paid…) after its creation
                    if v is not None and c != "created_at" and v < created:
                        out.append(f"{t.name} {row[-1] if has_id else ''} : {c} = {v} avant sa création ({created})")
                if has_id:
                    creations[(t.name, row[-1])] = created
    # the audit trail: no event on a record before the record existed, none after « now »
    for entity, entity_id, at, action in session.execute(sa.select(m.AuditEvent.entity, m.AuditEvent.entity_id,
                                                                     m.AuditEvent.at, m.AuditEvent.action)):
        created = creations.get((entity, entity_id))
        if created is not None and at < created:
            out.append(f"audit {action} de {entity} {entity_id} le {at}, avant sa création ({created})")
    # reconciled batches have their date; an emitted one its emission; their date of execution is the calendar's
    # (R41 for CEJ/PACEA, the programme's own otherwise) of the day they were opened
    for lot in session.scalars(sa.select(m.LotPaiement)):
        if lot.statut.value == "rapprochee" and (lot.rapproche_at is None or lot.emis_at is None
                                                or lot.rapproche_at < lot.emis_at):
            out.append(f"lot {lot.reference} rapproché sans date cohérente ({lot.emis_at}, {lot.rapproche_at})")
        if lot.statut.value == "rapprochee" and lot.date_execution > today:
            out.append(f"lot {lot.reference} rapproché mais exécuté le {lot.date_execution}, après aujourd'hui")
        attendue = date_de_lot(session, lot.dispositif_id, lot.dispositif.code, lot.created_at.date())
        if lot.date_execution != attendue:
            out.append(f"lot {lot.reference} du {lot.date_execution}, ouvert le {lot.created_at:%d/%m/%Y} : "
                       f"le calendrier donne le {attendue} (R41)")
    # R68: a locked account is inside its lock window
    for c in session.scalars(sa.select(m.Compte).where(m.Compte.statut == "verrouille")):
        if c.locked_at is None or c.locked_at > maintenant or (c.locked_until is not None
                                                               and c.locked_until <= maintenant):
            out.append(f"compte {c.login} verrouillé hors de sa fenêtre ({c.locked_at} → {c.locked_until})")
    # contracts, conventions and posts: « en cours » around today, ended ones ended; some in progress
    for name, statut in EN_COURS.items():
        t = Base.metadata.tables[name]
        rows = session.execute(sa.select(t.c.id, t.c.statut, t.c.date_debut, t.c.date_fin)).all()
        en_cours = [r for r in rows if r.statut == statut]
        if not en_cours:
            out.append(f"{name} : aucun en cours")
        for r in en_cours:
            if not r.date_debut <= today <= r.date_fin:
                out.append(f"{name} {r.id} en cours du {r.date_debut} au {r.date_fin}, aujourd'hui {today}")
    ouverts = session.execute(sa.select(sa.func.count()).select_from(m.Inscription).where(
        m.Inscription.statut == "ouvert", m.Inscription.date_debut <= today,
        m.Inscription.date_fin_prevue >= today)).scalar_one()
    if not ouverts:
        out.append("aucun parcours en cours aujourd'hui")
    futurs = session.execute(sa.select(sa.func.count()).select_from(m.Allocation).where(
        m.Allocation.mois > today)).scalar_one()
    if futurs:
        out.append(f"{futurs} allocations d'un mois à venir")
    return out


def _maintenant(today: date) -> datetime:
    from seeds import horloge
    return horloge.t0() if horloge.aujourdhui() == today else datetime.combine(today, time(23, 59, 59))


@pytest.mark.parametrize("today", [None, date(2031, 3, 10)], ids=["aujourd'hui", "10-03-2031"])
def test_the_demo_history_is_coherent_with_its_today_in_every_programme_R41_R68(db, today):
    from backoffice import clock
    load_demo(db.session, seed=2026, today=today)
    db.session.commit()
    jour = today or clock.now().date()
    assert incoherences(db.session, jour, _maintenant(jour)) == []
    # its « now » is the day it is loaded on: the newest audit event is today's, the youths are 16 to 25 (R9)
    last = db.session.execute(sa.select(sa.func.max(m.AuditEvent.at))).scalar_one()
    assert last.date() == jour
    naissances = db.session.execute(sa.select(sa.func.min(m.Beneficiaire.date_naissance),
                                              sa.func.max(m.Beneficiaire.date_naissance))).one()
    assert jour.year - 26 <= naissances[0].year and naissances[1].year <= jour.year - 15
    # R63/R69: its partner accounts have logged in once and chosen their secret question: recovery works
    from backoffice.workflows.inscriptions import question_pour_login, reponse_juste
    from seeds.comptes import DEMO_REPONSE
    partenaires = db.session.scalars(sa.select(m.Compte).where(m.Compte.role == "partenaire")).all()
    assert len(partenaires) >= 10
    for c in partenaires:
        question, refus = question_pour_login(db.session, c.login)
        assert refus is None and question, c.login
    assert reponse_juste(partenaires[0].reponse_secrete_hash, "  medor ")  # case and accents do not count
    assert DEMO_REPONSE == "Médor"


def test_backoffice_seed_on_sqlite_writes_a_coherent_history_of_the_real_today(tmp_path):
    url = f"sqlite:///{tmp_path}/demo.sqlite3"
    env = dict(os.environ, DATABASE_URL=url, JOBS_MODE="inline")
    start = datetime.now(timezone.utc).replace(tzinfo=None)
    subprocess.run([str(BIN), "seed"], env=env, check=True, capture_output=True, timeout=600)
    end = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=1)
    engine = sa.create_engine(url)
    try:
        with sa.orm.Session(engine) as s:
            assert incoherences(s, start.date(), end) == []
            last = s.execute(sa.select(sa.func.max(m.AuditEvent.at))).scalar_one()
            assert start - timedelta(minutes=2) <= last <= end
    finally:
        engine.dispose()
