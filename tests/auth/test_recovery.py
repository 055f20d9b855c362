"""Recovery by e-mailed link (R69, R70, no secret question): single use, 30 minutes, same answer
whether the account exists or not, throttled; the support desk triggers a reset but never sees it."""

from __future__ import annotations

import re
from html import unescape
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from backoffice.auth import MESSAGE_IDENTIFIANT_ENVOYE, MESSAGE_LIEN_ENVOYE
from backoffice.models import AuditEvent, Compte, JetonCompte, MailOutbox
from backoffice.models.enums import CompteStatut
from backoffice.workflows import comptes as wf
from backoffice.workflows.errors import RoleRefused
from tests.auth.conftest import DEMO_PASSWORD, T0, post_form

NEW = "Nouvelle-phrase-2026!"


def _flash(resp_or_html) -> list[str]:
    html = resp_or_html if isinstance(resp_or_html, str) else resp_or_html.get_data(as_text=True)
    return [unescape(m) for m in re.findall(r'role="alert">([^<]*)<', html)]


def _mails(db, template):
    db.session.expire_all()
    return db.session.execute(sa.select(MailOutbox).where(MailOutbox.template == template)
                              .order_by(MailOutbox.id)).scalars().all()


def _path_of(mail) -> str:
    """The link of the mail as the mail job renders it (the outbox row holds no link, issue 12)."""
    from backoffice.jobs.mail import render
    _subject, body = render(mail.template, mail.contexte)
    (lien,) = re.findall(r"https?://\S+/password/reset/\S+", body)
    return urlsplit(lien).path


def _forgot(app, client, login, at=T0):
    app.config["NOW_OVERRIDE"] = at
    return post_form(client, "/password/forgot", {"username": login})


def _reset(app, client, path, password=NEW, at=T0):
    app.config["NOW_OVERRIDE"] = at
    # the CSRF token from another page: an invalid link's page has no form
    return post_form(client, path, {"new_password": password, "confirm_password": password},
                     page="/password/forgot")


def test_forgotten_password_mails_a_single_use_link_stored_hashed_R69(app, client, db, ref):
    resp = _forgot(app, client, "conseiller")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert _flash(client.get("/login")) == [MESSAGE_LIEN_ENVOYE]
    (mail,) = _mails(db, "reinitialisation_mot_de_passe")
    assert mail.destinataire == "conseiller@ml-metropole.example.fr" and mail.contexte["prenom"] == "Camille"
    path = _path_of(mail)
    token = path.rsplit("/", 1)[1]
    assert path.startswith("/password/reset/") and len(token) >= 40
    (jeton,) = db.session.execute(sa.select(JetonCompte)).scalars().all()
    assert jeton.token_hash == wf.hash_jeton(token) and token not in jeton.token_hash  # only its digest is kept
    assert jeton.expires_at == T0 + timedelta(minutes=30)

    page = client.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    resp = _reset(app, client, path, at=T0 + timedelta(minutes=5))
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    compte = db.session.execute(sa.select(Compte).where(Compte.login == "conseiller")).scalar_one()
    db.session.refresh(compte)
    assert compte.must_change_password is False  # R69 here: the link proves the mailbox, nothing more forced

    # single use: the same link now fails, with the same page as an unknown one
    assert client.get(path).status_code == 400
    assert _reset(app, client, path, "Encore-une-autre-9!").status_code == 400
    assert client.get("/password/reset/inconnu").status_code == 400
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=6)
    assert post_form(app.test_client(), "/login", {"username": "conseiller", "password": NEW}).status_code == 302
    assert post_form(app.test_client(), "/login", {"username": "conseiller",
                                                   "password": DEMO_PASSWORD}).status_code == 401


def test_a_reset_link_expires_after_30_minutes_and_a_newer_link_kills_the_older(app, client, db, ref):
    _forgot(app, client, "conseiller", T0)
    _forgot(app, client, "conseiller", T0 + timedelta(minutes=1))
    first, second = (_path_of(m) for m in _mails(db, "reinitialisation_mot_de_passe"))
    assert _reset(app, client, first, at=T0 + timedelta(minutes=2)).status_code == 400  # superseded
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=30, seconds=59)
    assert client.get(second).status_code == 200  # issued at T0+1 min: valid until T0+31 min
    assert _reset(app, client, second, at=T0 + timedelta(minutes=31, seconds=1)).status_code == 400
    db.session.expire_all()
    assert db.session.execute(sa.select(Compte.password_changed_at).where(Compte.login == "conseiller")).scalar() \
        is None


