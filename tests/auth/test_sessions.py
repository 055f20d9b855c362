"""Sessions: fixation, server-side revocation, timeouts, cookie flags, fresh re-auth, safe redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from backoffice.models import AuditEvent
from tests.auth.conftest import DEMO_PASSWORD, T0, post_form
from tests.conftest import csrf_from


def _login(app, username="siege", password=DEMO_PASSWORD, at=T0):
    app.config["NOW_OVERRIDE"] = at
    c = app.test_client()
    resp = post_form(c, "/login", {"username": username, "password": password})
    assert resp.status_code == 302, resp.status_code
    return c


def _next_of(resp) -> str | None:
    from urllib.parse import parse_qs, urlsplit
    parts = urlsplit(resp.headers["Location"])
    assert parts.path == "/reauth"
    return parse_qs(parts.query).get("next", [None])[0]


def _is_logged_out(resp) -> bool:
    return resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_session_planted_before_login_does_not_survive_it(app, db, ref):
    c = app.test_client()
    with c.session_transaction() as s:
        s["plante"] = "par un attaquant"
        s["auth_at"] = "2099-01-01T00:00:00"
    post_form(c, "/login", {"username": "siege", "password": DEMO_PASSWORD})
    with c.session_transaction() as s:
        assert "plante" not in s and not s["auth_at"].startswith("2099")
        assert s["_user_id"] == f"{ref.comptes['siege'].id}:{ref.comptes['siege'].session_generation}"


def test_a_cookie_copied_before_logout_is_refused_after_it(app, db, ref):
    c = _login(app)
    cookie = c.get_cookie("session").value
    token = csrf_from(c.get("/admin/").get_data(as_text=True))
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert _is_logged_out(thief.get("/admin/"))


def test_a_password_change_revokes_other_sessions_and_keeps_the_current_one(app, db, ref):
    other_device = _login(app)
    c = _login(app)
    copied = c.get_cookie("session").value
    resp = post_form(c, "/password", {"current_password": DEMO_PASSWORD, "new_password": "Nouveau-mdp-2026!",
                                      "confirm_password": "Nouveau-mdp-2026!"})
    assert resp.status_code == 302
    assert c.get("/admin/").status_code == 200  # this session was re-issued
    assert _is_logged_out(other_device.get("/admin/"))
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert _is_logged_out(thief.get("/admin/"))


def test_idle_timeout_is_30_minutes(app, db, ref):
    c = _login(app)
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=29)
    assert c.get("/admin/").status_code == 200
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=29 + 30)  # exactly 30 idle: still in
    assert c.get("/admin/").status_code == 200
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=59 + 30, seconds=1)
    assert _is_logged_out(c.get("/admin/"))
    assert _is_logged_out(c.get("/admin/"))  # and the session is gone, not just refused once


def test_absolute_timeout_is_12_hours_even_when_active(app, db, ref):
    c = _login(app)
    for minutes in range(25, 12 * 60, 25):  # active every 25 minutes
        app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=minutes)
        assert c.get("/password").status_code == 200, minutes
    app.config["NOW_OVERRIDE"] = T0 + timedelta(hours=12, seconds=1)
    assert _is_logged_out(c.get("/admin/"))


def test_session_cookie_is_httponly_samesite_lax_and_secure_over_https(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    resp = c.post("/login", data={"username": "siege", "password": DEMO_PASSWORD, "csrf_token": token})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    resp = c.get("/admin/", base_url="https://localhost")
    assert "Secure" in resp.headers["Set-Cookie"]
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


# ---- fresh re-authentication (before approving a hors-délai, emitting a batch, role or IBAN) --------

def test_require_fresh_auth_sends_to_reauth_after_15_minutes_and_back(app, db, ref):
    from flask import session

    from backoffice import security

    @security.require_fresh_auth
    def sensible():
        return "fait"

    with app.test_request_context("/admin/lot_paiement/emettre?id=3"):
        app.config["NOW_OVERRIDE"] = T0
        session["auth_at"] = T0.isoformat()
        app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=15)
        assert security.is_fresh() and sensible() == "fait"
        app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=15, seconds=1)
        resp = sensible()
        assert resp.status_code == 302 and _next_of(resp) == "/admin/lot_paiement/emettre?id=3"

    with app.test_request_context("/admin/x/action/", method="POST",
                                  headers={"Referer": "http://localhost/admin/compte/edit/?id=4"}):
        resp = sensible()  # no auth_at at all
        assert resp.status_code == 302 and _next_of(resp) == "/admin/compte/edit/?id=4"
    with app.test_request_context("/admin/x/action/", method="POST", headers={"Referer": "https://evil.example/"}):
        assert sensible().headers["Location"] == "/reauth"


def test_reauth_page_refreshes_the_proof_and_its_failures_count_towards_the_lockout(app, db, ref):
    c = _login(app, "conseiller")
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=20)
    resp = post_form(c, "/reauth?next=/admin/allocation/", {"password": DEMO_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/allocation/"
    with c.session_transaction() as s:
        assert s["auth_at"] == (T0 + timedelta(minutes=20)).isoformat()
    assert post_form(c, "/reauth?next=//evil.example", {"password": DEMO_PASSWORD}).headers["Location"] == "/admin/"
    for _ in range(2):
        assert post_form(c, "/reauth", {"password": "faux"}).status_code == 400
    resp = post_form(c, "/reauth", {"password": "faux"})  # third failure: locked, and logged out
    assert _is_logged_out(resp)
    assert _is_logged_out(c.get("/admin/"))
    actions = db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.entity == "compte")).scalars().all()
    assert actions.count("reauthentification_echec") == 3 and "verrouillage" in actions


# ---- redirects after login -------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "/\t/evil.example", "///evil.example", " /admin/",
                                    "http:/evil.example", "\\\\evil.example"])
def test_only_local_next_redirects_are_followed(target):
    from backoffice.security import safe_next
    assert safe_next(target, default="/admin/") == "/admin/"


def test_a_local_next_is_followed_after_login(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    resp = c.post("/login?next=/admin/cerfa/?page=2", data={"username": "siege", "password": DEMO_PASSWORD,
                                                            "csrf_token": token})
    assert resp.headers["Location"] == "/admin/cerfa/?page=2"
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    resp = c.post("/login?next=//evil.example/x", data={"username": "siege", "password": DEMO_PASSWORD,
                                                        "csrf_token": token})
    assert resp.headers["Location"] == "/admin/"
