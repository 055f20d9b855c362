"""Activité partielle : indemnité du salarié et allocation de l'employeur (R74, exemple E10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backoffice.rules.activite_partielle import allocation_ap, indemnite_ap, plancher_ap
from backoffice.rules.montants import smic_horaire_brut

SMIC_HORAIRE = Decimal("11.88")
HEURES = Decimal("35")
JANVIER_2025 = date(2025, 1, 1)


@pytest.mark.parametrize(
    ("taux", "indemnite", "allocation"),
    [
        ("15", "315.00", "296.10"),  # 36 % × 15 = 5,40 < floor 8,46
        ("30", "630.00", "378.00"),  # 10,80 × 35
        ("60", "1122.66", "673.60"),  # capped at 4,5 × 11,88 = 53,46
    ],
)
def test_e10_di_line_with_35_idle_hours(taux, indemnite, allocation):
    """E10 / R74: 60 % for the employee, 36 % with a floor of 8,46 €/h for the employer, both capped
    at 4,5 SMIC."""
    assert indemnite_ap(Decimal(taux), HEURES, SMIC_HORAIRE) == Decimal(indemnite)
    assert allocation_ap(Decimal(taux), HEURES, SMIC_HORAIRE, date_reference=JANVIER_2025) == Decimal(allocation)


def test_cap_is_4_5_times_the_hourly_smic():
    """R74: 53,46 and 53,47 €/h give the same amounts with a SMIC of 11,88."""
    assert indemnite_ap(Decimal("53.46"), 1, SMIC_HORAIRE) == indemnite_ap(Decimal("100"), 1, SMIC_HORAIRE)
    assert indemnite_ap(Decimal("53.45"), 100, SMIC_HORAIRE) < indemnite_ap(Decimal("53.46"), 100, SMIC_HORAIRE)


def test_floor_does_not_apply_to_apprentices_paid_below_smic():
    """R74: no floor for apprentices or professionalisation contracts paid below the SMIC."""
    allocation = allocation_ap(Decimal("8"), HEURES, SMIC_HORAIRE, date_reference=JANVIER_2025, sans_plancher=True)
    assert allocation == Decimal("100.80")


@pytest.mark.parametrize(
    ("jour", "plancher"),
    [
        (date(2022, 1, 1), "7.53"),
        (date(2023, 4, 30), "8.03"),
        (date(2023, 5, 1), "8.21"),
        (date(2024, 10, 31), "8.30"),
        (date(2024, 11, 1), "8.46"),
        (date(2025, 12, 31), "8.46"),
    ],
)
def test_floor_depends_on_the_date(jour, plancher):
    """R74: 8,46 €/h from 2024-11-01 (décret 2024-1149), earlier values per art. D5122-13."""
    assert plancher_ap(jour) == Decimal(plancher)


def test_floor_of_the_month_is_used():
    """R74: before 2024-11-01 the floor was 8,30 €/h."""
    avant = allocation_ap(Decimal("15"), HEURES, Decimal("11.65"), date_reference=date(2024, 10, 1))
    assert avant == Decimal("290.50")


def test_hourly_smic_is_11_88_from_november_2024():
    """R74: the 4,5 SMIC cap uses the hourly SMIC in force (11,88 from 2024-11-01)."""
    assert smic_horaire_brut(date(2024, 11, 1)) == SMIC_HORAIRE
    assert smic_horaire_brut(date(2024, 10, 31)) == Decimal("11.65")


def test_fractional_hours_are_accepted():
    """R74: idle hours need not be whole (7 h 30 = 7,5 h)."""
    assert indemnite_ap(Decimal("20"), Decimal("7.5"), SMIC_HORAIRE) == Decimal("90.00")
