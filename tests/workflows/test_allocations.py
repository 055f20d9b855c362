"""Allocation workflow: each guard's refusal reason (rule numbers), run twice, stale versions, bulk."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice.models import Allocation, AuditEvent
from backoffice.models.enums import AllocationNature as N, AllocationStatut as S, CerfaStatut
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.errors import RoleRefused
from tests import factories as f

NOW = datetime(2025, 5, 2, 9, 0)


@pytest.fixture
def parcours(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    db.session.commit()
    return b, cb, i, c


def actor(ref, login):
    return ref.comptes[login]


def reasons(report):
    return " | ".join(report.refused)


def test_entry_allocation_is_never_submitted_by_the_conseiller_R42(db, ref, parcours):
    _, _, i, c = parcours
    a = f.make_allocation(db.session, i, c, nature=N.ENTREE, mois=date(2025, 3, 1))
    report = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert report.changed == 0
    assert "(R42)" in reasons(report)
    assert db.session.get(Allocation, a.id).statut == S.ENREGISTREE


def test_second_allocation_waits_for_the_first_to_be_validated_R43_E7(db, ref, parcours):
    _, _, i, c = parcours
    first = f.make_allocation(db.session, i, c, nature=N.ENTREE, mois=date(2025, 3, 1))
    second = f.make_allocation(db.session, i, c, mois=date(2025, 4, 1))
    db.session.commit()
    refused = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([second.id]), actor(ref, "conseiller"), now=NOW)
    assert refused.changed == 0 and "allocation précédente non validée par le siège (R43)" in refused.refused
    first.statut = S.VALIDEE_SIEGE  # as the siège validating the cerfa does (R40)
    db.session.commit()
    ok = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([second.id]), actor(ref, "conseiller"), now=NOW)
    assert ok.changed == 1
    assert db.session.get(Allocation, second.id).statut == S.SOUMISE


def test_submission_needs_a_cerfa_validated_with_a_rib_R45(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)  # cerfa still 'saisi'
    a = f.make_allocation(db.session, i, c, mois=date(2025, 4, 1))
    report = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert report.changed == 0 and "(R45)" in reasons(report)


def test_no_allocation_on_a_diagnostic_R6(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cb = f.make_compte_bancaire(db.session, b)
    i = f.make_inscription(db.session, b, ref.dispositifs["DIAG"])
    c = f.make_cerfa(db.session, i, cb, statut=CerfaStatut.VALIDE_SIEGE)
    a = f.make_allocation(db.session, i, c, mois=date(2025, 4, 1))
    report = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert report.changed == 0 and "(R6)" in reasons(report)


def test_hors_delai_allocation_needs_an_approval_bound_to_its_amount_R48(db, ref, parcours):
    from backoffice.models import DemandeHorsDelai
    from backoffice.models.enums import HorsDelaiStatut
    _, _, i, c = parcours
    i.date_debut = date(2025, 1, 6)  # issue 17: the late month lies within the enrolment
    d = DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 1, 1),
                         montant_demande=Decimal("561.68"), motif="Mois oublié", demandeur_id=ref.comptes["conseiller"].id,
                         statut=HorsDelaiStatut.APPROUVEE, approbateur_id=ref.comptes["manager"].id,
                         montant_approuve=Decimal("561.68"), mois_approuve=date(2025, 1, 1))
    db.session.add(d)
    db.session.flush()
    a = f.make_allocation(db.session, i, c, mois=date(2025, 1, 1), nature=N.HORS_DELAI, hors_delai=True,
                          demande_hors_delai_id=d.id, montant=Decimal("600.00"))
    db.session.commit()
    refused = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert refused.changed == 0 and "(R48)" in reasons(refused)
    a.montant = Decimal("561.68")
    db.session.commit()
    ok = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert ok.changed == 1


def test_only_the_siege_validates_and_the_conseiller_gets_a_french_refusal(db, ref, parcours):
    _, _, i, c = parcours
    a = f.make_allocation(db.session, i, c, statut=S.SOUMISE)
    with pytest.raises(RoleRefused, match="Votre rôle ne permet pas"):
        run(db.session, ALLOCATION, "valider", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert db.session.get(Allocation, a.id).statut == S.SOUMISE


def test_a_conseiller_cannot_move_another_antennes_allocation(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.sud, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE
    first = f.make_allocation(db.session, i, c, statut=S.VALIDEE_SIEGE, mois=date(2025, 3, 1), nature=N.ENTREE)
    a = f.make_allocation(db.session, i, c, mois=date(2025, 4, 1))
    db.session.commit()
    report = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert report.changed == 0 and "hors de votre périmètre (antenne)" in report.refused
    report2 = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller2"), now=NOW)
    assert report2.changed == 1


def test_running_the_same_validation_twice_changes_nothing_the_second_time(db, ref, parcours):
    _, _, i, c = parcours
    ids = [f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2025, m, 1)).id for m in (3, 4, 5)]
    db.session.commit()
    first = run(db.session, ALLOCATION, "valider", Selection.of_ids(ids), actor(ref, "siege"), now=NOW)
    db.session.commit()
    second = run(db.session, ALLOCATION, "valider", Selection.of_ids(ids), actor(ref, "siege"), now=NOW)
    db.session.commit()
    assert (first.changed, second.changed) == (3, 0)
    assert second.refused == {"déjà à l'état « Validée siège »": 3}
    events = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "valider")).scalar_one()
    assert events == 3  # one audit event per changed row, none for the replay


def test_audit_event_records_actor_transition_from_and_to(db, ref, parcours):
    _, _, i, c = parcours
    a = f.make_allocation(db.session, i, c, statut=S.SOUMISE)
    db.session.commit()
    run(db.session, ALLOCATION, "refuser", Selection.of_ids([a.id]), actor(ref, "siege"),
        params={"motif_refus": "Justificatif de ressources manquant"}, now=NOW)
    db.session.commit()
    ev = db.session.execute(sa.select(AuditEvent).where(AuditEvent.entity == "allocation",
                                                        AuditEvent.entity_id == a.id)).scalar_one()
    assert (ev.actor_id, ev.action, ev.from_status, ev.to_status) == (ref.comptes["siege"].id, "refuser", "soumise", "refusee")
    assert ev.params == {"motif_refus": "Justificatif de ressources manquant"}
    assert db.session.get(Allocation, a.id).motif_refus == "Justificatif de ressources manquant"


def test_refusal_without_a_reason_is_refused_and_changes_nothing(db, ref, parcours):
    from backoffice.workflows.errors import InvalidParameters
    _, _, i, c = parcours
    a = f.make_allocation(db.session, i, c, statut=S.SOUMISE)
    db.session.commit()
    with pytest.raises(InvalidParameters, match="obligatoire"):
        run(db.session, ALLOCATION, "refuser", Selection.of_ids([a.id]), actor(ref, "siege"),
            params={"motif_refus": "   "}, now=NOW)
    assert db.session.get(Allocation, a.id).statut == S.SOUMISE


def test_a_stale_version_is_refused_with_a_clear_message(db, ref, parcours):
    _, _, i, c = parcours
    a = f.make_allocation(db.session, i, c, statut=S.SOUMISE)
    db.session.commit()
    seen = a.version
    db.session.execute(sa.update(Allocation).where(Allocation.id == a.id).values(version=Allocation.version + 1))
    db.session.commit()
    report = run(db.session, ALLOCATION, "valider", Selection.of_ids([a.id], versions={a.id: seen}),
                 actor(ref, "siege"), now=NOW)
    assert report.changed == 0
    assert "modifié par quelqu'un d'autre depuis l'affichage : rechargez la page" in report.refused


def test_bulk_on_a_filtered_query_moves_every_match_and_reports_the_rest(db, ref, parcours):
    _, _, i, c = parcours
    for m in range(1, 13):
        f.make_allocation(db.session, i, c, statut=S.SOUMISE if m % 3 else S.ENREGISTREE, mois=date(2024, m, 1))
    db.session.commit()
    query = sa.select(Allocation.id).where(Allocation.mois >= date(2024, 1, 1), Allocation.antenne_id == ref.nord.id)
    report = run(db.session, ALLOCATION, "valider", Selection.of_query(query), actor(ref, "siege"),
                 now=NOW, chunk_size=5)  # several chunks
    db.session.commit()
    assert report.total == 12 and report.changed == 8
    assert report.refused == {"statut « Enregistrée » : action impossible": 4}
    assert report.amount == Decimal("561.68") * 8


def test_frozen_set_ignores_rows_that_match_later_and_reports_rows_changed_since(db, ref, parcours):
    _, _, i, c = parcours
    ids = [f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2024, m, 1)).id for m in (1, 2, 3)]
    db.session.commit()
    frozen = Selection.of_query(sa.select(Allocation.id).where(Allocation.statut == S.SOUMISE))
    frozen.freeze(db.session)
    late = f.make_allocation(db.session, i, c, statut=S.SOUMISE, mois=date(2024, 4, 1))  # matches later
    db.session.execute(sa.update(Allocation).where(Allocation.id == ids[0]).values(statut=S.REFUSEE,
                                                                                   motif_refus="x"))
    db.session.commit()
    report = run(db.session, ALLOCATION, "valider", frozen, actor(ref, "siege"), now=NOW)
    db.session.commit()
    assert report.changed == 2
    assert report.refused == {"statut « Refusée » : action impossible": 1}
    assert db.session.get(Allocation, late.id).statut == S.SOUMISE
