"""Headers: a CSP Flask-Admin's pages live with (checked in Chromium), no framing, no referrer leak;
no debug in the production configuration."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser, login, page  # noqa: F401  (fixtures; live_server: tests/conftest.py)
from tests.security.conftest import RoleClient


def _directives(resp) -> dict[str, str]:
    csp = resp.headers["Content-Security-Policy"]
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in csp.split(";")) if d}


def test_every_page_sends_the_security_headers(app, db, ref):
    admin = RoleClient(app, "admin")
    for c, url in ((RoleClient(app, None), "/login"), (admin, "/admin/"), (admin, "/admin/allocation/"),
                   (admin, "/admin/allocation/new/"), (admin, "/password")):
        resp = c.get(url)
        assert resp.status_code == 200, url
        d = _directives(resp)
        assert d["default-src"] == "'self'" and d["object-src"] == "'none'" and d["base-uri"] == "'self'"
        assert d["frame-ancestors"] == "'none'" and d["form-action"] == "'self'"
        assert d["script-src-elem"].split()[0] == "'self'" and "unsafe-inline" not in d["script-src-elem"]
        assert "unsafe-eval" not in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
    static = admin.get("/admin/static/admin/js/helpers.js?v=1.0.0")
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_a_template_nonce_is_announced_in_the_header(app, db):
    from flask import render_template_string

    from backoffice import security
    with app.test_request_context("/"):
        html = render_template_string('<script nonce="{{ csp_nonce() }}">1</script>')
        nonce = html.split('"')[1]
        resp = security._headers(app.response_class(html))
        assert f"'nonce-{nonce}'" in resp.headers["Content-Security-Policy"]


def test_production_configuration_has_no_debug(database_url):
    from backoffice import create_app
    from backoffice.config import Config

    prod = create_app(Config, SECRET_KEY="x" * 32, SQLALCHEMY_DATABASE_URI=database_url)
    assert prod.debug is False and prod.testing is False
    assert Config.DEBUG is False and Config.TESTING is False
    assert prod.config["SESSION_COOKIE_HTTPONLY"] and prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert prod.config["WTF_CSRF_ENABLED"] is True
    import inspect

    from backoffice import cli
    assert "use_debugger=False" in inspect.getsource(cli._serve)


@pytest.mark.browser
def test_flask_admin_js_works_under_the_csp_and_injected_markup_stays_inert(app, db, ref, live_server, page):
    from tests import factories as f
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    f.make_beneficiaire(db.session, ref.nord, nom=payload, nom_recherche="XSS")
    db.session.commit()
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live_server, "admin")

    page.goto(f"{live_server}/admin/beneficiaire/")
    assert payload in page.inner_text("body")  # shown as text, not markup
    assert page.evaluate("window.__xss") is None
    # Flask-Admin's own JS runs: jQuery, Bootstrap's dropdowns, and the inline handlers of the bulk-action
    # menu and of the delete button (both ask for a confirmation; dismissed, nothing is deleted)
    page.goto(f"{live_server}/admin/motif_sortie/")
    assert page.evaluate("typeof window.jQuery") == "function"
    assert page.evaluate("typeof window.modelActions") == "object"
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.locator("form.icon button[title]").first.click()
    page.check("input.action-checkbox >> nth=0")
    page.locator("a.dropdown-toggle", has_text="Avec la sélection").click()
    page.locator("a.dropdown-item[onclick*=modelActions]").first.click()
    page.wait_for_timeout(200)
    assert len(dialogs) == 2 and all("supprimer" in m for m in dialogs), dialogs
    assert page.url.endswith("/admin/motif_sortie/")
    # a <script> element without the nonce is refused by the CSP
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__inj = 1';"
                  " document.body.appendChild(s); }")
    page.wait_for_timeout(100)
    assert page.evaluate("window.__inj") is None
    assert any("script-src-elem" in v for v in violations), violations
    assert not [v for v in violations if "script-src-attr" in v or "style-src" in v], violations
