"""preparer_paies_mensuelles: the scheduler prepares each programme's monthly run (issue 13, issue 16) — never pays.

On the first of its calendar days (the programme's `calendrier_paiement`, data) of each month, or at the first tick
after it, every agreement in progress of the programme (NACRE conventions, R51; Adultes-relais posts, R52) is frozen
into a bulk run of the previous month's `payer_mois`, left as a dry run (« aperçu ») for a human to open, check
and confirm on the run's page (admin_views/paie_programmes.py): the payables are created only by that confirmation.
[derived: the month paid is the one just ended; the ASP's own preparation day is not in the sources.]

Audited (one event per preparation, with what the dry run would pay and refuse) and idempotent: the programme's
dispositif row is locked while the month's preparation is looked up, so two ticks, or two workers, prepare it once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from . import require_app_context

DESCRIPTION = "Paie mensuelle programmée {code} de {mois:%m/%Y} (à confirmer)"


def _programmes():
    from backoffice.models import ConventionNacre, PosteAdulteRelais
    from backoffice.workflows import adultes_relais, nacre
    return [("NACRE", nacre.CONVENTION, ConventionNacre), ("AR", adultes_relais.POSTE, PosteAdulteRelais)]


def _preparateur(session):
    """Who the prepared run waits for: the first active payment officer (any comptable or siège agent may open
    and confirm it, and becomes its actor)."""
    from backoffice.models import Compte
    from backoffice.models.enums import CompteStatut, Role
    return session.execute(sa.select(Compte.id).where(Compte.role.in_([Role.COMPTABLE, Role.SIEGE]),
                                                      Compte.statut == CompteStatut.ACTIF)
                           .order_by(sa.case((Compte.role == Role.COMPTABLE, 0), else_=1), Compte.id)
                           .limit(1)).scalar_one_or_none()


def mois_a_preparer(session, dispositif_id: int, code: str, today: date) -> date | None:
    """The month to prepare today for this programme: the previous one, once today reached the first of the
    programme's calendar days this month (None before)."""
    from backoffice.models import CalendrierPaiement
    from backoffice.workflows.echeances import CALENDRIER_R41, PROGRAMMES, _jours
    jours = session.execute(sa.select(CalendrierPaiement.jours)
                            .where(CalendrierPaiement.dispositif_id == dispositif_id)).scalar_one_or_none()
    if jours is None:
        jours = (CALENDRIER_R41.get(code) or PROGRAMMES[code][1:])[0]
    if today.day < _jours(jours)[0]:
        return None
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def preparer(session, now: datetime) -> list[int]:
    """The bulk runs prepared by this tick (already prepared months are skipped). Does not commit."""
    from backoffice.models import BulkRun, Dispositif
    from backoffice.models.enums import BulkRunStatut, ConventionStatut
    from backoffice.workflows import audit
    from backoffice.workflows.echeances import dispositif_programme
    from backoffice.workflows.engine import run
    from backoffice.workflows.selection import Selection
    created = []
    for code, wf, model in _programmes():
        dispositif_id = dispositif_programme(session, code).id
        # one preparation per programme and month, whatever the ticks or workers running at once
        session.execute(sa.select(Dispositif.id).where(Dispositif.id == dispositif_id).with_for_update())
        mois = mois_a_preparer(session, dispositif_id, code, now.date())
        if mois is None:
            continue
        description = DESCRIPTION.format(code=code, mois=mois)
        if session.execute(sa.select(BulkRun.id).where(BulkRun.workflow == wf.name,
                                                       BulkRun.description == description)).first():
            continue
        actor_id = _preparateur(session)
        if actor_id is None:
            continue
        ids = session.execute(sa.select(model.id).where(model.statut == ConventionStatut.EN_COURS)
                              .order_by(model.id)).scalars().all()
        params = {"mois_paye": mois.isoformat(), "programmee": True}
        apercu = run(session, wf, "payer_mois", Selection.of_ids(ids), None, dry_run=True, now=now, system=True,
                     params={"mois_paye": mois.isoformat()}) if ids else None
        run_row = BulkRun(workflow=wf.name, transition="payer_mois", actor_id=actor_id, ids=ids, total=len(ids),
                          statut=BulkRunStatut.APERCU, refus={}, params=params, description=description,
                          created_at=now, updated_at=now)
        session.add(run_row)
        session.flush()
        audit.record(session, entity="bulk_run", entity_id=run_row.id, action="preparer_paie_mensuelle",
                     actor_id=None, at=now, to_status=BulkRunStatut.APERCU.value,
                     params={"programme": code, "mois": mois.isoformat(), "lignes": len(ids),
                             "a_payer": apercu.changed if apercu else 0,
                             "refusees": apercu.refused_total if apercu else 0})
        created.append(run_row.id)
    return created


def preparer_paies_mensuelles() -> list[int]:
    """The scheduler's job: idempotent, so a missed or doubled tick is harmless."""
    require_app_context()
    from backoffice import clock
    from backoffice.extensions import db
    ids = preparer(db.session, clock.now())
    db.session.commit()
    return ids
