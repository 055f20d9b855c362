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


# ---- every form and every list of every grid, on PostgreSQL and on SQLite (issue 12) ----------------
# A fixed, seeded corpus (bounded: a few posts per form, a few list URLs per grid): no answer is a 500,
# and the row count of every table changes only when a post is accepted (a 302 to a page other than
# /reauth), and then only in the grid's own table (+1 for a create, +0 for an edit) and the journal.

import random  # noqa: E402
from html.parser import HTMLParser  # noqa: E402
from urllib.parse import quote  # noqa: E402

FORM_HOSTILE = [
    "", " ", "   ", "\x00", "a\x00b", "\x1b[31m", "x\ty", "x\ny", "\u202eevil", "NaN", "Infinity", "1e309", "-1",
    str(2**31), str(2**63), "-" + str(2**63 + 1), "9" * 40, "abc", "١٢", "１２", "0x10", "1,2,3", "31/02/2025",
    "00/2025", "13/2025", "01/1899", "99999999999,99", "-0,01", "<script>alert(1)</script>", "'; DROP TABLE x; --",
    "é" * 300, "x" * 5000, "pas-une-adresse", "a@b", "__None", "y", "on", "true",
]
LIST_HOSTILE = ["0", "1", "-1", str(2**31), str(2**63), "9" * 40, "abc", "\x00", "١", "%", "_", "\\", "' OR 1=1"]
SKIP_FIELDS = {"csrf_token", "_add_another", "_continue_editing", "url"}
POSTS_PER_FORM = 3
SEED = 20261201


class _FormFields(HTMLParser):
    """name -> (kind, current value, options) of the fields of an admin form page."""

    def __init__(self):
        super().__init__()
        self.fields: dict = {}
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and name not in SKIP_FIELDS and a.get("type") not in ("submit", "button"):
            kind = a.get("type", "text")
            checked = "checked" in a
            value = ("y" if checked else None) if kind == "checkbox" else a.get("value", "")
            self.fields[name] = (kind, value, [])
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ("textarea", "", [])
        elif tag == "select" and name:
            self._select = name
            self.fields[name] = ("select", None, [])
        elif tag == "option" and self._select:
            kind, value, options = self.fields[self._select]
            options.append(a.get("value", ""))
            if "selected" in a or value is None:
                value = a.get("value", "")
            self.fields[self._select] = (kind, value, options)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            kind, value, options = self.fields[self._textarea]
            self.fields[self._textarea] = (kind, value + data, options)


def _fields(html: str) -> dict:
    parser = _FormFields()
    parser.feed(html)
    return parser.fields


def _mutate(rng, fields: dict, k: int) -> dict:
    data = {n: v for n, (kind, v, _o) in fields.items() if v is not None}
    for name in rng.sample(sorted(fields), min(k, len(fields))):
        kind, _value, options = fields[name]
        if kind == "checkbox":
            data[name] = rng.choice(["y", "", "\x00"]) if rng.random() < .5 else data.pop(name, None) or "y"
        elif kind == "select" and options and rng.random() < .6:
            data[name] = rng.choice(options)
        else:
            data[name] = rng.choice(FORM_HOSTILE)
    return {k_: v for k_, v in data.items() if v is not None}


def _all_counts(db) -> dict:
    db.session.remove()
    names = [t.name for t in db.metadata.sorted_tables]
    sql = " UNION ALL ".join(f"SELECT '{n}', count(*) FROM \"{n}\"" for n in names)  # nosec B608 (table names)
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.text(sql)).all())


JOURNAL = {"audit_event", "audit_sceau", "throttle_log", "limite_tentative"}


def _role_for(view, right):
    from backoffice.policy import POLICY
    from tests.security.conftest import ROLES
    roles = sorted(r.value for r in getattr(POLICY[view.policy_endpoint], right) if r.value in ROLES)
    return "conseiller" if "conseiller" in roles else ("admin" if "admin" in roles else (roles[0] if roles else None))


def _grids(app):
    from backoffice.policy import POLICY
    return [v for v in app.extensions["admin"][0]._views if getattr(v, "policy_endpoint", None) in POLICY
            and hasattr(v, "model")]


