"""Barèmes datés : recherche de la valeur en vigueur, cohérence des tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backoffice.rules import params
from backoffice.rules.params import Bareme, HorsBareme, normaliser_dispositif


def test_bareme_returns_the_last_row_started_on_or_before_the_date():
    """R21/R25/R74: dated tables."""
    b = Bareme("essai", ((date(2024, 1, 1), 1), (date(2024, 6, 1), 2)))
    assert b.valeur(date(2024, 1, 1)) == 1
    assert b.valeur(date(2024, 5, 31)) == 1
    assert b.valeur(date(2024, 6, 1)) == 2
    assert b.valeur(date(2030, 1, 1)) == 2


def test_bareme_before_its_first_row_is_refused_in_french():
    """R21: no amount is invented before the first row."""
    b = Bareme("essai", ((date(2024, 1, 1), 1),))
    with pytest.raises(HorsBareme, match="Aucun barème « essai » en vigueur le 31/12/2023"):
        b.valeur(date(2023, 12, 31))


@pytest.mark.parametrize("lignes", [(), ((date(2024, 6, 1), 1), (date(2024, 1, 1), 2)),
                                    ((date(2024, 1, 1), 1), (date(2024, 1, 1), 2))])
def test_bareme_rows_must_be_sorted_and_unique(lignes):
    """R21/R25/R74: a table typo fails at import."""
    with pytest.raises(ValueError):
        Bareme("essai", lignes)


@pytest.mark.parametrize("bareme", [params.SMIC_BRUT_MENSUEL, params.SMIC_HORAIRE_BRUT, params.AP_PLANCHER_HORAIRE])
def test_money_tables_only_rise(bareme):
    """R25/R74: SMIC and AP floor are only ever revalued upward."""
    valeurs = [v for _, v in bareme.lignes]
    assert valeurs == sorted(valeurs)
    assert all(isinstance(v, Decimal) for v in valeurs)


def test_monthly_smic_is_hourly_times_151_67_within_a_few_cents():
    """R25/R74: monthly SMIC = hourly × 151,67 h (W1), the official figure being rounded."""
    for (debut, mensuel), (_, horaire) in zip(params.SMIC_BRUT_MENSUEL.lignes, params.SMIC_HORAIRE_BRUT.lignes):
        assert abs(horaire * Decimal("151.67") - mensuel) < Decimal("0.05"), debut


def test_cej_forfaits_rise_at_each_revaluation():
    """R21."""
    lignes = [v for _, v in params.FORFAITS_CEJ.lignes]
    for colonne in range(3):
        assert [ligne[colonne] for ligne in lignes] == sorted(ligne[colonne] for ligne in lignes)


@pytest.mark.parametrize(("saisi", "code"), [("CEJ", "CEJ"), ("cej", "CEJ"), (" pacea ", "PACEA")])
def test_dispositif_code_is_normalised(saisi, code):
    """R38/R41: CEJ or PACEA, whatever the case."""
    assert normaliser_dispositif(saisi) == code
