"""Issue 19 §5: a grid without an active filter loads the filter scripts (select2, moment, daterangepicker,
form.js, bs4_filters.js) only when the filter menu is used; the filter then works as before."""

from tests.browser.conftest import login
from tests.browser.test_bulk_validation import seed_submitted


def test_the_filter_scripts_load_on_first_use_and_the_filter_works(app, db, ref, live_server, page):
    seed_submitted(db, ref, n_ok=3, n_blocked=0)
    erreurs = []
    page.on("pageerror", lambda e: erreurs.append(str(e)))
    page.on("response", lambda r: erreurs.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    login(page, live_server, "siege")
    page.goto(f"{live_server}/admin/allocation/")
    assert page.evaluate("typeof window.jQuery.fn.select2") == "undefined"
    assert page.evaluate("typeof window.moment") == "undefined"
    toggle = page.locator("li.dropdown:has(a.filter) > a.dropdown-toggle").first
    toggle.click()
    page.locator("a.filter", has_text="Statut").first.click()
    page.wait_for_function("typeof window.jQuery.fn.select2 === 'function' && typeof window.moment === 'function'")
    page.wait_for_selector("table.filters tr .filter-op")
    assert page.locator("table.filters tr").count() == 1
    assert page.locator("#filter_form button[type=submit]").count() >= 1
    assert not erreurs, erreurs
