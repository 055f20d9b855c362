"""Hors-délai (R48): four eyes on the server; approval bound to the amount the rules compute and the month
shown; the whole path of a reduced CEJ amount; audit attribution of what the approval creates (issue 11).
On the demo data (populated_db)."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent, DemandeHorsDelai, Paiement
from backoffice.models.enums import AllocationStatut as AS, CerfaStatut, HorsDelaiStatut as S, Role
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.errors import RoleRefused
from backoffice.workflows.hors_delai import HORS_DELAI
from tests import factories as f

NOW = datetime(2025, 5, 2, 9, 0)

pytestmark = pytest.mark.populated


@pytest.fixture
def demande(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    d = DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 1, 1),
                         montant_demande=Decimal("561.68"), motif="Allocation de janvier non demandée à temps",
                         demandeur_id=ref.comptes["conseiller"].id)
    db.session.add(d)
    db.session.commit()
    return d


def test_the_requester_can_never_approve_even_as_a_manager(db, ref, demande):
    # a manager who filed the request themselves is refused by the server-side guard
    demande.demandeur_id = ref.comptes["manager"].id
    db.session.commit()
    report = run(db.session, HORS_DELAI, "approuver", Selection.of_ids([demande.id]), ref.comptes["manager"], now=NOW)
    assert report.changed == 0
    assert "le demandeur ne peut pas approuver sa propre demande (R48)" in report.refused
    assert db.session.get(DemandeHorsDelai, demande.id).statut == S.EN_ATTENTE


def test_a_conseiller_cannot_approve(db, ref, demande):
    with pytest.raises(RoleRefused):
        run(db.session, HORS_DELAI, "approuver", Selection.of_ids([demande.id]), ref.comptes["conseiller"], now=NOW)


def test_approval_creates_the_late_allocation_which_the_conseiller_then_submits(db, ref, demande):
    report = run(db.session, HORS_DELAI, "approuver", Selection.of_ids([demande.id]), ref.comptes["manager"], now=NOW)
    db.session.commit()
    assert report.changed == 1
    d = db.session.get(DemandeHorsDelai, demande.id)
    assert (d.statut, d.approbateur_id, d.montant_approuve, d.mois_approuve) == (
        S.APPROUVEE, ref.comptes["manager"].id, Decimal("561.68"), date(2025, 1, 1))
    a = db.session.query(Allocation).filter_by(demande_hors_delai_id=d.id).one()
    assert a.hors_delai and a.statut == AS.ENREGISTREE and a.mois == date(2025, 1, 1)
    assert a.montant == d.montant_approuve == d.montant_calcule


def test_refusal_needs_a_reason(db, ref, demande):
    report = run(db.session, HORS_DELAI, "refuser", Selection.of_ids([demande.id]), ref.comptes["manager"],
                 params={"motif_refus": "Pas de justificatif"}, now=NOW)
    db.session.commit()
    assert report.changed == 1 and db.session.get(DemandeHorsDelai, demande.id).motif_refus == "Pas de justificatif"


# ---- issue 11 ------------------------------------------------------------------------------------------------
PATH_NOW = datetime(2025, 5, 20, 9, 0)  # March's last regular sending was 15/04: March is late, not forclos


def _requete_mars(db, ref, salaire="600.00"):
    from backoffice.workflows.hors_delai import completer_demande
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    d = DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 3, 1),
                         montant_demande=Decimal("561.68"), motif="Mars oublié : bulletin de février reçu en retard",
                         demandeur_id=ref.comptes["conseiller"].id)
    db.session.add(d)
    db.session.flush()
    completer_demande(db.session, d, [("Salaire", Decimal(salaire))], aujourd_hui=PATH_NOW.date())
    db.session.commit()
    return d, c


def test_a_reduced_cej_amount_goes_the_whole_way_request_approval_allocation_submit_validate_send_paid_R48(
        db, ref):
    from backoffice.workflows.paiements import emettre_lot, rapprocher_lot
    d, c = _requete_mars(db, ref)
    # the manager sees the amount the rules give on the declared resources (E2: 600 € of pay → 414,06 €)
    assert (d.montant_calcule, d.montant_demande) == (Decimal("414.06"), Decimal("561.68"))
    approved = run(db.session, HORS_DELAI, "approuver", Selection.of_ids([d.id]), ref.comptes["manager"], now=PATH_NOW)
    db.session.commit()
    assert approved.changed == 1
    d = db.session.get(DemandeHorsDelai, d.id)
    assert (d.statut, d.montant_approuve, d.mois_approuve) == (S.APPROUVEE, Decimal("414.06"), date(2025, 3, 1))
    a = db.session.execute(sa.select(Allocation).where(Allocation.demande_hors_delai_id == d.id)).scalar_one()
    assert (a.montant, a.hors_delai, [(r.type_ressource, r.montant) for r in a.ressources]) == (
        Decimal("414.06"), True, [("Salaire", Decimal("600.00"))])
    steps = [("soumettre", "conseiller", AS.SOUMISE), ("valider", "siege", AS.VALIDEE_SIEGE),
             ("transmettre", "siege", AS.TRANSMISE)]
    for name, who, status in steps:
        report = run(db.session, ALLOCATION, name, Selection.of_ids([a.id]), ref.comptes[who], now=PATH_NOW)
        db.session.commit()
        assert report.changed == 1, (name, dict(report.refused))
        assert db.session.get(Allocation, a.id).statut == status
    p = db.session.execute(sa.select(Paiement).where(Paiement.allocation_id == a.id)).scalar_one()
    assert p.montant == Decimal("414.06")
    emettre_lot(db.session, p.lot_id, now=PATH_NOW, actor=ref.comptes["comptable"])
    db.session.commit()
    assert db.session.get(Allocation, a.id).statut == AS.ACCEPTEE
    rapprocher_lot(db.session, p.lot_id, actor=ref.comptes["comptable"], now=PATH_NOW)
    db.session.commit()
    assert db.session.get(Allocation, a.id).statut == AS.VERSEE


def test_an_edit_after_approval_sends_the_request_back_and_the_new_approval_carries_the_new_amount_R48(db, ref):
    from backoffice.workflows.hors_delai import completer_demande, modifier_demande
    d, c = _requete_mars(db, ref)
    run(db.session, HORS_DELAI, "approuver", Selection.of_ids([d.id]), ref.comptes["manager"], now=PATH_NOW)
    db.session.commit()
    a_id = db.session.execute(sa.select(Allocation.id).where(Allocation.demande_hors_delai_id == d.id)).scalar_one()
    d = db.session.get(DemandeHorsDelai, d.id)
    completer_demande(db.session, d, [("Salaire", Decimal("950.00"))], aujourd_hui=PATH_NOW.date())
    modifier_demande(db.session, d, ref.comptes["conseiller"])
    db.session.commit()
    d = db.session.get(DemandeHorsDelai, d.id)
    assert (d.statut, d.montant_approuve, d.montant_calcule) == (S.EN_ATTENTE, None, Decimal("241.83"))
    # while pending again, the allocation cannot be submitted (R48)
    refused = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a_id]), ref.comptes["conseiller"], now=PATH_NOW)
    assert refused.changed == 0 and "(R48)" in " ".join(refused.refused)
    run(db.session, HORS_DELAI, "approuver", Selection.of_ids([d.id]), ref.comptes["manager"], now=PATH_NOW)
    db.session.commit()
    a = db.session.get(Allocation, a_id)
    assert a.montant == Decimal("241.83") == db.session.get(DemandeHorsDelai, d.id).montant_approuve
    ok = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a_id]), ref.comptes["conseiller"], now=PATH_NOW)
    assert ok.changed == 1


def test_an_approval_is_refused_when_the_rules_now_give_another_amount_than_the_one_shown_R48(db, ref):
    d, c = _requete_mars(db, ref)
    c.montant_prevu = Decimal("337.00")  # the cerfa's flat amount revised after the request was shown (R22)
    db.session.commit()
    report = run(db.session, HORS_DELAI, "approuver", Selection.of_ids([d.id]), ref.comptes["manager"], now=PATH_NOW)
    assert report.changed == 0 and "le montant calculé a changé depuis l'affichage" in " ".join(report.refused)
    assert db.session.execute(sa.select(Allocation.id).where(Allocation.demande_hors_delai_id == d.id)).first() is None


def test_the_allocation_an_approval_creates_is_audited_as_the_managers_approval_at_its_time(db, ref):
    d, c = _requete_mars(db, ref)
    run(db.session, HORS_DELAI, "approuver", Selection.of_ids([d.id]), ref.comptes["manager"], now=PATH_NOW)
    db.session.commit()
    a = db.session.execute(sa.select(Allocation).where(Allocation.demande_hors_delai_id == d.id)).scalar_one()
    [ev] = db.session.execute(sa.select(AuditEvent).where(AuditEvent.entity == "allocation",
                                                          AuditEvent.entity_id == a.id)).scalars().all()
    assert (ev.action, ev.actor_id, ev.at) == ("enregistrer", ref.comptes["manager"].id, PATH_NOW)
    assert ev.params["cause"] == "hors_delai.approuver" and ev.params["demande_hors_delai"] == d.id
    assert ev.params["demandeur_id"] == ref.comptes["conseiller"].id  # who asked stays readable
    assert a.cree_par_id == ref.comptes["manager"].id
    [decision] = db.session.execute(sa.select(AuditEvent).where(AuditEvent.entity == "demande_hors_delai",
                                                                AuditEvent.entity_id == d.id)).scalars().all()
    assert (decision.action, decision.actor_id, decision.at) == ("approuver", ref.comptes["manager"].id, PATH_NOW)


def test_a_request_for_a_month_still_in_time_is_refused_R48(db, ref):
    from backoffice.workflows.errors import TransitionRefused
    from backoffice.workflows.hors_delai import completer_demande
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    d = DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 4, 1),
                         montant_demande=Decimal("561.68"), motif="x", demandeur_id=ref.comptes["conseiller"].id)
    with pytest.raises(TransitionRefused, match="encore dans les délais"):
        completer_demande(db.session, d, [], aujourd_hui=date(2025, 5, 15))


def test_over_http_the_request_shows_the_computed_amount_to_the_manager_and_an_edit_sends_it_back(app, db, ref,
                                                                                                 login_as):
    import re
    from tests.conftest import csrf_from
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    db.session.commit()
    app.config["NOW_OVERRIDE"] = PATH_NOW
    conseiller = login_as("conseiller")
    page = conseiller.get("/admin/demande_hors_delai/new/").get_data(as_text=True)
    field = re.search(r'name="mois"[^>]*', page).group(0)
    mois = "2025-03-01" if 'type="date"' in field else "03/2025"
    data = {"csrf_token": csrf_from(page), "inscription": i.id, "mois": mois, "montant_demande": "561,68",
            "motif": "Mars oublié", "ressource_type_1": "Salaire", "ressource_montant_1": "600,00",
            "ressource_type_2": "", "ressource_montant_2": "", "ressource_type_3": "", "ressource_montant_3": ""}
    resp = conseiller.post("/admin/demande_hors_delai/new/", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    d = db.session.execute(sa.select(DemandeHorsDelai).where(DemandeHorsDelai.inscription_id == i.id)).scalar_one()
    assert d.montant_calcule == Decimal("414.06") and d.ressources_declarees == [["Salaire", "600.00"]]
    manager = login_as("manager")
    detail = manager.get(f"/admin/demande_hors_delai/details/?id={d.id}").get_data(as_text=True)
    assert "Montant calculé (à approuver)" in detail and "414,06" in detail and "Salaire" in detail
    run(db.session, HORS_DELAI, "approuver", Selection.of_ids([d.id]), ref.comptes["manager"], now=PATH_NOW)
    db.session.commit()
    # the conseiller corrects the resources: the request goes back to the manager with the new amount
    edit_url = f"/admin/demande_hors_delai/edit/?id={d.id}"
    page = conseiller.get(edit_url).get_data(as_text=True)
    assert 'value="600,00"' in page
    data.update(csrf_token=csrf_from(page), ressource_montant_1="950,00", version=str(d.version))
    resp = conseiller.post(edit_url, data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    db.session.expire_all()
    d = db.session.get(DemandeHorsDelai, d.id)
    assert (d.statut, d.montant_calcule, d.montant_approuve) == (S.EN_ATTENTE, Decimal("241.83"), None)
