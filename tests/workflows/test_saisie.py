"""Allocations entered in the grid or through `enregistrer_allocation`: the amount and the nature come from the
rules, never from the form; late months go to the hors-délai request (R35/R48); the rules that need the youth's
other months (R33/R34) and the CEJ age limit are applied when a user records. On the demo data (populated_db)."""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent
from backoffice.models.enums import AllocationNature as N, CerfaStatut
from backoffice.workflows.errors import TransitionRefused
from backoffice.workflows.saisie import enregistrer_allocation
from tests import factories as f
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated

NOW = datetime(2025, 5, 2, 9, 0)


def _mois_field(page: str, iso: str, fr: str) -> str:
    field = re.search(r'name="mois"[^>]*', page).group(0)
    return iso if 'type="date"' in field or "data-date-format" in field else fr


def _post_new(client, i, c, mois_iso, mois_fr):
    page = client.get("/admin/allocation/new/").get_data(as_text=True)
    return client.post("/admin/allocation/new/", data={
        "csrf_token": csrf_from(page), "inscription": i.id, "cerfa": c.id, "mois": _mois_field(page, mois_iso, mois_fr),
        "nature": "courante", "montant_forfaitaire": "", "ressources_differentielles": "0", "motif_blocage": ""},
        follow_redirects=False)


def test_an_allocation_created_in_the_grid_gets_its_amount_and_nature_from_the_rules_R21_R42(app, db, ref, login_as):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    app.config["NOW_OVERRIDE"] = NOW
    client = login_as("conseiller")
    resp = _post_new(client, i, c, "2025-04-01", "04/2025")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    a = db.session.execute(sa.select(Allocation).where(Allocation.inscription_id == i.id)).scalar_one()
    # first allocation of an initial cerfa: an entry allocation (R42); amount = the cerfa's flat amount (R21/R22)
    assert (a.nature, a.montant, a.montant_forfaitaire) == (N.ENTREE, Decimal("561.68"), Decimal("561.68"))
    assert (a.beneficiaire_id, a.antenne_id) == (b.id, ref.nord.id)
    assert db.session.execute(sa.select(AuditEvent.action).where(
        AuditEvent.entity == "allocation", AuditEvent.entity_id == a.id)).scalar_one() == "creer"


def test_a_past_month_typed_in_the_grid_is_refused_and_points_to_the_hors_delai_request_R35_R48(app, db, ref,
                                                                                               login_as):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    app.config["NOW_OVERRIDE"] = datetime(2025, 6, 16, 9, 0)  # April's last regular sending was 15/05
    resp = _post_new(login_as("conseiller"), i, c, "2025-04-01", "04/2025")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "hors délai" in page and "Demander un versement hors délai" in page and "15/05/2025" in page
    assert db.session.execute(sa.select(sa.func.count()).select_from(Allocation)
                              .where(Allocation.inscription_id == i.id)).scalar_one() == 0


def test_a_past_month_is_never_recorded_as_a_normal_allocation_R35_R48(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    with pytest.raises(TransitionRefused, match="Demander un versement hors délai"):
        enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 3, 1), actor=ref.comptes["conseiller"],
                               now=datetime(2025, 4, 16, 9, 0))  # CEJ: March's last sending was 15/04
    # the day of the last sending it is still in time
    a = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 3, 1),
                               actor=ref.comptes["conseiller"], now=datetime(2025, 4, 15, 18, 0))
    assert not a.hors_delai and a.nature == N.ENTREE


def test_a_conseiller_cannot_create_an_allocation_on_a_diagnostic_R6(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    i = f.make_inscription(db.session, b, ref.dispositifs["DIAG"])
    with pytest.raises(TransitionRefused, match="R6"):
        enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1), actor=ref.comptes["conseiller"],
                               now=NOW)


