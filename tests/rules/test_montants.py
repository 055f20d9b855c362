"""Montants CEJ / PACEA et corrections : exemples E1-E6, E8 de rules.md, barème R21, R24-R34, R46-R47."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.rules.montants import (
    CATEGORIE_PAR_TYPE,
    CategorieRessource,
    NatureDifferentiel,
    TypeRessource,
    age_eligible_cej,
    apres_ressources_differentielles,
    calculer_allocation,
    categorie_ressource,
    differentiel,
    montant_cej,
    montant_forfaitaire_cej,
    montant_pacea,
    nature_differentiel,
    pacea_eligible,
    plafond_pacea_annuel,
    plafond_pacea_mensuel,
    revenu_micro_entrepreneur,
    smic_brut_mensuel,
)
from backoffice.rules.params import HorsBareme, PlafondsPacea

SMIC_2024_11 = Decimal("1801.80")
F_2025 = Decimal("561.68")
NI = "non_imposable"  # non-taxable household


# --- R21 : barème du montant forfaitaire ---------------------------------------------------------

# (first day in force, adult non-taxable, adult band 1, minor)
R21 = [
    (date(2022, 3, 1), "500.00", "300.00", "200.00"),
    (date(2022, 7, 1), "520.00", "312.00", "208.00"),
    (date(2023, 4, 1), "528.00", "316.80", "211.20"),
    (date(2024, 4, 1), "552.29", "331.37", "220.92"),
    (date(2025, 4, 1), "561.68", "337.00", "224.68"),
]


@pytest.mark.parametrize(("debut", "majeur", "tranche_1", "mineur"), R21)
def test_forfait_cej_applies_the_row_from_its_first_day(debut, majeur, tranche_1, mineur):
    """R21: each revaluation applies from its first day."""
    assert montant_forfaitaire_cej(debut, mineur=False, tranche_fiscale="non_imposable") == Decimal(majeur)
    assert montant_forfaitaire_cej(debut, mineur=False, tranche_fiscale="tranche_1") == Decimal(tranche_1)
    assert montant_forfaitaire_cej(debut, mineur=True, tranche_fiscale="non_imposable") == Decimal(mineur)
    assert montant_forfaitaire_cej(debut, mineur=True, tranche_fiscale="tranche_1") == Decimal(mineur)


@pytest.mark.parametrize(("avant", "apres"), list(zip(R21, R21[1:])), ids=[str(r[0]) for r in R21[1:]])
def test_forfait_cej_day_before_revaluation_keeps_previous_row(avant, apres):
    """R21: the day before a revaluation still uses the previous amounts, the day itself the new ones."""
    veille = date.fromordinal(apres[0].toordinal() - 1)
    for mineur, tranche, colonne in ((False, "non_imposable", 1), (False, "tranche_1", 2), (True, "tranche_1", 3)):
        assert montant_forfaitaire_cej(veille, mineur=mineur, tranche_fiscale=tranche) == Decimal(avant[colonne])
        assert montant_forfaitaire_cej(apres[0], mineur=mineur, tranche_fiscale=tranche) == Decimal(apres[colonne])


def test_forfait_cej_last_row_stays_in_force_until_a_new_one():
    """R21: no 2026 value was found, so the 2025 row still applies."""
    assert montant_forfaitaire_cej(date(2026, 6, 1), mineur=False, tranche_fiscale="non_imposable") == F_2025


def test_forfait_cej_before_march_2022_is_refused():
    """R21: the CEJ starts on 2022-03-01; there is no amount before."""
    with pytest.raises(HorsBareme, match="01/03/2022"):
        montant_forfaitaire_cej(date(2022, 2, 28), mineur=False, tranche_fiscale="non_imposable")


@pytest.mark.parametrize("mineur", [False, True])
def test_forfait_cej_is_zero_above_band_1(mineur):
    """R21: a household taxed above band 1 gets nothing, adult or minor (W1 eligibility: band ≤ 1)."""
    assert montant_forfaitaire_cej(date(2025, 6, 1), mineur=mineur, tranche_fiscale="au_dela") == Decimal("0.00")


def test_forfait_cej_unknown_band_is_refused_in_french():
    """R21: three household situations only."""
    with pytest.raises(ValueError, match="Tranche fiscale « tranche_2 » inconnue"):
        montant_forfaitaire_cej(date(2025, 6, 1), mineur=False, tranche_fiscale="tranche_2")


@pytest.mark.parametrize(
    ("jour", "smic"),
    [
        (date(2022, 1, 1), "1603.12"),
        (date(2022, 4, 30), "1603.12"),
        (date(2022, 5, 1), "1645.58"),
        (date(2023, 4, 30), "1709.28"),
        (date(2023, 5, 1), "1747.20"),
        (date(2024, 1, 1), "1766.92"),
        (date(2024, 10, 31), "1766.92"),
        (date(2024, 11, 1), "1801.80"),
        (date(2025, 12, 31), "1801.80"),
    ],
)
def test_smic_brut_mensuel_by_date(jour, smic):
    """R25 uses the gross monthly SMIC in force (W1)."""
    assert smic_brut_mensuel(jour) == Decimal(smic)


@pytest.mark.parametrize(("age", "rqth", "eligible"), [(15, False, False), (16, False, True), (25, False, True),
                                                       (26, False, False), (28, True, True), (29, True, True),
                                                       (30, True, False)])
def test_age_eligibility_cej_16_to_25_or_29_with_rqth(age, rqth, eligible):
    """rules.md 2.3: 16 to 25 révolus, 29 révolus with an RQTH (E1: age 28 with RQTH → 500)."""
    assert age_eligible_cej(age, rqth=rqth) is eligible


# --- Catégories de ressources (R24-R29) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("libelle", "categorie"),
    [
        ("Salaire", "degressive"),
        ("Allocation chômage (ARE)", "deductible"),
        ("Rémunération de formation", "deductible"),
        ("Rémunération E2C", "deductible"),
        ("Revenu micro-entrepreneur", "degressive"),
        ("Indemnité activité partielle", "degressive"),
        ("Indemnités journalières", "degressive"),
        ("Indemnité service civique", "suspensive"),
        ("Volontariat des armées / SMV / SMA", "suspensive"),
        ("RSA", "non_cumulable"),
        ("Prime d'activité", "non_cumulable"),
        ("Revenu écologique (Région)", "exclue"),
    ],
)
def test_resource_label_maps_to_its_category(libelle, categorie):
    """R24 deductible, R25 degressive, R26 suspensive, R27 not combinable, R29 excluded."""
    assert categorie_ressource(libelle) == categorie


def test_every_resource_type_has_a_category():
    """R24-R29: no resource type is left without a treatment."""
    assert set(CATEGORIE_PAR_TYPE) == set(TypeRessource)


def test_a_category_can_be_given_directly_for_an_unlisted_resource():
    """R24: a resource outside the list is typed by its category."""
    assert categorie_ressource("deductible") is CategorieRessource.DEDUCTIBLE


def test_unknown_resource_type_is_refused_in_french():
    """R24-R29."""
    with pytest.raises(ValueError, match="Type de ressource « Loto » inconnu"):
        categorie_ressource("Loto")


# --- E1 : cas de test OpenFisca ------------------------------------------------------------------

MARS_2022 = date(2022, 3, 1)


def test_e1_salary_600_in_march_2022_gives_347_33():
    """E1 / R25: 500 − (600 − 300) × 500 / (0,8 × 1 603,12 − 300) = 347,33."""
    r = calculer_allocation("CEJ", MARS_2022, [("Salaire", Decimal("600"))], mineur=False, tranche_fiscale=NI)
    assert r.montant == Decimal("347.33")
    assert (r.forfait, r.smic, r.degressives) == (Decimal("500.00"), Decimal("1603.12"), Decimal("600"))
    assert r.reduction_degressive == Decimal("152.67")
    assert r.motif_nul is None


@pytest.mark.parametrize(
    ("mineur", "lignes", "attendu"),
    [
        (True, [], "200.00"),  # age 16
        (False, [("Salaire", Decimal("200"))], "500.00"),  # age 18, pay under 300
        (False, [("RSA", Decimal("400"))], "0.00"),  # R27
        (False, [("Prime d'activité", Decimal("150"))], "0.00"),  # R27
        (False, [("Allocation chômage (ARE)", Decimal("600"))], "0.00"),  # R24, fully deductible
    ],
    ids=["age16", "age18-salaire200", "rsa", "prime-activite", "chomage600"],
)
def test_e1_other_lines(mineur, lignes, attendu):
    """E1: the other lines of the OpenFisca test (R21, R24, R25, R27)."""
    r = calculer_allocation("CEJ", MARS_2022, lignes, mineur=mineur, tranche_fiscale=NI)
    assert r.montant == Decimal(attendu)


def test_e1_student_gets_nothing():
    """E1 (W1): a youth in education is not eligible."""
    r = calculer_allocation("CEJ", MARS_2022, [], tranche_fiscale=NI, etudiant=True)
    assert r.montant == Decimal("0.00")
    assert "études" in r.motif_nul


def test_e1_age_28_with_rqth_gets_full_amount():
    """E1: age 28 with an RQTH is eligible and gets 500."""
    assert age_eligible_cej(28, rqth=True)
    r = calculer_allocation("CEJ", MARS_2022, [], tranche_fiscale=NI)
    assert r.montant == Decimal("500.00")


def test_e1_rsa_gives_zero_with_reason_r27():
    r = calculer_allocation("CEJ", MARS_2022, [("RSA", Decimal("1"))], tranche_fiscale=NI)
    assert r.montant == Decimal("0.00")
    assert "(R27)" in r.motif_nul


def test_e1_unemployment_600_gives_zero_with_reason_r24():
    r = calculer_allocation("CEJ", MARS_2022, [("Allocation chômage (ARE)", Decimal("600"))], tranche_fiscale=NI)
    assert r.montant == Decimal("0.00")
    assert "(R24)" in r.motif_nul


# --- E2 : mois avec salaire (juin 2025, ressources de mai) ---------------------------------------

JUIN_2025 = date(2025, 6, 1)


def test_e2_june_2025_with_600_of_may_pay_gives_414_06():
    """E2 / R25 / R28: 561,68 − 300 × 561,68 / 1 141,44 = 414,06, on May's resources."""
    r = calculer_allocation("CEJ", JUIN_2025, [("Salaire", Decimal("600"))], mineur=False, tranche_fiscale=NI)
    assert r.montant == Decimal("414.06")
    assert r.mois_ressources == date(2025, 5, 1)
    assert (r.forfait, r.smic) == (F_2025, SMIC_2024_11)


