"""IBAN/RIB, SIREN/SIRET, titulaire du compte et textes SEPA : exemples E12 et E14, règles R38, R75-R77."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.rules.identifiants import (
    IdentifiantInvalide,
    Rib,
    bic_depuis_iban,
    end_to_end_id,
    formater_iban,
    formater_siret,
    iban_valide,
    rib_depuis_iban,
    siren_depuis_siret,
    texte_sepa,
    verifier_iban,
    verifier_siren,
    verifier_siret,
    verifier_titulaire,
)

# --- E12 : SIRET / SIREN (R75) -------------------------------------------------------------------


@pytest.mark.parametrize("siret", ["73282932000074", "732 829 320 00074", "35600000009075", "35600000000048"])
def test_e12_valid_siret(siret):
    """E12 / R75: Luhn over 14 digits; La Poste 35600000009075 passes by its digit sum (35)."""
    assert verifier_siret(siret) == siret.replace(" ", "")


@pytest.mark.parametrize("siret", ["73282932000079", "35600000049838"])
def test_e12_siret_with_wrong_checksum_is_refused(siret):
    """E12 / R75."""
    with pytest.raises(IdentifiantInvalide, match="clé de contrôle") as err:
        verifier_siret(siret)
    assert err.value.message.startswith("SIRET invalide")


def test_e12_siren_of_a_siret():
    """E12: the SIREN of 73282932000074 is 732829320."""
    assert siren_depuis_siret("732 829 320 00074") == "732829320"
    assert formater_siret("73282932000074") == "732 829 320 00074"


@pytest.mark.parametrize(
    ("saisi", "message"),
    [
        ("7328293200007", "Un SIRET compte 14 chiffres, 13 saisis."),
        ("7328293200007A", "Un SIRET ne contient que des chiffres."),
        ("", "SIRET manquant."),
        (None, "SIRET manquant."),
    ],
)
def test_siret_format_errors_are_explained_in_french(saisi, message):
    """R75: 14 digits only; the message tells what to fix."""
    with pytest.raises(IdentifiantInvalide) as err:
        verifier_siret(saisi)
    assert err.value.message == message
    assert str(err.value) == message


@pytest.mark.parametrize(("siren", "valide"), [("404833048", True), ("404 833 048", True), ("404833047", False)])
def test_e12_siren(siren, valide):
    """E12 / R75: 404833048 valid, 404833047 invalid."""
    if valide:
        assert verifier_siren(siren) == "404833048"
    else:
        with pytest.raises(IdentifiantInvalide, match="SIREN invalide"):
            verifier_siren(siren)


def test_siren_length_error_in_french():
    """R75: 9 digits."""
    with pytest.raises(IdentifiantInvalide, match="Un SIREN compte 9 chiffres, 8 saisis."):
        verifier_siren("40483304")


# --- E12 : IBAN (R76) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("saisi", "compact"),
    [
        ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"),
        ("FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        ("fr76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        ("  FR7630006000011234567890189\t", "FR7630006000011234567890189"),
    ],
)
def test_e12_valid_iban_is_returned_compact(saisi, compact):
    """E12 / R76."""
    assert verifier_iban(saisi) == compact
    assert iban_valide(saisi)


def test_e12_iban_valid_under_mod97_but_wrong_rib_key_is_refused():
    """E12 / R76: FR06 3000 6000 0112 3456 7890 188 passes mod-97 but its RIB key 88 is wrong."""
    with pytest.raises(IdentifiantInvalide, match="Clé RIB incorrecte"):
        verifier_iban("FR06 3000 6000 0112 3456 7890 188")
    assert not iban_valide("FR06 3000 6000 0112 3456 7890 188")


def test_e12_rib_components():
    """E12: bank 20041, branch 01005, account 0500013M026, key 06; and key 89 for the second."""
    assert rib_depuis_iban("FR14 2004 1010 0505 0001 3M02 606") == Rib("20041", "01005", "0500013M026", "06")
    assert rib_depuis_iban("FR76 3000 6000 0112 3456 7890 189").cle_rib == "89"


def test_rib_only_exists_for_french_or_monaco_iban():
    """R76: the RIB key exists for FR and MC only."""
    with pytest.raises(IdentifiantInvalide, match="RIB"):
        rib_depuis_iban("DE89 3704 0044 0532 0130 00")


@pytest.mark.parametrize(
    ("saisi", "message"),
    [
        ("FR77 3000 6000 0112 3456 7890 189", "Clé de contrôle de l'IBAN incorrecte"),
        ("FR76 3000 6000 0112 3456 7890 18", "Longueur incorrecte : un IBAN FR compte 27 caractères, 26 saisis."),
        ("FR76 3000 6000 0112 3456 7890 1890", "Longueur incorrecte : un IBAN FR compte 27 caractères, 28 saisis."),
        ("FR", "Longueur incorrecte"),
        ("XX76 3000 6000 0112 3456 7890 189", "Code pays « XX » inconnu"),
        ("FR76-3000-6000-0112-3456-7890-189", "que des lettres et des chiffres"),
        ("FR76 3000 6000 0112 3456 7890 18é", "que des lettres et des chiffres"),
        ("FR76 3A00 6000 0112 3456 7890 189", "Format incorrect pour un IBAN FR"),
        ("", "IBAN manquant."),
        (None, "IBAN manquant."),
    ],
)
def test_invalid_iban_is_explained_in_french(saisi, message):
    """R76."""
    with pytest.raises(IdentifiantInvalide) as err:
        verifier_iban(saisi)
    assert message in err.value.message


def test_iban_outside_sepa_zone_is_refused_by_default():
    """R77: SEPA credit transfers only."""
    bresil = "BR1800360305000010009795493C1"
    with pytest.raises(IdentifiantInvalide, match="hors zone SEPA"):
        verifier_iban(bresil)
    assert verifier_iban(bresil, zone_sepa=False) == bresil


def test_other_sepa_country_iban_is_accepted():
    """R76/R77: any SEPA-zone IBAN passes its own country checks."""
    assert verifier_iban("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000"


def test_iban_is_formatted_in_groups_of_4():
    """R76: display format."""
    assert formater_iban("FR7630006000011234567890189") == "FR76 3000 6000 0112 3456 7890 189"


def test_bic_is_found_from_the_bank_code():
    """R76: the bank code (5 digits after the check digits) gives the BIC."""
    assert bic_depuis_iban("FR7630006000011234567890189").startswith("AGRIFRPP")
    assert bic_depuis_iban("FR14 2004 1010 0505 0001 3M02 606").startswith("PSSTFRPP")


def test_bic_of_an_invalid_iban_is_refused():
    """R76 / E12."""
    with pytest.raises(IdentifiantInvalide):
        bic_depuis_iban("FR06 3000 6000 0112 3456 7890 188")


def test_identifiant_invalide_is_a_value_error():
    """R75/R76: callers may catch ValueError (WTForms validators do)."""
    assert issubclass(IdentifiantInvalide, ValueError)


# --- E14 : titulaire du compte (R38) -------------------------------------------------------------

CURATELLE = "MME DUPONT MARIE SOUS CURATELLE UDAF DU 12"


def test_e14_42_character_holder_is_accepted_on_cej():
    """E14 / R38: ≤ 49 characters on the CEJ cerfa."""
    assert len(CURATELLE) == 42
    assert verifier_titulaire(CURATELLE, "CEJ") == CURATELLE


def test_e14_42_character_holder_is_refused_on_pacea():
    """E14 / R38: ≤ 38 characters on the PACEA cerfa."""
    with pytest.raises(IdentifiantInvalide, match="trop long pour le cerfa PACEA : 42 caractères, 38 au maximum"):
        verifier_titulaire(CURATELLE, "PACEA")


@pytest.mark.parametrize(("dispositif", "maximum"), [("CEJ", 49), ("PACEA", 38)])
def test_holder_length_limit_is_inclusive(dispositif, maximum):
    """R38."""
    assert verifier_titulaire("A" * maximum, dispositif) == "A" * maximum
    with pytest.raises(IdentifiantInvalide):
        verifier_titulaire("A" * (maximum + 1), dispositif)


@pytest.mark.parametrize("nom", ["", "   ", None])
def test_holder_is_mandatory(nom):
    """R38."""
    with pytest.raises(IdentifiantInvalide, match="obligatoire"):
        verifier_titulaire(nom, "CEJ")


def test_holder_extra_spaces_do_not_count():
    """R38: spaces collapsed before counting."""
    assert verifier_titulaire("  MARTIN   LUCAS  ", "PACEA") == "MARTIN LUCAS"


# --- R77 : textes et références SEPA -------------------------------------------------------------


@pytest.mark.parametrize(
    ("texte", "max_len", "attendu"),
    [
        ("Éloïse Müller & Fils", 70, "Eloise Muller + Fils"),
        ("François  Lœuvre", 70, "Francois Loeuvre"),
        ("ALLOC CEJ 05/2025 N° PARCOURS 123456", 140, "ALLOC CEJ 05/2025 No PARCOURS 123456"),
        ("Jean_Pierre; «Dupont»", 70, "Jean-Pierre, Dupont"),
        ("A" * 80, 70, "A" * 70),
        ("ABC DEF", 4, "ABC"),
        ("", 70, ""),
        (None, 70, ""),
    ],
)
def test_sepa_text_is_transliterated_and_truncated(texte, max_len, attendu):
    """R77: restricted Latin character set, names ≤ 70, remittance ≤ 140."""
    assert texte_sepa(texte, max_len) == attendu


def test_sepa_text_only_uses_the_sepa_character_set():
    """R77."""
    autorises = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
    assert set(texte_sepa("Zoë @ l'hôtel #3 — 50 % ½ €!*", 140)) <= autorises


@settings(max_examples=500, deadline=None)
@given(texte=st.one_of(st.none(), st.text(alphabet=st.sampled_from(
           "aZ09/-?:().,'+ " "  \t\néÜœ&_;\"!°@#€"), max_size=30), st.text(max_size=30)),
       max_len=st.integers(min_value=1, max_value=35))
def test_sepa_text_shortcut_returns_what_the_full_cleaning_returns_R77(texte, max_len):
    """R77: a text already in the SEPA set is returned as is (the shortcut of texte_sepa); for any text, mostly
    SEPA characters with spaces, accents and substituted signs mixed in, the result is the full cleaning's."""
    from backoffice.rules.identifiants import _texte_sepa_complet
    assert texte_sepa(texte, max_len) == _texte_sepa_complet(texte, max_len)


def test_end_to_end_id_joins_its_parts():
    """R77: EndToEndId ≤ 35, e.g. CEJ-202505-000123."""
    assert end_to_end_id("CEJ", "202505", "000123") == "CEJ-202505-000123"
    assert end_to_end_id("pacea", date(2025, 6, 1), 42) == "PACEA-20250601-42"


def test_end_to_end_id_is_deterministic_and_at_most_35_characters():
    """R77."""
    long_1 = end_to_end_id("CEJ", "202505", "X" * 40, 1)
    long_2 = end_to_end_id("CEJ", "202505", "X" * 40, 2)
    assert len(long_1) <= 35 and len(long_2) <= 35
    assert long_1 == end_to_end_id("CEJ", "202505", "X" * 40, 1)
    assert long_1 != long_2
    assert long_1.startswith("CEJ-202505-")


def test_end_to_end_id_drops_characters_outside_a_z_0_9():
    """R77: EndToEndId in the restricted character set."""
    assert end_to_end_id("CEJ", "n° 12/3") == "CEJ-NO123"


def test_end_to_end_id_needs_a_prefix():
    """R77."""
    with pytest.raises(ValueError):
        end_to_end_id("", "1")
