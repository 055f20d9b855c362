"""R30 on the populated database: back-paid training pay is recorded in full in the month it is received, the
next month uses only that month's pay, and the earlier months are never computed again (a correction that
raises a past month's training pay is refused)."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation
from backoffice.workflows.errors import TransitionRefused
from backoffice.workflows.saisie import corriger_allocation, enregistrer_allocation
from tests import factories as f
from tests.workflows.test_corrections import paid_allocation

pytestmark = pytest.mark.populated

FORMATION = "Rémunération de formation"


def test_back_paid_training_pay_counts_in_full_in_the_month_received_then_only_that_months_R30(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    conseiller = ref.comptes["conseiller"]
    # May: 900 € of training pay received at once for February to April (a back payment) — the basis of June
    juin = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 6, 1), actor=conseiller,
                                  lignes=[(FORMATION, Decimal("900.00"))], now=datetime(2025, 7, 1, 9))
    assert juin.montant == Decimal("0.00")  # deducted in full (R24) in the month it was received
    assert [(r.type_ressource, r.montant, r.mois_reference) for r in juin.ressources] == [
        (FORMATION, Decimal("900.00"), date(2025, 5, 1))]
    # June: only June's pay
    juillet = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 7, 1), actor=conseiller,
                                     lignes=[(FORMATION, Decimal("300.00"))], now=datetime(2025, 8, 1, 9))
    assert juillet.montant == Decimal("261.68")
    db.session.commit()


def test_a_correction_never_spreads_back_pay_over_the_earlier_months_R30(db, ref):
    a = paid_allocation(db, ref)  # May 2025, paid 561,68 €
    with pytest.raises(TransitionRefused, match=r"dans le mois où il est perçu.*\(R30\)"):
        corriger_allocation(db.session, a.id, lignes=[(FORMATION, Decimal("300.00"))], actor=ref.comptes["conseiller"])
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Allocation)
                              .where(Allocation.corrige_id == a.id)).scalar_one() == 0
    # other corrections are untouched (R46: undeclared wages, E5)
    new = corriger_allocation(db.session, a.id, lignes=[("Salaire", Decimal("800.00"))], actor=ref.comptes["conseiller"])
    assert new.montant == Decimal("315.64")
    db.session.rollback()