def test_the_reset_password_follows_R67_and_revokes_open_sessions(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    logged = app.test_client()
    post_form(logged, "/login", {"username": "conseiller", "password": DEMO_PASSWORD})
    assert logged.get("/admin/").status_code == 200
    c = app.test_client()
    _forgot(app, c, "conseiller")
    path = _path_of(_mails(db, "reinitialisation_mot_de_passe")[0])
    resp = _reset(app, c, path, "abcdefgh!")
    assert resp.status_code == 400 and "au moins un chiffre" in resp.get_data(as_text=True)
    assert _reset(app, c, path).status_code == 302
    resp = logged.get("/admin/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_reset_lifts_a_temporary_lock_but_not_a_definitive_one(app, client, db, ref):
    compte = ref.comptes["conseiller"]
    compte.statut, compte.locked_until = CompteStatut.VERROUILLE, T0 + timedelta(minutes=20)
    db.session.commit()
    _forgot(app, client, "conseiller")
    assert _reset(app, client, _path_of(_mails(db, "reinitialisation_mot_de_passe")[0])).status_code == 302
    db.session.refresh(compte)
    assert compte.statut == CompteStatut.ACTIF

    compte.statut, compte.locked_until = CompteStatut.VERROUILLE, None  # 100 failures: the desk decides
    db.session.commit()
    _forgot(app, client, "conseiller", T0 + timedelta(minutes=1))
    _reset(app, client, _path_of(_mails(db, "reinitialisation_mot_de_passe")[1]), "Encore-une-autre-9!",
           at=T0 + timedelta(minutes=2))
    db.session.refresh(compte)
    assert compte.statut == CompteStatut.VERROUILLE


def test_same_answer_whether_the_account_exists_or_not_R69_R70(app, db, ref):
    ref.comptes["conseiller2"].statut = CompteStatut.DESACTIVE
    db.session.commit()
    answers = []
    for login in ("conseiller", "personne", "conseiller2", "x" * 64):
        c = app.test_client()
        resp = _forgot(app, c, login)
        answers.append((resp.status_code, resp.headers.get("Location"), _flash(c.get("/login"))))
    assert answers == [(302, "/login", [MESSAGE_LIEN_ENVOYE])] * 4
    assert len(_mails(db, "reinitialisation_mot_de_passe")) == 1  # only the active, existing account

    answers = []
    for i, email in enumerate(("conseiller@ml-metropole.example.fr", "personne@example.fr",
                               "CONSEILLER@ml-metropole.example.fr")):
        c = app.test_client()
        app.config["NOW_OVERRIDE"] = T0 + timedelta(seconds=i)
        resp = post_form(c, "/login/forgot", {"email": email})
        answers.append((resp.status_code, resp.headers.get("Location"), _flash(c.get("/login"))))
    assert answers == [(302, "/login", [MESSAGE_IDENTIFIANT_ENVOYE])] * 3
    mails = _mails(db, "identifiant_oublie")
    assert [(m.destinataire, m.contexte["login"]) for m in mails] == \
        [("conseiller@ml-metropole.example.fr", "conseiller")] * 2


def test_recovery_is_throttled_per_target_silently_and_per_ip_visibly(app, db, ref):
    for minute in range(5):  # same login from several addresses: three mails an hour at most
        _forgot(app, app.test_client(), "conseiller", T0 + timedelta(minutes=minute))
    assert len(_mails(db, "reinitialisation_mot_de_passe")) == wf.LIMITE_PAR_CIBLE
    app.config["LIMITE_RECUPERATION_IP"] = (7, 900)  # 5 already counted for 127.0.0.1
    c = app.test_client()
    codes = [_forgot(app, c, f"personne{i}", T0 + timedelta(minutes=6)).status_code for i in range(3)]
    assert codes == [302, 302, 429]
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=6)
    assert post_form(c, "/login/forgot", {"email": "x@example.fr"}).status_code == 429
    assert _forgot(app, c, "conseiller", T0 + timedelta(hours=1, minutes=1)).status_code == 302
    assert len(_mails(db, "reinitialisation_mot_de_passe")) == wf.LIMITE_PAR_CIBLE + 1


def test_the_support_desk_triggers_a_reset_but_never_sees_or_sets_a_password(app, db, ref):
    support, cible = ref.comptes["support"], ref.comptes["conseiller"]
    before = cible.password_hash
    assert wf.declencher_reinitialisation(db.session, cible.id, support.id, now=T0) is None  # nothing handed back
    db.session.commit()
    (mail,) = _mails(db, "reinitialisation_mot_de_passe")
    assert mail.destinataire == cible.email  # to the user's own mailbox
    db.session.refresh(cible)
    assert cible.password_hash == before  # the old password still works until the user acts
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "reinitialisation_declenchee")
                               ).scalar_one()
    assert (event.actor_id, event.entity_id) == (support.id, cible.id)
    token = _path_of(mail).rsplit("/", 1)[1]
    assert token not in str(event.params) and token not in str(event.diff)
    with pytest.raises(RoleRefused):
        wf.declencher_reinitialisation(db.session, cible.id, ref.comptes["siege"].id, now=T0)
    c = app.test_client()
    assert _reset(app, c, _path_of(mail), at=T0 + timedelta(minutes=1)).status_code == 302