def _fuzz_every_grid(app, db, sample) -> dict:
    """Posts hostile create and edit forms and list URLs to every grid; returns what it did."""
    rng = random.Random(SEED)
    clients: dict = {}

    def client(role):
        if role not in clients:
            clients[role] = RoleClient(app, role)
        return clients[role]

    done = {"posts": 0, "accepted": 0, "lists": 0}
    counts = _all_counts(db)
    for view in _grids(app):
        table = view.model.__tablename__
        targets = []
        role = _role_for(view, "create")
        if role:
            targets.append((role, f"{view.url}/new/", 1))
        ident = sample.ids.get(view.policy_endpoint, (None, None))[0]
        role = _role_for(view, "edit")
        if role and ident:
            targets.append((role, f"{view.url}/edit/?id={ident}", 0))
        for role, url, created in targets:
            c = client(role)
            page = c.get(url)
            assert page.status_code < 500, url
            if page.status_code != 200:
                continue
            fields = _fields(page.get_data(as_text=True))
            for _ in range(POSTS_PER_FORM):
                data = _mutate(rng, fields, rng.randint(1, 3))
                resp = c.post(url, data={"csrf_token": c.token, **data})
                where = (url, {k: v[:40] for k, v in data.items()})
                assert resp.status_code < 500, where
                done["posts"] += 1
                after = _all_counts(db)
                accepted = resp.status_code == 302 and "/reauth" not in resp.headers.get("Location", "")
                changed = {t for t in after if after[t] != counts[t]} - JOURNAL
                if accepted:
                    done["accepted"] += 1
                    assert after[table] - counts[table] == created, where
                else:
                    assert changed == set(), (where, resp.status_code, changed)
                counts = after
        role = _role_for(view, "view")
        c = client(role) if role else None
        for _ in range(3 if c else 0):
            args = {"page": rng.choice(LIST_HOSTILE), "page_size": rng.choice(["20", "50", "7", *LIST_HOSTILE]),
                    "sort": rng.choice(LIST_HOSTILE), "desc": rng.choice(["0", "1", "x"]),
                    "search": rng.choice(LIST_HOSTILE + FORM_HOSTILE[:12]),
                    rng.choice(["apres", "avant"]): rng.choice(["", "W10", "WyJ4Il0", "eyJ4IjoxfQ", "AAAA", *LIST_HOSTILE])}
            for idx, flt in rng.sample(list(enumerate(view._filters or [])), min(3, len(view._filters or []))):
                args[f"flt{idx % 3}_{view.get_filter_arg(idx, flt)}"] = rng.choice(LIST_HOSTILE + FORM_HOSTILE)
            query = "&".join(f"{k}={quote(str(v))}" for k, v in args.items())
            resp = c.get(f"{view.url}/?{query}")
            assert resp.status_code < 500, (view.url, args)
            done["lists"] += 1
        assert _all_counts(db) == counts or set(_all_counts(db)) - JOURNAL, view.url
        counts = _all_counts(db)
    return done


def _seed_everything(db):
    import time

    from backoffice.audit_chain import sceller
    from tests import factories as f
    from tests.admin.data import make_everything
    ref = f.make_reference(db.session)
    # make_everything reads the last seal; on PostgreSQL the xmin horizon is shared with other databases
    db.session.add(m.AuditEvent(entity="test", entity_id=None, action="amorce"))
    db.session.commit()
    for _ in range(100):
        if sceller(db.session):
            break
        db.session.commit()
        time.sleep(0.1)
    db.session.commit()
    sample = make_everything(db.session, ref)
    db.session.commit()
    return sample


def test_every_form_and_list_of_every_grid_fuzzed_on_postgresql(app, db):
    sample = _seed_everything(db)
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    done = _fuzz_every_grid(app, db, sample)
    print("fuzz PostgreSQL", done)
    assert done["posts"] > 100 and done["lists"] > 100


def test_every_form_and_list_of_every_grid_fuzzed_on_sqlite(tmp_path):
    """The demo's database: a second app on a temporary SQLite file, built by the same migrations."""
    from flask import g
    from flask_migrate import upgrade

    from backoffice import create_app
    from backoffice.config import TestConfig
    from backoffice.extensions import db

    config = TestConfig.from_env()
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/fuzz.sqlite3"
    config["AUDIT_SEAL_AFTER_COMMIT"] = False
    lite = create_app(config)
    lite.before_request_funcs.setdefault(None, []).insert(0, lambda: g.__dict__.clear())
    with lite.app_context():
        upgrade(revision="heads")
        sample = _seed_everything(db)
        done = _fuzz_every_grid(lite, db, sample)
        db.session.remove()
        db.engine.dispose()
    print("fuzz SQLite", done)
    assert done["posts"] > 100 and done["lists"] > 100
