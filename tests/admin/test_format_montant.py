"""Amounts as French users read them (issue 19 §2), written without Babel on the hot path (issue 20): the fast
`format_montant` must give exactly what Babel's fr_FR currency format gives, for every amount."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.i18n import format_montant, format_montant_babel

# amounts as the database holds them (NUMERIC(12,2)) and beyond, with more decimals (rounded half up to the cent)
MONTANTS = st.decimals(min_value=Decimal("-1e13"), max_value=Decimal("1e13"), allow_nan=False, allow_infinity=False,
                       places=3) | st.integers(min_value=-10**12, max_value=10**12)


@settings(max_examples=2000, deadline=None)
@given(MONTANTS, st.booleans())
def test_the_fast_amount_format_writes_what_babel_writes_for_every_amount(montant, symbole):
    assert format_montant(montant, symbol=symbole) == format_montant_babel(montant, symbol=symbole)


def test_amounts_read_the_french_way_rounded_half_up_to_the_cent():
    assert format_montant(Decimal("1234.56")) == "1\u202f234,56\u00a0€"
    assert format_montant(Decimal("-414.06")) == "-414,06\u00a0€"
    assert format_montant(Decimal("0.005")) == "0,01\u00a0€"  # half up, where Babel alone rounds half to even
    assert format_montant(Decimal("2.675"), symbol=False) == "2,68"
    assert format_montant(1000000) == "1\u202f000\u202f000,00\u00a0€"
    assert format_montant(None) == ""
