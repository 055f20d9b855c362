"""Afas (R58, R59, R78, R79): worked examples of the pure functions, the arithmetic written in the test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from backoffice.rules import afas as r
from backoffice.rules import params
from backoffice.rules.params import HorsBareme


# ---- R78: the estimate -----------------------------------------------------------------------------------

def test_R78_ceiling_is_a_dated_parameter():
    assert r.prix_plafond(2022) == D("33.00")
    assert r.prix_plafond(2025) == D("35.00")
    assert r.prix_plafond(date(2023, 1, 1)) == params.AFAS_PRIX_PLAFOND_HORAIRE.valeur(date(2023, 6, 1))
    with pytest.raises(HorsBareme):
        r.prix_plafond(2018)


def test_R78_cost_price_at_the_ceiling():
    # 800 h of meetings + 200 h of interviews (public) + 200 h of organisation = 1 200 h
    # 42 000 € / 1 200 h = 35,00 €/h = the 2025 ceiling; 60 % × 35,00 × 1 200 = 25 200,00
    e = r.estimer_droit(D("42000"), D("1000"), D("200"), exercice=2025)
    assert e.heures == D("1200")
    assert e.prix_revient_horaire == D("35.00") and e.prix_plafond == D("35.00")
    assert e.droit == D("0.60") * D("35.00") * D("1200") == D("25200.00")
    assert not e.plafonne


def test_R78_cost_price_below_the_ceiling():
    # 30 000 / 1 200 = 25,00 €/h < 35: 60 % × 25 × 1 200 = 60 % × 30 000 = 18 000,00
    e = r.estimer_droit(D("30000"), D("1000"), D("200"), exercice=2025)
    assert e.prix_retenu == D("25.00")
    assert e.droit == D("18000.00")


def test_R78_cost_price_above_the_ceiling_is_capped():
    # 60 000 / 1 200 = 50,00 €/h > 35: 60 % × 35 × 1 200 = 25 200,00 (not 36 000)
    e = r.estimer_droit(D("60000"), D("1000"), D("200"), exercice=2025)
    assert e.plafonne and e.prix_revient_horaire == D("50.00") and e.prix_retenu == D("35.00")
    assert e.droit == D("25200.00")
    # 2022: ceiling 33,00: 60 000 / 1 000 h = 60 €/h → 60 % × 33 × 1 000 = 19 800,00
    assert r.estimer_droit(D("60000"), D("900"), D("100"), exercice=2022).droit == D("19800.00")


def test_R78_rounding_to_the_cent_on_the_exact_price():
    # 100,01 / 3 h = 33,3366… €/h (not rounded first): 60 % × 100,01 = 60,006 → 60,01
    e = r.estimer_droit(D("100.01"), D("2"), D("1"), exercice=2025)
    assert e.prix_revient_horaire == D("33.34")
    assert e.droit == D("60.01")
    assert "60 %" in e.detail() and "3 h" in e.detail()


def test_R78_no_hours_no_droit():
    e = r.estimer_droit(D("5000"), D("0"), D("0"), exercice=2025)
    assert e.droit == D("0.00") and e.prix_revient_horaire is None


# ---- R79: acomptes and balance ------------------------------------------------------------------------------

def test_R79_first_acompte_35_percent_of_actual_N_minus_2():
    assert r.premier_acompte(droit_reel_n2=D("20000")) == D("0.35") * 20000 == D("7000.00")
    # a new service: 35 % of the forecast droit of N
    assert r.premier_acompte(droit_reel_n2=None, droit_previsionnel_n=D("18000")) == D("6300.00")


def test_R79_second_acompte_35_percent_of_forecast_N():
    # no unjustified gap: 35 % × 24 000 = 8 400
    assert r.second_acompte(droit_previsionnel_n=D("24000"), droit_reel_n1=D("12000"), premier=D("7000"),
                            ecart_non_justifie=False) == D("8400.00")


def test_R79_70_percent_limit_when_the_gap_is_unjustified():
    # 70 % × 12 000 (actual N-1) = 8 400, less the 7 000 already paid = 1 400 < 8 400
    assert r.second_acompte(droit_previsionnel_n=D("24000"), droit_reel_n1=D("12000"), premier=D("7000"),
                            ecart_non_justifie=True) == D("8400") - D("7000") == D("1400.00")
    # 70 % × 8 000 = 5 600 < 7 000 already paid: nothing more, never negative
    assert r.second_acompte(droit_previsionnel_n=D("24000"), droit_reel_n1=D("8000"), premier=D("7000"),
                            ecart_non_justifie=True) == D("0.00")


def test_R79_gap_over_10_percent():
    assert r.ecart_depasse(D("20000"), D("17999.99"))  # 10,00005 %
    assert not r.ecart_depasse(D("20000"), D("18000"))  # exactly 10 %
    assert r.ecart_depasse(D("20000"), D("22000.01"))
    assert not r.ecart_depasse(None, D("1"))


def test_R79_balance_to_pay():
    # droit 20 000, acomptes 7 000 + 8 400 = 15 400: balance 4 600
    s = r.solde(droit_reel_n=D("20000"), deja_verse=D("7000") + D("8400"))
    assert s.montant == D("4600.00") and s.a_payer == D("4600.00") and s.a_reverser == D("0.00")


def test_R79_negative_balance_is_a_reversement():
    # droit 12 000, acomptes 15 400: 3 400 paid too much, to recover
    s = r.solde(droit_reel_n=D("12000"), deja_verse=D("15400"))
    assert s.montant == D("-3400.00") and s.a_payer == D("0.00") and s.a_reverser == D("3400.00")


money = st.decimals(min_value=0, max_value=500_000, places=2, allow_nan=False, allow_infinity=False)
hours = st.decimals(min_value=0, max_value=20_000, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(charges=money, public=hours, orga=hours, annee=st.integers(2019, 2030))
def test_R78_property_droit_bounded_by_60_percent_of_charges_and_of_the_ceiling(charges, public, orga, annee):
    e = r.estimer_droit(charges, public, orga, exercice=annee)
    half_cent = D("0.005")
    assert e.droit >= 0
    assert e.droit <= D("0.60") * charges + half_cent
    assert e.droit <= D("0.60") * e.prix_plafond * (public + orga) + half_cent


@settings(max_examples=300, deadline=None)
@given(reel_n2=money, prev_n=money, reel_n1=money, droit_n=money, ecart=st.booleans())
def test_R79_property_acomptes_within_limits_and_balance_closes_the_year(reel_n2, prev_n, reel_n1, droit_n, ecart):
    a1 = r.premier_acompte(droit_reel_n2=reel_n2)
    a2 = r.second_acompte(droit_previsionnel_n=prev_n, droit_reel_n1=reel_n1, premier=a1, ecart_non_justifie=ecart)
    assert a2 >= 0 and a2 <= D("0.35") * prev_n + D("0.005")
    if ecart:  # R79: the acomptes stay within 70 % of the actual N-1 (or the first alone, already paid)
        # rounded half up to the cent, as the rule does (33,145 → 33,15)
        assert a1 + a2 <= max(a1, (D("0.70") * reel_n1).quantize(D("0.01"), rounding="ROUND_HALF_UP"))
    s = r.solde(droit_reel_n=droit_n, deja_verse=a1 + a2)
    assert a1 + a2 + s.a_payer - s.a_reverser == droit_n  # what is paid in the end is the droit


# ---- R58, R59 ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("modes", "ok"), [
    (["mono_lieu"], True), (["itinerance", "itinerance"], True), (["antenne"] * 3, True),
    (["mono_lieu", "mono_lieu"], False), (["mono_lieu", "antenne"], False), (["itinerance", "antenne"], False),
    (["itinerance"], False), ([], False)])
def test_R58_structure(modes, ok):
    assert (r.erreur_structure(modes) is None) is ok


def _donnees(**kw):
    base = dict(type="previsionnelle", exercice=2025, budget=D("42000"), charges=D("42000"), produits=D("42000"),
                lignes=(r.Ligne(1, 1, D("400"), D("100"), D("100")), r.Ligne(1, 2, D("400"), D("100"), D("100"))),
                lieux=(1,), modes=("mono_lieu",))
    base.update(kw)
    return r.Donnees(**base)


def test_R59_checks_table_clean_declaration():
    assert r.controler(_donnees()) == []
    assert all(c.nature in (r.BLOQUANTE, r.JUSTIFIABLE) and c.message for c in r.CONTROLES)


def test_R59_each_check_flags_its_anomaly_with_its_kind():
    codes = lambda d: {c.code: c.nature for c in r.controler(d)}  # noqa: E731
    assert codes(_donnees(produits=D("40000"))) == {"BUDGET": r.BLOQUANTE}
    assert codes(_donnees(charges=None))["FIN-MANQUANTE"] == r.BLOQUANTE
    assert codes(_donnees(lignes=_donnees().lignes[:1]))["LIEU-SEMESTRE"] == r.BLOQUANTE
    assert codes(_donnees(modes=("mono_lieu", "antenne")))["STRUCTURE"] == r.BLOQUANTE
    orga = (r.Ligne(1, 1, D("100"), D("0"), D("150")), r.Ligne(1, 2, D("100"), D("0"), D("150")))
    assert codes(_donnees(lignes=orga, charges=D("10000"), produits=D("10000")))["ORGA-SUP"] == r.JUSTIFIABLE
    assert codes(_donnees(heures_annee_precedente=D("800"))) == {"VARIATION": r.JUSTIFIABLE}  # 1 200 vs 800
    assert codes(_donnees(charges=D("60000"), produits=D("60000"))) == {"COUT-PLAFOND": r.JUSTIFIABLE}
    # actual 25 200 vs forecast 20 000: 26 % apart
    assert codes(_donnees(type="reelle", droit_previsionnel=D("20000"))) == {"ECART-PREV": r.JUSTIFIABLE}


# ---- R57: the yearly items, read and checked against their bounds (issue 15 §2) --------------------------------
@pytest.mark.parametrize("type_, lo, hi, brut, attendu", [
    ("entier", 0, 366, "250", (Decimal("250.00"), None)),
    ("decimal", 0, 120, "12,5", (Decimal("12.50"), None)),
    ("montant", 0, 1000000, "1 234,56 €", (Decimal("1234.56"), None)),
    ("oui_non", None, None, "Oui", (Decimal("1"), None)),
    ("oui_non", None, None, "non", (Decimal("0"), None)),
    ("texte", None, 20, "  Deux créneaux  ", (None, "Deux créneaux")),
    ("entier", 0, 10, "", (None, None)),
])
def test_R57_lire_item_accepts_values_within_type_and_bounds(type_, lo, hi, brut, attendu):
    from backoffice.rules.afas import lire_item
    lo = None if lo is None else Decimal(lo)
    hi = None if hi is None else Decimal(hi)
    assert lire_item(type_, lo, hi, brut) == attendu


@pytest.mark.parametrize("type_, lo, hi, brut, message", [
    ("entier", 0, 366, "367", "366 au plus"),
    ("entier", 0, 366, "-1", "0 au moins"),
    ("entier", 0, 366, "2,5", "entier"),
    ("decimal", 0, 10, "1,234", "deux décimales"),
    ("montant", 0, 100, "abc", "un nombre est attendu"),
    ("montant", 0, 100, "NaN", "un nombre est attendu"),
    ("oui_non", None, None, "peut-être", "oui ou non"),
    ("texte", None, 5, "trop long", "5 caractères au plus"),
])
def test_R57_lire_item_refuses_in_french(type_, lo, hi, brut, message):
    from backoffice.rules.afas import lire_item
    with pytest.raises(ValueError, match=message):
        lire_item(type_, None if lo is None else Decimal(lo), None if hi is None else Decimal(hi), brut, libelle="X")
