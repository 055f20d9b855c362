"""Stored XSS: markup in every text column of every grid renders as inert text in a real browser.

One row per grid (tests.admin.data) gets a payload in each of its String/Text columns (the longest that
fits the column; a column whose CHECK refuses every markup is listed, so a new one shows up here) and
in its JSON columns; audit events carrying payloads are attached to each row (the history panel, the
journal grid). Then headless Chromium opens, as admin, the home page and each grid's list, detail,
edit and create pages, and finds no script run (window.__xss), no dialog and no injected element,
while the payload is shown as text. The CSP allows inline event handlers (Flask-Admin's own need
them), so escaping is what stands between a stored value and a script here.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.policy import POLICY
from tests.admin.data import make_everything
from tests.browser.conftest import browser, login, page  # noqa: F401  (fixtures; live_server: tests/conftest.py)

LONG = "\"'><img src=x onerror=window.__xss=1><script>window.__xss=1</script><svg onload=alert(1)>"
MEDIUM = "\"><svg/onload=__xss=1>"  # 22 characters
SHORT = "<q>"  # the shortest markup that still shows as an element if it is not escaped
INJECTED = "q, img[src='x'], svg[onload], script:not([src]):not([nonce])"
SHOWN = ("<img src=x onerror", "<svg/onload", "<q>")

# Columns whose CHECK constraint refuses any markup (a format, a fixed list): nothing to inject.
REFUSE_MARKUP = {"beneficiaire.activite_micro", "remboursement.mode", "job_outbox.file",
                 "reversement.debiteur_type", "reversement.origine"}  # closed lists (CHECK)


# Columns that only hold text together with another value (a CHECK ties them): a rejection reason is only on a
# rejected payment (ck_paiement_motif_si_rejete, migration 0032).
COMPANIONS = {"paiement.motif_rejet": {"statut": "rejete"}}


def payload_for(length: int | None) -> str | None:
    if length is None or length >= len(LONG):
        return LONG
    if length >= len(MEDIUM):
        return MEDIUM
    if length >= len(SHORT):
        return SHORT.ljust(length, "x")  # fixed-length CHECKs (SIRET: 14) still hold markup
    return None


def _poison_row(conn, table: sa.Table, ident: int, skipped: list[str]) -> int:
    """Every String/Text (not enum) and JSON column of one row, one SAVEPOINT per column."""
    done = 0
    for col in table.columns:
        if col.primary_key or col.foreign_keys or isinstance(col.type, sa.Enum):
            continue
        if isinstance(col.type, sa.JSON):
            value = {"texte": LONG, LONG[:40]: [LONG]}
        elif isinstance(col.type, (sa.String, sa.Text)):
            value = payload_for(getattr(col.type, "length", None))
            if value is None:
                skipped.append(f"{table.name}.{col.name}")
                continue
        else:
            continue
        try:
            with conn.begin_nested():
                conn.execute(table.update().where(table.c.id == ident)
                             .values({col.name: value, **COMPANIONS.get(f"{table.name}.{col.name}", {})}))
            done += 1
        except sa.exc.DBAPIError as exc:
            skipped.append(f"{table.name}.{col.name}: {str(exc.orig).splitlines()[0]}")
    return done


@pytest.fixture
def poisoned(app, db, ref):
    sample = make_everything(db.session, ref)
    db.session.commit()
    admin_id = ref.comptes["admin"].id
    from backoffice.admin_views.base import SecureModelView
    views = {v.endpoint: v for v in app.extensions["admin"][0]._views if isinstance(v, SecureModelView)}
    targets = {e: sample.nord(e) for e in views if e in sample.ids}
    assert set(targets) == set(views), set(views) - set(targets)  # every grid has its row
    skipped: list[str] = []
    with db.engine.begin() as conn:
        for endpoint, ident in targets.items():
            table = views[endpoint].model.__table__
            if table.name == "audit_event":
                continue  # append-only: its payloads come as new events below
            _poison_row(conn, table, ident, skipped)
        # the admin's own name shows in the menu and on the home page
        conn.execute(m.Compte.__table__.update().where(m.Compte.id == admin_id)
                     .values(prenom=MEDIUM, nom=LONG[:80]))
        # one event per row: the detail page's history panel, and the journal grid itself
        for endpoint, ident in targets.items():
            conn.execute(sa.insert(m.AuditEvent).values(
                actor_id=admin_id, entity=views[endpoint].model.__tablename__, entity_id=ident,
                action=LONG[:60], from_status=MEDIUM, to_status=MEDIUM, ip=MEDIUM,
                params={"motif": LONG, "_cache": LONG}, diff={"nom": [LONG, LONG], LONG[:30]: [None, LONG]}))
        targets["audit_event"] = conn.execute(sa.select(sa.func.max(m.AuditEvent.id))).scalar_one()
    db.session.remove()
    return targets, skipped


def _pages(app, targets):
    yield "accueil", "/admin/"
    for endpoint, ident in sorted(targets.items()):
        pol = POLICY[endpoint]
        if "admin" not in pol.view:  # a partner's own view of rows the staff grids show (issue 16: its payables)
            continue
        yield endpoint, f"/admin/{endpoint}/"
        yield endpoint, f"/admin/{endpoint}/details/?id={ident}"
        if "admin" in pol.edit:
            yield endpoint, f"/admin/{endpoint}/edit/?id={ident}"
        if "admin" in pol.create:
            yield endpoint, f"/admin/{endpoint}/new/"


@pytest.mark.browser
def test_a_payload_in_every_text_column_renders_inert_in_chromium(app, poisoned, live_server, page):
    targets, skipped = poisoned
    assert [s for s in skipped if s.split(":")[0] not in REFUSE_MARKUP] == [], "\n".join(skipped)
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live_server, "admin")
    shown, opened = set(), 0
    for endpoint, url in _pages(app, targets):
        resp = page.goto(f"{live_server}{url}")
        assert resp.status == 200, (url, resp.status)
        page.wait_for_load_state("load")
        where = (endpoint, url)
        assert page.evaluate("typeof window.__xss") == "undefined", where
        assert page.evaluate(f"document.querySelectorAll({INJECTED!r}).length") == 0, where
        assert dialogs == [], (where, dialogs)
        text = page.inner_text("body") + " ".join(
            page.eval_on_selector_all("input, textarea", "els => els.map(e => e.value)"))
        if any(s in text for s in SHOWN):
            shown.add(endpoint)
        opened += 1
    # not a vacuous pass: the payloads are on the pages, as text
    staff = {t for t in targets if "admin" in POLICY[t].view}  # the partners' own views: see _pages
    assert shown == {"accueil", *staff}, sorted({"accueil", *staff} - shown)
    assert opened > 80
    assert errors == [], errors