def test_e2_band_1_household_with_450_gives_292_71():
    """E2 / R21 / R25: F = 337,00, pay 450 → 292,71."""
    r = calculer_allocation("CEJ", JUIN_2025, [("Salaire", Decimal("450"))], tranche_fiscale="tranche_1")
    assert r.forfait == Decimal("337.00")
    assert r.montant == Decimal("292.71")


@pytest.mark.parametrize("salaire", ["1441.44", "1441.45", "2000.00", "5000"])
def test_e2_pay_from_80_percent_of_smic_gives_zero(salaire):
    """E2 / R25: the allowance reaches 0 when P = 0,8 × SMIC = 1 441,44."""
    assert montant_cej(F_2025, Decimal("0"), Decimal(salaire), SMIC_2024_11) == Decimal("0.00")


def test_e2_zero_by_pay_explains_r25():
    r = calculer_allocation("CEJ", JUIN_2025, [("Salaire", Decimal("1500"))], tranche_fiscale=NI)
    assert r.montant == Decimal("0.00")
    assert "R25" in r.motif_nul


@pytest.mark.parametrize("salaire", ["0", "1", "299.99", "300", "300.00"])
def test_e2_pay_up_to_300_keeps_full_amount(salaire):
    """E2 / R25: partly deductible resources are ignored up to 300 €."""
    assert montant_cej(F_2025, Decimal("0"), Decimal(salaire), SMIC_2024_11) == F_2025


