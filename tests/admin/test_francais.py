"""French everywhere (issue 19 §2): no English left over on the screens of any role, and the French right.

The walk: for each role, every grid it may open (list, a record page, the creation form), the home page and a 404.
Only what a user reads is checked: text outside <script>/<style>, and the attributes shown on screen (placeholder,
title, aria-label, a button's value); words are matched whole, so « Editer » is not « Edit » and a column named
« Actions » (French too) does not count.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from backoffice.policy import POLICY

from .conftest import ROLES

# English Flask-Admin leaves when its catalogue is not used, and wrong French we replaced (issue 19)
ANGLAIS = ["items", "item", "Failed", "Save", "Cancel", "Delete", "Edit", "Filter", "Filters", "Add", "Search",
           "List", "Create", "Details", "Record", "records", "Apply", "Reset", "Please", "selected", "Home",
           "Export", "Next", "Previous", "Submit", "equals", "contains", "greater than", "smaller than",
           "empty", "in list", "not equal", "between", "Are you sure", "Not Found", "Yes", "No", "View",
           "Back", "Select", "Editer", "vaut", "Filtres réinitialisés", "Permission denied",
           "Integrity error", "successfully", "Saved", "This field is required", "Not a valid", "Invalid"]
# not in the list, being French too: « Actions », « Page », « Type », « Close » (« Close : rien à payer »)
MOTS = re.compile(r"(?<![\wÀ-ÿ-])(" + "|".join(re.escape(m) for m in ANGLAIS) + r")(?![\wÀ-ÿ-])")
ATTRIBUTS_VISIBLES = {"placeholder", "title", "aria-label", "alt"}
PAGES_HORS_GRILLE = {"files", "retour_bancaire", "boite_mail_demo"}


class TexteVisible(HTMLParser):
    """Visible text, and the on-screen attributes, outside <script>, <style> and <template>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.morceaux: list[str] = []
        self._cache = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._cache += 1
            return
        a = dict(attrs)
        for nom in ATTRIBUTS_VISIBLES:
            if a.get(nom):
                self.morceaux.append(a[nom])
        if tag == "input" and (a.get("type") or "").lower() in ("submit", "button", "reset") and a.get("value"):
            self.morceaux.append(a["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._cache:
            self._cache -= 1

    def handle_data(self, data):
        if self._cache or not data.strip():
            return
        if data.lstrip()[:1] in "{[":  # Flask-Admin's filter data (operations, options), shown in the filter menus
            try:
                self.morceaux.extend(_chaines(json.loads(data)))
                return
            except ValueError:
                pass
        self.morceaux.append(data)


def _chaines(value):
    """The string values of a JSON document (its keys are code, not text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _chaines(v)
    elif isinstance(value, list):
        for v in value:
            yield from _chaines(v)


def restes_anglais(html: str) -> list[str]:
    p = TexteVisible()
    p.feed(html)
    found = []
    for morceau in p.morceaux:
        for m in MOTS.finditer(morceau):
            found.append(f"{m.group(1)!r} dans « {' '.join(morceau.split())[:80]} »")
    return found


def test_the_checker_finds_english_and_spares_french():
    assert restes_anglais('<p>20 items</p><button>Save</button><input type="submit" value="Cancel">')
    assert restes_anglais('<a title="Edit record">x</a>')
    assert not restes_anglais('<script>var Save = 1; // Delete</script><style>.Edit{}</style>'
                              '<p class="Filter" data-x="Add">Modifier · Actions · Éditeur · Nommer</p>')


def _pages(role, sample):
    yield "/admin/"
    yield "/admin/nexiste-pas/"
    for endpoint, regle in sorted(POLICY.items()):
        if role not in regle.view or endpoint in PAGES_HORS_GRILLE:
            continue
        yield f"/admin/{endpoint}/"
        try:
            row = sample.nord(endpoint)
        except Exception:  # noqa: BLE001 - a grid without a sample row
            row = None
        if row is not None:
            yield f"/admin/{endpoint}/details/?id={row}"
        if role in regle.create:
            yield f"/admin/{endpoint}/new/"


@pytest.mark.parametrize("role", ROLES)
def test_no_english_left_on_the_screens_of_each_role(role, sample, clients):
    c = clients[role]
    restes = {}
    for url in _pages(role, sample):
        resp = c.get(url)
        if resp.status_code in (302, 403) or not resp.mimetype == "text/html":
            continue
        found = restes_anglais(resp.get_data(as_text=True))
        if found:
            restes[url] = sorted(set(found))[:6]
    assert not restes, "\n".join(f"{u}: {v}" for u, v in restes.items())


def test_a_refused_creation_says_so_in_french(ref, clients):
    """« Failed to create record. » (Flask-Admin's flash for a form that does not validate: its catalogue has no
    French for it) and WTForms' messages, in French."""
    from tests.conftest import csrf_from
    c = clients["conseiller"]
    token = csrf_from(c.get("/admin/beneficiaire/new/").get_data(as_text=True))
    resp = c.post("/admin/beneficiaire/new/", data={"csrf_token": token, "nom": "", "date_naissance": "32/13/2005"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "La création a échoué : vérifiez les champs signalés." in html
    assert not restes_anglais(html), restes_anglais(html)


def test_flask_admin_words_we_replaced(app):
    """The wrong or missing French of Flask-Admin's catalogue, replaced (issue 19 §2)."""
    from flask_admin.babel import gettext, ngettext
    with app.test_request_context("/admin/"):
        assert gettext("Edit") == "Modifier"
        assert gettext("equals") == "égal à"
        assert gettext("Reset Filters") == "Réinitialiser les filtres"
        assert gettext("Failed to create record.").startswith("La création a échoué")
        assert ngettext("20 item", "20 items", 20) == "20 lignes par page"
        assert gettext("Save") == "Enregistrer"  # the catalogue's own French stays


def test_one_column_per_label_in_every_grid_and_record_page(app):
    """One « N° » per grid (issue 19 §2): where a record has its own number (numero), the id is « Réf. interne »."""
    doubles = {}
    with app.test_request_context("/admin/"):
        for v in app.extensions["admin"][0]._views:
            for attr in ("_list_columns", "_details_columns"):
                labels = [label for _c, label in getattr(v, attr, None) or ()]
                dup = sorted({x for x in labels if labels.count(x) > 1})
                if dup:
                    doubles[(v.endpoint, attr)] = dup
    assert not doubles, doubles
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "cerfa")
    assert dict(view._list_columns)["numero"] == "N°" and dict(view._list_columns)["id"] == "Réf. interne"


def test_decimals_that_are_not_money_have_a_decimal_comma():
    """« 130.67 » hours → « 130,67 » (Babel, fr_FR); money stays 1 234,56 € (issue 19 §2)."""
    from decimal import Decimal
    from types import SimpleNamespace

    from backoffice.admin_views.formatters import formatters_for
    from backoffice.i18n import format_montant, format_nombre, format_pourcentage
    from backoffice.models import LigneDI
    fmt = formatters_for(LigneDI)
    ligne = SimpleNamespace(heures_chomees=Decimal("130.67"), heures_travaillees=Decimal("1234.5"))
    assert fmt["heures_chomees"](None, None, ligne, "heures_chomees") == "130,67"
    assert fmt["heures_travaillees"](None, None, ligne, "heures_travaillees") == "1\u202f234,50"
    assert format_nombre(None) == "" and format_pourcentage(50) == "50\u00a0%"
    assert format_montant(Decimal("1234.565")) == "1\u202f234,57\u00a0€"  # half up, as before Babel
    assert format_montant(Decimal("-1234.56"), symbol=False) == "-1\u202f234,56"


def test_a_queued_mail_shows_its_subject_in_the_mails_grid(db, ref, clients):
    """The « Objet » column was empty until a mail was sent (issue 19 §2): a queued one shows its template's."""
    from backoffice.models import MailOutbox
    from backoffice.models.enums import MailStatut
    db.session.add(MailOutbox(cle="mail-objet-1", destinataire="lea@example.fr", template="allocation_refusee",
                              contexte={"mois": "04/2025", "prenom": "Léa"}, statut=MailStatut.EN_FILE))
    db.session.add(MailOutbox(cle="mail-objet-2", destinataire="paul@example.fr", template="gabarit_disparu",
                              contexte={}, statut=MailStatut.EN_FILE))
    db.session.commit()
    html = clients["admin"].get("/admin/mail_outbox/").get_data(as_text=True)
    assert "Votre allocation de 04/2025 n&#39;a pas pu être validée" in html or \
        "Votre allocation de 04/2025 n'a pas pu être validée" in html
    assert "paul@example.fr" in html  # an unknown template: the row is there, its subject empty
    assert "Allocation refusée" in html and ">allocation_refusee<" not in html  # the template's label, not its code


def test_every_mail_template_has_a_label():
    from pathlib import Path

    import backoffice
    from backoffice.admin_views.formatters import MAIL_TEMPLATE_LABELS
    codes = {f.stem for f in (Path(backoffice.__file__).parent / "templates" / "mail").glob("*.txt")}
    assert codes <= set(MAIL_TEMPLATE_LABELS), sorted(codes - set(MAIL_TEMPLATE_LABELS))


def test_a_refusal_is_a_french_page_with_the_navigation_and_the_roles_needed(sample, clients):
    """403 (issue 19 §2): in the back-office layout (menu, user), saying which roles may open the page."""
    resp = clients["conseiller"].get("/admin/compte/")
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    assert "Accès refusé" in html and 'id="menu-utilisateur"' in html
    assert "Rôles autorisés : Administrateur, Support." in html
    resp = clients["support"].get("/admin/compte/new/")  # support may view, not create
    assert resp.status_code == 403 and "Rôles autorisés : Administrateur." in resp.get_data(as_text=True)
    assert not restes_anglais(html)
