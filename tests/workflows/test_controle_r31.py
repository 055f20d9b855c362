"""R31 on the populated database: self-employed income taken on declaration, checked later on its proof; an
ordre de reversement when the proven income exceeds the declared one, or when no proof is sent; never twice."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import AuditEvent, Reversement, Ressource
from backoffice.models.enums import AllocationStatut as AS, CerfaStatut
from backoffice.workflows.controle_r31 import controler_revenus_independant
from backoffice.workflows.errors import TransitionRefused
from tests import factories as f
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated

NOW = datetime(2025, 9, 15, 9, 0)
MICRO = "Revenu micro-entrepreneur"


def cej_paye_sur_declaration(db, ref, declare="300.00", mois=(4, 5, 6)):
    """A youth whose CEJ allowances of April-June were paid in full on 300 € of declared self-employed income."""
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, micro_entrepreneur=True,
                                      activite_micro="bnc", date_immatriculation_micro=date(2024, 6, 1))
    c.statut, c.montant_prevu = CerfaStatut.ACCEPTE, Decimal("561.68")
    allocations = []
    for m in mois:
        a = f.make_allocation(db.session, i, c, mois=date(2025, m, 1), statut=AS.VERSEE, montant=Decimal("561.68"))
        db.session.add(Ressource(allocation_id=a.id, type_ressource=MICRO, categorie="degressive",
                                 montant=Decimal(declare), mois_reference=date(2025, m - 1, 1)))
        allocations.append(a)
    db.session.commit()
    return i, allocations


def controle(db, ref, i, justifie, who="comptable"):
    out = controler_revenus_independant(db.session, inscription_id=i.id, debut=date(2025, 4, 1), fin=date(2025, 6, 30),
                                        revenu_justifie=justifie, actor=ref.comptes[who], now=NOW)
    db.session.commit()
    return out


def ordres(db, i):
    return db.session.execute(sa.select(Reversement).where(
        Reversement.beneficiaire_id == i.beneficiaire_id, Reversement.origine == "controle_r31")
        .order_by(Reversement.allocation_id)).scalars().all()


def test_proven_income_above_the_declared_one_raises_an_order_per_month_R31(db, ref):
    i, allocations = cej_paye_sur_declaration(db, ref)
    out = controle(db, ref, i, Decimal("1500.00"))  # 600 € more than declared: 200 € a month
    # each month computed again on 500 € (R25): 561,68 − 200 × 561,68 / 1 141,44 = 463,26 → 98,42 paid too much
    assert (out["declare"], out["indu"]) == (Decimal("900.00"), Decimal("295.26"))
    rows = ordres(db, i)
    assert [(r.allocation_id, r.montant) for r in rows] == [(a.id, Decimal("98.42")) for a in allocations]
    assert {r.debiteur_type for r in rows} == {"jeune"}
    assert db.session.execute(sa.select(AuditEvent.params).where(
        AuditEvent.entity == "inscription", AuditEvent.entity_id == i.id, AuditEvent.action == "controle_r31")
    ).scalar_one()["indu"] in ("295.26", 295.26)
    # the same control again: every month already controlled, nothing issued twice
    with pytest.raises(TransitionRefused, match=r"déjà contrôlée\) \(R31\)"):
        controle(db, ref, i, Decimal("1500.00"))
    db.session.rollback()
    assert len(ordres(db, i)) == 3


def test_no_proof_claims_back_what_was_paid_on_the_declaration_and_a_matching_proof_nothing_R31(db, ref):
    sans, allocations = cej_paye_sur_declaration(db, ref)
    out = controle(db, ref, sans, None)
    assert out["indu"] == Decimal("1685.04") and [r.montant for r in ordres(db, sans)] == [Decimal("561.68")] * 3
    conforme, _ = cej_paye_sur_declaration(db, ref)
    assert controle(db, ref, conforme, Decimal("900.00"))["indu"] == Decimal("0.00")
    assert ordres(db, conforme) == []


def test_a_period_without_declared_self_employed_income_is_refused_R31(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    f.make_allocation(db.session, i, c, mois=date(2025, 5, 1), statut=AS.VERSEE)
    db.session.commit()
    with pytest.raises(TransitionRefused, match=r"\(R31\)"):
        controle(db, ref, i, Decimal("100.00"))
    db.session.rollback()


def test_the_comptable_runs_the_control_from_the_parcours_grid_R31(db, ref, login_as, app):
    app.config["NOW_OVERRIDE"] = NOW
    i, allocations = cej_paye_sur_declaration(db, ref)
    c = login_as("comptable")
    listing = c.get(f"/admin/inscription/?search={i.numero}").get_data(as_text=True)
    assert 'data-action="controle-r31"' in listing
    assert 'data-action="controle-r31"' not in login_as("conseiller").get(
        f"/admin/inscription/?search={i.numero}").get_data(as_text=True)
    page = c.get(f"/admin/inscription/controle-r31/{i.id}").get_data(as_text=True)
    bad = c.post(f"/admin/inscription/controle-r31/{i.id}", data={
        "csrf_token": csrf_from(page), "debut": "2025-04-01", "fin": "2025-06-30", "revenu_justifie": "beaucoup"})
    assert "Montant invalide" in bad.get_data(as_text=True) and ordres(db, i) == []  # bad input changes nothing
    done = c.post(f"/admin/inscription/controle-r31/{i.id}", data={
        "csrf_token": csrf_from(page), "debut": "2025-04-01", "fin": "2025-06-30", "revenu_justifie": "1 500,00"},
        follow_redirects=True).get_data(as_text=True)
    assert "295,26" in done and "3 ordre(s) de reversement" in done
    assert len(ordres(db, i)) == 3
    assert login_as("conseiller").get(f"/admin/inscription/controle-r31/{i.id}").status_code == 403