def test_e2_just_under_extinction_is_a_few_cents():
    """R25: 1 440 of pay leaves 561,68 × 1,44 / 1 141,44 = 0,7086 → 0,71."""
    assert montant_cej(F_2025, Decimal("0"), Decimal("1440.00"), SMIC_2024_11) == Decimal("0.71")


# --- E3 : chômage et salaire ---------------------------------------------------------------------


def test_e3_unemployment_200_is_fully_deducted():
    """E3 / R24: 561,68 − 200 = 361,68."""
    r = calculer_allocation("CEJ", JUIN_2025, [("Allocation chômage (ARE)", Decimal("200"))], tranche_fiscale=NI)
    assert r.montant == Decimal("361.68")
    assert r.deductibles == Decimal("200")


def test_e3_unemployment_150_and_pay_400_gives_362_47():
    """E3 / R24 + R25: 561,68 − 150 − 100 × 561,68 / 1 141,44 = 362,47."""
    lignes = [("Allocation chômage (ARE)", Decimal("150")), ("Salaire", Decimal("400"))]
    r = calculer_allocation("CEJ", JUIN_2025, lignes, tranche_fiscale=NI)
    assert r.montant == Decimal("362.47")
    assert montant_cej(F_2025, Decimal("150"), Decimal("400"), SMIC_2024_11) == Decimal("362.47")


