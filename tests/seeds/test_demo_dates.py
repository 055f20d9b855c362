"""The demo is dated relative to its "today" (issue 19): loaded any day, its history is coherent — nothing after
today, each record's steps in order, a lot « Rapproché » with its date, no lock still on after it ended."""

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.clock import now as horloge
from backoffice.models.enums import AllocationStatut, CompteStatut, LotStatut
from seeds import load_demo
from seeds.demo import demo_t0
from tests.seeds.coherence import incoherences


@pytest.mark.parametrize("today", [None, date(2027, 1, 1), date(2028, 2, 29), date(2026, 6, 15)],
                         ids=["horloge", "1er-janvier", "29-fevrier", "veille-du-16-juin"])
def test_the_demo_tells_a_coherent_story_whatever_its_today(db, today):
    before = horloge()
    load_demo(db.session, seed=2026, today=today)
    db.session.commit()
    t0 = demo_t0(today) if today else horloge().replace(second=0, microsecond=0)
    if today is None:  # by default the demo's "today" is the application's clock
        assert before.replace(second=0, microsecond=0) <= t0
    assert incoherences(db.session, t0) == []
    s = db.session
    # relative to today: the last validated month is one or two months back, paid batches are recent
    last = s.execute(sa.select(sa.func.max(m.Allocation.mois))).scalar_one()
    assert 28 <= (t0.date().replace(day=1) - last).days <= 62
    versee = s.execute(sa.select(sa.func.max(m.Allocation.versee_at))).scalar_one()
    assert t0 - timedelta(days=120) < versee < t0
    # every state users meet is there, whatever the day
    statuts = {x for (x,) in s.execute(sa.select(m.Allocation.statut).distinct())}
    assert {AllocationStatut.SOUMISE, AllocationStatut.VALIDEE_SIEGE, AllocationStatut.VERSEE} <= statuts
    lots = dict(s.execute(sa.select(m.LotPaiement.statut, sa.func.count()).group_by(m.LotPaiement.statut)).all())
    assert lots.get(LotStatut.RAPPROCHEE) and lots.get(LotStatut.EMISE)
    verrou = s.execute(sa.select(m.Compte).where(m.Compte.statut == CompteStatut.VERROUILLE)).scalar_one()
    assert verrou.locked_at < t0 < verrou.locked_until  # locked a few minutes ago: the support's case of the day


def test_the_coherence_check_sees_the_contradictions_of_the_issue(db):
    """The checker is not vacuous: the three contradictions the issue found are reported."""
    load_demo(db.session, seed=2026, today=date(2026, 6, 16))
    db.session.commit()
    t0 = datetime(2026, 6, 16, 9, 0)
    s = db.session
    s.execute(sa.update(m.Compte).where(m.Compte.login == "conseiller3").values(locked_until=t0 - timedelta(days=500)))
    lot = s.execute(sa.select(m.LotPaiement.id).where(m.LotPaiement.statut == LotStatut.RAPPROCHEE).limit(1)).scalar_one()
    s.execute(sa.update(m.LotPaiement).where(m.LotPaiement.id == lot).values(rapproche_at=None))
    a = s.execute(sa.select(m.Allocation.id).where(m.Allocation.validee_at.is_not(None)).limit(1)).scalar_one()
    s.execute(sa.update(m.Allocation).where(m.Allocation.id == a).values(created_at=t0 + timedelta(days=1)))
    found = "\n".join(incoherences(s, t0))
    assert "« Verrouillé »" in found and "« Rapproché »" in found and "allocation.created_at" in found
    assert "allocation.validee_at : 1 ligne(s) avant leur création" in found


def test_the_moved_clock_is_the_rows_default_and_goes_back_after_the_block():
    from backoffice.clock import deplacee, deplacer
    from backoffice.models.base import utcnow
    t = datetime(2024, 2, 29, 10, 0)
    with deplacee(t):
        assert utcnow() == t and horloge() == t
        deplacer(t + timedelta(days=1))
        assert utcnow() == t + timedelta(days=1)
    assert abs(utcnow() - datetime.utcnow()) < timedelta(minutes=1)
    with pytest.raises(RuntimeError):
        deplacer(t)  # outside a block it would stop the clock for good
