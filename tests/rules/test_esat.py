"""ESAT and EA (R53, R54): worked examples. SMIC brut mensuel 1 801,80 € (barème du 01/11/2024, rules.params);
aide au poste ESAT 50,7 % du SMIC (ligne du 01/01/2007), aide au poste EA 80 % (ligne du 01/01/2006)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, strategies as st

from backoffice.rules import esat


def test_R53_monthly_reimbursement_of_the_pay_guarantee():
    r = esat.remboursement_garantie(date(2025, 3, 1), D("10"), D("850.00"), D("40.00"), D("20.00"))
    assert r.aide_au_poste == D("9135.13")  # 10 × 0,507 × 1 801,80 = 9 135,126 → 9 135,13
    assert r.total == D("9135.13") + D("850.00") + D("40.00") + D("20.00") == D("10045.13")


def test_R54_80_percent_condition_on_the_declared_headcount():
    assert esat.condition_80_pourcent(date(2025, 3, 1), 20, 16)  # 16 / 20 = 80 %: granted
    assert not esat.condition_80_pourcent(date(2025, 3, 1), 20, 15)  # 75 %: refused (R54)
    assert esat.aide_au_poste_ea(date(2025, 3, 1), D("15")) == D("21621.60")  # 15 × 0,80 × 1 801,80


def test_R53_dgf_instalments_add_up_exactly():
    parts = esat.versements_dgf(D("100000.00"), 12)
    assert parts[:11] == [D("8333.33")] * 11 and parts[11] == D("8333.37")  # 100 000 − 11 × 8 333,33
    assert sum(parts) == D("100000.00")


@given(st.decimals(D("1.00"), D("99999999.99"), places=2), st.sampled_from([1, 2, 3, 4, 6, 12]))
def test_R53_dgf_instalments_property(montant, nb):
    parts = esat.versements_dgf(montant, nb)
    assert len(parts) == nb and sum(parts) == montant and all(p >= 0 for p in parts)


def test_declared_figures_must_be_positive():
    with pytest.raises(esat.DeclarationInvalide):
        esat.remboursement_garantie(date(2025, 3, 1), D("-1"), D("0"))
    with pytest.raises(esat.DeclarationInvalide):
        esat.part_travailleurs_handicapes(10, 11)
