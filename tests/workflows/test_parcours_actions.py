"""The enrolment rules left of issue 17, on the populated database: Relation entreprise attached to the CIP's
file (R3) and ended at its term back to the CIP (R4), QPV entry (R9), the R7 justification, the Parrainage
(R8: joint acceptance, professional parrainage actions, validated with two), Avenir Pro (R11: attested public,
a cycle of 4 workshops, a bilan to France Travail), Déclic pour l'action (R12: jobseekers, 7 h days that are not
workshops, an interne + administratif event) — through the workflow and through the grid."""

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from backoffice.models import ActionParcours, AuditEvent, Inscription, MotifSortie
from backoffice.models.enums import InscriptionStatut as S
from backoffice.workflows import Selection, run
from backoffice.workflows.errors import TransitionRefused
from backoffice.workflows.parcours import PARCOURS, ouvrir_inscription
from tests import factories as f
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 16, 9, 0)
_n = iter(range(1, 10_000))
ACCORD = dict(parrain="Michel Lefebvre", date_acceptation_parrainage=date(2025, 2, 27))


def ouvrir(db, ref, b, code, debut=date(2025, 3, 3), who="conseiller", **kw):
    insc = ouvrir_inscription(db.session, numero=f"PA{next(_n):07d}", beneficiaire_id=b.id,
                              dispositif_id=ref.dispositifs[code].id, date_debut=debut, actor=ref.comptes[who],
                              now=NOW, **kw)
    db.session.commit()
    return insc


def go(db, ref, name, ids, who="conseiller", now=NOW, **params):
    report = run(db.session, PARCOURS, name, Selection.of_ids(ids), ref.comptes[who], params=params, now=now)
    db.session.commit()
    db.session.expire_all()
    return report


def actions(db, insc_id):
    return db.session.execute(sa.select(ActionParcours).where(ActionParcours.inscription_id == insc_id)
                              .order_by(ActionParcours.date_action)).scalars().all()


def motif(db, ref, code, libelle):
    return db.session.execute(sa.select(MotifSortie).where(
        MotifSortie.dispositif_id == ref.dispositifs[code].id, MotifSortie.libelle == libelle)).scalar_one()


def refused(report, rule):
    return report.changed == 0 and any(r.endswith(f"({rule})") for r in report.refused)


# ---- R3 / R4: Relation entreprise -----------------------------------------------------------------------
def test_relation_entreprise_stays_in_the_cips_name_and_is_attached_to_an_interview_R3(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cej = ouvrir(db, ref, b, "CEJ", referent_id=ref.comptes["conseiller"].id)
    re_ = ouvrir(db, ref, b, "RE", debut=date(2025, 4, 7))  # opened by the CRE at their first interview
    assert (re_.referent_id, re_.date_premier_entretien) == (cej.referent_id, date(2025, 4, 7))
    with pytest.raises(TransitionRefused, match=r"reste au nom de son conseiller référent.*\(R3\)"):
        ouvrir(db, ref, b, "RE", debut=date(2025, 4, 8), referent_id=ref.comptes["siege"].id)
    db.session.rollback()


def test_relation_entreprise_at_its_term_goes_back_to_the_cip_R4(db, ref, app):
    from backoffice.jobs.parcours import close_ended_enrolments
    b = f.make_beneficiaire(db.session, ref.nord)
    re_ = ouvrir(db, ref, b, "RE", debut=date(2025, 3, 3))  # 3 months: ends 02/06/2025
    cdi = ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord), "RE", debut=date(2025, 3, 3))
    # a "stable" job ends it with an employment exit (R4), a positive one (R2)
    go(db, ref, "cloturer", [cdi.id], motif_sortie_id=str(motif(db, ref, "RE", "CDI").id), date_fin=date(2025, 5, 20))
    app.config["NOW_OVERRIDE"] = datetime(2025, 6, 3, 2, 0)
    close_ended_enrolments()
    db.session.expire_all()
    insc = db.session.get(Inscription, re_.id)
    assert (insc.statut, insc.date_fin_reelle, insc.motif_sortie.libelle, insc.sortie_positive) == (
        S.CLOTURE, date(2025, 6, 2), "Sans solution en fin de programme", False)
    assert "retour vers le conseiller référent (R4)" in insc.motif_cloture
    assert db.session.get(Inscription, cdi.id).sortie_positive is True


