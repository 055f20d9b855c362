"""Passwords: first-login confinement (R66), policy (R67, E11) through the forms, no truncation, argon2id."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from backoffice.models import Compte
from tests.auth.conftest import DEMO_PASSWORD, T0, post_form
from tests.conftest import csrf_from


def _client(app, username, password=DEMO_PASSWORD):
    app.config["NOW_OVERRIDE"] = T0
    c = app.test_client()
    resp = post_form(c, "/login", {"username": username, "password": password})
    return c, resp


def _errors(resp) -> list[str]:
    return re.findall(r'class="invalid-feedback d-block">([^<]*)<', resp.get_data(as_text=True))


def _change(c, new, current=DEMO_PASSWORD, confirm=None):
    return post_form(c, "/password", {"current_password": current, "new_password": new,
                                      "confirm_password": new if confirm is None else confirm})


def test_a_forced_change_confines_the_user_to_the_password_and_logout_pages_R66_E11(app, db, ref):
    ref.comptes["comptable"].must_change_password = True
    db.session.commit()
    c, resp = _client(app, "comptable")
    assert resp.headers["Location"].endswith("/password")
    for url in ("/", "/admin/", "/admin/allocation/", "/admin/remboursement/new/", "/admin/paiement/details/?id=1",
                "/admin/lot_paiement/export/csv/", "/admin/compte/", "/reauth", "/admin/nexiste-pas/"):
        resp = c.get(url)
        assert resp.status_code in (302, 404), url
        if resp.status_code == 302:
            assert resp.headers["Location"].endswith("/password"), url
    token = csrf_from(c.get("/password").get_data(as_text=True))
    resp = c.post("/admin/remboursement/new/", data={"csrf_token": token, "montant": "10,00"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/password")
    assert c.get("/password").status_code == 200 and c.get("/logout").status_code == 200

    resp = _change(c, "Un-nouveau-départ-2026")
    assert resp.status_code == 302
    assert c.get("/admin/").status_code == 200  # free again
    assert db.session.execute(sa.select(Compte.must_change_password).where(Compte.login == "comptable")).scalar() \
        is False


REFUSED = [
    ("abcdefgh!", "au moins un chiffre"),          # E11
    ("abc1!", "au moins 8 caractères"),            # E11
    ("abcdefg12", "caractère spécial"),            # E11
    ("azerty123!", "trop courant"),
    ("siege-2026!", "identifiant"),
]


def test_the_password_policy_refuses_in_french_R67_E11(app, db, ref):
    c, _ = _client(app, "siege")
    for new, message in REFUSED:
        resp = _change(c, new)
        assert resp.status_code == 400, new
        assert any(message in e for e in _errors(resp)), (new, _errors(resp))


def test_e11_accepted_password_and_a_200_character_passphrase_are_kept_whole(app, db, ref):
    c, _ = _client(app, "siege")
    assert _change(c, "abcdefg1!").status_code == 302  # E11: OK
    phrase = ("le cheval de mon cousin mange 3 pommes vertes chaque matin, " * 4)[:200]
    assert len(phrase) == 200
    assert _change(c, phrase, current="abcdefg1!").status_code == 302
    # no silent truncation: the 199 first characters are not the password
    _, resp = _client(app, "siege", phrase[:199])
    assert resp.status_code == 401
    _, resp = _client(app, "siege", phrase)
    assert resp.status_code == 302


def test_over_long_passwords_are_refused_with_a_french_message_before_any_hashing(app, db, ref, monkeypatch):
    from backoffice.workflows import comptes as wf
    monkeypatch.setattr(wf, "verify_password", lambda *a: pytest.fail("no hashing of an over-long password"))
    c = app.test_client()
    resp = post_form(c, "/login", {"username": "siege", "password": "x" * 1025})
    assert resp.status_code == 400 and "Mot de passe trop long (1024 caractères au plus)." in _errors(resp)
    monkeypatch.undo()
    c, _ = _client(app, "siege")
    resp = _change(c, "a1!" * 100)  # 300 characters: beyond R67's own limit
    assert resp.status_code == 400 and any("ne doit pas dépasser" in e for e in _errors(resp))
    resp = _change(c, "a1!" * 400)
    assert resp.status_code == 400 and "Mot de passe trop long (1024 caractères au plus)." in _errors(resp)


def test_wrong_current_password_or_mismatched_confirmation_change_nothing(app, db, ref):
    before = ref.comptes["siege"].password_hash
    c, _ = _client(app, "siege")
    assert "Mot de passe actuel incorrect." in _errors(_change(c, "Nouveau-2026!", current="faux"))
    assert "Les deux saisies ne correspondent pas." in _errors(_change(c, "Nouveau-2026!", confirm="Autre-2026!"))
    db.session.expire_all()
    assert db.session.get(Compte, ref.comptes["siege"].id).password_hash == before


def test_production_hashes_are_argon2id_with_the_library_profile_and_unknown_users_cost_the_same(
        fast_argon2, monkeypatch):
    import time

    from backoffice import passwords
    monkeypatch.undo()  # the real hasher, not the tests' cheap one
    h = passwords.hash_password("abcdefg1!")
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(h, "abcdefg1!") and not passwords.verify_password(h, "abcdefg1")
    assert passwords.verify_password(h, "abcdefg1!\x00") is False
    assert passwords.verify_password(h, "\ud800") is False  # a lone surrogate neither crashes nor matches

    def cost(password_hash):
        start = time.perf_counter()
        passwords.verify_password(password_hash, "faux")
        return time.perf_counter() - start
    known, unknown = sorted(cost(h) for _ in range(2))[0], sorted(cost(None) for _ in range(2))[0]
    assert 0.5 < unknown / known < 2  # same argon2 work for an unknown user (no enumeration by timing)