def test_e3_pay_lines_add_up_before_the_300_allowance():
    """R25: two pay lines of 200 count as 400 (300 ignored once, not per line)."""
    lignes = [("Salaire", Decimal("200")), ("Indemnités journalières", Decimal("200"))]
    r = calculer_allocation("CEJ", JUIN_2025, lignes, tranche_fiscale=NI)
    assert r.montant == montant_cej(F_2025, Decimal("0"), Decimal("400"), SMIC_2024_11)


def test_excluded_resource_does_not_change_the_amount():
    """R29: the Région's revenu écologique is ignored."""
    r = calculer_allocation("CEJ", JUIN_2025, [("Revenu écologique (Région)", Decimal("900"))], tranche_fiscale=NI)
    assert r.montant == F_2025
    assert r.exclues == Decimal("900")


@pytest.mark.parametrize("libelle", ["Indemnité service civique", "Volontariat des armées / SMV / SMA"])
def test_suspensive_resource_suspends_the_allowance(libelle):
    """R26: armed-forces volunteering, SMV, SMA, service civique → allowance suspended."""
    r = calculer_allocation("CEJ", JUIN_2025, [(libelle, Decimal("504.98"))], tranche_fiscale=NI)
    assert r.montant == Decimal("0.00")
    assert "(R26)" in r.motif_nul
    assert montant_cej(F_2025, 0, 0, SMIC_2024_11, suspensive=True) == Decimal("0.00")


def test_non_combinable_flag_gives_zero():
    """R27: RSA or prime d'activité."""
    assert montant_cej(F_2025, 0, 0, SMIC_2024_11, non_cumulable=True) == Decimal("0.00")


def test_household_above_band_1_gives_zero_with_reason_r21():
    r = calculer_allocation("CEJ", JUIN_2025, [], tranche_fiscale="au_dela")
    assert r.montant == Decimal("0.00")
    assert "(R21)" in r.motif_nul


def test_forfait_from_the_cerfa_overrides_the_table():
    """R22: the flat amount is fixed when the contract is signed."""
    r = calculer_allocation("CEJ", JUIN_2025, [], forfait=Decimal("552.29"))
    assert r.montant == Decimal("552.29")


def test_cej_without_band_nor_forfait_is_refused():
    """R21/R22: the flat amount needs the cerfa amount or the household band."""
    with pytest.raises(ValueError, match="tranche fiscale"):
        calculer_allocation("CEJ", JUIN_2025, [])


# --- E4 : micro-entrepreneurs (R32) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ca", "activite", "retenu"),
    [
        ("1500", "achat_revente", "435.00"),
        ("1000", "bic_services", "500.00"),
        ("900", "bnc", "594.00"),
        ("2000", "agricole", "260.00"),
        ("0", "bnc", "0.00"),
    ],
)
def test_e4_micro_entrepreneur_countable_income(ca, activite, retenu):
    """E4 / R32: CA × (1 − 71 % | 50 % | 34 % | 87 %)."""
    assert revenu_micro_entrepreneur(Decimal(ca), activite) == Decimal(retenu)


def test_e4_bic_services_income_fed_into_cej_gives_463_26():
    """E4 / R25 / R32: 1 000 € of BIC services CA → 500 € countable → 561,68 − 200 × 561,68/1 141,44."""
    retenu = revenu_micro_entrepreneur(Decimal("1000"), "bic_services")
    r = calculer_allocation("CEJ", JUIN_2025, [("Revenu micro-entrepreneur", retenu)], tranche_fiscale=NI)
    assert r.montant == Decimal("463.26")


def test_e4_unknown_activity_is_refused_in_french():
    """R32: four activity kinds."""
    with pytest.raises(ValueError, match="Activité « liberal » inconnue"):
        revenu_micro_entrepreneur(Decimal("100"), "liberal")


# --- E5, E6 : corrections et reversements (R46, R47) ---------------------------------------------


