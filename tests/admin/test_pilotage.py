"""The « Pilotage » screen (issue 16, part 5) on the populated database: who sees it (national staff: admin,
siège, manager, comptable; never a partner, a conseiller, the support desk or a territorial agent), its
figures in French money, linked to the grids, a bad filter answered in French without a 500, and exports (CSV
for a French Excel, XLSX) holding exactly the screen's tables."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from backoffice.rules.pilotage import Filtres
from backoffice.workflows import pilotage as wf
from tests.security.conftest import RoleClient
from tests.workflows.test_pilotage import _referentiel_present

pytestmark = pytest.mark.populated

URL = "/admin/pilotage/"
PERIODE = "debut=2024-07&fin=2025-06"


@pytest.fixture
def demo(populated_db, ref):
    _referentiel_present(populated_db)
    populated_db.session.commit()  # the test client reads through its own session
    return populated_db


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _tables(page: str) -> dict[str, list[list[str]]]:
    """The screen's tables (id table-…): every row's cells as text, header included."""
    out = {}
    for key, body in re.findall(r'(?s)<table[^>]*id="table-([a-z]+)"[^>]*>(.*?)</table>', page):
        rows = []
        for row in re.findall(r"(?s)<tr[^>]*>(.*?)</tr>", body):
            cells = re.findall(r"(?s)<t[hd][^>]*>(.*?)</t[hd]>", row)
            rows.append([re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", c)).strip(" \t\r\n") for c in cells])
        out[key] = rows
    return out


def _euros(text: str) -> str:
    """« 1 234,56 € » (Babel's French) → « 1234,56 » (the CSV's); « 1 234 » (a count) → « 1234 »; other text as is."""
    if "€" in text or re.fullmatch(r"[\d\u202f\u00a0 ]+", text):
        return text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace("€", "")
    return text


@pytest.mark.parametrize("login", ["comptable", "manager", "admin", "siege"])
def test_national_staff_see_the_pilotage_screen_and_its_menu_entry(app, demo, login):
    c = RoleClient(app, login)
    resp = c.get(f"{URL}?{PERIODE}")
    assert resp.status_code == 200
    page = _text(resp)
    assert "Pilotage — National — 07/2024 à 06/2025 — tous programmes" in page
    assert 'href="/admin/pilotage/"' in _text(c.get("/admin/"))  # the menu entry
    assert "vendor/chartjs/chart.umd.min.js" in page and 'id="graphique-pilotage"' in page


@pytest.mark.parametrize("login", ["conseiller", "support", "er1-activite", "ars", "ud"])
def test_a_partner_a_conseiller_and_territorial_agents_are_refused(app, demo, login):
    c = RoleClient(app, login)
    for url in (f"{URL}?{PERIODE}", f"{URL}export.csv?{PERIODE}", f"{URL}export.xlsx?{PERIODE}"):
        resp = c.get(url)
        assert resp.status_code in (403, 404), (login, url, resp.status_code)
        assert "Versé" not in _text(resp)
    assert 'href="/admin/pilotage/"' not in _text(c.get("/admin/"))


def test_an_anonymous_visitor_is_sent_to_the_login_page(app, demo):
    resp = app.test_client().get(URL)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_the_screen_shows_the_figures_of_the_query_layer_in_french_money(app, demo):
    from datetime import date
    r = wf.restitution(demo.session, Filtres(debut=date(2024, 7, 1), fin=date(2025, 6, 1)))
    tables = _tables(_text(RoleClient(app, "comptable").get(f"{URL}?{PERIODE}")))
    expected = [[str(v) if isinstance(v, (str, int)) and not isinstance(v, Decimal) else v for v in l.valeurs]
                for l in wf.tableaux(r)[0].lignes]
    shown = tables["programmes"][1:]
    assert len(shown) == len(expected)
    for got, want in zip(shown, expected):
        assert got[:2] == want[:2]
        assert [_euros(x) for x in got[2:6]] == [f"{v:.2f}".replace(".", ",") for v in want[2:6]]
        assert got[6] == want[6]
    total = shown[-1]
    assert total[:2] == ["Tous programmes", "Total général"]
    assert re.fullmatch(r"\d{1,3}(\u202f\d{3})*,\d{2}\u00a0€", tables["programmes"][-1][2])  # 1 234,56 €
    assert [row[0] for row in tables["territoires"][1:]] == ["Hauts-de-France", "Normandie", "Total"]


def test_the_figures_link_to_the_filtered_grids(app, demo):
    c = RoleClient(app, "comptable")
    page = _text(c.get(f"{URL}?{PERIODE}&programme=CEJ"))
    lots = re.findall(r'href="(/admin/lot_paiement/\?[^"]+)"', page)
    ordres = re.findall(r'href="(/admin/reversement/\?[^"]+)"', page)
    assert lots and ordres
    for url in (lots[0], ordres[0]):
        resp = c.get(url)
        assert resp.status_code == 200
        assert "invalide" not in _text(resp).lower() and "invalid" not in _text(resp).lower()
    assert "+to+" in lots[0] or "%20to%20" in lots[0]  # the month's dates (Flask-Admin's « between »)


@pytest.mark.parametrize("query, message", [
    ("niveau=departement&departement=999", "Département inconnu : « 999 »"),
    ("niveau=departement&territoire=00", "Département inconnu : « 00 »"),
    ("debut=2025-13", "le mois 13 n'existe pas"),
    ("debut=2025-06&fin=2025-01", "La fin de période (01/2025) précède son début (06/2025)."),
    ("niveau=region&region=99", "Région inconnue"),
    ("programme=%3Cscript%3E", "Programme inconnu"),
])
def test_a_bad_filter_gets_a_french_message_and_no_500(app, demo, query, message):
    c = RoleClient(app, "comptable")
    resp = c.get(f"{URL}?{query}")
    assert resp.status_code == 400
    page = _text(resp)
    assert message in page and 'id="erreur-filtres"' in page
    assert "<script>" not in resp.get_data(as_text=True).split('id="erreur-filtres"')[1][:200]
    for export in ("export.csv", "export.xlsx"):
        resp = c.get(f"{URL}{export}?{query}")
        assert resp.status_code == 400 and message in resp.get_data(as_text=True)


@pytest.mark.parametrize("query", [PERIODE, f"{PERIODE}&niveau=region&region=32",
                                   f"{PERIODE}&niveau=departement&departement=59&programme=CEJ"])
def test_the_csv_export_is_exactly_the_screen_for_a_french_excel(app, demo, query):
    c = RoleClient(app, "comptable")
    tables = _tables(_text(c.get(f"{URL}?{query}")))
    resp = c.get(f"{URL}export.csv?{query}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())  # UTF-8 BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0].startswith("Pilotage — ")
    sections, current = {}, None
    for row in rows[1:]:
        if not row:
            current = None
        elif current is None:
            current = sections.setdefault(row[0], [])
        else:
            current.append(row)
    titles = {"programmes": "Par programme et par mois", "territoires": ("Par région" if "niveau=region" not in query
                                                                        else "Par département")}
    assert len(sections) == len(tables)
    for key, screen in tables.items():
        exported = sections[titles[key]]
        assert exported[0] == screen[0]  # the header
        assert [[_euros(x) for x in row] for row in exported[1:]] == [[_euros(x) for x in row] for row in screen[1:]]


def test_the_xlsx_export_is_exactly_the_screen(app, demo):
    c = RoleClient(app, "manager")
    query = f"{PERIODE}&niveau=region&region=32"
    tables = _tables(_text(c.get(f"{URL}?{query}")))
    resp = c.get(f"{URL}export.xlsx?{query}")
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.get_data()))
    assert book.sheetnames == ["Par programme et par mois", "Par département"]
    for sheet, key in zip(book.worksheets, ("programmes", "territoires")):
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert values[0][0].startswith("Pilotage — Région Hauts-de-France")
        assert [str(v) for v in values[1]] == tables[key][0]
        money = range(len(values[1]) - 5, len(values[1]) - 1)  # the four amounts before the count
        body = [[f"{Decimal(str(v)):.2f}".replace(".", ",") if i in money else str(v) for i, v in enumerate(row)]
                for row in values[2:]]
        assert body == [[_euros(x) for x in row] for row in tables[key][1:]]
    amount = book.worksheets[0].cell(row=3, column=3)
    assert amount.data_type == "n" and amount.number_format == "#,##0.00"  # a number, not text
