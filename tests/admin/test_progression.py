"""Issue 18 §6: the progress page of a bulk run updates itself from a small JSON endpoint: rows done / total, the
rate, the estimated end, the refusals so far, and once finished the outcome with its links; without JavaScript it
offers a refresh link. Only the run's author reads it (another user gets a 404, like the page)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.models import BulkRun, LotPaiement, Paiement
from backoffice.models.base import utcnow
from backoffice.models.enums import AllocationStatut as S, BulkRunStatut, CerfaStatut
from backoffice.workflows.bulk import process
from tests import factories as f

pytestmark = pytest.mark.populated


def _running(db, ref, *, traites=400, total=1000, seconds=40, refus=None):
    now = utcnow()
    run = BulkRun(workflow="allocation", transition="valider", actor_id=ref.comptes["siege"].id, ids=[],
                  total=total, traites=traites, modifies=traites - sum((refus or {}).values()),
                  statut=BulkRunStatut.EN_COURS, refus=refus or {}, params={},
                  demarre_at=now - timedelta(seconds=seconds))
    db.session.add(run)
    db.session.flush()
    run.updated_at = now
    db.session.commit()
    return run.id, now


def test_the_progress_json_of_a_running_run(app, db, ref, clients):
    run_id, updated_at = _running(db, ref, refus={"cerfa non validé par le siège ou sans RIB (R45)": 3})
    resp = clients["siege"].get(f"/admin/allocation/workflow/progress/{run_id}/etat")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    d = resp.get_json()
    assert (d["statut"], d["termine"], d["traites"], d["total"], d["pourcentage"]) == ("en_cours", False, 400, 1000, 40)
    assert d["refuses"] == 3 and d["refus"] == [{"motif": "cerfa non validé par le siège ou sans RIB (R45)", "nb": 3}]
    assert 9 <= d["debit"] <= 11 and d["debit_texte"] == "10 lignes/s"  # 400 rows in 40 s
    # 600 rows left at 10 rows/s: about a minute after the last committed chunk
    fin = datetime.strptime(d["fin_estimee"], "%d/%m/%Y %H:%M")
    assert abs((fin - (updated_at + timedelta(seconds=60))).total_seconds()) <= 60
    assert d["reste_texte"].endswith("s") and d["libelle"] == "En cours…"


def test_a_run_not_started_yet_has_no_rate_nor_end(app, db, ref, clients):
    run_id, _now = _running(db, ref, traites=0)
    db.session.execute(sa.update(BulkRun).where(BulkRun.id == run_id).values(statut=BulkRunStatut.EN_ATTENTE,
                                                                           demarre_at=None))
    db.session.commit()
    d = clients["siege"].get(f"/admin/allocation/workflow/progress/{run_id}/etat").get_json()
    assert d["issue"] == "en_attente" and d["debit"] is None and d["fin_estimee"] is None


def test_the_progress_page_without_javascript_has_the_figures_and_a_refresh_link(app, db, ref, clients):
    run_id, _now = _running(db, ref, refus={"motif": 2})
    html = clients["siege"].get(f"/admin/allocation/workflow/progress/{run_id}").get_data(as_text=True)
    assert 'id="progression-traites">400 / 1\u202f000 (40 %)' in html
    assert 'id="progression-debit">10 lignes/s' in html and 'id="progression-refuses">2' in html
    assert 'aria-live="polite"' in html and "progression.js" in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert f'href="/admin/allocation/workflow/progress/{run_id}" id="progression-rafraichir"' in html
    assert f'data-url="/admin/allocation/workflow/progress/{run_id}/etat"' in html


def test_another_user_cannot_read_the_progress_of_a_run(app, db, ref, clients):
    run_id, _now = _running(db, ref)
    assert clients["admin"].get(f"/admin/allocation/workflow/progress/{run_id}/etat").status_code == 404
    assert clients["siege"].get(f"/admin/cerfa/workflow/progress/{run_id}/etat").status_code == 404
    assert clients["siege"].get("/admin/allocation/workflow/progress/999999/etat").status_code == 404


def test_the_progress_json_of_a_finished_send_gives_its_outcome_with_links(app, db, ref, clients):
    ids = []
    for _ in range(3):
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
        c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=S.VALIDEE_SIEGE, mois=date(2025, 3, 1)).id)
    run = BulkRun(workflow="allocation", transition="transmettre", actor_id=ref.comptes["siege"].id, ids=ids,
                  total=3, statut=BulkRunStatut.EN_ATTENTE, refus={}, params={})
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    start = utcnow()
    ticks = itertools.count()
    process(db.session, run_id, now_fn=lambda: start + timedelta(seconds=next(ticks)), chunk_size=2)
    lot_id, lot_ref = db.session.execute(sa.select(LotPaiement.id, LotPaiement.reference)
                                         .join(Paiement, Paiement.lot_id == LotPaiement.id)
                                         .where(Paiement.allocation_id == ids[0])).one()
    d = clients["siege"].get(f"/admin/allocation/workflow/progress/{run_id}/etat").get_json()
    assert (d["statut"], d["issue"], d["termine"], d["traites"], d["modifies"], d["refuses"]) == \
        ("termine", "succes", True, 3, 3, 0)
    assert d["debit"] is not None and d["fin_estimee"] is None and d["termine_at"]
    assert [(x["reference"], x["url"], x["nb"]) for x in d["lots"]] == \
        [(lot_ref, f"/admin/lot_paiement/details/?id={lot_id}", 3)]
    assert [p["code"] for p in d["programmes"]] == ["CEJ"] and d["programmes"][0]["nb"] == 3
    assert d["liste_url"].startswith("/admin/allocation/")
    # the page itself: the outcome, and no more self-updating script
    html = clients["siege"].get(f"/admin/allocation/workflow/progress/{run_id}").get_data(as_text=True)
    assert 'data-issue="succes"' in html and "progression.js" not in html and lot_ref in html
