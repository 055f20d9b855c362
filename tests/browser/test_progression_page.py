"""Issue 18 §6: a long run's progress page updates itself in the browser (fetch of its JSON, no reload), then shows
the final outcome."""

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from backoffice.models import BulkRun
from backoffice.models.base import utcnow
from backoffice.models.enums import BulkRunStatut
from tests.browser.conftest import login


def test_the_progress_page_updates_without_reloading(app, db, ref, live_server, page):
    run = BulkRun(workflow="allocation", transition="valider", actor_id=ref.comptes["siege"].id, ids=[],
                  total=500, traites=0, modifies=0, statut=BulkRunStatut.EN_COURS, refus={}, params={},
                  demarre_at=utcnow() - timedelta(seconds=5))
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    login(page, live_server, "siege")
    page.goto(f"{live_server}/admin/allocation/workflow/progress/{run_id}")
    page.evaluate("window.__pas_recharge = 'oui'")  # gone if the page reloads
    assert "0 / 500" in page.inner_text("#progression-traites")

    db.session.execute(sa.update(BulkRun).where(BulkRun.id == run_id).values(
        traites=250, modifies=240, refus={"cerfa non validé par le siège ou sans RIB (R45)": 10}, updated_at=utcnow()))
    db.session.commit()
    expect(page.locator("#progression-traites")).to_contain_text("250", timeout=15000)  # no reload: fetch
    assert page.inner_text("#progression-refuses") == "10"
    assert "lignes/s" in page.inner_text("#progression-debit")
    assert "encore" in page.inner_text("#progression-fin")
    assert page.get_attribute("#progression-barre", "aria-valuenow") == "50"
    assert "250" in page.inner_text("#progression-annonce")
    assert page.evaluate("window.__pas_recharge") == "oui"

    db.session.execute(sa.update(BulkRun).where(BulkRun.id == run_id).values(
        traites=500, modifies=480, refus={"cerfa non validé par le siège ou sans RIB (R45)": 20},
        statut=BulkRunStatut.TERMINE, termine_at=utcnow(), updated_at=utcnow()))
    db.session.commit()
    page.wait_for_selector("#resultat[data-issue=refus]")
    assert "Terminé, avec des lignes refusées" in page.inner_text("#resultat")
    assert "480" in page.inner_text("#resultat-modifiees")
    expect(page.locator("#progression-annonce")).to_contain_text("480")
    assert page.evaluate("window.__pas_recharge") == "oui"
    assert page.locator("#resultat a", has_text="Retour à la liste").count() == 1
