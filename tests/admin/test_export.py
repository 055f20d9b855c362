"""Exports: CSV (and XLSX when openpyxl is installed) with French headers and 1234,56 amounts, only
for the roles the policy allows, never with the columns it hides from a role."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from backoffice import policy
from backoffice.admin_views import base


def _csv(resp):
    """The export as a French Excel reads it: UTF-8 with a BOM, « ; » between cells (issue 19 §3)."""
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "text/csv"
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:20]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def test_allocation_csv_has_french_headers_and_decimal_comma_amounts(sample, clients):
    rows = _csv(clients["comptable"].get("/admin/allocation/export/csv/"))
    header = rows[0]
    assert header[:5] == ["N°", "Bénéficiaire", "Dispositif", "Mois", "Nature"]
    assert "Montant" in header and "Statut" in header and "Forfait" in header
    by_id = {int(r[0]): dict(zip(header, r)) for r in rows[1:]}
    row = by_id[sample.nord("allocation")]
    assert row["Montant"] == "1234,56"
    assert row["Forfait"] == "561,68"
    assert row["Mois"] == "04/2025"
    assert row["Statut"] == "Enregistrée"
    assert row["Nature"] == "Courante"
    assert row["Hors délai"] == "Non"
    assert row["Bénéficiaire"].startswith("NORDDUPONT")


def test_export_follows_the_list_filters(sample, clients, app):
    from backoffice.admin_views.filters import filter_args
    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "allocation")
    (arg, value), = filter_args(view, "statut", "transmise").items()
    rows = _csv(clients["admin"].get(f"/admin/allocation/export/csv/?{arg}={value}"))
    assert {r[rows[0].index("Statut")] for r in rows[1:]} == {"Transmise ASP"}
    assert len(rows) == 3  # header + one per antenne


def test_reversement_export_includes_the_amount_left_due(sample, clients):
    rows = _csv(clients["comptable"].get("/admin/reversement/export/csv/"))
    header = rows[0]
    row = dict(zip(header, rows[1]))
    assert row["Montant"] == "246,04" and row["Reste dû"] == "246,04" and row["Statut"] == "En recouvrement"


def test_export_is_refused_to_a_role_without_the_right(sample, clients):
    assert clients["conseiller"].get("/admin/allocation/export/csv/").status_code == 403
    assert clients["siege"].get("/admin/compte_bancaire/export/csv/").status_code == 403
    # and the list offers no export button to that role
    assert "/admin/allocation/export/" not in clients["conseiller"].get("/admin/allocation/").get_data(as_text=True)
    assert "/admin/allocation/export/csv/" in clients["comptable"].get("/admin/allocation/").get_data(as_text=True)


def test_support_never_gets_ibans_in_a_rib_export(sample, clients, monkeypatch):
    # The policy gives support no RIB grid at all...
    assert clients["support"].get("/admin/compte_bancaire/export/csv/").status_code == 403
    # ...and should it ever allow the export, the IBAN and BIC columns stay out of it (policy.hidden).
    opened = replace(policy.POLICY["compte_bancaire"],
                     view=policy.POLICY["compte_bancaire"].view | {policy.SU},
                     export=policy.POLICY["compte_bancaire"].export | {policy.SU})
    monkeypatch.setitem(policy.POLICY, "compte_bancaire", opened)
    rows = _csv(clients["support"].get("/admin/compte_bancaire/export/csv/"))
    assert "IBAN" not in rows[0] and "BIC" not in rows[0]
    body = "\n".join(";".join(r) for r in rows)
    assert "FR76" not in body and "30006" not in body
    # the comptable's export does carry them
    rows = _csv(clients["comptable"].get("/admin/compte_bancaire/export/csv/"))
    assert "IBAN" in rows[0]


def test_account_export_never_contains_password_hashes(sample, clients):
    body = clients["admin"].get("/admin/compte/export/csv/").get_data(as_text=True)
    assert "$argon2" not in body and "Identifiant" in body.splitlines()[0]


@pytest.mark.skipif(not base.XLSX_AVAILABLE, reason="openpyxl absent : export XLSX non proposé")
def test_xlsx_export_is_a_real_workbook(sample, clients):
    from openpyxl import load_workbook

    resp = clients["comptable"].get("/admin/allocation/export/xlsx/")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[0] == "N°" and "Montant" in header


def test_unknown_export_type_is_not_found(sample, clients):
    assert clients["comptable"].get("/admin/allocation/export/pdf/").status_code == 404


# --- formula injection (issue 12 §4, OWASP « CSV injection ») -------------------------------------

FORMULES = ('=HYPERLINK("http://evil","x")', "@SUM(1+1)")


def _jeune_formule(ref, clients):
    """The youth is typed in through the real form, as an attacker with a conseiller's account would."""
    from tests.conftest import csrf_from
    c = clients["conseiller"]
    token = csrf_from(c.get("/admin/beneficiaire/new/").get_data(as_text=True))
    resp = c.post("/admin/beneficiaire/new/", data={
        "csrf_token": token, "identifiant_imilo": "IM77777777", "nom": FORMULES[0], "prenom": FORMULES[1],
        "date_naissance": "03/02/2005", "antenne": str(ref.nord.id), "ressortissant_eee": "y",
        "inscrit_france_travail": "y", "tranche_fiscale": "non_imposable", "protection_juridique": "aucune",
        "activite_micro": "__None", "adresse": "-1+2", "ville": "\tTab", "telephone": "+33 6 00 00 00 00"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def test_csv_export_neutralises_cells_that_a_spreadsheet_would_run_as_formulas(ref, sample, clients):
    _jeune_formule(ref, clients)
    rows = _csv(clients["admin"].get("/admin/beneficiaire/export/csv/"))
    header = rows[0]
    row = next(dict(zip(header, r)) for r in rows[1:] if r[header.index("Identifiant i-milo")] == "IM77777777")
    assert row["Nom"] == "'" + FORMULES[0]
    assert row["Prénom"] == "'" + FORMULES[1]
    for cells in rows[1:]:
        for cell in cells:
            assert not cell or cell[0] not in "=+-@\t\r", cells


def test_csv_export_keeps_amounts_as_numbers(sample, clients):
    rows = _csv(clients["comptable"].get("/admin/allocation/export/csv/"))
    header = rows[0]
    row = next(dict(zip(header, r)) for r in rows[1:] if int(r[0]) == sample.nord("allocation"))
    assert row["Montant"] == "1234,56"


def test_only_text_is_neutralised_a_negative_amount_stays_a_number():
    from backoffice.admin_views.formatters import export_cell
    # the database refuses negative amounts today; a Decimal is a number whatever its sign
    assert export_cell(Decimal("-12.50")) == Decimal("-12.50")
    assert export_cell("-12,50") == "'-12,50"
    assert [export_cell(v) for v in ("=1+1", "+1", "@A1", "\tx", "\rx", "ok", "")] == \
        ["'=1+1", "'+1", "'@A1", "'\tx", "'\rx", "ok", ""]


@pytest.mark.skipif(not base.XLSX_AVAILABLE, reason="openpyxl absent : export XLSX non proposé")
def test_xlsx_export_writes_text_cells_never_formulas(ref, sample, clients):
    from openpyxl import load_workbook

    _jeune_formule(ref, clients)
    resp = clients["admin"].get("/admin/beneficiaire/export/xlsx/")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    row = next(r for r in rows[1:] if r[header.index("Identifiant i-milo")].value == "IM77777777")
    nom, prenom = row[header.index("Nom")], row[header.index("Prénom")]
    assert nom.data_type == "s" and nom.value == "'" + FORMULES[0]
    assert prenom.data_type == "s" and prenom.value == "'" + FORMULES[1]
    assert all(c.data_type != "f" for r in rows for c in r)


@pytest.mark.skipif(not base.XLSX_AVAILABLE, reason="openpyxl absent : export XLSX non proposé")
def test_xlsx_export_keeps_amounts_numeric(sample, clients):
    from openpyxl import load_workbook

    resp = clients["comptable"].get("/admin/allocation/export/xlsx/")
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    montants = [r[header.index("Montant")] for r in rows[1:]]
    assert montants and all(c.data_type == "n" for c in montants)
    assert 1234.56 in [c.value for c in montants]


# --- the CSV against the grid (issue 19 §3) -------------------------------------------------------

class _Grille(HTMLParser):
    """The list's header labels and, per row, the visible text of each cell (td.col-<name>)."""

    def __init__(self):
        super().__init__()
        self.entetes, self.lignes, self._cell, self._in_thead = {}, [], None, False

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        col = next((c[4:] for c in classes if c.startswith("col-")), None)
        if tag == "tr" and not self._in_thead:
            self.lignes.append({})
        if tag == "thead":
            self._in_thead = True
        if tag in ("th", "td") and col and col not in ("select", "actions"):
            self._cell = (tag, col, [])

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_thead = False
        if self._cell and tag == self._cell[0]:
            kind, col, parts = self._cell
            text = " ".join("".join(parts).split())
            (self.entetes if kind == "th" else self.lignes[-1])[col] = text
            self._cell = None

    def handle_data(self, data):
        if self._cell:
            self._cell[2].append(data)


def _nombre_de_la_grille(text: str) -> str:
    """« 1 234,56 € » as the grid shows it → « 1234,56 » as the CSV carries it (a number for Excel)."""
    return text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace("€", "")


def test_csv_export_opened_with_semicolons_matches_the_grid(sample, clients):
    """The CSV read by Python's csv module with « ; » holds, per row, what the grid shows: the same ids,
    the same labels, amounts as numbers (1234,56: no thousands separator, no €), dates JJ/MM/AAAA."""
    c = clients["comptable"]
    grille = _Grille()
    grille.feed(c.get("/admin/allocation/?page_size=100").get_data(as_text=True))
    lignes = [r for r in grille.lignes if r]
    assert lignes and grille.entetes
    rows = _csv(c.get("/admin/allocation/export/csv/"))
    header = rows[0]
    assert len(set(len(r) for r in rows)) == 1  # one cell per column on every line: « ; » is the only separator
    csv_par_id = {r[0]: dict(zip(header, r)) for r in rows[1:]}
    assert sorted(csv_par_id) == sorted(r["id"] for r in lignes)
    compares = 0
    for ligne in lignes:
        exporte = csv_par_id[ligne["id"]]
        for col, texte in ligne.items():
            label = grille.entetes.get(col)
            if label not in exporte:
                continue
            valeur = exporte[label]
            if re.fullmatch(r"-?[\d\u202f\u00a0 ]+,\d\d\s*€", texte):
                assert re.fullmatch(r"-?\d+,\d\d", valeur), (label, valeur)
                assert valeur == _nombre_de_la_grille(texte), (label, texte, valeur)
            else:
                assert valeur == texte, (label, texte, valeur)
            compares += 1
    assert compares >= 5 * len(lignes)
    row = csv_par_id[str(sample.nord("allocation"))]
    assert row["Montant"] == "1234,56" and row["Mois"] == "04/2025"
    dates = [v for r in csv_par_id.values() for k, v in r.items() if k in ("Créé le", "Transmise le") and v]
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}( \d\d:\d\d)?", v) for v in dates), dates