# ---- R9: QPV ---------------------------------------------------------------------------------------------
def test_qpv_has_pilot_12_mld_no_prescriber_no_referent_and_its_entry_date_is_the_interview_R9(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord, qpv=True)
    db.session.commit()
    for kw, attendu in ((dict(referent_id=ref.comptes["conseiller"].id), "ni prescripteur ni référent"),
                        (dict(prescripteur="France Travail"), "ni prescripteur ni référent"),
                        (dict(pilote="13-MLX"), "pilote 12-MLD"),
                        (dict(date_premier_entretien=date(2025, 2, 20)), "premier accueil ou du déménagement")):
        with pytest.raises(TransitionRefused, match=rf"{attendu}.*\(R9\)"):
            ouvrir(db, ref, b, "QPV", **kw)
        db.session.rollback()
    qpv = ouvrir(db, ref, b, "QPV")
    assert (qpv.pilote, qpv.date_premier_entretien, qpv.antenne_id) == ("12-MLD", date(2025, 3, 3), ref.nord.id)


# ---- R8: Parrainage ------------------------------------------------------------------------------------------
def test_parrainage_starts_after_the_joint_acceptance_R8(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    db.session.commit()
    with pytest.raises(TransitionRefused, match=r"parrain \(ou la marraine\).*\(R8\)"):
        ouvrir(db, ref, b, "PARRAINAGE", date_fin_prevue=date(2025, 6, 30))
    db.session.rollback()
    with pytest.raises(TransitionRefused, match=r"débute après l'acceptation conjointe.*\(R8\)"):
        ouvrir(db, ref, b, "PARRAINAGE", date_fin_prevue=date(2025, 6, 30), parrain="Anne Dubois",
               date_acceptation_parrainage=date(2025, 3, 10))
    db.session.rollback()
    assert ouvrir(db, ref, b, "PARRAINAGE", date_fin_prevue=date(2025, 6, 30), **ACCORD).parrain == "Michel Lefebvre"


def test_parrainage_is_validated_only_with_two_professional_parrainage_actions_R8(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    p = ouvrir(db, ref, b, "PARRAINAGE", date_fin_prevue=date(2025, 6, 30), **ACCORD)
    # professional only
    assert refused(go(db, ref, "action", [p.id], nature="parrainage", domaine="social", date_action=date(2025, 3, 10)),
                   "R8")
    assert refused(go(db, ref, "action", [p.id], nature="atelier", domaine="professionnel",
                      date_action=date(2025, 3, 10)), "R8")
    assert go(db, ref, "action", [p.id], nature="parrainage", domaine="professionnel", date_action=date(2025, 3, 10),
              libelle="Simulation d'entretien").changed == 1
    # a replay of the same action adds nothing
    go(db, ref, "action", [p.id], nature="parrainage", domaine="professionnel", date_action=date(2025, 3, 10))
    assert [(a.nature, a.domaine, a.date_action) for a in actions(db, p.id)] == [
        ("parrainage", "professionnel", date(2025, 3, 10))]
    emploi = motif(db, ref, "PARRAINAGE", "Emploi durable")
    one = go(db, ref, "cloturer", [p.id], motif_sortie_id=str(emploi.id), date_fin=date(2025, 6, 13))
    assert refused(one, "R8") and "au moins 2 actions de parrainage (R8)" in next(iter(one.refused))
    go(db, ref, "action", [p.id], nature="parrainage", domaine="professionnel", date_action=date(2025, 4, 14))
    assert go(db, ref, "cloturer", [p.id], motif_sortie_id=str(emploi.id), date_fin=date(2025, 6, 13)).changed == 1
    insc = db.session.get(Inscription, p.id)
    assert (insc.statut, insc.sortie_positive, len(insc.actions)) == (S.CLOTURE, True, 2)
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "inscription", AuditEvent.entity_id == p.id, AuditEvent.action == "action")
    ).scalar_one() == 3  # the replay was audited, and wrote no second row


