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

pytestmark = pytest.mark.populated  # on the demo data: a guard or a count that forgets its correlation fails


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
    assert refused.changed == 0
    assert reasons(refused) == (f"allocation précédente non validée par le siège : allocation d'entrée n° {first.id} "
                                "de 03/2025 (validée par le siège avec le cerfa) (R43)")
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
    d = DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 2, 1),
                         montant_demande=Decimal("561.68"), motif="Mois oublié", demandeur_id=ref.comptes["conseiller"].id,
                         statut=HorsDelaiStatut.APPROUVEE, approbateur_id=ref.comptes["manager"].id,
                         montant_approuve=Decimal("561.68"), mois_approuve=date(2025, 2, 1))
    db.session.add(d)
    db.session.flush()
    a = f.make_allocation(db.session, i, c, mois=date(2025, 2, 1), nature=N.HORS_DELAI, hors_delai=True,
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
    # finding 5 (issue 12): another antenne's row is reported exactly as a missing one
    assert report.changed == 0 and report.refused == {"introuvable ou supprimée": 1}
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
                                .where(AuditEvent.action == "valider", AuditEvent.entity == "allocation",
                                       AuditEvent.entity_id.in_(ids))).scalar_one()
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
    query = sa.select(Allocation.id).where(Allocation.mois >= date(2024, 1, 1), Allocation.antenne_id == ref.nord.id,
                                           Allocation.inscription_id == i.id)
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
    frozen = Selection.of_query(sa.select(Allocation.id).where(Allocation.statut == S.SOUMISE,
                                                               Allocation.inscription_id == i.id))
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


# ---- issue 11 ------------------------------------------------------------------------------------------------
def test_the_second_allocation_names_the_entry_one_even_when_the_cerfa_is_not_validated_either_R43_E7(db, ref):
    # E7: initial cerfa signed, not yet validated; #1 (March) recorded, #2 (April) submitted too early. Two
    # guards fail (R43 and R45): the most specific reason is given, with the allocation to wait for
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.SIGNE_RECU
    first = f.make_allocation(db.session, i, c, nature=N.ENTREE, mois=date(2025, 3, 1))
    second = f.make_allocation(db.session, i, c, mois=date(2025, 4, 1))
    db.session.commit()
    report = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([second.id]), actor(ref, "conseiller"), now=NOW)
    assert report.changed == 0
    [reason] = report.refused
    assert "(R43)" in reason and f"n° {first.id} de 03/2025" in reason and "(R45)" not in reason
    assert "première" in report.message() or "précédente" in report.message()


def test_a_month_more_than_3_months_old_is_refused_at_submission_R36(db, ref, parcours):
    _, _, i, c = parcours
    i.date_debut = date(2025, 1, 2)  # the months lie within the enrolment (issue 17)
    first = f.make_allocation(db.session, i, c, nature=N.ENTREE, mois=date(2025, 1, 1), statut=S.VALIDEE_SIEGE)
    late = f.make_allocation(db.session, i, c, mois=date(2025, 2, 1))
    db.session.commit()
    # submitted (file complete) on 02/06/2025: February is more than 3 months before, lost for good
    refused = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([late.id]), actor(ref, "conseiller"),
                  now=datetime(2025, 6, 2, 9, 0))
    assert refused.changed == 0
    assert reasons(refused) == "mois forclos : plus de 3 mois avant le dossier complet, le montant est perdu (R36)"
    ok = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([late.id]), actor(ref, "conseiller"),
             now=datetime(2025, 5, 31, 9, 0))  # February is still payable until the end of May
    assert ok.changed == 1 and first.id


