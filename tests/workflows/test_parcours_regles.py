"""The pure rules of enrolments (backoffice/rules/parcours.py): durations, ages, renewals, R37 rates."""

from datetime import date
from decimal import Decimal

from backoffice.rules import parcours as r
from backoffice.rules.montants import appliquer_sanction_r37, calculer_allocation

CEJ = r.Catalogue("CEJ", 1, 12, True, 1, 6, True, 16, 25)
RE = r.Catalogue("RE", 1, 3, True, 1, 2, False, 16, 25)
PACEA = r.Catalogue("PACEA", 1, 24, False, 0, None, True, 16, 25)
JEUNE = r.Jeune(naissance=date(2004, 5, 17), inscrit_france_travail=True)


def test_months_are_added_calendar_wise():
    assert r.ajouter_mois(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert r.ajouter_mois(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert r.ajouter_mois(date(2025, 11, 15), 3) == date(2026, 2, 15)
    assert r.anniversaire(date(2004, 2, 29), 21) == date(2025, 3, 1)


def test_relation_entreprise_3_months_renewed_once_for_2_R1():
    assert r.fin_prevue(RE, JEUNE, date(2025, 3, 3)) == date(2025, 6, 2)
    assert r.refus_renouvellement(RE, JEUNE, date(2025, 3, 3), date(2025, 6, 2), 0, date(2025, 5, 1)) is None
    assert r.fin_renouvellement(RE, JEUNE, date(2025, 3, 3), date(2025, 6, 2), 0) == date(2025, 8, 2)
    assert r.refus_renouvellement(RE, JEUNE, date(2025, 3, 3), date(2025, 8, 2), 1, date(2025, 7, 1)).endswith("(R1).")


def test_cej_12_plus_6_months_at_most_and_never_past_the_day_before_26():
    assert r.fin_renouvellement(CEJ, JEUNE, date(2025, 3, 3), date(2026, 3, 2), 0) == date(2026, 9, 2)
    vieux = r.Jeune(naissance=date(2000, 7, 1), inscrit_france_travail=True)
    assert r.fin_prevue(CEJ, vieux, date(2025, 3, 3)) == date(2026, 3, 2)
    assert r.fin_renouvellement(CEJ, vieux, date(2025, 3, 3), date(2026, 3, 2), 0) == date(2026, 6, 30)


def test_pacea_is_not_renewed_R15_and_ends_with_the_permit_R17():
    assert "(R15, R17)" in r.refus_renouvellement(PACEA, JEUNE, date(2025, 3, 3), date(2027, 3, 2), 0, date(2025, 4, 1))
    etranger = r.Jeune(naissance=date(2004, 5, 17), ressortissant_eee=False, numero_agdref="7512345678",
                       fin_titre_sejour=date(2025, 11, 30), inscrit_france_travail=True)
    assert r.fin_prevue(PACEA, etranger, date(2025, 3, 3)) == date(2025, 11, 30)
    assert any("(R17)" in x for x in r.refus_ouverture(PACEA, etranger, date(2025, 3, 3), date(2026, 1, 31)))
    sans_agdref = r.Jeune(naissance=date(2004, 5, 17), ressortissant_eee=False, inscrit_france_travail=True)
    assert any("(R14)" in x for x in r.refus_ouverture(PACEA, sans_agdref, date(2025, 3, 3)))


def test_pacea_france_travail_registration_from_2025_R13():
    non_inscrit = r.Jeune(naissance=date(2004, 5, 17), inscrit_france_travail=False)
    assert any("(R13)" in x for x in r.refus_ouverture(PACEA, non_inscrit, date(2025, 1, 2)))


def test_sanction_rates_take_effect_the_month_after_notification_R37():
    assert r.mois_effet_sanction(date(2025, 12, 5)) == date(2026, 1, 1)
    sanctions = [(1, date(2025, 4, 1)), (2, date(2025, 6, 1))]
    assert [r.taux_sanction(date(2025, m, 1), sanctions) for m in (3, 4, 5, 6)] == [
        Decimal("0"), Decimal("0.25"), Decimal("0"), Decimal("1.00")]


def test_the_sanction_hook_cuts_the_cej_allowance_only_R37():
    cej = calculer_allocation("CEJ", date(2025, 4, 1), [], forfait=Decimal("561.68"))
    assert appliquer_sanction_r37(cej, Decimal("0.25")).montant == Decimal("421.26")
    zero = appliquer_sanction_r37(cej, Decimal("1"))
    assert zero.montant == Decimal("0.00") and "(R37)" in zero.motif_nul
    assert appliquer_sanction_r37(cej, Decimal("0")) is cej
    pacea = calculer_allocation("PACEA", date(2025, 4, 1), [], montant_demande=Decimal("300.00"))
    assert appliquer_sanction_r37(pacea, Decimal("0.25")).montant == pacea.montant
