"""Issue 11, defect 7: an allocation with nothing to pay (R25: amount 0; R46: a correction whose differential is
0) sent to payment is closed « rien à payer » instead of staying validated for ever; the home card reaches 0."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent, Paiement, Reversement
from backoffice.models.enums import AllocationStatut as AS, CerfaStatut
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.saisie import corriger_allocation
from tests import factories as f
from tests.workflows.test_corrections import paid_allocation, through_validation

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 20, 9, 0)


def validated(db, ref, montant):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, c, statut=AS.VALIDEE_SIEGE, mois=date(2025, 5, 1), montant=Decimal(montant))
    db.session.commit()
    return a.id


def send(db, ref, ids):
    report = run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), ref.comptes["siege"], now=NOW)
    db.session.commit()
    return report


def test_a_zero_amount_sent_to_payment_is_closed_nothing_to_pay_never_paid_R25(db, ref):
    zero, paid = validated(db, ref, "0.00"), validated(db, ref, "414.06")
    report = send(db, ref, [zero, paid])
    assert report.changed == 2 and not report.refused
    assert db.session.get(Allocation, zero).statut == AS.RIEN_A_PAYER
    assert db.session.get(Allocation, paid).statut == AS.TRANSMISE
    assert db.session.execute(sa.select(Paiement.allocation_id)
                              .where(Paiement.allocation_id.in_([zero, paid]))).scalars().all() == [paid]
    trail = db.session.execute(sa.select(AuditEvent.action, AuditEvent.from_status, AuditEvent.to_status)
                               .where(AuditEvent.entity == "allocation", AuditEvent.entity_id == zero)
                               .order_by(AuditEvent.id)).all()
    assert [tuple(t) for t in trail] == [("transmettre", "validee_siege", "transmise"),
                                         ("clore_rien_a_payer", "transmise", "rien_a_payer")]
    # terminal: sending again changes nothing
    again = send(db, ref, [zero])
    assert again.changed == 0 and db.session.get(Allocation, zero).statut == AS.RIEN_A_PAYER


def test_a_correction_with_a_zero_differential_is_closed_nothing_to_pay_nothing_to_recover_R46(db, ref):
    a = paid_allocation(db, ref)  # 561,68 € paid
    new = corriger_allocation(db.session, a.id, actor=ref.comptes["conseiller"])  # same resources: same amount
    db.session.commit()
    through_validation(db, ref, new.id)
    refused = run(db.session, ALLOCATION, "emettre_reversement", Selection.of_ids([new.id]), ref.comptes["comptable"],
                  now=NOW)
    assert refused.changed == 0  # no trop-perçu
    assert send(db, ref, [new.id]).changed == 1
    assert db.session.get(Allocation, new.id).statut == AS.RIEN_A_PAYER
    assert not db.session.execute(sa.select(Paiement.id).where(Paiement.allocation_id == new.id)).first()
    assert not db.session.execute(sa.select(Reversement.id).where(Reversement.allocation_id == new.id)).first()
    # a closed allocation can still be corrected (R46)
    again = corriger_allocation(db.session, new.id, lignes=[("Salaire", Decimal("800.00"))],
                                actor=ref.comptes["conseiller"])
    assert again.corrige_id == new.id


def _cards(html):
    return {unescape(label): (unescape(href) if href else None, int(value))
            for href, value, label in re.findall(
                r'<(?:a|div) class="card[^"]*"(?: href="([^"]*)")?[^>]*>\s*<div class="card-body">\s*'
                r'<div class="h3 mb-0">(\d+)</div>\s*<div class="text-muted small">([^<]*)</div>', html)}


def test_the_validated_to_send_card_reaches_zero_once_everything_is_sent_and_the_grid_shows_the_closed_ones(
        db, ref, login_as):
    validated(db, ref, "0.00")
    a = paid_allocation(db, ref)
    new = corriger_allocation(db.session, a.id, actor=ref.comptes["conseiller"])
    db.session.commit()
    through_validation(db, ref, new.id)
    siege = login_as("siege")
    before = _cards(siege.get("/admin/").get_data(as_text=True))["Allocations validées à envoyer en paiement"][1]
    assert before >= 2
    waiting = db.session.execute(sa.select(Allocation.id).where(Allocation.statut == AS.VALIDEE_SIEGE)).scalars().all()
    sent = send(db, ref, waiting)
    # what is left validated has another outcome: a trop-perçu for the accountant's ordre de reversement (R47),
    # the demo's allocations whose cerfa the payer refused since (R45), which the siège refuses in turn
    assert set(sent.refused) <= {"trop-perçu : émettre un ordre de reversement au lieu d'un paiement (R47)",
                                 "cerfa non validé par le siège ou sans RIB (R45)"}, sent.refused
    left = db.session.execute(sa.select(Allocation.id).where(Allocation.statut == AS.VALIDEE_SIEGE)).scalars().all()
    assert len(left) == sent.refused_total
    issued = run(db.session, ALLOCATION, "emettre_reversement", Selection.of_ids(left), ref.comptes["comptable"],
                 now=NOW)
    refused = run(db.session, ALLOCATION, "refuser", Selection.of_ids(left), ref.comptes["siege"], now=NOW,
                  params={"motif_refus": "Cerfa refusé par le payeur : nouveau cerfa à saisir"})
    db.session.commit()
    assert issued.changed + refused.changed == len(left)
    assert issued.changed == sum(n for r, n in sent.refused.items() if "(R47)" in r)
    url, value = _cards(siege.get("/admin/").get_data(as_text=True))["Allocations validées à envoyer en paiement"]
    assert value == 0
    # the grid: a filter value, a French badge
    closed = db.session.execute(sa.select(sa.func.count()).select_from(Allocation)
                                .where(Allocation.statut == AS.RIEN_A_PAYER)).scalar_one()
    assert closed >= 2
    listing = siege.get(url.replace("validee_siege", "rien_a_payer")).get_data(as_text=True)
    assert "Valeur de filtre invalide" not in listing
    assert 'data-statut="rien_a_payer"' in listing and "Close : rien à payer" in listing
    assert 'data-statut="validee_siege"' not in listing


def test_the_database_accepts_the_closed_state_and_still_refuses_an_unknown_one(db):
    from backoffice.models.enums import STATUT_LABELS
    assert STATUT_LABELS["rien_a_payer"] == "Close : rien à payer"
    checks = db.session.execute(sa.text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_allocation_allocation_statut'"
    )).scalar_one()
    assert "rien_a_payer" in checks and "'validee_siege'" in checks