def test_a_parrainage_abandoned_closes_without_its_actions_R8(db, ref):
    p = ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord), "PARRAINAGE", date_fin_prevue=date(2025, 6, 30),
               **ACCORD)
    abandon = motif(db, ref, "PARRAINAGE", "Abandon du jeune")
    assert go(db, ref, "cloturer", [p.id], motif_sortie_id=str(abandon.id), date_fin=date(2025, 4, 30)).changed == 1


def test_the_database_refuses_a_non_professional_parrainage_action_R8(db, ref):
    p = ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord), "PARRAINAGE", date_fin_prevue=date(2025, 6, 30),
               **ACCORD)
    with pytest.raises(sa.exc.IntegrityError, match="parrainage_professionnel"):
        db.session.execute(sa.insert(ActionParcours).values(inscription_id=p.id, nature="parrainage",
                                                            date_action=date(2025, 3, 12), domaine="sante"))
    db.session.rollback()


# ---- R11: Avenir Pro ----------------------------------------------------------------------------------------
def test_avenir_pro_is_a_cycle_of_four_workshops_for_attested_students_and_ends_with_a_bilan_R11(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord, date_naissance=date(2007, 9, 1), inscrit_france_travail=False)
    db.session.commit()
    with pytest.raises(TransitionRefused, match=r"lycéens professionnels en dernière année.*\(R11\)"):
        ouvrir(db, ref, b, "AVENIR_PRO")
    db.session.rollback()
    ap = ouvrir(db, ref, b, "AVENIR_PRO", eligibilite_attestee=True)
    assert refused(go(db, ref, "action", [ap.id], nature="parrainage", domaine="professionnel",
                      date_action=date(2025, 3, 4)), "R11")
    for jour in (4, 11, 18, 25):
        assert go(db, ref, "action", [ap.id], nature="atelier", date_action=date(2025, 3, jour),
                  libelle="Atelier CV").changed == 1
    fifth = go(db, ref, "action", [ap.id], nature="atelier", date_action=date(2025, 4, 1))
    assert refused(fifth, "R11") and "cycle de 4 ateliers" in next(iter(fifth.refused))
    assert len(actions(db, ap.id)) == 4
    fin = motif(db, ref, "AVENIR_PRO", "Emploi durable")
    assert go(db, ref, "cloturer", [ap.id], motif_sortie_id=str(fin.id), date_fin=date(2025, 4, 30)).changed == 1
    assert db.session.get(Inscription, ap.id).bilan_france_travail is True  # the bilan handed to France Travail


# ---- R12: Déclic pour l'action ----------------------------------------------------------------------------------
def test_declic_days_count_7_hours_are_not_workshops_and_are_interne_administratif_events_R12(db, ref):
    with pytest.raises(TransitionRefused, match=r"demandeurs d'emploi.*\(R12\)"):
        ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord, inscrit_france_travail=False), "DECLIC")
    db.session.rollback()
    with pytest.raises(TransitionRefused, match="Âge à l'entrée"):  # 18 to 25
        ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord, date_naissance=date(2008, 1, 5)), "DECLIC")
    db.session.rollback()
    d = ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord), "DECLIC")
    not_a_workshop = go(db, ref, "action", [d.id], nature="atelier", date_action=date(2025, 3, 5))
    assert refused(not_a_workshop, "R12") and "pas un atelier" in next(iter(not_a_workshop.refused))
    for jour in (5, 6, 7, 10, 11, 12):
        assert go(db, ref, "action", [d.id], nature="journee_declic", date_action=date(2025, 3, jour)).changed == 1
    assert go(db, ref, "action", [d.id], nature="journee_declic", date_action=date(2025, 3, 13)).changed == 0  # 6 at most
    rows = actions(db, d.id)
    assert len(rows) == 6 and {(a.heures, a.type_evenement) for a in rows} == {(7, "Interne + administratif")}
    assert sum(a.heures for a in rows) == 42
    # in the future or outside the enrolment: refused
    assert go(db, ref, "action", [d.id], nature="journee_declic", date_action=date(2025, 7, 1)).changed == 0


