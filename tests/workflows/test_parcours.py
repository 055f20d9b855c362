"""Parcours life cycle (issue 17) on the populated database: opening with its entry checks, renewals (R1,
R15), closing with the dispositif's exit reasons (R2, R3, R16), R20 at opening and in the database, the
scheduler's automatic ends (R17), CEJ sanctions in the allowance computation (R37), « Écrire à l'ASP »
(R49, R50) and the allocation guard "an enrolment open for its month"."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import AuditEvent, Inscription, MailOutbox, MotifSortie
from backoffice.models.enums import AllocationNature, CerfaStatut, InscriptionStatut as S
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.errors import RoleRefused, TransitionRefused
from backoffice.workflows.parcours import PARCOURS, ecrire_au_payeur, ouvrir_inscription
from backoffice.workflows.saisie import enregistrer_allocation
from tests import factories as f
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated

NOW = datetime(2025, 3, 10, 9, 0)
_n = iter(range(1, 10_000))


def ouvrir(db, ref, b, code, debut=date(2025, 3, 3), **kw):
    insc = ouvrir_inscription(db.session, numero=f"PT{next(_n):07d}", beneficiaire_id=b.id,
                              dispositif_id=ref.dispositifs[code].id, date_debut=debut,
                              actor=ref.comptes["conseiller"], now=NOW, **kw)
    db.session.commit()
    return insc


def go(db, ref, name, ids, who="conseiller", now=NOW, **params):
    report = run(db.session, PARCOURS, name, Selection.of_ids(ids), ref.comptes[who], params=params, now=now)
    db.session.commit()
    db.session.expire_all()
    return report


def motif(db, ref, code, libelle):
    return db.session.execute(sa.select(MotifSortie).where(
        MotifSortie.dispositif_id == ref.dispositifs[code].id, MotifSortie.libelle == libelle)).scalar_one()


# ---- opening ------------------------------------------------------------------------------------------
def test_opening_fills_the_planned_end_from_the_catalogue_and_audits_it(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    insc = ouvrir(db, ref, b, "RE")
    assert (insc.statut, insc.date_fin_prevue, insc.antenne_id) == (S.OUVERT, date(2025, 6, 2), ref.nord.id)
    assert db.session.execute(sa.select(AuditEvent.action).where(
        AuditEvent.entity == "inscription", AuditEvent.entity_id == insc.id)).scalar_one() == "ouvrir"


def test_cej_entry_checks_age_and_the_end_at_the_26th_birthday(db, ref):
    trop_age = f.make_beneficiaire(db.session, ref.nord, date_naissance=date(1999, 1, 10))  # 26 at entry
    with pytest.raises(TransitionRefused, match="CEJ : de 16 à 25 ans"):
        ouvrir(db, ref, trop_age, "CEJ")
    db.session.rollback()
    # 25, and 26 in September: the CEJ ends the day before the 26th birthday, not 12 months on
    b = f.make_beneficiaire(db.session, ref.nord, date_naissance=date(1999, 9, 20))
    assert ouvrir(db, ref, b, "CEJ").date_fin_prevue == date(2025, 9, 19)
    # a RQTH raises the limit to 29 révolus
    rqth = f.make_beneficiaire(db.session, ref.nord, date_naissance=date(1997, 1, 10), rqth=True)
    assert ouvrir(db, ref, rqth, "CEJ").date_fin_prevue == date(2026, 3, 2)


def test_france_travail_registration_required_for_pacea_R13_and_forbidden_for_pao_R10(db, ref):
    non_inscrit = f.make_beneficiaire(db.session, ref.nord, inscrit_france_travail=False)
    with pytest.raises(TransitionRefused, match=r"\(R13\)"):
        ouvrir(db, ref, non_inscrit, "PACEA")
    db.session.rollback()
    inscrit = f.make_beneficiaire(db.session, ref.nord, inscrit_france_travail=True)
    with pytest.raises(TransitionRefused, match=r"\(R10\)"):
        ouvrir(db, ref, inscrit, "PAO")
    db.session.rollback()
    non_inscrit = f.make_beneficiaire(db.session, ref.nord, inscrit_france_travail=False)
    assert ouvrir(db, ref, non_inscrit, "PAO").statut == S.OUVERT


def test_pacea_of_a_non_eea_youth_ends_on_the_permits_last_day_R14_R17_and_is_cep_level_2_R18(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord, ressortissant_eee=False, numero_agdref="7512345678",
                            date_fin_titre_sejour=date(2025, 9, 30))
    insc = ouvrir(db, ref, b, "PACEA")
    assert insc.date_fin_prevue == date(2025, 9, 30) and insc.niveau_cep == 2
    # R14: outside the EEA, the AGDREF number and the permit's end are mandatory (the youth's CHECK too,
    # before any opening checks them again)
    with pytest.raises(sa.exc.IntegrityError, match="agdref_hors_eee"):
        f.make_beneficiaire(db.session, ref.nord, ressortissant_eee=False, date_fin_titre_sejour=date(2026, 1, 31))
    db.session.rollback()


def test_path_contracted_more_than_3_months_after_the_first_interview_is_refused_R7(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    db.session.commit()
    with pytest.raises(TransitionRefused, match=r"\(R7\)"):  # even justified: never beyond 3 months
        ouvrir(db, ref, b, "CEJ", date_premier_entretien=date(2024, 11, 4), justification_delai="Hospitalisation")
    db.session.rollback()
    # 2 months after the first interview: only with a justification (R7: 1 month, longer if justified)
    with pytest.raises(TransitionRefused, match=r"justifiez le délai .*\(R7\)"):
        ouvrir(db, ref, b, "CEJ", date_premier_entretien=date(2025, 1, 6))
    db.session.rollback()
    insc = ouvrir(db, ref, b, "CEJ", date_premier_entretien=date(2025, 1, 6),
                  justification_delai="Jeune hospitalisé en février : entrée différée")
    assert insc.statut == S.OUVERT and insc.justification_delai.startswith("Jeune hospitalisé")


def test_path_contracted_within_a_month_needs_no_justification_R7(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    assert ouvrir(db, ref, b, "CEJ", date_premier_entretien=date(2025, 2, 10)).justification_delai is None


def test_parrainage_lasts_6_weeks_to_6_months_R8(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    db.session.commit()
    accord = dict(parrain="Anne Dubois", date_acceptation_parrainage=date(2025, 2, 28))
    with pytest.raises(TransitionRefused, match=r"minimum du dispositif : 42 jours \(R8"):
        ouvrir(db, ref, b, "PARRAINAGE", date_fin_prevue=date(2025, 3, 31), **accord)
    db.session.rollback()
    with pytest.raises(TransitionRefused, match=r"maximum du dispositif : 6 mois \(R8\)"):
        ouvrir(db, ref, b, "PARRAINAGE", date_fin_prevue=date(2025, 10, 1), **accord)
    db.session.rollback()
    assert ouvrir(db, ref, b, "PARRAINAGE", date_fin_prevue=date(2025, 5, 30), **accord).statut == S.OUVERT


# ---- R20 --------------------------------------------------------------------------------------------------
def test_overlapping_pacea_is_refused_at_opening_R20(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cej = ouvrir(db, ref, b, "CEJ")  # 03/03/2025 → 02/03/2026
    with pytest.raises(TransitionRefused, match=r"un PACEA et un CEJ ne se chevauchent jamais \(R20\)"):
        ouvrir(db, ref, b, "PACEA", debut=date(2025, 9, 1))
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Inscription)
                              .where(Inscription.beneficiaire_id == b.id)).scalar_one() == 1
    # after the CEJ, a PACEA may follow (R20: before or after, never during)
    pacea = ouvrir(db, ref, b, "PACEA", debut=date(2026, 3, 3))
    assert pacea.statut == S.OUVERT and cej.statut == S.OUVERT


def test_overlapping_pacea_is_refused_by_the_database_R20(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    ouvrir(db, ref, b, "CEJ")
    # a row written around the workflow (a script, a bulk import): the database itself refuses it
    with pytest.raises(sa.exc.IntegrityError, match="R20"):
        f.make_inscription(db.session, b, ref.dispositifs["PACEA"], date_debut=date(2025, 12, 1),
                           date_fin_prevue=date(2026, 6, 30))
    db.session.rollback()
    later = f.make_inscription(db.session, b, ref.dispositifs["PACEA"], date_debut=date(2026, 4, 1),
                               date_fin_prevue=date(2026, 9, 30))
    db.session.commit()
    # ... and an UPDATE that moves it into the CEJ too
    with pytest.raises(sa.exc.IntegrityError, match="R20"):
        db.session.execute(sa.update(Inscription).where(Inscription.id == later.id)
                           .values(date_debut=date(2026, 2, 1)))
    db.session.rollback()
    # another dispositif (Relation entreprise) may run alongside
    f.make_inscription(db.session, b, ref.dispositifs["RE"], date_debut=date(2025, 4, 1),
                       date_fin_prevue=date(2025, 6, 30))
    db.session.commit()


# ---- renewals ----------------------------------------------------------------------------------------------
def test_renewing_past_the_maximum_is_refused_with_the_rule_R1(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    re_ = ouvrir(db, ref, b, "RE")  # 3 months: 03/03 → 02/06
    first = go(db, ref, "renouveler", [re_.id])
    assert first.changed == 1
    insc = db.session.get(Inscription, re_.id)
    assert (insc.statut, insc.nb_renouvellements, insc.date_fin_prevue) == (S.RENOUVELE, 1, date(2025, 8, 2))
    second = go(db, ref, "renouveler", [re_.id])
    assert second.changed == 0
    assert any("nombre maximal de renouvellements atteint" in r and r.endswith("(R1)") for r in second.refused)
    assert db.session.get(Inscription, re_.id).date_fin_prevue == date(2025, 8, 2)


def test_cej_renewed_once_for_6_months_then_refused_R1(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cej = ouvrir(db, ref, b, "CEJ")
    assert go(db, ref, "renouveler", [cej.id]).changed == 1
    assert db.session.get(Inscription, cej.id).date_fin_prevue == date(2026, 9, 2)  # 18 months at most
    assert "(R1)" in next(iter(go(db, ref, "renouveler", [cej.id]).refused))


def test_pacea_is_never_renewed_R15(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    pacea = ouvrir(db, ref, b, "PACEA")
    report = go(db, ref, "renouveler", [pacea.id])
    assert report.changed == 0 and any(r.endswith("(R15)") for r in report.refused)


def test_renewal_that_would_overlap_the_next_pacea_is_refused_R20(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cej = ouvrir(db, ref, b, "CEJ")
    ouvrir(db, ref, b, "PACEA", debut=date(2026, 4, 1))
    report = go(db, ref, "renouveler", [cej.id])
    assert report.changed == 0 and any(r.endswith("(R20)") for r in report.refused)


# ---- closing ------------------------------------------------------------------------------------------------
def test_closing_needs_an_exit_reason_of_the_dispositifs_own_list_R2_R3(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    re_ = ouvrir(db, ref, b, "RE")
    wrong = motif(db, ref, "CEJ", "Emploi durable")
    refused = go(db, ref, "cloturer", [re_.id], motif_sortie_id=str(wrong.id), date_fin=date(2025, 3, 7))
    assert refused.changed == 0 and "motif de sortie hors de la liste de ce dispositif (R2)" in refused.refused
    cdi = motif(db, ref, "RE", "CDI")
    done = go(db, ref, "cloturer", [re_.id], motif_sortie_id=str(cdi.id), date_fin=date(2025, 3, 7))
    insc = db.session.get(Inscription, re_.id)
    assert done.changed == 1
    assert (insc.statut, insc.date_fin_reelle, insc.motif_sortie_id, insc.sortie_positive) == (
        S.CLOTURE, date(2025, 3, 7), cdi.id, True)
    assert go(db, ref, "renouveler", [re_.id]).changed == 0  # a closed enrolment stays closed


def test_pacea_closed_without_contact_flags_the_france_travail_deregistration_R16(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    pacea = ouvrir(db, ref, b, "PACEA")
    sans_contact = motif(db, ref, "PACEA", "Absence de contact")
    go(db, ref, "cloturer", [pacea.id], motif_sortie_id=str(sans_contact.id), date_fin=date(2025, 3, 9))
    insc = db.session.get(Inscription, pacea.id)
    assert insc.statut == S.CLOTURE and insc.signalement_france_travail is True and insc.sortie_positive is False


def test_closing_in_the_future_is_refused(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    re_ = ouvrir(db, ref, b, "RE")
    report = go(db, ref, "cloturer", [re_.id], motif_sortie_id=str(motif(db, ref, "RE", "CDI").id),
                date_fin=date(2025, 4, 1))
    assert report.changed == 0 and "la date de fin ne peut pas être dans le futur" in report.refused


# ---- the scheduler ---------------------------------------------------------------------------------------------
def test_scheduler_closes_a_pacea_at_the_permits_end_when_the_clock_moves_R17(db, ref, app):
    from backoffice.jobs.parcours import close_ended_enrolments
    b = f.make_beneficiaire(db.session, ref.nord, ressortissant_eee=False, numero_agdref="7512345678",
                            date_fin_titre_sejour=date(2025, 12, 31))
    pacea = ouvrir(db, ref, b, "PACEA")
    assert pacea.date_fin_prevue == date(2025, 12, 31)
    # the prefecture's new decision shortens the permit after the opening: the PACEA ends with it
    b.date_fin_titre_sejour = date(2025, 9, 30)
    db.session.commit()
    app.config["NOW_OVERRIDE"] = datetime(2025, 9, 30, 23, 0)
    close_ended_enrolments()
    db.session.expire_all()
    assert db.session.get(Inscription, pacea.id).statut == S.OUVERT  # its last valid day: still open
    app.config["NOW_OVERRIDE"] = datetime(2025, 10, 1, 2, 0)
    report = close_ended_enrolments()
    db.session.expire_all()
    insc = db.session.get(Inscription, pacea.id)
    assert insc.statut == S.CLOTURE and insc.date_fin_reelle == date(2025, 9, 30)
    assert insc.motif_sortie.libelle == "Fin du titre de séjour" and "(R17)" in insc.motif_cloture
    assert report["titre_de_sejour"] >= 1
    assert close_ended_enrolments() == {"titre_de_sejour": 0, "terme": 0}  # a second tick changes nothing


def test_scheduler_closes_enrolments_past_their_planned_end(db, ref, app):
    from backoffice.jobs.parcours import close_ended_enrolments
    b = f.make_beneficiaire(db.session, ref.nord)
    re_ = ouvrir(db, ref, b, "RE")  # ends 02/06/2025
    app.config["NOW_OVERRIDE"] = datetime(2025, 6, 3, 2, 0)
    close_ended_enrolments()
    db.session.expire_all()
    insc = db.session.get(Inscription, re_.id)
    assert (insc.statut, insc.date_fin_reelle) == (S.CLOTURE, date(2025, 6, 2))
    assert db.session.execute(sa.select(AuditEvent.action).where(
        AuditEvent.entity == "inscription", AuditEvent.entity_id == re_.id, AuditEvent.action == "cloturer_terme")
    ).scalar_one()
    # the demo's other enrolments past their end were closed by the same tick, set-based
    assert db.session.execute(sa.select(sa.func.count()).select_from(Inscription).where(
        Inscription.statut != S.CLOTURE, Inscription.date_fin_prevue < date(2025, 6, 3))).scalar_one() == 0


# ---- allocations need an enrolment open for their month ---------------------------------------------------------
def test_allocation_outside_its_enrolment_is_refused_on_submission(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    dedans = f.make_allocation(db.session, i, c, mois=date(2025, 3, 1), nature=AllocationNature.COURANTE)
    db.session.commit()
    assert run(db.session, ALLOCATION, "soumettre", Selection.of_ids([dedans.id]), ref.comptes["conseiller"],
               now=NOW).changed == 1  # the enrolment's first month (started on the 3rd): open for it
    db.session.commit()
    avant = f.make_allocation(db.session, i, c, mois=date(2025, 1, 1), nature=AllocationNature.COURANTE)
    db.session.commit()
    report = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([avant.id]), ref.comptes["conseiller"], now=NOW)
    assert report.changed == 0 and "pas de parcours ouvert pour le mois de cette allocation" in report.refused


# ---- R37 ------------------------------------------------------------------------------------------------------
def test_cej_sanctions_cut_25_then_100_percent_then_end_the_contract_R37(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    mars = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 3, 1),
                                  actor=ref.comptes["conseiller"], now=datetime(2025, 4, 1, 9))  # in time (R35)
    assert mars.montant == Decimal("561.68")
    with pytest.raises(RoleRefused, match="rôle"):  # a manager's decision
        go(db, ref, "sanctionner", [i.id], who="conseiller", date_notification=date(2025, 3, 5), motif="Absences")
    db.session.rollback()
    # 1st breach notified in March: April's allowance is cut by 25 %
    assert go(db, ref, "sanctionner", [i.id], who="manager", date_notification=date(2025, 3, 5),
              motif="Absences répétées aux ateliers").changed == 1
    insc = db.session.get(Inscription, i.id)
    assert (insc.statut, insc.nb_manquements, insc.sanction_1_mois) == (S.OUVERT, 1, date(2025, 4, 1))
    avril = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1),
                                   actor=ref.comptes["conseiller"], now=datetime(2025, 5, 1, 9))
    assert avril.montant == Decimal("421.26")  # 561.68 × 0.75
    # 2nd breach notified in April: May's allowance is removed
    go(db, ref, "sanctionner", [i.id], who="manager", now=datetime(2025, 4, 20, 9), date_notification=date(2025, 4, 18),
       motif="Heures d'activité non réalisées")
    mai = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 5, 1), actor=ref.comptes["conseiller"],
                                 now=datetime(2025, 6, 1, 9))
    assert mai.montant == Decimal("0.00") and "(R37)" in mai.motif_blocage
    # 3rd breach: the allowance is removed for good and the contract ends
    go(db, ref, "sanctionner", [i.id], who="manager", now=datetime(2025, 6, 3, 9), date_notification=date(2025, 6, 2),
       motif="Nouvelle absence")
    insc = db.session.get(Inscription, i.id)
    assert (insc.statut, insc.nb_manquements, insc.date_fin_reelle) == (S.CLOTURE, 3, date(2025, 6, 30))
    assert insc.motif_sortie.libelle == "Sanction (manquements répétés)" and "R37" in insc.motif_cloture
    assert go(db, ref, "sanctionner", [i.id], who="manager", now=datetime(2025, 6, 3, 9),
              date_notification=date(2025, 6, 2), motif="x").changed == 0


def test_sanctions_apply_to_the_cej_only_R37(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    pacea = ouvrir(db, ref, b, "PACEA")
    report = go(db, ref, "sanctionner", [pacea.id], who="manager", date_notification=date(2025, 3, 5), motif="x")
    assert report.changed == 0 and "les sanctions ne concernent que le CEJ (R37)" in report.refused


# ---- R49 / R50 -----------------------------------------------------------------------------------------------
def test_writing_to_the_payer_fills_the_template_and_goes_through_the_outbox_R49_R50(db, ref):
    from backoffice.jobs.mail import render
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, nom="Durand", prenom="Chloé",
                                      date_naissance=date(2003, 2, 14))
    a = f.make_allocation(db.session, i, c, mois=date(2025, 3, 1))
    db.session.commit()
    cles = ecrire_au_payeur(db.session, actor=ref.comptes["conseiller"], allocation_id=a.id,
                            objet="Allocation bloquée", message="Cerfa introuvable côté ASP.")
    db.session.commit()
    rows = db.session.execute(sa.select(MailOutbox).where(MailOutbox.cle.in_(cles))).scalars().all()
    assert rows and {r.template for r in rows} == {"payeur"}
    assert {r.destinataire for r in rows} >= {ref.comptes["siege"].email}  # R50: the validator role
    subject, body = render(rows[0].template, rows[0].contexte)
    assert "Allocation bloquée — DURAND Chloé" in subject
    for line in ("NOM : DURAND", "Prénom : Chloé", "Date de naissance : 14/02/2003",
                 f"N° parcours/dispositif : {i.numero} / CEJ", "Objet : Allocation bloquée"):
        assert line in body
    with pytest.raises(TransitionRefused, match="R49"):
        ecrire_au_payeur(db.session, actor=ref.comptes["conseiller"], cerfa_id=c.id, objet="", message="x")


# ---- over HTTP ----------------------------------------------------------------------------------------------
def test_row_button_renews_in_the_grid_and_the_second_click_is_refused_R1(db, ref, login_as, app):
    app.config["NOW_OVERRIDE"] = NOW
    b = f.make_beneficiaire(db.session, ref.nord)
    re_ = ouvrir(db, ref, b, "RE")
    c = login_as("conseiller")
    page = c.get(f"/admin/inscription/?search={re_.numero}").get_data(as_text=True)
    assert 'data-transition="renouveler"' in page and 'data-transition="cloturer"' in page
    resp = c.post("/admin/inscription/workflow/renouveler/row",
                  data={"id": re_.id, "version": re_.version, "csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "Renouveler : 1 ligne(s) modifiées" in resp.get_data(as_text=True)
    db.session.expire_all()
    insc = db.session.get(Inscription, re_.id)
    assert insc.statut == S.RENOUVELE
    page = c.get(f"/admin/inscription/?search={re_.numero}").get_data(as_text=True)
    resp = c.post("/admin/inscription/workflow/renouveler/row",
                  data={"id": re_.id, "version": insc.version, "csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "nombre maximal de renouvellements atteint" in resp.get_data(as_text=True)


def test_closing_from_the_grid_asks_the_exit_reason_R2(db, ref, login_as, app):
    app.config["NOW_OVERRIDE"] = NOW
    b = f.make_beneficiaire(db.session, ref.nord)
    re_ = ouvrir(db, ref, b, "RE")
    c = login_as("conseiller")
    page = c.get(f"/admin/inscription/?search={re_.numero}").get_data(as_text=True)
    resp = c.post("/admin/inscription/workflow/cloturer/row",
                  data={"id": re_.id, "version": re_.version, "csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and "/workflow/run/" in resp.headers["Location"]
    form = c.get(resp.headers["Location"]).get_data(as_text=True)
    cdi = motif(db, ref, "RE", "CDI")
    assert "RE — CDI (sortie positive)" in form
    done = c.post(resp.headers["Location"], data={"csrf_token": csrf_from(form), "motif_sortie_id": str(cdi.id),
                                                  "date_fin": "2025-03-07", "commentaire": ""},
                  follow_redirects=True)
    assert "Clôturer : 1 ligne(s) modifiées" in done.get_data(as_text=True)
    db.session.expire_all()
    insc = db.session.get(Inscription, re_.id)
    assert (insc.statut, insc.motif_sortie_id, insc.sortie_positive) == (S.CLOTURE, cdi.id, True)


def test_the_grid_form_refuses_an_overlapping_pacea_R20(db, ref, login_as, app):
    app.config["NOW_OVERRIDE"] = NOW
    b = f.make_beneficiaire(db.session, ref.nord)
    ouvrir(db, ref, b, "CEJ")
    c = login_as("conseiller")
    page = c.get("/admin/inscription/new/").get_data(as_text=True)
    resp = c.post("/admin/inscription/new/", data={
        "csrf_token": csrf_from(page), "numero": "PHTTP0001", "beneficiaire": str(b.id),
        "dispositif": str(ref.dispositifs["PACEA"].id), "date_debut": "2025-06-02", "date_fin_prevue": ""},
        follow_redirects=True)
    assert "ne se chevauchent jamais (R20)" in resp.get_data(as_text=True)
    assert db.session.execute(sa.select(Inscription.id).where(Inscription.numero == "PHTTP0001")).first() is None


def test_write_to_the_payer_over_http_shows_blocking_reason_and_cerfa_status_first_R49_R50(db, ref, login_as, app):
    app.config["NOW_OVERRIDE"] = NOW
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, nom="Petit")
    c.statut, c.motif_refus = CerfaStatut.REFUSE, "RIB illisible"
    a = f.make_allocation(db.session, i, c, mois=date(2025, 3, 1), motif_blocage="Cerfa non trouvé par l'ASP")
    _, _, i2, c2 = f.make_parcours_cej(db.session, ref.sud, ref.dispositifs)
    autre = f.make_allocation(db.session, i2, c2, mois=date(2025, 3, 1))
    db.session.commit()
    client = login_as("conseiller")
    assert 'data-action="ecrire-payeur"' in client.get("/admin/cerfa/").get_data(as_text=True)
    page = client.get(f"/admin/cerfa/payeur/allocation/{a.id}").get_data(as_text=True)
    assert "Cerfa non trouvé par l&#39;ASP" in page and "RIB illisible" in page  # R50: shown together
    assert client.get(f"/admin/cerfa/payeur/allocation/{autre.id}").status_code == 404  # another antenne's
    resp = client.post(f"/admin/cerfa/payeur/allocation/{a.id}", data={
        "csrf_token": csrf_from(page), "objet": "Allocation de mars bloquée", "message": "Merci de vérifier."},
        follow_redirects=True)
    assert "Demande envoyée au siège" in resp.get_data(as_text=True)
    mails = db.session.execute(sa.select(MailOutbox).where(MailOutbox.template == "payeur",
                                                           MailOutbox.antenne_id == ref.nord.id)).scalars().all()
    assert mails and all(m.contexte["nom"] == "Petit" and m.contexte["objet"] == "Allocation de mars bloquée"
                         for m in mails)
    # bad input changes nothing
    client.post(f"/admin/cerfa/payeur/cerfa/{c.id}", data={"csrf_token": csrf_from(page), "objet": "", "message": ""})
    assert db.session.execute(sa.select(sa.func.count()).select_from(MailOutbox)
                              .where(MailOutbox.template == "payeur")).scalar_one() == len(mails)


def test_scheduler_survives_a_permit_ending_before_the_start_R17(db, ref, app):
    from backoffice.jobs.parcours import close_ended_enrolments
    b = f.make_beneficiaire(db.session, ref.nord, ressortissant_eee=False, numero_agdref="7512345678",
                            date_fin_titre_sejour=date(2025, 12, 31))
    pacea = ouvrir(db, ref, b, "PACEA")
    b.date_fin_titre_sejour = date(2025, 2, 28)  # corrected afterwards: it had already expired
    db.session.commit()
    app.config["NOW_OVERRIDE"] = datetime(2025, 3, 11, 2, 0)
    close_ended_enrolments()
    db.session.expire_all()
    insc = db.session.get(Inscription, pacea.id)
    assert (insc.statut, insc.date_fin_reelle) == (S.CLOTURE, date(2025, 3, 3))


def test_the_demos_closed_enrolments_went_through_the_close_transition_R2(db, ref):
    closed = db.session.execute(sa.select(Inscription.id, Inscription.motif_sortie_id, Inscription.version).where(
        Inscription.statut == S.CLOTURE)).all()
    assert closed and all(motif_id is not None for _, motif_id, _ in closed)
    audited = set(db.session.execute(sa.select(AuditEvent.entity_id).where(
        AuditEvent.entity == "inscription", AuditEvent.action == "cloturer")).scalars())
    assert {i for i, _, _ in closed} <= audited


def test_two_concurrent_openings_for_one_youth_cannot_both_commit_R20(db, ref):
    """The trigger serialises per youth (advisory lock): the second writer waits for the first, then sees
    its row and is refused, although neither saw the other when it started."""
    import threading
    b = f.make_beneficiaire(db.session, ref.nord)
    db.session.commit()
    ids = {code: ref.dispositifs[code].id for code in ("CEJ", "PACEA")}
    insert = sa.text("INSERT INTO inscription (numero, beneficiaire_id, dispositif_id, antenne_id, date_debut, "
                     "date_fin_prevue, statut, sortie_positive, nb_renouvellements, signalement_france_travail, "
                     "nb_manquements, created_at, updated_at, version) VALUES (:n, :b, :d, :a, '2025-03-03', "
                     "'2026-03-02', 'ouvert', false, 0, false, 0, now(), now(), 1)")
    engine = db.engine  # the thread has no application context
    first = engine.connect()
    tx = first.begin()
    outcome = {}
    try:
        first.execute(insert, {"n": "PCONC1", "b": b.id, "d": ids["CEJ"], "a": ref.nord.id})

        def second():
            with engine.connect() as conn:
                try:
                    with conn.begin():
                        conn.execute(insert, {"n": "PCONC2", "b": b.id, "d": ids["PACEA"], "a": ref.nord.id})
                    outcome["ok"] = True
                except sa.exc.DBAPIError as exc:
                    outcome["error"] = str(exc.orig)

        t = threading.Thread(target=second)
        t.start()
        t.join(1.0)
        waiting = t.is_alive()  # waiting on the first writer's lock
        tx.commit()
    finally:
        first.close()
    t.join(10)
    assert waiting, outcome
    assert "R20" in outcome.get("error", ""), outcome
    assert db.session.execute(sa.select(sa.func.count()).select_from(Inscription)
                              .where(Inscription.beneficiaire_id == b.id)).scalar_one() == 1