def test_declared_pay_lowers_the_amount_per_r25_E2(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    first = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 5, 1),
                                   actor=ref.comptes["conseiller"], now=datetime(2025, 6, 1))
    june = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 6, 1),
                                  lignes=[("Salaire", Decimal("600.00"))], actor=ref.comptes["conseiller"],
                                  now=datetime(2025, 7, 1))
    assert first.nature == N.ENTREE and june.nature == N.COURANTE
    assert june.montant == Decimal("414.06")  # E2: 561,68 − 300 × 561,68 / 1 141,44


def test_the_cej_age_limit_is_applied_when_an_allocation_is_recorded(db, ref):
    # 26 at entry (03/03/2025): outside 16-25; the same youth with a RQTH (≤ 29) is eligible
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, date_naissance=date(1999, 1, 10))
    with pytest.raises(TransitionRefused, match="26 ans à l'entrée le 03/03/2025"):
        enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1), actor=ref.comptes["conseiller"],
                               now=NOW)
    b.rqth = True
    a = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1), actor=ref.comptes["conseiller"],
                               now=NOW)
    assert a.montant == Decimal("561.68")


def _parcours_pacea(db, ref, montant=Decimal("528.00"), b=None, debut=date(2025, 1, 2)):
    b = b or f.make_beneficiaire(db.session, ref.nord)
    cb = f.make_compte_bancaire(db.session, b)
    i = f.make_inscription(db.session, b, ref.dispositifs["PACEA"], date_debut=debut,
                           date_fin_prevue=date(2026, 12, 31))
    c = f.make_cerfa(db.session, i, cb, montant_prevu=montant, statut=CerfaStatut.VALIDE_SIEGE)
    return b, i, c


def _a_temps(mois: date) -> datetime:
    return datetime(mois.year + mois.month // 12, mois.month % 12 + 1, 1, 9, 0)


def test_the_pacea_annual_cap_is_applied_when_allocations_are_recorded_R34(db, ref):
    b, i, c = _parcours_pacea(db, ref)
    amounts = []
    for m in range(1, 8):
        a = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, m, 1),
                                   actor=ref.comptes["conseiller"], now=_a_temps(date(2025, m, 1)))
        amounts.append(a.montant)
    # 6 × 528 = 3 168 € a calendar year (R34): the 7th month gets nothing, and says why
    assert amounts == [Decimal("528.00")] * 6 + [Decimal("0.00")]
    assert "Plafond annuel PACEA" in a.motif_blocage
    # the demo's other youths (populated_db) never count in this youth's year
    assert sum(amounts) == Decimal("3168.00")


def test_the_cej_of_the_month_before_counts_in_the_pacea_resources_R33_E8(db, ref):
    b, cb, ci, cc = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    ci.date_fin_prevue = date(2025, 3, 31)  # R20: the CEJ ends before the PACEA opens
    f.make_allocation(db.session, ci, cc, mois=date(2025, 3, 1), nature=N.ENTREE, montant=Decimal("350.00"))
    _, i, c = _parcours_pacea(db, ref, montant=Decimal("300.00"), b=b, debut=date(2025, 4, 1))
    april = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1),
                                   actor=ref.comptes["conseiller"], now=_a_temps(date(2025, 4, 1)))
    assert april.montant == Decimal("0.00") and "(R33)" in april.motif_blocage  # E8: 350 € > 300 €
    b2, cb2, ci2, cc2 = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    ci2.date_fin_prevue = date(2025, 3, 31)
    f.make_allocation(db.session, ci2, cc2, mois=date(2025, 3, 1), nature=N.ENTREE, montant=Decimal("280.00"))
    _, i2, _ = _parcours_pacea(db, ref, montant=Decimal("300.00"), b=b2, debut=date(2025, 4, 1))
    ok = enregistrer_allocation(db.session, inscription_id=i2.id, mois=date(2025, 4, 1),
                                actor=ref.comptes["conseiller"], now=_a_temps(date(2025, 4, 1)))
    assert ok.montant == Decimal("300.00")  # E8: 280 € and nothing else → eligible
