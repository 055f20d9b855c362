"""R33/R34 as properties over random month sequences: whatever the requests, resources and CEJ of M-1, the
year's PACEA stays within the monthly and annual caps, an ineligible month gets nothing, and a month gets all it
asks for as long as the caps leave room (plain-Python model of `montant_pacea` applied month after month)."""

from decimal import Decimal

from hypothesis import given, settings, strategies as st

from backoffice.rules.montants import montant_pacea, pacea_eligible
from backoffice.rules.params import PLAFONDS_PACEA

euros = st.decimals(min_value=Decimal("0"), max_value=Decimal("900"), places=2, allow_nan=False,
                    allow_infinity=False)
mois = st.tuples(euros, euros, euros)  # (montant demandé, ressources du mois, CEJ reçu en M-1)


@settings(max_examples=300, deadline=None)
@given(st.lists(mois, min_size=1, max_size=12))
def test_a_year_of_pacea_never_exceeds_the_caps_R33_R34(annee):
    deja = Decimal("0.00")
    for demande, ressources, cej in annee:
        montant = montant_pacea(demande, ressources, cej, deja)
        if not pacea_eligible(ressources, cej):  # R33: > 300 € with the CEJ of M-1
            assert montant == 0
        else:  # R34: all it asks, within the month's cap and what the year leaves
            assert montant == min(demande, PLAFONDS_PACEA.mensuel, max(Decimal("0"), PLAFONDS_PACEA.annuel - deja))
        assert 0 <= montant <= PLAFONDS_PACEA.mensuel
        deja += montant
        assert deja <= PLAFONDS_PACEA.annuel


@settings(max_examples=100, deadline=None)
@given(st.lists(euros, min_size=7, max_size=12))
def test_a_youth_asking_the_monthly_cap_every_month_gets_exactly_six_months_R34(demandes):
    deja = Decimal("0.00")
    for _ in demandes:
        deja += montant_pacea(PLAFONDS_PACEA.mensuel, Decimal("0"), Decimal("0"), deja)
    assert deja == PLAFONDS_PACEA.annuel == 6 * PLAFONDS_PACEA.mensuel
