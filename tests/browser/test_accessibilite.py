"""Accessibility (issue 19 §4, RGAA 4 / WCAG 2.1 AA): axe-core, the npm package served from
backoffice/static/vendor/axe-core, run in Chromium on the main pages of each role over the demo data — login,
home, grids with and without a filter, a record page, the dry run and the report of a bulk action, forms sent back
with errors — finds no serious or critical violation; the bulk flow works with the keyboard alone and the focus
shows; the « Accessibilité » page, public and linked from the footer, states the level measured and its date."""

from pathlib import Path

import pytest

from backoffice.accessibilite import DATE_MESURE, version_axe
from tests.browser.conftest import login

pytestmark = pytest.mark.populated

AXE = (Path(__file__).resolve().parents[2] / "backoffice" / "static" / "vendor" / "axe-core" / "axe.min.js").read_text()
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def violations(page) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now (WCAG 2.1 A and AA rules)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE)  # evaluated by the DevTools protocol: the page's CSP (nonce) is not loosened for it
    found = page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.impact + ' ' + v.id + ' : ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""", WCAG_AA)
    return [f"{page.url} : {v}" for v in found]


def tab_to(page, selector: str, limit: int = 400) -> None:
    """Press Tab until the element `selector` has the focus (the keyboard alone reaches it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => { const a = document.activeElement; return !!a && a.matches(s); }", selector):
            return
    raise AssertionError(f"{selector} n'est pas atteignable au clavier")


def focus_visible(page) -> bool:
    return page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }""")


ROLES = {
    "siege": ["/admin/", "/admin/allocation/", "/admin/cerfa/", "/admin/echeance/"],
    "conseiller": ["/admin/", "/admin/beneficiaire/", "/admin/inscription/", "/admin/allocation/new/"],
    "comptable": ["/admin/", "/admin/lot_paiement/", "/admin/paiement/", "/admin/reversement/"],
    "support": ["/admin/", "/admin/compte/", "/admin/mail_outbox/"],
    "manager": ["/admin/", "/admin/demande_hors_delai/"],
    "admin": ["/admin/", "/admin/audit_event/", "/admin/structure/"],
}


def test_the_public_pages_have_no_serious_violation(app, populated_db, live_server, page):
    found = []
    for path in ("/login", "/password/forgot", "/login/forgot", "/accessibilite"):
        page.goto(f"{live_server}{path}")
        found += violations(page)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "siege")
    page.fill("input[name=password]", "faux")
    page.click("button[type=submit]")
    page.wait_for_selector(".alert, .invalid-feedback")
    found += violations(page)  # the login form sent back with its error
    assert found == []


@pytest.mark.parametrize("role", list(ROLES))
def test_the_main_pages_of_each_role_have_no_serious_violation(app, populated_db, live_server, page, role):
    login(page, live_server, role)
    found = []
    for path in ROLES[role]:
        page.goto(f"{live_server}{path}")
        assert page.locator("html[lang=fr]").count() == 1 and page.locator("main#contenu").count() == 1
        found += violations(page)
    if role == "conseiller":  # a form sent back with its errors
        page.goto(f"{live_server}/admin/beneficiaire/new/")
        page.evaluate("document.querySelector('form.admin-form').noValidate = true")  # the server's errors, not the browser's
        page.click("form.admin-form [type=submit] >> nth=0")
        page.wait_for_selector(".invalid-feedback, .alert-danger, .has-error, .is-invalid")
        found += violations(page)
    if role == "siege":  # a record page, and the grid's filters once opened
        page.goto(f"{live_server}/admin/allocation/")
        page.goto(live_server + page.locator("a[href*='/details/']").first.get_attribute("href"))
        found += violations(page)
        page.goto(f"{live_server}/admin/allocation/")
        page.locator("li.dropdown:has(a.filter) > a.dropdown-toggle").first.click()
        page.locator("a.filter", has_text="Statut").first.click()
        page.wait_for_selector("table.filters tr .filter-op")
        page.wait_for_function("document.querySelector('table.filters select.filter-op').hasAttribute('aria-label')")
        found += violations(page)
    assert found == []


def test_the_bulk_flow_with_the_keyboard_alone_its_dry_run_and_report_have_no_serious_violation(
        app, populated_db, live_server, page):
    login(page, live_server, "siege")
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "allocation")
        url = view.filtered_url("statut", "soumise")
    page.goto(f"{live_server}/admin/allocation/")
    page.keyboard.press("Tab")  # the first stop is the skip link, shown when focused
    assert page.evaluate("document.activeElement.textContent.trim()") == "Aller au contenu"
    assert page.locator("a.bo-evitement").bounding_box()["x"] >= 0
    page.goto(f"{live_server}{url}")  # (an active filter's field takes the focus when the page opens)
    found = violations(page)
    tab_to(page, "#menu-toutes-lignes > a")
    assert focus_visible(page)
    page.keyboard.press("Enter")  # opens the menu of « toutes les N lignes filtrées »
    tab_to(page, "#menu-toutes-lignes button[data-transition=valider]", limit=30)
    assert focus_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_selector("#apercu")  # the dry run: nothing changed yet
    found += violations(page)
    tab_to(page, "#bouton-confirmer")
    assert focus_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_selector("#resultat")
    assert "ligne(s) modifiée(s)" in page.inner_text("#resultat-modifiees")
    found += violations(page)
    assert found == []


def test_the_accessibility_page_is_public_linked_from_every_footer_and_states_the_level(app, populated_db,
                                                                                         live_server, page):
    page.goto(f"{live_server}/login")
    page.click("footer a:has-text('Accessibilité')")
    page.wait_for_url(f"{live_server}/accessibilite")
    assert "partiellement conforme" in page.inner_text("#niveau-conformite")
    assert "RGAA 4.1" in page.inner_text("#niveau-conformite") and "WCAG 2.1" in page.inner_text("#niveau-conformite")
    mesure = page.inner_text("#mesure")
    assert DATE_MESURE.strftime("%d/%m/%Y") in mesure and f"axe-core {version_axe()}" in mesure
    assert "aucune non-conformité grave ou critique" in mesure
    login(page, live_server, "comptable")
    page.goto(f"{live_server}/admin/lot_paiement/")
    assert page.locator("footer a[href='/accessibilite']").count() == 1
