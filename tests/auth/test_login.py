"""Login through the real form: CSRF required, wrong credentials refused alike, session works."""

from backoffice.models import AuditEvent
from tests.conftest import DEMO_PASSWORD, csrf_from


def test_login_page_is_french_and_has_csrf_token(client, ref):
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Identifiant" in html and "Mot de passe" in html
    assert csrf_from(html)


def test_login_without_csrf_token_is_refused_and_does_not_log_in(client, ref):
    resp = client.post("/login", data={"username": "siege", "password": DEMO_PASSWORD})
    assert resp.status_code == 400
    assert client.get("/admin/").status_code == 302  # still anonymous: sent to /login


def test_demo_account_logs_in_and_reaches_the_back_office(login_as):
    c = login_as("siege")
    resp = c.get("/admin/")
    assert resp.status_code == 200
    assert "Sébastien" in resp.get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_the_same_answer(client, ref, db):
    answers = []
    for user in ("siege", "personne-inconnue"):
        token = csrf_from(client.get("/login").get_data(as_text=True))
        resp = client.post("/login", data={"username": user, "password": "faux", "csrf_token": token})
        answers.append((resp.status_code, "Identifiant ou mot de passe incorrect" in resp.get_data(as_text=True)))
    assert answers[0] == answers[1] == (401, True)
    assert db.session.query(AuditEvent).filter_by(action="connexion_echec").count() == 2


def test_healthz_reports_database_and_redis(client):
    body = client.get("/healthz").get_json()
    assert body["database"] is True
    assert "redis" in body
