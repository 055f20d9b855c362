"""Dashboard cards: shown to the roles that may open the grid, each linking to the grid filtered on
the status it counts (the filter argument computed from the view, never hard-coded)."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import AllocationStatut


def _cards(html):
    return {unescape(label): (unescape(href) if href else None, int(value))
            for href, value, label in re.findall(
                r'<(?:a|div) class="card[^"]*"(?: href="([^"]*)")?[^>]*>\s*<div class="card-body">\s*'
                r'<div class="h3 mb-0">(\d+)</div>\s*<div class="text-muted small">([^<]*)</div>', html)}


def test_siege_card_links_to_the_list_filtered_on_the_status(sample, clients, db):
    db.session.execute(sa.update(m.Allocation).where(m.Allocation.id == sample.nord("allocation"))
                       .values(statut=AllocationStatut.SOUMISE))
    db.session.commit()
    c = clients["siege"]
    cards = _cards(c.get("/admin/").get_data(as_text=True))
    url, value = cards["Allocations soumises à valider"]
    assert value == 1
    assert re.search(r"flt0_\d+=soumise", url)
    listing = c.get(url).get_data(as_text=True)
    assert 'data-statut="soumise"' in listing
    assert 'data-statut="transmise"' not in listing and 'data-statut="enregistree"' not in listing
    assert "Comptes verrouillés" not in cards  # siege may not open the accounts grid


def test_cards_follow_the_policy_and_the_antenne_scope(sample, clients):
    conseiller = _cards(clients["conseiller"].get("/admin/").get_data(as_text=True))
    assert "Comptes verrouillés" not in conseiller and "Mails en échec" not in conseiller
    # issue 18: the conseiller sees their own work, not the siège's
    assert "Allocations soumises à valider" not in conseiller and "Allocations soumises au siège" in conseiller
    support = _cards(clients["support"].get("/admin/").get_data(as_text=True))
    assert set(support) == {"Comptes verrouillés", "Mails en échec", "Mails en file",
                            "Mails en file depuis plus d'une heure"}
    url, value = support["Mails en échec"]
    assert value == 1 and re.search(r"flt0_\d+=echec", url)
    assert clients["support"].get(url).status_code == 200


def test_every_card_url_is_a_valid_filter_of_its_grid(sample, clients):
    html = clients["admin"].get("/admin/").get_data(as_text=True)
    for label, (url, _value) in _cards(html).items():
        assert url, label
        resp = clients["admin"].get(url)
        assert resp.status_code == 200, label
        assert "Valeur de filtre invalide" not in resp.get_data(as_text=True), label


# ---- issue 18 §2: each role's own work, with amounts, deadlines and ages; charts with their tables ----------

def _travail(html, key):
    block = re.search(r'data-travail="%s">(.*?)</(?:a|div)>\s*</div>' % key, html, re.S)
    assert block, key
    return unescape(block[1])


def test_each_role_sees_its_own_work_in_three_sections(clients):
    titles = {}
    for role in ("siege", "conseiller", "manager", "comptable", "support", "admin"):
        html = clients[role].get("/admin/").get_data(as_text=True)
        titles[role] = re.findall(r'<h2 class="h5" id="titre-(a_faire|attente|retard)">', html)
        assert "a_faire" in titles[role], role
    comptable = clients["comptable"].get("/admin/").get_data(as_text=True)
    assert 'data-travail="lots_a_emettre"' in comptable and 'data-travail="reversements_dus"' in comptable
    assert 'data-travail="alloc_a_valider"' not in comptable
    manager = clients["manager"].get("/admin/").get_data(as_text=True)
    assert 'data-travail="hd_a_decider"' in manager and 'data-travail="lots_a_emettre"' not in manager


def test_the_siege_home_shows_amounts_the_oldest_and_the_next_R41_sends(sample, clients, db, app):
    from datetime import datetime, timedelta

    from backoffice.i18n import format_montant
    app.config["NOW_OVERRIDE"] = datetime(2025, 12, 10, 9, 0)
    db.session.execute(sa.update(m.Allocation).where(m.Allocation.id == sample.nord("allocation"))
                       .values(statut=AllocationStatut.VALIDEE_SIEGE, validee_at=datetime(2025, 11, 20, 10, 0)))
    db.session.commit()
    total = db.session.execute(sa.select(sa.func.sum(m.Allocation.montant))
                               .where(m.Allocation.statut == AllocationStatut.VALIDEE_SIEGE)).scalar_one()
    html = clients["siege"].get("/admin/").get_data(as_text=True)
    card = _travail(html, "alloc_a_envoyer")
    assert format_montant(total) in card
    assert "Le plus ancien : 19 jours" in card
    # R41: CEJ on the 1st and the 15th, PACEA on the 1st of the following month
    assert "CEJ le 15/12/2025" in card and "PACEA le 01/01/2026" in card
    # validated before the last send (01/12) and not sent: late
    late = _travail(html, "alloc_envoi_manque")
    assert re.search(r'<div class="h3 mb-0">([1-9]\d*)</div>', late)
    assert 'border-danger' in html


def test_the_money_charts_come_with_their_table_and_load_only_on_the_home_page(sample, clients, db):
    html = clients["comptable"].get("/admin/").get_data(as_text=True)
    assert 'id="argent"' in html
    if 'id="table-argent"' in html:
        assert "vendor/chartjs/chart.umd.min.js" in html and 'id="graphique-mois"' in html
    grid = clients["comptable"].get("/admin/paiement/").get_data(as_text=True)
    assert "chart.umd.min.js" not in grid
    assert 'id="argent"' not in clients["support"].get("/admin/").get_data(as_text=True)  # no payments for them


@pytest.mark.populated
def test_the_money_table_sums_payments_by_programme_within_the_scope(db, clients, app):
    from datetime import datetime
    app.config["NOW_OVERRIDE"] = datetime(2025, 6, 16, 12, 0)  # the demo's today
    html = clients["siege"].get("/admin/").get_data(as_text=True)
    assert 'id="table-argent"' in html and "vendor/chartjs/chart.umd.min.js" in html
    rows = re.findall(r"<tr><td>12 mois</td><th scope=\"row\">([^<]+)</th><td class=\"text-right\">([^<]+)</td>", html)
    assert rows
    from backoffice.i18n import format_montant
    # the 12 months up to the demo's today: July 2024 to June 2025 (older payments, such as the adultes-relais
    # months of early 2024, are outside the table)
    debut = date(2024, 7, 1)
    for code, paid in rows:
        expected = db.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(m.Paiement.montant), 0)).join(m.LotPaiement)
            .join(m.Dispositif, m.Dispositif.id == m.LotPaiement.dispositif_id)
            .where(m.Dispositif.code == code, m.Paiement.statut.in_(("emis", "execute")),
                   m.LotPaiement.date_execution >= debut, m.LotPaiement.date_execution < date(2025, 7, 1))).scalar_one()
        assert unescape(paid) == format_montant(expected), code


def test_the_queue_health_is_the_administrators(clients):
    html = clients["admin"].get("/admin/").get_data(as_text=True)
    assert 'id="files-accueil"' in html
    assert 'id="files-accueil"' not in clients["siege"].get("/admin/").get_data(as_text=True)
