"""Dashboard cards: shown to the roles that may open the grid, each linking to the grid filtered on
the status it counts (the filter argument computed from the view, never hard-coded)."""

from __future__ import annotations

import re
from html import unescape

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
    assert "Allocations soumises à valider" in conseiller
    support = _cards(clients["support"].get("/admin/").get_data(as_text=True))
    assert set(support) == {"Comptes verrouillés", "Mails en échec"}
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