def test_e5_undeclared_800_pay_gives_corrected_315_64_and_246_04_trop_percu():
    """E5 / R46: paid 561,68; April pay 800 → corrected 315,64 → reversement of 246,04."""
    corrige = montant_cej(F_2025, Decimal("0"), Decimal("800"), SMIC_2024_11)
    assert corrige == Decimal("315.64")
    assert differentiel(F_2025, corrige) == Decimal("-246.04")
    assert nature_differentiel(F_2025, corrige) is NatureDifferentiel.TROP_PERCU
    assert nature_differentiel(F_2025, corrige) == "trop_percu"


def test_e5_reverse_case_pays_a_246_04_shortfall():
    """E5 / R46: paid 315,64, correction finds no resources → the ASP pays 246,04 more."""
    corrige = montant_cej(F_2025, Decimal("0"), Decimal("0"), SMIC_2024_11)
    assert differentiel(Decimal("315.64"), corrige) == Decimal("246.04")
    assert nature_differentiel(Decimal("315.64"), corrige) is NatureDifferentiel.COMPLEMENT


def test_correction_to_the_same_amount_is_no_difference():
    """R46."""
    assert differentiel(Decimal("414.06"), Decimal("414.06")) == Decimal("0.00")
    assert nature_differentiel(Decimal("414.06"), Decimal("414.06")) == "aucun"


def test_e6_full_amount_as_differential_resources_gives_zero_and_full_reversement():
    """E6 / R47: 414,06 entered as ressources différentielles → 0,00, reversement 414,06."""
    r = calculer_allocation(
        "CEJ", JUIN_2025, [("Salaire", Decimal("600"))], tranche_fiscale=NI,
        ressources_differentielles=Decimal("414.06"),
    )
    assert r.montant == Decimal("0.00")
    assert "(R47)" in r.motif_nul
    assert differentiel(Decimal("414.06"), r.montant) == Decimal("-414.06")
    assert nature_differentiel(Decimal("414.06"), r.montant) is NatureDifferentiel.TROP_PERCU


def test_differential_resources_never_go_below_zero():
    """R47."""
    assert apres_ressources_differentielles(Decimal("100.00"), Decimal("250.00")) == Decimal("0.00")
    assert apres_ressources_differentielles(Decimal("414.06"), Decimal("14.06")) == Decimal("400.00")


# --- E8, R33, R34 : PACEA ------------------------------------------------------------------------


def test_e8_cej_of_350_in_previous_month_blocks_pacea():
    """E8 / R33: a CEJ allocation of 350 € received in M-1 exceeds 300 €."""
    assert not pacea_eligible(Decimal("0"), cej_mois_precedent=Decimal("350"))
    assert montant_pacea(Decimal("200"), Decimal("0"), Decimal("350"), Decimal("0")) == Decimal("0.00")


def test_e8_cej_of_280_and_no_other_resource_is_eligible():
    """E8 / R33."""
    assert pacea_eligible(Decimal("0"), cej_mois_precedent=Decimal("280"))
    assert montant_pacea(Decimal("200"), Decimal("0"), Decimal("280"), Decimal("0")) == Decimal("200.00")


@pytest.mark.parametrize(("ressources", "cej", "eligible"), [("300", "0", True), ("300.00", "0", True),
                                                             ("300.01", "0", False), ("200", "100", True),
                                                             ("200", "100.01", False)])
def test_pacea_threshold_is_300_inclusive(ressources, cej, eligible):
    """R33: ≤ 300 € in total."""
    assert pacea_eligible(Decimal(ressources), Decimal(cej)) is eligible


def test_pacea_default_caps_are_528_monthly_and_6_times_yearly():
    """R34: 528 € [unconfirmed, configurable], annual cap 6× since 2021."""
    assert plafond_pacea_mensuel() == Decimal("528.00")
    assert plafond_pacea_annuel() == Decimal("3168.00")


def test_pacea_amount_is_capped_monthly():
    """R34."""
    assert montant_pacea(Decimal("800"), Decimal("0"), Decimal("0"), Decimal("0")) == Decimal("528.00")


@pytest.mark.parametrize(("deja_verse", "attendu"), [("0", "528.00"), ("2640.00", "528.00"), ("2900.00", "268.00"),
                                                     ("3168.00", "0.00"), ("4000.00", "0.00")])
def test_pacea_amount_is_capped_by_what_is_left_of_the_yearly_cap(deja_verse, attendu):
    """R34: 6 × 528 = 3 168 € a year."""
    assert montant_pacea(Decimal("600"), Decimal("100"), Decimal("0"), Decimal(deja_verse)) == Decimal(attendu)


