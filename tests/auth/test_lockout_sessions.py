"""R68 lockout timeline (E11) with a controlled clock, R66 confinement, session revocation."""

from datetime import datetime, timedelta

import pytest

from backoffice.models import AuditEvent, Compte
from backoffice.models.enums import CompteStatut
from tests.conftest import DEMO_PASSWORD, csrf_from

T0 = datetime(2025, 6, 2, 10, 0, 0)


def attempt(app, client, password, at, username="conseiller"):
    app.config["NOW_OVERRIDE"] = at
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_three_wrong_passwords_lock_for_exactly_30_minutes_after_the_third_E11(app, client, db, ref):
    for minute in (0, 1, 2):
        assert attempt(app, client, "faux", T0 + timedelta(minutes=minute)).status_code == 401
    compte = db.session.query(Compte).filter_by(login="conseiller").one()
    assert compte.statut == CompteStatut.VERROUILLE and compte.locked_until == T0 + timedelta(minutes=32)
    third = T0 + timedelta(minutes=2)
    assert attempt(app, client, DEMO_PASSWORD, third + timedelta(minutes=29, seconds=59)).status_code == 401
    assert attempt(app, client, DEMO_PASSWORD, third + timedelta(minutes=30, seconds=1)).status_code == 302
    db.session.expire_all()
    compte = db.session.query(Compte).filter_by(login="conseiller").one()
    assert (compte.statut, compte.failed_attempts) == (CompteStatut.ACTIF, 0)
    actions = [a for (a,) in db.session.query(AuditEvent.action).filter_by(entity_id=compte.id).order_by(AuditEvent.id)]
    assert "verrouillage" in actions and "deverrouillage_auto" in actions


def test_a_success_after_two_failures_resets_the_counter_E11(app, client, db, ref):
    attempt(app, client, "faux", T0)
    attempt(app, client, "faux", T0 + timedelta(minutes=1))
    assert attempt(app, client, DEMO_PASSWORD, T0 + timedelta(minutes=2)).status_code == 302
    assert db.session.query(Compte).filter_by(login="conseiller").one().failed_attempts == 0


def test_a_forced_password_change_confines_the_user_to_the_password_and_logout_pages_R66(db, ref, login_as):
    ref.comptes["conseiller"].must_change_password = True
    db.session.commit()
    c = login_as("conseiller")
    for url in ("/admin/", "/admin/allocation/", "/admin/beneficiaire/details/?id=1"):
        resp = c.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/password")
    assert c.get("/password").status_code == 200


def test_a_replayed_cookie_is_refused_after_logout(app, db, ref, login_as):
    c = login_as("siege")
    cookie = c.get_cookie("session").value
    token = csrf_from(c.get("/admin/").get_data(as_text=True))
    c.post("/logout", data={"csrf_token": token})
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    resp = thief.get("/admin/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_session_planted_before_login_does_not_survive_it(app, db, ref):
    c = app.test_client()
    with c.session_transaction() as s:
        s["plante"] = "par un attaquant"
    token = csrf_from(c.get("/login").get_data(as_text=True))
    c.post("/login", data={"username": "siege", "password": DEMO_PASSWORD, "csrf_token": token})
    with c.session_transaction() as s:
        assert "plante" not in s and s.get("_user_id")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_only_local_next_redirects_are_followed(client, ref, target):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post(f"/login?next={target}", data={"username": "siege", "password": DEMO_PASSWORD,
                                                      "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/"


def test_idle_sessions_expire_after_30_minutes(app, db, ref, login_as):
    app.config["NOW_OVERRIDE"] = T0
    c = login_as("siege")
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=29)
    assert c.get("/admin/").status_code == 200
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=29 + 31)
    assert c.get("/admin/").status_code == 302
