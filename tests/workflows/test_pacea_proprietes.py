"""R33/R34 through the workflow layer, as a property: random month sequences recorded with
`enregistrer_allocation` (on the demo data) give, month by month, what the plain-Python model gives with the
youth's own year and CEJ of M-1 — the annual cap and the M-1 CEJ are read from the database, for this youth only."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from backoffice.models.enums import AllocationNature as N, CerfaStatut
from backoffice.rules.montants import montant_pacea
from backoffice.workflows.saisie import enregistrer_allocation
from tests import factories as f

pytestmark = pytest.mark.populated

demande = st.sampled_from([Decimal("150.00"), Decimal("300.00"), Decimal("528.00")])
salaire = st.sampled_from([None, Decimal("120.00"), Decimal("250.00"), Decimal("400.00")])
cej = st.sampled_from([None, Decimal("100.00"), Decimal("280.00"), Decimal("350.00")])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(demande, salaire, cej), min_size=6, max_size=10))
def test_recorded_pacea_months_follow_the_caps_and_the_cej_of_the_month_before_R33_R34(db, ref, annee):
    s = db.session
    b = f.make_beneficiaire(s, ref.nord)
    cb = f.make_compte_bancaire(s, b)
    cej_insc = f.make_inscription(s, b, ref.dispositifs["CEJ"], date_debut=date(2024, 12, 1),
                                  date_fin_prevue=date(2024, 12, 31))  # R20: ends before the PACEA opens
    cej_cerfa = f.make_cerfa(s, cej_insc, cb)
    pacea = f.make_inscription(s, b, ref.dispositifs["PACEA"], date_debut=date(2025, 1, 2),
                               date_fin_prevue=date(2026, 12, 31))
    deja, attendu, obtenu = Decimal("0.00"), [], []
    for k, (montant, paie, cej_precedent) in enumerate(annee, start=1):
        mois = date(2025, k, 1)
        f.make_cerfa(s, pacea, cb, montant_prevu=montant, statut=CerfaStatut.VALIDE_SIEGE)  # latest cerfa: the request
        if cej_precedent is not None:  # a CEJ allowance for M-1 (R20: never the same month as a PACEA)
            mois_cej = date(2024, 12, 1) if k == 1 else None
            if mois_cej is not None:
                f.make_allocation(s, cej_insc, cej_cerfa, mois=mois_cej, nature=N.ENTREE, montant=cej_precedent)
        lignes = [("Salaire", paie)] if paie else []
        a = enregistrer_allocation(s, inscription_id=pacea.id, mois=mois, lignes=lignes,
                                   actor=ref.comptes["conseiller"], now=datetime(2025, k + 1, 1, 9, 0))
        cej_m1 = cej_precedent if (k == 1 and cej_precedent is not None) else Decimal("0")
        m = montant_pacea(montant, paie or Decimal("0"), cej_m1, deja)
        deja += m
        attendu.append(m)
        obtenu.append(a.montant)
    s.rollback()
    assert obtenu == attendu
