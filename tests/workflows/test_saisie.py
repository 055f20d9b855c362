"""Allocations entered in the grid: the amount and the nature come from the rules, never from the form."""

import re
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent
from backoffice.models.enums import AllocationNature as N
from tests import factories as f
from tests.conftest import csrf_from


def test_an_allocation_created_in_the_grid_gets_its_amount_and_nature_from_the_rules_R21_R42(db, ref, login_as):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    client = login_as("conseiller")
    page = client.get("/admin/allocation/new/").get_data(as_text=True)
    mois_field = re.search(r'name="mois"[^>]*', page).group(0)
    mois = "2025-04-01" if 'type="date"' in mois_field or "data-date-format" in mois_field else "04/2025"
    resp = client.post("/admin/allocation/new/", data={
        "csrf_token": csrf_from(page), "inscription": i.id, "cerfa": c.id, "mois": mois, "nature": "courante",
        "montant_forfaitaire": "", "ressources_differentielles": "0", "motif_blocage": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    a = db.session.execute(sa.select(Allocation)).scalar_one()
    # first allocation of an initial cerfa: an entry allocation (R42); amount = the cerfa's flat amount (R21/R22)
    assert (a.nature, a.montant, a.montant_forfaitaire) == (N.ENTREE, Decimal("561.68"), Decimal("561.68"))
    assert (a.beneficiaire_id, a.antenne_id) == (b.id, ref.nord.id)
    assert db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.entity == "allocation")).scalar_one() == "creer"


def test_a_conseiller_cannot_create_an_allocation_on_a_diagnostic_R6(db, ref):
    from backoffice.workflows.errors import TransitionRefused
    from backoffice.workflows.saisie import enregistrer_allocation
    import pytest
    b = f.make_beneficiaire(db.session, ref.nord)
    i = f.make_inscription(db.session, b, ref.dispositifs["DIAG"])
    with pytest.raises(TransitionRefused, match="R6"):
        enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1), actor=ref.comptes["conseiller"])


def test_declared_pay_lowers_the_amount_per_r25_E2(db, ref):
    from backoffice.workflows.saisie import enregistrer_allocation
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    first = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 5, 1), actor=ref.comptes["conseiller"])
    june = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 6, 1),
                                  lignes=[("Salaire", Decimal("600.00"))], actor=ref.comptes["conseiller"])
    assert first.nature == N.ENTREE and june.nature == N.COURANTE
    assert june.montant == Decimal("414.06")  # E2: 561,68 − 300 × 561,68 / 1 141,44
