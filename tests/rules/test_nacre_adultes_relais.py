"""Pure rules of NACRE (R51) and Adultes-relais (R52), the worked examples with their arithmetic and the barème's
date; and a property: the money of a NACRE convention never exceeds its subsidy, whatever the activity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.rules import adultes_relais as ar
from backoffice.rules import nacre
from backoffice.rules.params import HorsBareme


# ---- NACRE (R51) ------------------------------------------------------------------------------------------------
def test_R51_the_advance_is_25_percent_of_the_annual_subsidy():
    # barème NACRE_TAUX_AVANCE, line of 2009-01-01 (25 %, ASP page of 05/06/2015): 90 000,00 × 0,25 = 22 500,00
    assert nacre.avance(D("90000.00"), date(2025, 2, 15)) == D("22500.00")
    # 61 234,50 × 0,25 = 15 308,625 → 15 308,63 (half up)
    assert nacre.avance(D("61234.50"), date(2025, 2, 15)) == D("15308.63")
    with pytest.raises(HorsBareme):
        nacre.avance(D("90000.00"), date(2008, 12, 31))


def test_R51_the_month_is_priced_per_phase_and_the_advance_absorbs_the_first_activity():
    tarifs = {1: D("120.00"), 2: D("80.00"), 3: D("45.00")}
    # 40 × 120 + 25 × 80 + 60 × 45 = 4 800 + 2 000 + 2 700 = 9 500,00
    assert nacre.activite_du_mois({1: 40, 2: 25, 3: 60}, tarifs) == D("9500.00")
    plafond = nacre.plafond_subvention(D("90000.00"), date(2025, 1, 1), date(2027, 12, 31))
    assert plafond == D("270000.00")  # 3 started years × 90 000
    avance = nacre.Versements(avance=D("22500.00"))
    # month 1: 9 500 of activity, all absorbed by the 22 500 advance → 0
    assert nacre.mensualite(activite_cumulee=D("9500.00"), verse=avance, plafond=plafond) == D("0.00")
    # month 3: 28 500 of activity in all − 22 500 of advance − 0 already paid = 6 000,00
    assert nacre.mensualite(activite_cumulee=D("28500.00"), verse=avance, plafond=plafond) == D("6000.00")
    # month 4: 38 000 − 22 500 − 6 000 = 9 500,00
    assert nacre.mensualite(activite_cumulee=D("38000.00"),
                            verse=nacre.Versements(avance=D("22500.00"), mensualites=D("6000.00")),
                            plafond=plafond) == D("9500.00")


def test_R51_payments_never_exceed_the_subsidy_and_the_excess_advance_is_recovered():
    plafond = nacre.plafond_subvention(D("10000.00"), date(2025, 1, 1), date(2025, 12, 31))  # one year
    verse = nacre.Versements(avance=D("2500.00"), mensualites=D("6000.00"), expertises=D("1000.00"))
    # due 9 000 − 2 500 − 6 000 = 500, but only 10 000 − 9 500 = 500 left; then 50 000 of activity: still 500
    assert nacre.mensualite(activite_cumulee=D("9000.00"), verse=verse, plafond=plafond) == D("500.00")
    assert nacre.mensualite(activite_cumulee=D("50000.00"), verse=verse, plafond=plafond) == D("500.00")
    # an expertise invoice of 800 on a contract of 600: 600 at most, and 500 left of the subsidy → 500
    assert nacre.paiement_expertise(montant_contrat=D("600"), montant_facture=D("800"), verse=verse,
                                    plafond=plafond) == D("500")
    # the convention ends with 1 800 of activity for a 2 500 advance: 700,00 recovered
    assert nacre.excedent_avance(avance_versee=D("2500.00"), activite_totale=D("1800.00")) == D("700.00")
    assert nacre.excedent_avance(avance_versee=D("2500.00"), activite_totale=D("9000.00")) == D("0")


def test_R51_a_convention_covers_three_years_at_most():
    assert nacre.duree_valide(date(2025, 1, 1), date(2027, 12, 31))
    assert not nacre.duree_valide(date(2025, 1, 1), date(2028, 1, 1))


@settings(max_examples=200, deadline=None)
@given(annuelle=st.integers(1_000, 200_000), mois=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80),
                                                                      st.integers(0, 80)), min_size=1, max_size=36),
       expertises=st.lists(st.integers(1, 30_000), max_size=5))
def test_R51_whatever_the_activity_the_convention_pays_at_most_its_subsidy(annuelle, mois, expertises):
    tarifs = {1: D("150.00"), 2: D("90.00"), 3: D("40.00")}
    debut, fin = date(2025, 1, 1), date(2027, 12, 31)
    plafond = nacre.plafond_subvention(D(annuelle), debut, fin)
    v = nacre.Versements(avance=nacre.avance(D(annuelle), debut))
    activite = D("0")
    for k, (a, b, c) in enumerate(mois):
        activite += nacre.activite_du_mois({1: a, 2: b, 3: c}, tarifs)
        m = nacre.mensualite(activite_cumulee=activite, verse=v, plafond=plafond)
        assert m >= 0
        v = nacre.Versements(v.avance, v.mensualites + m, v.expertises)
        if k < len(expertises):
            e = nacre.paiement_expertise(montant_contrat=D(expertises[k]), montant_facture=D(expertises[k]),
                                         verse=v, plafond=plafond)
            v = nacre.Versements(v.avance, v.mensualites, v.expertises + e)
        assert v.total <= plafond
    # the monthly payments never pay the activity twice: advance + monthly payments ≤ max(activity, advance)
    assert v.avance + v.mensualites <= max(activite, v.avance)


# ---- Adultes-relais (R52) ---------------------------------------------------------------------------------------
def test_R52_a_month_at_80_percent():
    # barème AR_AIDE_ANNUELLE, line of 2024-01-01 (22 810,61 € a year, service-public checked 2024-09-27):
    # 22 810,61 × 80 / 100 / 12 = 18 248,488 / 12 = 1 520,7073… → 1 520,71
    assert ar.aide_mensuelle(date(2025, 3, 1), D("80")) == D("1520.71")
    # full time: 22 810,61 / 12 = 1 900,884… → 1 900,88
    assert ar.aide_mensuelle(date(2025, 3, 1), D("100")) == D("1900.88")
    # line of 2013-01-01 (17 538,40 €, contracts from January 2013): 17 538,40 × 0,8 / 12 = 1 169,2266… → 1 169,23
    assert ar.aide_mensuelle(date(2023, 12, 1), D("80")) == D("1169.23")
    with pytest.raises(HorsBareme):
        ar.aide_mensuelle(date(2012, 12, 1), D("80"))


def test_R52_the_age_threshold_is_dated_30_in_the_2015_text_26_from_2024():
    naissance = date(1996, 6, 1)  # 27 years and 7 months on 2024-01-15
    ok = dict(reside_qpv=True, sans_emploi=True)
    # hired in 2015 (threshold 30, line of 2000-01-01): 19 years old → refused
    assert ar.motifs_ineligibilite(naissance=naissance, embauche=date(2015, 7, 6), **ok) == [
        "moins de 30 ans à l'embauche le 06/07/2015"]
    # hired on 2023-12-31 (still 30): 27 → refused; on 2024-01-15 (26, line of 2024-01-01): 27 → eligible
    assert ar.motifs_ineligibilite(naissance=naissance, embauche=date(2023, 12, 31), **ok)
    assert ar.motifs_ineligibilite(naissance=naissance, embauche=date(2024, 1, 15), **ok) == []
    # QPV residence and being without a job are both required
    assert ar.motifs_ineligibilite(naissance=date(1970, 1, 1), embauche=date(2025, 1, 1), reside_qpv=False,
                                   sans_emploi=False) == ["ne réside pas dans un quartier prioritaire (QPV)",
                                                          "n'était pas sans emploi (demandeur d'emploi) à l'embauche"]


def test_R52_a_quarter_with_a_month_of_absence_leads_to_a_reversement():
    # barème of 2024-01-01, post at 80 %: 1 520,71 paid for each of January, February and March 2025
    mois = ar.mois_du_trimestre(2025, 1)
    verse = 3 * D("1520.71")  # 4 562,13
    # February: 28 days of unpaid absence out of 28 → due 0; January and March due in full
    dus = [ar.du_du_mois(mois=m, quotite=D("80"), jours_absence=a, fin_contrat=None)
           for m, a in zip(mois, (0, 28, 0))]
    assert dus == [D("1520.71"), D("0.00"), D("1520.71")]
    r = ar.regulariser(mois_dus=dus, verse=verse)
    # 3 041,42 due − 4 562,13 paid = −1 520,71: an ordre de reversement of 1 520,71
    assert (r.du, r.verse, r.ecart) == (D("3041.42"), D("4562.13"), D("-1520.71"))


def test_R52_a_contract_ending_mid_month_is_due_pro_rata_and_a_late_start_too():
    # contract ended on 14/02/2025: 14 days of 28 → 1 520,71 × 14 / 28 = 760,355 → 760,36
    assert ar.du_du_mois(mois=date(2025, 2, 1), quotite=D("80"), jours_absence=0,
                         fin_contrat=date(2025, 2, 14)) == D("760.36")
    # post starting on 16/03/2025: 16 days of 31 → 1 520,71 × 16 / 31 = 784,8825… → 784,88
    assert ar.du_du_mois(mois=date(2025, 3, 1), quotite=D("80"), jours_absence=0, fin_contrat=None,
                         debut_poste=date(2025, 3, 16)) == D("784.88")
    with pytest.raises(ValueError):
        ar.du_du_mois(mois=date(2025, 2, 1), quotite=D("80"), jours_absence=29, fin_contrat=None)
