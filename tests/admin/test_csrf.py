"""Every admin POST needs the CSRF token: without it, 400 and nothing written."""

from __future__ import annotations

import sqlalchemy as sa

from backoffice import models as m


def _fresh(db, model, ident):
    db.session.remove()
    return db.session.get(model, ident)


def test_create_without_csrf_token_is_refused(sample, clients, db):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(m.Etablissement))
    resp = clients["admin"].post("/admin/etablissement/new/", data={
        "siret": "40483304800022", "raison_sociale": "Sans jeton", "libelle_voie": "1 rue", "code_postal": "59000",
        "ville": "Lille", "email": "x@example.fr", "effectif": "1"})
    assert resp.status_code == 400
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.Etablissement)) == before


def test_edit_without_csrf_token_is_refused(sample, clients, db):
    ident = sample.nord("beneficiaire")
    resp = clients["admin"].post(f"/admin/beneficiaire/edit/?id={ident}", data={"nom": "Modifié"})
    assert resp.status_code == 400
    assert _fresh(db, m.Beneficiaire, ident).nom != "Modifié"


def test_delete_without_csrf_token_is_refused(sample, clients, db):
    ident = sample.nord("motif_sortie")
    resp = clients["admin"].post("/admin/motif_sortie/delete/", data={"id": str(ident)})
    assert resp.status_code == 400
    assert _fresh(db, m.MotifSortie, ident) is not None


def test_bulk_action_without_csrf_token_is_refused(sample, clients, db):
    ident = sample.nord("motif_sortie")
    resp = clients["admin"].post("/admin/motif_sortie/action/", data={"action": "delete", "rowid": str(ident)})
    assert resp.status_code == 400
    assert _fresh(db, m.MotifSortie, ident) is not None


def test_delete_with_token_works_where_the_policy_allows_it(sample, clients, db):
    from tests.conftest import csrf_from

    ident = sample.nord("motif_sortie")
    token = csrf_from(clients["admin"].get("/admin/motif_sortie/").get_data(as_text=True))
    # the list's delete form is refused for siege (no delete right), allowed for admin
    assert clients["siege"].post("/admin/motif_sortie/delete/",
                                 data={"id": str(ident), "csrf_token": token}).status_code in (400, 403)
    resp = clients["admin"].post("/admin/motif_sortie/delete/", data={"id": str(ident), "csrf_token": token})
    assert resp.status_code == 302
    assert _fresh(db, m.MotifSortie, ident) is None
