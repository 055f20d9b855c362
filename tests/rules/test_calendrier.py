"""Calendrier des envois (R41), hors délai (R48), forclusion (R36), date d'exécution SEPA et
verrouillage des comptes (R68, exemple E11)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backoffice.rules.calendrier import (
    DUREE_VERROUILLAGE,
    MAX_ECHECS,
    date_execution,
    derniere_date_envoi,
    est_forclos,
    est_hors_delai,
    est_verrouille,
    fin_verrouillage,
    hors_forclusion,
    jour_ouvre_target,
    prochaine_date_envoi,
)

# --- R41 : prochaine date d'envoi ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("aujourd_hui", "envoi"),
    [
        (date(2025, 5, 1), date(2025, 5, 1)),
        (date(2025, 5, 2), date(2025, 5, 15)),
        (date(2025, 5, 14), date(2025, 5, 15)),
        (date(2025, 5, 15), date(2025, 5, 15)),
        (date(2025, 5, 16), date(2025, 6, 1)),
        (date(2025, 5, 31), date(2025, 6, 1)),
        (date(2025, 12, 16), date(2026, 1, 1)),
        (date(2024, 2, 29), date(2024, 3, 1)),
    ],
)
def test_cej_is_sent_on_the_next_1st_or_15th_on_or_after_today(aujourd_hui, envoi):
    """R41: CEJ allocations leave around the 1st and the 15th."""
    assert prochaine_date_envoi("CEJ", aujourd_hui) == envoi


@pytest.mark.parametrize(
    ("aujourd_hui", "envoi"),
    [
        (date(2025, 5, 1), date(2025, 6, 1)),
        (date(2025, 5, 2), date(2025, 6, 1)),
        (date(2025, 5, 16), date(2025, 6, 1)),
        (date(2025, 12, 31), date(2026, 1, 1)),
    ],
)
def test_pacea_is_sent_on_the_1st_of_next_month(aujourd_hui, envoi):
    """R41: PACEA allocations leave on the 1st of the following month."""
    assert prochaine_date_envoi("PACEA", aujourd_hui) == envoi


def test_dispositif_is_case_insensitive():
    """R41: the dispositif code may come as an enum value in lower case."""
    assert prochaine_date_envoi("cej", date(2025, 5, 2)) == date(2025, 5, 15)


# --- R48 : hors délai ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dispositif", "mois", "derniere"),
    [
        ("CEJ", date(2025, 4, 1), date(2025, 5, 15)),
        ("CEJ", date(2025, 12, 20), date(2026, 1, 15)),
        ("PACEA", date(2025, 4, 1), date(2025, 5, 1)),
        ("PACEA", date(2025, 12, 1), date(2026, 1, 1)),
    ],
)
def test_last_regular_sending_for_a_month(dispositif, mois, derniere):
    """R35, R41 [derived]: month M is sent in M+1 (CEJ: last window the 15th; PACEA: the 1st)."""
    assert derniere_date_envoi(dispositif, mois) == derniere


@pytest.mark.parametrize(
    ("dispositif", "aujourd_hui", "hors_delai"),
    [
        ("CEJ", date(2025, 4, 30), False),
        ("CEJ", date(2025, 5, 2), False),
        ("CEJ", date(2025, 5, 15), False),  # E7: the April allocation leaves around 1 or 15 May
        ("CEJ", date(2025, 5, 16), True),
        ("CEJ", date(2025, 9, 1), True),
        ("PACEA", date(2025, 5, 1), False),
        ("PACEA", date(2025, 5, 2), True),
    ],
)
def test_april_allocation_is_late_once_its_last_sending_has_passed(dispositif, aujourd_hui, hors_delai):
    """R48 [derived]: late from the day after the last regular sending for the month."""
    assert est_hors_delai(date(2025, 4, 1), aujourd_hui, dispositif=dispositif) is hors_delai


def test_any_day_of_the_month_designates_the_month():
    """R48: an allocation month is a (year, month); its day is ignored."""
    assert est_hors_delai(date(2025, 4, 17), date(2025, 5, 16), dispositif="CEJ")


# --- R36 : forclusion ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mois", "dossier_complet", "forclos"),
    [
        (date(2025, 2, 1), date(2025, 6, 10), True),
        (date(2025, 3, 1), date(2025, 6, 10), False),
        (date(2025, 3, 1), date(2025, 6, 30), False),
        (date(2025, 3, 1), date(2025, 7, 1), True),
        (date(2025, 6, 1), date(2025, 6, 10), False),
        (date(2024, 11, 1), date(2025, 2, 28), False),
        (date(2024, 10, 1), date(2025, 2, 1), True),
    ],
)
def test_months_more_than_3_months_before_the_complete_file_are_lost(mois, dossier_complet, forclos):
    """R36: supporting documents within 3 months; older periods are lost for good."""
    assert est_forclos(mois, dossier_complet) is forclos
    assert hors_forclusion(mois, dossier_complet) is (not forclos)


# --- Date d'exécution SEPA -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jour", "ouvre"),
    [
        (date(2025, 5, 1), False),  # 1er mai
        (date(2025, 4, 18), False),  # Vendredi saint
        (date(2025, 4, 21), False),  # lundi de Pâques
        (date(2025, 12, 25), False),
        (date(2025, 12, 26), False),
        (date(2026, 1, 1), False),
        (date(2025, 5, 3), False),  # samedi
        (date(2025, 5, 8), True),  # férié en France, pas pour TARGET2
        (date(2025, 5, 2), True),
    ],
)
def test_target2_business_days(jour, ouvre):
    """R41 → SEPA execution date: TARGET2 closing days (R77 SCT settlement)."""
    assert jour_ouvre_target(jour) is ouvre


@pytest.mark.parametrize(
    ("envoi", "delai", "execution"),
    [
        (date(2025, 5, 15), 1, date(2025, 5, 16)),
        (date(2025, 4, 30), 1, date(2025, 5, 2)),  # 1er mai fermé
        (date(2025, 5, 16), 1, date(2025, 5, 19)),  # vendredi → lundi
        (date(2025, 11, 1), 1, date(2025, 11, 3)),  # remis un samedi → lundi
        (date(2025, 11, 1), 2, date(2025, 11, 4)),
        (date(2025, 11, 1), 0, date(2025, 11, 3)),
        (date(2025, 6, 2), 0, date(2025, 6, 2)),
        (date(2025, 6, 2), 2, date(2025, 6, 4)),
    ],
)
def test_execution_date_is_counted_in_target2_business_days(envoi, delai, execution):
    """R41/R77 [derived]: requested execution date after the sending."""
    assert date_execution(envoi, delai_jours_ouvres=delai) == execution


# --- R68, E11 : verrouillage ---------------------------------------------------------------------


def test_lockout_constants_are_3_failures_and_30_minutes():
    """R68."""
    assert MAX_ECHECS == 3
    assert DUREE_VERROUILLAGE == timedelta(minutes=30)


def test_e11_third_failure_at_10_02_locks_until_10_32():
    """E11 / R68: 30 minutes after the 3rd failure."""
    assert fin_verrouillage(datetime(2025, 5, 2, 10, 2)) == datetime(2025, 5, 2, 10, 32)


@pytest.mark.parametrize(
    ("maintenant", "verrouille"),
    [
        (datetime(2025, 5, 2, 10, 2), True),
        (datetime(2025, 5, 2, 10, 20), True),  # correct password still refused
        (datetime(2025, 5, 2, 10, 31, 59), True),
        (datetime(2025, 5, 2, 10, 32), False),  # accepted again
    ],
)
def test_e11_account_is_locked_until_10_32(maintenant, verrouille):
    """E11 / R68."""
    assert est_verrouille(3, datetime(2025, 5, 2, 10, 2), maintenant) is verrouille


def test_two_failures_do_not_lock():
    """R68: only the 3rd consecutive failure locks (E11: a success after 2 failures resets)."""
    assert not est_verrouille(2, datetime(2025, 5, 2, 10, 1), datetime(2025, 5, 2, 10, 2))
    assert not est_verrouille(0, None, datetime(2025, 5, 2, 10, 2))
