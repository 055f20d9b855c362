"""Finding 7 (issue 12): every redirect built from a `Referer` or a `next` is a same-origin path that
begins with exactly one « / » (never « // » nor « /\\ »): a forged Referer never sends the user away."""

from __future__ import annotations

from datetime import date

import pytest

from backoffice.models.enums import AllocationStatut as S, CerfaStatut
from tests import factories as f
from tests.conftest import csrf_from

HOSTILE_REFERERS = [
    "http://localhost//evil.example",
    "http://localhost//evil.example/admin/allocation/",
    "http://localhost/\\evil.example",
    "http://localhost/\\/evil.example",
    "http://localhost/%09/evil.example",
    "http://evil.example/admin/allocation/",
    "//evil.example",
    "javascript:alert(1)",
]


def _safe(location: str) -> bool:
    """What a browser would do with this Location: stay on localhost."""
    from urllib.parse import urljoin, urlsplit
    path = location.replace("http://localhost", "", 1) if location.startswith("http://localhost/") else location
    browser = urljoin("http://localhost/admin/", path.replace("\\", "/"))
    return path.startswith("/") and path[1:2] not in ("/", "\\") and urlsplit(browser).netloc == "localhost" \
        and not any(ord(ch) < 0x21 for ch in path)


def _submitted(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2025, 3, 1))
    db.session.commit()
    return a.id


@pytest.mark.parametrize("referer", HOSTILE_REFERERS)
def test_workflow_row_post_never_redirects_off_site(db, ref, login_as, referer):
    a = _submitted(db, ref)
    c = login_as("siege")
    token = csrf_from(c.get("/admin/allocation/").get_data(as_text=True))
    ok = c.post("/admin/allocation/workflow/valider/row", data={"id": a, "version": 1, "csrf_token": token},
                headers={"Referer": referer})
    assert ok.status_code == 302 and _safe(ok.headers["Location"]), ok.headers["Location"]


@pytest.mark.parametrize("referer", HOSTILE_REFERERS)
def test_workflow_stale_row_redirect_never_goes_off_site(db, ref, login_as, referer):
    a = _submitted(db, ref)
    c = login_as("siege")
    token = csrf_from(c.get("/admin/allocation/").get_data(as_text=True))
    resp = c.post("/admin/allocation/workflow/valider/row", data={"id": a, "version": 99, "csrf_token": token},
                  headers={"Referer": referer})
    assert resp.status_code == 302 and _safe(resp.headers["Location"]), resp.headers["Location"]


def test_the_same_origin_referer_is_kept(db, ref, login_as):
    a = _submitted(db, ref)
    c = login_as("siege")
    token = csrf_from(c.get("/admin/allocation/").get_data(as_text=True))
    resp = c.post("/admin/allocation/workflow/valider/row", data={"id": a, "version": 1, "csrf_token": token},
                  headers={"Referer": "http://localhost/admin/allocation/?page=1"})
    assert resp.headers["Location"].endswith("/admin/allocation/?page=1")


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "http://evil.example/", "/\t/evil.example",
                                    "\\\\evil.example", "https:evil.example"])
def test_login_next_is_a_local_path_only(app, db, ref, target):
    from tests.conftest import DEMO_PASSWORD
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    resp = c.post("/login", query_string={"next": target},
                  data={"username": "siege", "password": DEMO_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and _safe(resp.headers["Location"]), resp.headers["Location"]


def test_workflow_error_branch_uses_the_safe_helper():
    """The WorkflowError branch (a prepare step refusing) used the raw Referer: now the one helper."""
    from backoffice.admin_views import workflow_view
    import inspect
    source = inspect.getsource(workflow_view.WorkflowModelView.workflow_row)
    assert "request.referrer" not in source