def test_a_dispositif_without_actions_refuses_them(db, ref):
    cej = ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord), "CEJ")
    report = go(db, ref, "action", [cej.id], nature="atelier", date_action=date(2025, 3, 5))
    assert report.changed == 0 and any("n'enregistre pas d'actions" in r for r in report.refused)


# ---- through the grid ------------------------------------------------------------------------------------------
def test_parrainage_opened_in_the_grid_then_an_action_from_its_row_button_shown_on_its_page_R8(db, ref, login_as, app):
    app.config["NOW_OVERRIDE"] = NOW
    b = f.make_beneficiaire(db.session, ref.nord)
    db.session.commit()
    c = login_as("conseiller")
    page = c.get("/admin/inscription/new/").get_data(as_text=True)
    assert "Parrain ou marraine (R8)" in page and "Justification du délai (R7)" in page
    form = {"csrf_token": csrf_from(page), "numero": "PGRID0001", "beneficiaire": str(b.id),
            "dispositif": str(ref.dispositifs["PARRAINAGE"].id), "date_debut": "2025-03-03",
            "date_fin_prevue": "2025-06-30", "parrain": "", "date_acceptation_parrainage": ""}
    resp = c.post("/admin/inscription/new/", data=form, follow_redirects=True)
    assert "date de l&#39;acceptation conjointe" in resp.get_data(as_text=True) or \
        "date de l'acceptation conjointe" in resp.get_data(as_text=True)
    assert db.session.execute(sa.select(Inscription.id).where(Inscription.numero == "PGRID0001")).first() is None
    form.update(parrain="Karim Benali", date_acceptation_parrainage="2025-02-28")
    c.post("/admin/inscription/new/", data=form, follow_redirects=True)
    insc = db.session.execute(sa.select(Inscription).where(Inscription.numero == "PGRID0001")).scalar_one()
    listing = c.get("/admin/inscription/?search=PGRID0001").get_data(as_text=True)
    assert 'data-transition="action"' in listing
    resp = c.post("/admin/inscription/workflow/action/row",
                  data={"id": insc.id, "version": insc.version, "csrf_token": csrf_from(listing)})
    assert resp.status_code == 302 and "/workflow/run/" in resp.headers["Location"]
    params = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Action de parrainage (R8)" in params
    done = c.post(resp.headers["Location"], data={
        "csrf_token": csrf_from(params), "nature": "parrainage", "domaine": "professionnel",
        "date_action": "2025-03-20", "libelle": "Visite d'entreprise"}, follow_redirects=True)
    assert "1 ligne(s) modifiées" in done.get_data(as_text=True)
    detail = c.get(f"/admin/inscription/details/?id={insc.id}").get_data(as_text=True)
    assert "Action de parrainage (R8) du 20/03/2025" in detail and "Visite d&#39;entreprise" in detail


def test_the_catalogue_says_which_actions_a_dispositif_records_and_the_admin_edits_it(db, ref, login_as):
    d = ref.dispositifs["DECLIC"]
    assert (d.nature_action, d.actions_max, d.heures_par_action, d.france_travail_requis) == (
        "journee_declic", 6, 7, True)
    assert (ref.dispositifs["PARRAINAGE"].actions_min, ref.dispositifs["AVENIR_PRO"].actions_max) == (2, 4)
    c = login_as("admin")
    page = c.get(f"/admin/dispositif/edit/?id={ref.dispositifs['AVENIR_PRO'].id}")
    assert page.status_code == 200 and "Actions au plus (R11)" in page.get_data(as_text=True)
    form = c.get(f"/admin/dispositif/edit/?id={ref.dispositifs['CEJ'].id}").get_data(as_text=True)
    assert "Actions enregistrées" in form
