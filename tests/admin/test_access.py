"""Every grid follows the policy table: list, detail, create and edit pages render for the roles it
allows (with the row's data), and a logged-in role it does not allow gets 403 on each URL."""

from __future__ import annotations

import pytest

from backoffice.policy import POLICY

from .conftest import ROLES

ENDPOINTS = sorted(POLICY)
PAGES = {"files", "retour_bancaire", "boite_mail_demo", "pilotage"}  # screens that are not grids (queue health,
# bank returns import, the demo's mailbox, the pilotage restitutions: tests/admin/test_pilotage.py)
DEMO_ONLY = {"boite_mail_demo"}  # registered by `backoffice demo` only (tests/seeds/test_demo_mailbox.py)
NOT_A_VIEW = {"piece_jointe"}  # the policy of attachment downloads (/admin/autorisation_ap/piece/<id>), no grid
PAGES |= NOT_A_VIEW
ENDPOINTS = [e for e in ENDPOINTS if e not in PAGES]


def _allowed(endpoint, what, role):
    return role in getattr(POLICY[endpoint], what)


def _row_for(sample, endpoint, role):
    """The sample row this role may see (a conseiller sees the ML-ANT-NORD one)."""
    return sample.nord(endpoint), sample.texts[endpoint][0]


def test_policy_covers_every_grid(app):
    endpoints = {v.endpoint for v in app.extensions["admin"][0]._views if hasattr(v, "policy_endpoint")}
    assert endpoints == set(POLICY) - DEMO_ONLY - NOT_A_VIEW


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_grid_pages_render_for_allowed_roles_and_are_forbidden_to_others(endpoint, sample, clients):
    for role in ROLES:
        c = clients[role]
        base = f"/admin/{endpoint}/"
        resp = c.get(base)
        if not _allowed(endpoint, "view", role):
            assert resp.status_code == 403, (role, base)
            assert c.get(f"{base}details/?id={sample.nord(endpoint)}").status_code == 403, role
            assert c.get(f"{base}new/").status_code == 403, role
            assert c.get(f"{base}export/csv/").status_code == 403, role
            continue
        assert resp.status_code == 200, (role, base, resp.status_code)
        row_id, text = _row_for(sample, endpoint, role)
        html = resp.get_data(as_text=True)
        assert text in html, (role, endpoint, text)

        details = c.get(f"{base}details/?id={row_id}")
        assert details.status_code == 200, (role, endpoint)
        assert text in details.get_data(as_text=True), (role, endpoint)

        edit = c.get(f"{base}edit/?id={row_id}")
        if _allowed(endpoint, "edit", role) and endpoint not in READ_ONLY:
            assert edit.status_code == 200, (role, endpoint)
            assert 'name="csrf_token"' in edit.get_data(as_text=True)
        else:
            assert edit.status_code == 403, (role, endpoint)

        new = c.get(f"{base}new/")
        if _allowed(endpoint, "create", role) and endpoint not in READ_ONLY:
            assert new.status_code == 200, (role, endpoint)
        else:
            assert new.status_code == 403, (role, endpoint)

        export = c.get(f"{base}export/csv/")
        assert export.status_code == (200 if _allowed(endpoint, "export", role) else 403), (role, endpoint)


# Grids with no form at all, whatever the policy says (workflows and workers write them)
READ_ONLY = {"lot_paiement", "paiement", "reversement", "mail_outbox", "job_outbox", "audit_event", "bulk_run"}


def test_anonymous_user_is_sent_to_login(client, ref):
    resp = client.get("/admin/allocation/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_forbidden_access_is_audited(clients, db, sample):
    from backoffice.models import AuditEvent

    assert clients["conseiller"].get("/admin/compte/").status_code == 403
    event = db.session.query(AuditEvent).filter_by(action="acces_refuse").one()
    assert event.params["vue"] == "compte"


def test_menu_lists_only_the_grids_of_the_role_in_french_categories(clients, sample):
    html = clients["conseiller"].get("/admin/").get_data(as_text=True)
    for category in ("Jeunes", "Allocations", "Paiements", "Référentiel"):
        assert category in html
    assert "/admin/compte/" not in html and "/admin/lot_paiement/" not in html
    admin_html = clients["admin"].get("/admin/").get_data(as_text=True)
    order = [admin_html.index(c) for c in ("Jeunes", "Allocations", "Paiements", "Partenaires",
                                            "Activité partielle", "Programmes", "Référentiel", "Administration",
                                            "Suivi")]
    assert order == sorted(order)


def test_queue_health_page_is_for_admins_only(clients):
    for role in ("admin", "siege", "manager", "support", "comptable", "conseiller"):
        resp = clients[role].get("/admin/files/")
        assert resp.status_code == (200 if role == "admin" else 403), role
    assert "Files d'attente" in clients["admin"].get("/admin/files/").get_data(as_text=True)