def test_pacea_caps_are_configurable():
    """R34: the monthly cap is unconfirmed, so it is a parameter."""
    plafonds = PlafondsPacea(mensuel=Decimal("600.00"))
    assert plafond_pacea_mensuel(plafonds) == Decimal("600.00")
    assert plafond_pacea_annuel(plafonds) == Decimal("3600.00")
    assert montant_pacea(Decimal("700"), Decimal("0"), plafonds=plafonds) == Decimal("600.00")


def test_pacea_through_calculer_allocation_counts_every_resource_but_excluded_ones():
    """R33: pay, internship and allowances count; the revenu écologique (R29) does not."""
    lignes = [("Salaire", Decimal("250")), ("Revenu écologique (Région)", Decimal("400"))]
    r = calculer_allocation("pacea", JUIN_2025, lignes, montant_demande=Decimal("300"))
    assert r.montant == Decimal("300.00")
    assert r.forfait is None
    r = calculer_allocation(
        "PACEA", JUIN_2025, lignes, montant_demande=Decimal("300"), cej_mois_precedent=Decimal("60")
    )
    assert r.montant == Decimal("0.00")
    assert "(R33)" in r.motif_nul


def test_pacea_yearly_cap_reached_is_explained():
    r = calculer_allocation("PACEA", JUIN_2025, [], montant_demande=Decimal("300"), deja_verse_annee=Decimal("3168"))
    assert r.montant == Decimal("0.00")
    assert "(R34)" in r.motif_nul


def test_pacea_needs_a_requested_amount():
    """R33/R34: the ML decides the PACEA amount, the rules only cap it."""
    with pytest.raises(ValueError, match="montant demandé"):
        calculer_allocation("PACEA", JUIN_2025, [])


# --- Garde-fous ----------------------------------------------------------------------------------


def test_float_amounts_are_refused():
    """R25: Decimal in, Decimal out; a float has already lost cents."""
    with pytest.raises(TypeError, match="Decimal attendu"):
        montant_cej(561.68, Decimal("0"), Decimal("0"), SMIC_2024_11)


def test_negative_resource_is_refused():
    """R29: a declared resource is a net amount ≥ 0."""
    with pytest.raises(ValueError, match="négatif"):
        calculer_allocation("CEJ", JUIN_2025, [("Salaire", Decimal("-10"))], tranche_fiscale=NI)


def test_unknown_dispositif_is_refused():
    """R41/R21: allowances exist for CEJ and PACEA only."""
    with pytest.raises(ValueError, match="CEJ ou PACEA"):
        calculer_allocation("NACRE", JUIN_2025, [], tranche_fiscale=NI)


def test_rounding_is_half_up():
    """rules.md §4: half-up to the cent (99,985 → 99,99, where half-even would give 99,98)."""
    assert montant_cej(Decimal("100"), Decimal("0.015"), Decimal("0"), SMIC_2024_11) == Decimal("99.99")
    assert montant_cej(Decimal("100"), Decimal("0.0151"), Decimal("0"), SMIC_2024_11) == Decimal("99.98")


def test_rounding_happens_once_at_the_end():
    """rules.md §4: D = 0,004 and a reduction of 0,004 give 99,992 → 99,99; rounding each term first
    would have given 100,00."""
    p = Decimal("300") + Decimal("0.004") * (Decimal("0.8") * SMIC_2024_11 - 300) / 100
    assert montant_cej(Decimal("100"), Decimal("0.004"), p, SMIC_2024_11) == Decimal("99.99")


montants = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2)


@given(d=montants, p=montants)
def test_cej_amount_stays_between_zero_and_forfait(d, p):
    """R24, R25: resources can only lower the allowance, never below 0."""
    a = montant_cej(F_2025, d, p, SMIC_2024_11)
    assert Decimal("0") <= a <= F_2025
    assert a == a.quantize(Decimal("0.01"))


@given(d=montants, p=montants, extra=montants)
def test_cej_amount_never_rises_with_more_resources(d, p, extra):
    """R24, R25: the allowance is non-increasing in each kind of resource."""
    a = montant_cej(F_2025, d, p, SMIC_2024_11)
    assert montant_cej(F_2025, d + extra, p, SMIC_2024_11) <= a
    assert montant_cej(F_2025, d, p + extra, SMIC_2024_11) <= a
