"""Service civique (R55): worked examples, barème of 1 Jan 2024 (indemnité de l'État 504,98 €, majoration sociale
114,85 €, prestation minimale 114,85 €, subvention aux organismes associatifs 100,00 €)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, strategies as st

from backoffice.rules import service_civique as sc
from backoffice.rules.params import HorsBareme


def test_R55_first_month_starting_on_the_15th_counts_half():
    # barème du 01/01/2024 ; mission du 15/09/2024 au 14/05/2025 : septembre compte pour moitié (R55)
    m = sc.calculer_mois(date(2024, 9, 1), date(2024, 9, 15), date(2025, 5, 14), majoration_sociale=False,
                         associatif=False)
    assert m.bareme_du == date(2024, 1, 1)
    assert m.fraction == D("0.5")
    assert m.indemnite == D("252.49")  # 504,98 × 1/2 = 252,49
    assert m.majoration == D("0.00")
    assert m.prestation_due == D("57.43")  # 114,85 × 1/2 = 57,425 → 57,43 (arrondi au centime, demi vers le haut)
    assert m.subvention == D("0.00")
    # the following month is a full one
    octobre = sc.calculer_mois(date(2024, 10, 1), date(2024, 9, 15), date(2025, 5, 14), majoration_sociale=False,
                               associatif=False)
    assert (octobre.fraction, octobre.indemnite, octobre.prestation_due) == (D("1"), D("504.98"), D("114.85"))


def test_R55_last_month_ending_on_the_15th_counts_half_and_other_days_prorate():
    fin_15 = sc.calculer_mois(date(2025, 5, 1), date(2024, 11, 16), date(2025, 5, 15), majoration_sociale=False,
                              associatif=False)
    assert fin_15.fraction == D("0.5") and fin_15.indemnite == D("252.49")
    # a mission starting on the 21st of a 30-day month: 10 days of 30 → 504,98 × 0,3333 = 168,31
    m = sc.calculer_mois(date(2024, 11, 1), date(2024, 11, 21), date(2025, 5, 20), majoration_sociale=False,
                         associatif=False)
    assert m.fraction == D("0.3333") and m.indemnite == D("168.31")


def test_R55_social_increase_and_associative_subsidy():
    # barème du 01/01/2024 : 504,98 + 114,85 = 619,83 € versés au volontaire ; 100,00 € à l'organisme associatif
    m = sc.calculer_mois(date(2024, 10, 1), date(2024, 9, 1), date(2025, 2, 28), majoration_sociale=True,
                         associatif=True)
    assert m.majoration == D("114.85")
    assert m.verse_au_volontaire == D("504.98") + D("114.85") == D("619.83")
    assert m.subvention == D("100.00")
    # first month starting on the 15th with the increase: (504,98 + 114,85) / 2 → 252,49 + 57,43 = 309,92
    half = sc.calculer_mois(date(2024, 9, 1), date(2024, 9, 15), date(2025, 3, 14), majoration_sociale=True,
                            associatif=True)
    assert (half.indemnite, half.majoration, half.verse_au_volontaire, half.subvention) == (
        D("252.49"), D("57.43"), D("309.92"), D("50.00"))


def test_R55_host_prestation_set_above_the_minimum_is_the_one_owed():
    m = sc.calculer_mois(date(2024, 10, 1), date(2024, 9, 1), date(2025, 2, 28), majoration_sociale=False,
                         associatif=False, prestation_mensuelle=D("150.00"))
    assert m.prestation_due == D("150.00")
    with pytest.raises(sc.ContratInvalide, match="7,43 %"):
        sc.verifier_prestation(D("100.00"), date(2024, 9, 1))


@pytest.mark.parametrize("naissance, debut, fin, message", [
    (date(2009, 6, 1), date(2024, 9, 1), date(2025, 2, 28), "15 ans"),  # too young (R55)
    (date(1998, 6, 1), date(2024, 9, 1), date(2025, 2, 28), "26 ans"),  # too old (R55)
    (date(2003, 6, 1), date(2024, 9, 1), date(2025, 2, 27), "6 à 12 mois"),  # one day short of 6 months
    (date(2003, 6, 1), date(2024, 9, 1), date(2025, 9, 1), "6 à 12 mois"),  # one day over 12 months
])
def test_R55_contract_age_and_duration_are_checked(naissance, debut, fin, message):
    with pytest.raises(sc.ContratInvalide, match=message):
        sc.verifier_contrat(naissance, debut, fin)


def test_R55_contract_limits_accepted():
    sc.verifier_contrat(date(2008, 9, 1), date(2024, 9, 1), date(2025, 2, 28))  # 16 on the first day, 6 months
    sc.verifier_contrat(date(1998, 9, 2), date(2024, 9, 1), date(2025, 8, 31))  # 25, 12 months


def test_R55_no_barème_before_its_first_line():
    with pytest.raises(HorsBareme):
        sc.calculer_mois(date(2023, 6, 1), date(2023, 6, 1), date(2023, 12, 31), majoration_sociale=False,
                         associatif=False)


@given(st.dates(date(2024, 1, 1), date(2026, 6, 30)), st.integers(6, 12), st.booleans())
def test_R55_months_of_a_mission_never_pay_more_than_its_length(debut, mois, majoration):
    fin = sc.fin_au_plus_tot(debut) if mois == 6 else sc.fin_au_plus_tard(debut)
    total = sum((sc.calculer_mois(p, debut, fin, majoration_sociale=majoration, associatif=False).fraction
                 for p in sc.mois_de_la_mission(debut, fin)), D("0"))
    n = 6 if mois == 6 else 12
    assert n - D("1") <= total <= n + D("0.1")  # proration of the first and last months, within rounding
