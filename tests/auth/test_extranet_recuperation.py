"""A partner's recovery (R69, R70) over HTTP, attacks replayed: login (or e-mail) + captcha, then the secret answer;
the mail carries a single-use link, never a password (this hardens the seed's e-mailed password); a user who never
logged in is sent to the support desk; a wrong answer, a reused link, a replayed step and an unknown login all get
the answers the rules allow, the same for an unknown login as for a wrong answer."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import Role
from backoffice.workflows import captcha
from backoffice.workflows.inscriptions import (MSG_IDENTIFIANT_ENVOYE, MSG_JAMAIS_CONNECTE, MSG_LIEN_ENVOYE,
                                               MSG_REPONSE_INCORRECTE, QUESTIONS, hash_reponse)
from tests.auth.conftest import T0, post_form
from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.workflows.test_activite_partielle import make_employeur

NEW = "Nouvelle-phrase-2026!"


def _flash(resp) -> list[str]:
    return [unescape(x).strip() for x in re.findall(r'role="alert">([^<]*)<', resp.get_data(as_text=True))]


def _cle(html):
    return re.search(r'name="cle_captcha"[^>]*value="([^"]+)"', html).group(1)


def etape1(client, url, champ, valeur, *, juste=True):
    html = client.get(url).get_data(as_text=True)
    cle = _cle(html)
    code = captcha.reponse(cle) if juste else ("000000" if captcha.reponse(cle) != "000000" else "111111")
    return client.post(url, data={"csrf_token": csrf_from(html), champ: valeur, "cle_captcha": cle, "captcha": code})


def repondre(client, reponse):
    html = client.get("/extranet/question").get_data(as_text=True)
    return client.post("/extranet/question", data={"csrf_token": csrf_from(html), "reponse": reponse})


@pytest.fixture
def employeur(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    e, c = make_employeur(db.session, "lise.durand")
    c.question_secrete, c.reponse_secrete_hash = QUESTIONS[2], hash_reponse("École Jules-Ferry")
    c.last_login_at = T0 - timedelta(days=3)
    e2, jamais = make_employeur(db.session, "paul.neuf")
    jamais.question_secrete, jamais.reponse_secrete_hash = QUESTIONS[1], hash_reponse("Arras")
    db.session.commit()
    yield c
    app.config.pop("NOW_OVERRIDE", None)


def _liens(db, compte_id):
    from backoffice.jobs.mail import render
    db.session.expire_all()
    mails = db.session.scalars(sa.select(m.MailOutbox).where(
        m.MailOutbox.template == "reinitialisation_mot_de_passe", m.MailOutbox.destinataire.like("lise.durand@%"))
    ).all()
    return [re.findall(r"https?://\S+(/password/reset/\S+)", render(x.template, x.contexte)[1])[0] for x in mails]


def test_R69_login_captcha_secret_answer_then_a_single_use_link_never_a_password(app, db, employeur):
    client = app.test_client()
    resp = etape1(client, "/extranet/mot-de-passe", "username", "lise.durand")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/question")
    page = unescape(client.get("/extranet/question").get_data(as_text=True))
    assert QUESTIONS[2] in page
    resp = repondre(client, "  ecole JULES-ferry ")  # case, accents and outer spaces do not count
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert MSG_LIEN_ENVOYE in _flash(client.get("/login"))
    (lien,) = _liens(db, employeur.id)
    mail = db.session.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.template == "reinitialisation_mot_de_passe")
                              ).one()
    assert "mot_de_passe" not in mail.contexte and DEMO_PASSWORD not in repr(mail.contexte)  # a link, no password
    resp = post_form(client, lien, {"new_password": NEW, "confirm_password": NEW})
    assert resp.status_code == 302
    # the link again: refused (single use)
    assert client.get(lien).status_code == 400
    assert post_form(client, lien, {"new_password": "Encore-9-autre!", "confirm_password": "Encore-9-autre!"},
                     page="/login").status_code == 400
    resp = post_form(app.test_client(), "/login", {"username": "lise.durand", "password": NEW})
    assert resp.status_code == 302


def test_R69_a_wrong_answer_is_refused_in_the_rules_words_and_each_try_costs_a_captcha(app, db, employeur):
    client = app.test_client()
    assert etape1(client, "/extranet/mot-de-passe", "username", "lise.durand").status_code == 302
    token = csrf_from(client.get("/extranet/question").get_data(as_text=True))
    ancien = client.get_cookie("session").value
    resp = client.post("/extranet/question", data={"csrf_token": token, "reponse": "Pasteur"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/mot-de-passe")
    assert MSG_REPONSE_INCORRECTE in _flash(client.get("/login"))
    # replaying the step (the old session cookie, a new guess) without a new captcha: refused, nothing checked
    client.set_cookie("session", ancien)
    resp = client.post("/extranet/question", data={"csrf_token": token, "reponse": "École Jules-Ferry"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/mot-de-passe")
    assert _liens(db, employeur.id) == []
    # a wrong captcha does not even reach the question
    resp = etape1(client, "/extranet/mot-de-passe", "username", "lise.durand", juste=False)
    assert resp.status_code == 400 and "code de sécurité est incorrect" in unescape(resp.get_data(as_text=True))
    # 3 wrong answers an hour per account: the 4th, even right, is refused
    for _ in range(2):
        etape1(client, "/extranet/mot-de-passe", "username", "lise.durand")
        repondre(client, "faux")
    etape1(client, "/extranet/mot-de-passe", "username", "lise.durand")
    repondre(client, "École Jules-Ferry")
    assert _liens(db, employeur.id) == []
    app.config["NOW_OVERRIDE"] = T0 + timedelta(hours=1, minutes=1)
    etape1(client, "/extranet/mot-de-passe", "username", "lise.durand")
    repondre(client, "École Jules-Ferry")
    assert len(_liens(db, employeur.id)) == 1


def test_R69_a_user_who_never_logged_in_is_sent_to_the_support_desk(app, db, employeur):
    client = app.test_client()
    resp = etape1(client, "/extranet/mot-de-passe", "username", "paul.neuf")
    assert resp.status_code == 400 and MSG_JAMAIS_CONNECTE in unescape(resp.get_data(as_text=True))
    assert client.get("/extranet/question").status_code == 302


def test_R69_an_unknown_login_gets_a_stable_question_and_the_wrong_answer_message(app, db, employeur):
    questions = []
    for _ in range(2):
        client = app.test_client()
        assert etape1(client, "/extranet/mot-de-passe", "username", "personne.inconnue").status_code == 302
        page = unescape(client.get("/extranet/question").get_data(as_text=True))
        (q,) = [x for x in QUESTIONS if x in page]
        questions.append(q)
        resp = repondre(client, "peu importe")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/mot-de-passe")
        assert MSG_REPONSE_INCORRECTE in _flash(client.get("/login"))
    assert questions[0] == questions[1]  # the same input, the same question: nothing to compare
    # a staff login on the partners' page: no question of theirs, the same answers
    client = app.test_client()
    assert etape1(client, "/extranet/mot-de-passe", "username", "conseiller").status_code == 302
    assert repondre(client, DEMO_PASSWORD).headers["Location"].endswith("/extranet/mot-de-passe")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.JetonCompte)) == 0


def test_R69_R70_the_staff_pages_send_nothing_for_a_partner_and_answer_the_same(app, db, employeur):
    from backoffice.auth import MESSAGE_IDENTIFIANT_ENVOYE, MESSAGE_LIEN_ENVOYE
    client = app.test_client()
    assert post_form(client, "/password/forgot", {"username": "lise.durand"}).status_code == 302
    assert MESSAGE_LIEN_ENVOYE in _flash(client.get("/login"))
    assert post_form(client, "/login/forgot", {"email": employeur.email}).status_code == 302
    assert MESSAGE_IDENTIFIANT_ENVOYE in _flash(client.get("/login"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.MailOutbox)) == 0


def test_R70_forgotten_login_e_mail_captcha_secret_answer_then_the_login_mailed(app, db, employeur):
    client = app.test_client()
    assert etape1(client, "/extranet/identifiant", "email", employeur.email).status_code == 302
    assert repondre(client, "faux").headers["Location"].endswith("/extranet/identifiant")
    assert etape1(client, "/extranet/identifiant", "email", employeur.email).status_code == 302
    resp = repondre(client, "ÉCOLE JULES-FERRY")
    assert resp.headers["Location"].endswith("/login")
    assert MSG_IDENTIFIANT_ENVOYE in _flash(client.get("/login"))
    (mail,) = db.session.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.template == "identifiant_oublie")).all()
    assert mail.destinataire == employeur.email and mail.contexte["login"] == "lise.durand"
    # an unknown address: a question, then the wrong-answer message, and no mail
    client = app.test_client()
    assert etape1(client, "/extranet/identifiant", "email", "nobody@example.fr").status_code == 302
    assert repondre(client, "x").headers["Location"].endswith("/extranet/identifiant")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.MailOutbox)
                             .where(m.MailOutbox.template == "identifiant_oublie")) == 1


def test_R69_an_added_user_chooses_their_secrets_after_the_first_password_change_then_can_recover(app, db, employeur):
    from backoffice.passwords import hash_password
    compte = m.Compte(login="ajout.user", email="ajout@menuiserie.example.fr", nom="Ajout", prenom="Anne",
                      role=Role.PARTENAIRE, password_hash=hash_password("Provisoire-1!"),
                      must_change_password=True)
    db.session.add(compte)
    db.session.commit()
    client = app.test_client()
    assert post_form(client, "/login", {"username": "ajout.user", "password": "Provisoire-1!"}).status_code == 302
    resp = post_form(client, "/password", {"current_password": "Provisoire-1!", "new_password": NEW,
                                           "confirm_password": NEW})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/secrets")
    resp = post_form(client, "/extranet/secrets", {"question_secrete": "Pas dans la liste", "reponse_secrete": "abc"})
    assert resp.status_code == 400 and "Choisissez une question secrète dans la liste" in unescape(
        resp.get_data(as_text=True))
    resp = post_form(client, "/extranet/secrets", {"question_secrete": QUESTIONS[4], "reponse_secrete": "Twingo"})
    assert resp.status_code == 302
    db.session.expire_all()
    compte = db.session.scalars(sa.select(m.Compte).where(m.Compte.login == "ajout.user")).one()
    assert compte.question_secrete == QUESTIONS[4] and compte.reponse_secrete_hash.startswith("$argon2id$")
    anonyme = app.test_client()
    assert etape1(anonyme, "/extranet/mot-de-passe", "username", "ajout.user").status_code == 302
    assert repondre(anonyme, "twingo").headers["Location"].endswith("/login")
    # a staff account has no secret question page
    staff = app.test_client()
    post_form(staff, "/login", {"username": "conseiller", "password": DEMO_PASSWORD})
    assert staff.get("/extranet/secrets").status_code == 404
