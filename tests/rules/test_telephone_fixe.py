"""R63: the sign-up's landline numbers (rules.identifiants.verifier_telephone_fixe), and the normalised secret
answer (R63, R69): plain functions, worked cases and properties."""

from __future__ import annotations

import pytest
import re

from hypothesis import given, settings, strategies as st

from backoffice.rules.identifiants import IdentifiantInvalide, verifier_telephone_fixe


@pytest.mark.parametrize("saisie, attendu", [
    ("03 20 12 34 56", "0320123456"), ("03.20.12.34.56", "0320123456"), ("+33 3 20 12 34 56", "0320123456"),
    ("0033320123456", "0320123456"), ("01-45-67-89-10", "0145678910"), ("09 70 12 34 56", "0970123456"),
])
def test_R63_landline_numbers_accepted_and_stored_as_10_digits(saisie, attendu):
    assert verifier_telephone_fixe(saisie) == attendu


@pytest.mark.parametrize("saisie, message", [
    ("06 12 34 56 78", "pas un mobile (R63)"), ("07 12 34 56 78", "pas un mobile (R63)"),
    ("08 00 12 34 56", "fixe (01 à 05 ou 09)"), ("0320", "10 chiffres"), ("", "manquant"), ("03 20 12 34 5x", "10 chiffres"),
])
def test_R63_a_mobile_or_a_malformed_number_is_refused_in_french(saisie, message):
    with pytest.raises(IdentifiantInvalide, match=re.escape(message)):
        verifier_telephone_fixe(saisie)


@given(st.text(max_size=30))
def test_R63_any_accepted_number_is_a_french_landline_and_checking_it_again_changes_nothing(texte):
    try:
        numero = verifier_telephone_fixe(texte)
    except IdentifiantInvalide:
        return
    assert len(numero) == 10 and numero.isdigit() and numero[0] == "0" and numero[1] in "123459"
    assert verifier_telephone_fixe(numero) == numero


@settings(deadline=None)
@given(st.text(max_size=40))
def test_R69_the_normalised_answer_ignores_case_accents_and_spaces(texte):
    from backoffice.workflows.inscriptions import normaliser_reponse
    n = normaliser_reponse(texte)
    assert normaliser_reponse(n) == n
    assert normaliser_reponse(f"  {texte.upper()} ") == normaliser_reponse(texte.upper())
    assert normaliser_reponse("Médor  LE Chien") == "medor le chien"
