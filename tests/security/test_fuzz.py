"""Hypothesis against the login, password-change and amount fields: hostile input (NaN, sNaN,
infinities, exponents, non-ASCII digits, huge values, NUL bytes) never yields an HTTP 500, and
nothing is written."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice import models as m
from tests.security.conftest import RoleClient

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# what an HTTP form can carry: any text but lone surrogates
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
HOSTILE = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\x00" * 100, "NaN", "nan", "-NaN", "sNaN", "-sNaN", "Infinity", "-Infinity", "inf",
    "+inf", "Infini", "1e309", "-1e309", "1E5", "1e-7", "9e999999999", "0e0", "1.5e3", "0x10", "1_000", "--1",
    "+-1", "1,2,3", "1.2.3", "١٢٣", "１２３", "٣,٥٠", "𝟏𝟐𝟑", "12\x0034", "1" * 5000, "9" * 400, "9" * 11,
    "-0,01", "0,001", "1 234,567", "€", "1 € 2", "١e٣", "'; DROP TABLE audit_event; --", "<script>1</script>",
    "%00", "\u202e123", "12\u200b3", "1\n2", "\t", "é" * 2000, "x" * 100_000,
])
ANY = st.one_of(HOSTILE, TEXT, st.text(max_size=3000, alphabet="0123456789,.eE+-nN\x00 "),
                st.builds(lambda a, b: f"{a}e{b}", st.integers(), st.integers()))

ASCII_AMOUNT = re.compile(r"[+]?[0-9]{1,10}(?:[.,][0-9]{1,2})?")


def _snapshot(db, model, *columns):
    db.session.remove()
    return db.session.execute(sa.select(*[getattr(model, c) for c in columns]).order_by(model.id)).all()


@pytest.fixture
def no_throttle(app):
    app.config["LIMITE_CONNEXION_IP"] = (10**6, 600)


def test_login_fuzz_never_500_and_changes_no_account(app, db, ref, no_throttle):
    logins = {c.login for c in ref.comptes.values()}
    columns = ("id", "login", "password_hash", "statut", "failed_attempts", "session_generation", "version")
    before = _snapshot(db, m.Compte, *columns)
    c = RoleClient(app, None)

    @SETTINGS
    @given(username=st.one_of(HOSTILE, TEXT).filter(lambda u: u.strip() not in logins), password=ANY)
    def check(username, password):
        resp = c.post("/login", data={"username": username, "password": password, "csrf_token": c.token})
        assert resp.status_code in (400, 401), (resp.status_code, username[:50], password[:50])

    check()
    assert _snapshot(db, m.Compte, *columns) == before
    assert c.get("/admin/").status_code == 302  # never logged in


def test_password_change_fuzz_never_500_and_writes_nothing(app, db, ref):
    c = RoleClient(app, "siege")
    before = _snapshot(db, m.Compte, "id", "password_hash", "session_generation", "must_change_password")

    @SETTINGS
    @given(new=ANY, confirm=st.one_of(st.none(), ANY), current=st.one_of(st.just("faux"), HOSTILE))
    def check(new, confirm, current):
        resp = c.post("/password", data={"current_password": current, "new_password": new,
                                         "confirm_password": new if confirm is None else confirm,
                                         "csrf_token": c.token})
        assert resp.status_code == 400, (resp.status_code, new[:50])

    check()
    assert _snapshot(db, m.Compte, "id", "password_hash", "session_generation", "must_change_password") == before
    assert c.get("/admin/").status_code == 200  # still logged in: nothing was revoked either


def _hors_delai_client(app, db, ref):
    from tests import factories as f
    b, cb, i, cerfa = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    return RoleClient(app, "conseiller"), i.id


def _post_hors_delai(c, inscription_id, montant):
    return c.post("/admin/demande_hors_delai/new/", data={
        "csrf_token": c.token, "inscription": str(inscription_id), "mois": "01/2025", "motif": "Oubli",
        "montant_demande": montant})


def test_amount_fuzz_never_500_and_writes_only_plain_amounts(app, db, ref):
    c, inscription_id = _hors_delai_client(app, db, ref)
    assert _post_hors_delai(c, inscription_id, "561,68").status_code == 302  # the form works: one row
    count = sa.select(sa.func.count()).select_from(m.DemandeHorsDelai)

    @SETTINGS
    @given(montant=ANY.filter(lambda s: not any(ch.isdecimal() and not ch.isascii() for ch in s)))
    def check(montant):
        db.session.remove()
        n = db.session.scalar(count)
        resp = _post_hors_delai(c, inscription_id, montant)
        assert resp.status_code < 500, montant[:60]
        db.session.remove()
        plain = ASCII_AMOUNT.fullmatch(re.sub(r"[\s\u00a0\u202f€]", "", montant))
        if not plain:
            assert db.session.scalar(count) == n, montant[:60]

    check()
    db.session.remove()
    amounts = db.session.scalars(sa.select(m.DemandeHorsDelai.montant_demande)).all()
    assert all(a.is_finite() and 0 <= a <= m.base.MONEY_MAX for a in amounts)


def test_non_ascii_digits_are_refused_as_amounts(app, db, ref):
    c, inscription_id = _hors_delai_client(app, db, ref)
    for montant in ("١٢٣", "１２３", "𝟏𝟐𝟑"):  # Arabic-Indic, full-width, mathematical bold
        resp = _post_hors_delai(c, inscription_id, montant)
        assert resp.status_code == 200, montant
        db.session.remove()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(m.DemandeHorsDelai)) == 0, montant


def test_rules_accept_every_password_form_input_without_crashing():
    from backoffice.rules.motdepasse import verifier_mot_de_passe

    @settings(max_examples=300, deadline=None, database=None)
    @given(pw=ANY, login=st.one_of(st.none(), TEXT))
    def check(pw, login):
        assert isinstance(verifier_mot_de_passe(pw, login=login), list)

    check()
