"""Hors-délai (R48): four eyes on the server; approval bound to the amount and month shown."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from backoffice.models import Allocation, DemandeHorsDelai
from backoffice.models.enums import AllocationStatut as AS, CerfaStatut, HorsDelaiStatut as S, Role
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.errors import RoleRefused
from backoffice.workflows.hors_delai import HORS_DELAI
from tests import factories as f

NOW = datetime(2025, 5, 2, 9, 0)


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


def test_refusal_needs_a_reason(db, ref, demande):
    report = run(db.session, HORS_DELAI, "refuser", Selection.of_ids([demande.id]), ref.comptes["manager"],
                 params={"motif_refus": "Pas de justificatif"}, now=NOW)
    db.session.commit()
    assert report.changed == 1 and db.session.get(DemandeHorsDelai, demande.id).motif_refus == "Pas de justificatif"
