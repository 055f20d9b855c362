"""Hypothesis (issue 13, part 2) on the populated database: for random sequences of repayments, remises (four
eyes above the threshold), offsets against payments and instalment plans on one debt, after every step
reste_du = montant − remboursé − remis − compensé ≥ 0, each total is the sum of its rows, the Python model
agrees, and the order is `solde` exactly when nothing is left due (R47, D5316-15)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal
from itertools import count

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from backoffice.models import Compensation, Paiement, Remboursement, RemiseReversement
from backoffice.models.enums import (AllocationStatut as AS, EcheanceStatut as ES, PaiementStatut as PS,
                                     ReversementStatut as RS)
from backoffice.workflows.recouvrement import imputer_compensations
from tests import factories as f
from tests.workflows.test_recouvrement import NOW, ctx, notified, payment, reload, second_manager, step

pytestmark = pytest.mark.populated

CENT = Decimal("0.01")
_e2e = count(1)
STEPS = st.lists(st.tuples(st.sampled_from(["rembourser", "remise", "compensation", "echeancier"]),
                           st.integers(min_value=1, max_value=100), st.booleans()), min_size=1, max_size=6)


def check(db, rid, expected: Decimal) -> None:
    r = reload(db, rid)
    assert r.reste_du == r.montant - r.montant_rembourse - r.montant_remis - r.montant_compense
    assert r.reste_du >= 0 and r.reste_du == expected
    s = db.session.execute
    assert r.montant_rembourse == s(sa.select(sa.func.coalesce(sa.func.sum(Remboursement.montant), 0))
                                   .where(Remboursement.reversement_id == rid)).scalar_one()
    assert r.montant_compense == s(sa.select(sa.func.coalesce(sa.func.sum(Compensation.montant), 0))
                                   .where(Compensation.reversement_id == rid)).scalar_one()
    assert r.montant_remis == s(sa.select(sa.func.coalesce(sa.func.sum(RemiseReversement.montant), 0))
                                .where(RemiseReversement.reversement_id == rid,
                                       RemiseReversement.statut == "accordee")).scalar_one()
    assert (r.statut == RS.SOLDE) == (r.reste_du == 0)
    assert r.statut in (RS.EN_RECOUVREMENT, RS.NOTIFIE, RS.SOLDE)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(montant=st.decimals(min_value=Decimal("1.00"), max_value=Decimal("4000.00"), places=2), steps=STEPS)
def test_random_recoveries_keep_reste_du_exact_and_solde_iff_nothing_is_due_R47(db, ref, montant, steps):
    comptable, manager = ref.comptes["comptable"], ref.comptes["manager"]
    manager2 = second_manager(db, ref)
    first = payment(db, ref, "100.00")  # the debtor: a youth with a CEJ enrolment (months for more payments)
    rid = notified(db, ref, str(montant), beneficiaire_id=first.beneficiaire_id)
    assert step(db, comptable, "accord_compensation", rid, reference_accord="Accord écrit").changed == 1
    alloc = first.allocation
    months = iter([date(2024, m, 1) for m in range(1, 13)])
    reste = montant
    for kind, pct, too_much in steps:
        amount = max(CENT, (reste * pct / 100).quantize(CENT, rounding=ROUND_DOWN))
        if too_much:
            amount = reste + Decimal("1.00")
        text = f"{amount:.2f}".replace(".", ",")
        if kind == "rembourser":
            report = step(db, comptable, "rembourser", rid, montant=text, date_reception=NOW.date(), mode="virement",
                          reference=f"VIR-{next(_e2e)}")
            if reste > 0 and amount <= reste:
                assert report.changed == 1, report.refused
                reste -= amount
            else:
                assert report.changed == 0
        elif kind == "remise":
            report = step(db, manager, "accorder_remise", rid, montant=text, motif="Remise aléatoire")
            if reste > 0 and amount <= reste:
                assert report.changed == 1, report.refused
                if reload(db, rid).statut == RS.REMISE_A_VALIDER:  # above the threshold: four eyes
                    assert amount > Decimal("1500.00")
                    assert step(db, manager, "approuver_remise", rid).changed == 0
                    assert step(db, manager2, "approuver_remise", rid).changed == 1
                reste -= amount
            else:
                assert report.changed == 0
        elif kind == "compensation":
            a = f.make_allocation(db.session, alloc.inscription, alloc.cerfa, mois=next(months), statut=AS.TRANSMISE,
                                  montant=amount)
            e = f.make_echeance_allocation(db.session, a, alloc.cerfa.compte_bancaire, statut=ES.EN_LOT)
            p = Paiement(lot_id=first.lot_id, echeance_id=e.id, allocation_id=a.id, beneficiaire_id=first.beneficiaire_id,
                         antenne_id=first.antenne_id, end_to_end_id=f"PROP-{a.id}-{next(_e2e)}", montant=amount,
                         titulaire=first.titulaire, iban=first.iban, bic=first.bic, libelle="ALLOCATION CEJ",
                         statut=PS.EN_ATTENTE)
            db.session.add(p)
            db.session.commit()
            out = imputer_compensations(db.session, [p.id], ctx(ref))
            db.session.commit()
            taken = min(amount, reste)
            assert out["montant"] == taken
            db.session.expire_all()
            p = db.session.get(Paiement, p.id)
            if taken == amount and taken > 0:
                assert (p.statut, p.montant) == (PS.COMPENSE, amount)  # wholly offset: no transfer
            else:
                assert (p.statut, p.montant) == (PS.EN_ATTENTE, amount - taken) and p.montant > 0
            reste -= taken
        else:
            report = step(db, comptable, "accorder_echeancier", rid, nombre_echeances=str(pct % 12 + 1),
                          premiere_echeance=NOW.date())
            plan = reload(db, rid).echeances
            assert report.changed in (0, 1)
            if report.changed:
                assert sum(line.montant for line in plan) == reste and all(line.montant > 0 for line in plan)
        check(db, rid, reste)
