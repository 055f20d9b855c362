"""Politique de mot de passe (R67, exemple E11)."""

from __future__ import annotations

import pytest

from backoffice.rules.motdepasse import MOTS_DE_PASSE_COURANTS, mot_de_passe_conforme, verifier_mot_de_passe

CHIFFRE = "Le mot de passe doit contenir au moins un chiffre."
LONGUEUR = "Le mot de passe doit contenir au moins 8 caractères."
SPECIAL = "Le mot de passe doit contenir au moins un caractère spécial (par exemple ! ? @ # - _)."
TROP_LONG = "Le mot de passe ne doit pas dépasser 256 caractères."
COURANT = "Ce mot de passe est trop courant : choisissez-en un autre."
LOGIN = "Le mot de passe ne doit pas contenir l'identifiant."


@pytest.mark.parametrize(
    ("mot_de_passe", "erreurs"),
    [
        ("abcdefg1!", []),
        ("abcdefgh!", [CHIFFRE]),
        ("abc1!", [LONGUEUR]),
        ("abcdefg12", [SPECIAL]),
    ],
    ids=["ok", "sans-chiffre", "trop-court", "sans-special"],
)
def test_e11_password_checks(mot_de_passe, erreurs):
    """E11 / R67: ≥ 8 characters, at least one digit and one special character."""
    assert verifier_mot_de_passe(mot_de_passe) == erreurs


def test_every_failure_is_listed():
    """R67: the user sees everything to fix at once."""
    assert verifier_mot_de_passe("abc") == [LONGUEUR, CHIFFRE, SPECIAL]
    assert verifier_mot_de_passe("") == [LONGUEUR, CHIFFRE, SPECIAL]


def test_exactly_8_characters_is_enough():
    """R67."""
    assert verifier_mot_de_passe("abcdef1!") == []


def test_256_characters_are_accepted_and_257_refused_without_truncation():
    """R67 [derived]: an explicit maximum, never a silent truncation."""
    base = "Une-phrase-de-passe-1 "
    ok = (base * 20)[:256]
    assert len(ok) == 256 and verifier_mot_de_passe(ok) == []
    assert verifier_mot_de_passe(ok + "x") == [TROP_LONG]


def test_long_passphrase_meeting_the_rule_is_accepted():
    """R67: a passphrase with a digit and a space or punctuation passes."""
    assert mot_de_passe_conforme("le chat de Marie a 3 pattes et demie")


def test_space_counts_as_a_special_character():
    """R67 [derived]: passphrases with spaces meet the special-character rule."""
    assert verifier_mot_de_passe("correct horse battery 7") == []


def test_accented_letters_are_not_special_characters():
    """R67: é is a letter."""
    assert verifier_mot_de_passe("éléphant12") == [SPECIAL]


@pytest.mark.parametrize("courant", ["Azerty123!", "P@ssw0rd", "motdepasse1!", "MOTDEPASSE1!", "Bienvenue1!"])
def test_common_passwords_are_refused_even_if_they_meet_the_composition_rule(courant):
    """R67 [derived]: a built-in list of common passwords, compared case-insensitively."""
    assert verifier_mot_de_passe(courant) == [COURANT]


def test_common_password_list_has_about_200_entries_in_lower_case():
    """R67 [derived]."""
    assert 180 <= len(MOTS_DE_PASSE_COURANTS) <= 400
    assert all(m == m.casefold() for m in MOTS_DE_PASSE_COURANTS)


@pytest.mark.parametrize(
    ("mot_de_passe", "login"),
    [
        ("jdupont-2025!", "jdupont"),
        ("JDupont-2025!", "jdupont"),
        ("x1!jDUPONTx", "JDupont"),
        ("jdup1!ont#", "jdup1!ont#"),
    ],
)
def test_password_containing_the_login_is_refused(mot_de_passe, login):
    """R67 [derived]."""
    assert LOGIN in verifier_mot_de_passe(mot_de_passe, login=login)


def test_very_short_login_is_only_refused_when_equal():
    """R67 [derived]: a 2-letter login would otherwise forbid half of all passwords."""
    assert verifier_mot_de_passe("abcdefg1!", login="ab") == []


def test_demo_password_of_the_seeds_is_accepted():
    """R67: the seeded demo password must itself pass the policy."""
    assert verifier_mot_de_passe("Demo-2026!", login="conseiller1") == []
