"""Workflow actions in the grids: row buttons, "lignes cochées", "toutes les lignes filtrées", dry run first."""

import re
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import Allocation, BulkRun, DemandeHorsDelai
from backoffice.models.enums import AllocationStatut as S, BulkRunStatut, CerfaStatut
from tests import factories as f
from tests.conftest import csrf_from


def submitted(db, ref, n, antenne=None, validated=True):
    ids = []
    for _ in range(n):
        b, cb, i, c = f.make_parcours_cej(db.session, antenne or ref.nord, ref.dispositifs)
        if validated:
            c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2025, 3, 1)).id)
    db.session.commit()
    return ids


def token(client, url="/admin/allocation/"):
    return csrf_from(client.get(url).get_data(as_text=True))


def test_row_button_appears_only_where_the_transition_applies_for_that_role(db, ref, login_as):
    ids = submitted(db, ref, 1)
    siege = login_as("siege").get("/admin/allocation/").get_data(as_text=True)
    assert 'data-transition="valider"' in siege and 'data-transition="soumettre"' not in siege
    conseiller = login_as("conseiller").get("/admin/allocation/").get_data(as_text=True)
    assert 'data-transition="valider"' not in conseiller


def test_row_button_validates_one_row_and_reports_in_french(db, ref, login_as):
    [a] = submitted(db, ref, 1)
    c = login_as("siege")
    version = db.session.get(Allocation, a).version
    resp = c.post("/admin/allocation/workflow/valider/row",
                  data={"id": a, "version": version, "csrf_token": token(c)}, follow_redirects=True)
    assert "Valider (siège) : 1 ligne(s) modifiées" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Allocation, a).statut == S.VALIDEE_SIEGE


def test_row_action_without_csrf_token_is_refused(db, ref, login_as):
    [a] = submitted(db, ref, 1)
    resp = login_as("siege").post("/admin/allocation/workflow/valider/row", data={"id": a, "version": 1})
    assert resp.status_code == 400
    assert db.session.get(Allocation, a).statut == S.SOUMISE


def test_conseiller_cannot_post_a_siege_transition(db, ref, login_as):
    [a] = submitted(db, ref, 1)
    c = login_as("conseiller")
    resp = c.post("/admin/allocation/workflow/valider/row", data={"id": a, "version": 1, "csrf_token": token(c)})
    assert resp.status_code == 403
    assert db.session.get(Allocation, a).statut == S.SOUMISE


def test_ticked_rows_go_through_a_dry_run_then_run_on_exactly_the_previewed_ids(db, ref, login_as):
    ids = submitted(db, ref, 4)
    c = login_as("siege")
    resp = c.post("/admin/allocation/action/", data={"action": "wf_valider", "rowid": ids[:3],
                                                     "csrf_token": token(c)})
    assert resp.status_code == 302 and "/workflow/run/" in resp.headers["Location"]
    preview = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Simulation" in preview and "<strong>3</strong> ligne(s) seront modifiées" in preview
    assert db.session.execute(sa.select(sa.func.count()).select_from(Allocation)
                              .where(Allocation.statut == S.VALIDEE_SIEGE)).scalar_one() == 0
    done = c.post(resp.headers["Location"], data={"csrf_token": csrf_from(preview)}, follow_redirects=True)
    assert "3 ligne(s) modifiées" in done.get_data(as_text=True)
    db.session.expire_all()
    assert [db.session.get(Allocation, i).statut for i in ids] == [S.VALIDEE_SIEGE] * 3 + [S.SOUMISE]


def test_all_filtered_rows_across_pages_respect_the_filter_and_the_role_scope(db, ref, login_as, app):
    nord = submitted(db, ref, 23)  # more than one page of 20
    sud = submitted(db, ref, 2, antenne=ref.sud)
    c = login_as("siege")
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "allocation")
        url = view.filtered_url("statut", "soumise")
    listing = c.get(url).get_data(as_text=True)
    query = url.split("?", 1)[1]
    resp = c.post(f"/admin/allocation/workflow/valider/filtered?{query}", data={"csrf_token": csrf_from(listing)})
    run = db.session.execute(sa.select(BulkRun).order_by(BulkRun.id.desc())).scalars().first()
    assert run.statut == BulkRunStatut.APERCU and sorted(run.ids) == sorted(nord + sud)
    preview = c.get(resp.headers["Location"]).get_data(as_text=True)
    c.post(resp.headers["Location"], data={"csrf_token": csrf_from(preview)})
    db.session.expire_all()
    assert all(db.session.get(Allocation, i).statut == S.VALIDEE_SIEGE for i in nord + sud)


def test_a_transition_with_a_reason_shows_its_form_and_refuses_an_empty_reason(db, ref, login_as):
    [a] = submitted(db, ref, 1)
    c = login_as("siege")
    resp = c.post("/admin/allocation/workflow/refuser/row", data={"id": a, "version": 1, "csrf_token": token(c)})
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Motif du refus" in page
    empty = c.post(resp.headers["Location"], data={"csrf_token": csrf_from(page), "motif_refus": ""})
    assert "est obligatoire" in empty.get_data(as_text=True)
    assert db.session.get(Allocation, a).statut == S.SOUMISE
    c.post(resp.headers["Location"], data={"csrf_token": csrf_from(page), "motif_refus": "Justificatif absent"})
    db.session.expire_all()
    assert db.session.get(Allocation, a).motif_refus == "Justificatif absent"


def test_manager_cannot_approve_own_hors_delai_request_through_the_grid(db, ref, login_as):
    b, cb, i, c0 = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    d = DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 1, 1),
                         montant_demande=Decimal("561.68"), motif="Oubli", demandeur_id=ref.comptes["manager"].id)
    db.session.add(d)
    db.session.commit()
    c = login_as("manager")
    resp = c.post("/admin/demande_hors_delai/workflow/approuver/row",
                  data={"id": d.id, "version": d.version, "csrf_token": token(c, "/admin/demande_hors_delai/")},
                  follow_redirects=True)
    assert "le demandeur ne peut pas approuver sa propre demande (R48)" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(DemandeHorsDelai, d.id).statut.value == "en_attente"


def test_the_pencil_creates_a_corrective_version_with_the_trop_percu_E5(db, ref, login_as):
    from backoffice.models import Ressource
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.ACCEPTE
    paid = f.make_allocation(db.session, i, c, statut=S.VERSEE, mois=date(2025, 5, 1))
    db.session.commit()
    client = login_as("conseiller")
    assert 'data-transition="corriger"' in client.get("/admin/allocation/").get_data(as_text=True)
    page = client.get(f"/admin/allocation/corriger/{paid.id}").get_data(as_text=True)
    bad = client.post(f"/admin/allocation/corriger/{paid.id}", data={
        "csrf_token": csrf_from(page), "version_vue": paid.version, "type_1": "Salaire", "montant_1": "1e309"})
    assert "Montant invalide" in bad.get_data(as_text=True)
    ok = client.post(f"/admin/allocation/corriger/{paid.id}", data={
        "csrf_token": csrf_from(page), "version_vue": paid.version, "type_1": "Salaire", "montant_1": "800,00"},
        follow_redirects=True)
    assert "315,64" in ok.get_data(as_text=True)
    new = db.session.execute(sa.select(Allocation).where(Allocation.corrige_id == paid.id)).scalar_one()
    assert new.montant == Decimal("315.64") and new.statut == S.ENREGISTREE
    # another antenne's conseiller cannot even open it
    assert login_as("conseiller2").get(f"/admin/allocation/corriger/{paid.id}").status_code == 404