def test_the_pacea_annual_cap_is_checked_again_at_submission_R34(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cb = f.make_compte_bancaire(db.session, b)
    i = f.make_inscription(db.session, b, ref.dispositifs["PACEA"], date_debut=date(2025, 1, 2))
    c = f.make_cerfa(db.session, i, cb, montant_prevu=Decimal("528.00"), statut=CerfaStatut.VALIDE_SIEGE)
    for m in range(1, 6):  # 5 × 528 already granted (validated) in 2025
        f.make_allocation(db.session, i, c, mois=date(2025, m, 1), statut=S.VALIDEE_SIEGE,
                          nature=N.ENTREE if m == 1 else N.COURANTE, montant=Decimal("528.00"))
    # two months recorded at the same time (each computed while the other did not exist yet)
    june = f.make_allocation(db.session, i, c, mois=date(2025, 6, 1), montant=Decimal("528.00"))
    db.session.commit()
    ok = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([june.id]), actor(ref, "conseiller"),
             now=datetime(2025, 7, 1, 9, 0))
    assert ok.changed == 1  # 6 × 528 = 3 168: exactly the cap
    july = f.make_allocation(db.session, i, c, mois=date(2025, 7, 1), montant=Decimal("100.00"))
    db.session.execute(sa.update(Allocation).where(Allocation.id == june.id).values(statut=S.VALIDEE_SIEGE))
    db.session.commit()
    refused = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([july.id]), actor(ref, "conseiller"),
                  now=datetime(2025, 8, 1, 9, 0))
    assert refused.changed == 0 and reasons(refused) == "plafond annuel PACEA dépassé sur l'année civile (R34)"


def test_the_first_allocation_of_a_renewal_is_submitted_directly_R44(db, ref):
    from backoffice.models.enums import CerfaType
    from backoffice.workflows.saisie import enregistrer_allocation
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.type_version, c.statut = CerfaType.RENOUVELLEMENT, CerfaStatut.VALIDE_SIEGE
    db.session.commit()
    a = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1), actor=actor(ref, "conseiller"),
                               now=NOW)
    db.session.commit()
    assert a.nature == N.PREMIERE_RENOUVELLEMENT  # not an entry allocation (R42 does not apply)
    report = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert report.changed == 1 and db.session.get(Allocation, a.id).statut == S.SOUMISE


def test_an_entry_allocation_recorded_after_its_cerfa_was_validated_is_validated_by_the_siege_R40_R42(db, ref,
                                                                                                    login_as):
    from tests.conftest import csrf_from
    from backoffice.workflows.saisie import enregistrer_allocation
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.VALIDE_SIEGE  # validated before any allocation existed
    db.session.commit()
    a = enregistrer_allocation(db.session, inscription_id=i.id, mois=date(2025, 4, 1), actor=actor(ref, "conseiller"),
                               now=NOW)
    db.session.commit()
    assert a.nature == N.ENTREE
    # the conseiller may not submit it (R42) …
    refused = run(db.session, ALLOCATION, "soumettre", Selection.of_ids([a.id]), actor(ref, "conseiller"), now=NOW)
    assert refused.changed == 0 and "(R42)" in reasons(refused)
    # … so the siège is offered the way out, over HTTP, on that row
    siege = login_as("siege")
    page = siege.get("/admin/allocation/").get_data(as_text=True)  # newest first: this row is on page 1
    assert 'data-transition="valider_entree"' in page
    resp = siege.post("/admin/allocation/workflow/valider_entree/row",
                      data={"id": a.id, "version": db.session.get(Allocation, a.id).version,
                            "csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "1 ligne(s) modifiées" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Allocation, a.id).statut == S.VALIDEE_SIEGE
    # a current allocation is not validated that way
    other = f.make_allocation(db.session, i, c, mois=date(2025, 5, 1))
    db.session.commit()
    no = run(db.session, ALLOCATION, "valider_entree", Selection.of_ids([other.id]), actor(ref, "siege"), now=NOW)
    assert no.changed == 0 and "(R42)" in reasons(no)


def test_an_effect_audits_the_rows_it_moves_with_the_actor_time_and_cause_of_the_transition(db, ref):
    from backoffice.workflows.cerfa import CERFA
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = CerfaStatut.SIGNE_RECU
    entry = f.make_allocation(db.session, i, c, nature=N.ENTREE, mois=date(2025, 3, 1))
    db.session.commit()
    run(db.session, CERFA, "valider", Selection.of_ids([c.id]), actor(ref, "siege"), now=NOW)
    db.session.commit()
    ev = db.session.execute(sa.select(AuditEvent).where(AuditEvent.entity == "allocation",
                                                        AuditEvent.entity_id == entry.id)).scalar_one()
    assert (ev.action, ev.actor_id, ev.at, ev.params) == ("valider_entree", ref.comptes["siege"].id, NOW,
                                                           {"cause": "cerfa.valider"})
