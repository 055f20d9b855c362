"""Cerfa validation guards (R13, R14, R38, R39, R76) and the entry allocation it validates (R40, R42)."""

from datetime import date, datetime

import pytest

from backoffice.models import Allocation, Cerfa
from backoffice.models.enums import AllocationNature as N, AllocationStatut as AS, CerfaStatut as S
from backoffice.workflows import Selection, run
from backoffice.workflows.cerfa import CERFA
from tests import factories as f

NOW = datetime(2025, 3, 10, 9, 0)


def valider(db, ref, cerfa_id):
    report = run(db.session, CERFA, "valider", Selection.of_ids([cerfa_id]), ref.comptes["siege"], now=NOW)
    db.session.commit()
    return report


def test_validating_an_initial_cerfa_validates_its_entry_allocation_R40_R42(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = S.SIGNE_RECU
    entree = f.make_allocation(db.session, i, c, nature=N.ENTREE, mois=date(2025, 3, 1))
    db.session.commit()
    report = valider(db, ref, c.id)
    assert report.changed == 1
    assert db.session.get(Cerfa, c.id).statut == S.VALIDE_SIEGE
    assert db.session.get(Allocation, entree.id).statut == AS.VALIDEE_SIEGE


def test_pacea_holder_longer_than_38_characters_is_refused_E14_R38(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    holder = "MME DUPONT MARIE SOUS CURATELLE UDAF DU 12"  # 42 characters
    cb = f.make_compte_bancaire(db.session, b, titulaire=holder)
    i = f.make_inscription(db.session, b, ref.dispositifs["PACEA"])
    c = f.make_cerfa(db.session, i, cb, statut=S.SIGNE_RECU)
    report = valider(db, ref, c.id)
    assert report.changed == 0 and "nom du titulaire du RIB trop long pour ce cerfa (R38)" in report.refused
    # the same holder is accepted on a CEJ cerfa (≤ 49)
    i2 = f.make_inscription(db.session, b, ref.dispositifs["CEJ"], date_debut=date(2026, 3, 3),
                            date_fin_prevue=date(2027, 3, 2))  # R20: after the PACEA, never during it
    c2 = f.make_cerfa(db.session, i2, cb, statut=S.SIGNE_RECU)
    assert valider(db, ref, c2.id).changed == 1


def test_wrong_rib_key_is_refused_even_if_mod97_is_valid_E12_R76(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cb = f.make_compte_bancaire(db.session, b, iban="FR0630006000011234567890188")
    i = f.make_inscription(db.session, b, ref.dispositifs["CEJ"])
    c = f.make_cerfa(db.session, i, cb, statut=S.SIGNE_RECU)
    report = valider(db, ref, c.id)
    assert report.changed == 0 and "IBAN du RIB invalide (clé RIB ou format) (R76)" in report.refused


def test_cerfa_without_rib_is_refused_R39(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    i = f.make_inscription(db.session, b, ref.dispositifs["PACEA"])
    c = f.make_cerfa(db.session, i, None, statut=S.SIGNE_RECU)
    assert "RIB absent du cerfa (R39)" in valider(db, ref, c.id).refused


def test_pacea_needs_france_travail_registration_R13(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord, inscrit_france_travail=False)
    cb = f.make_compte_bancaire(db.session, b)
    i = f.make_inscription(db.session, b, ref.dispositifs["PACEA"])
    c = f.make_cerfa(db.session, i, cb, statut=S.SIGNE_RECU)
    assert "inscription à France Travail requise (R13)" in valider(db, ref, c.id).refused


def test_refused_cerfa_can_be_corrected_and_sent_again(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    c.statut = S.SIGNE_RECU
    db.session.commit()
    run(db.session, CERFA, "refuser", Selection.of_ids([c.id]), ref.comptes["siege"],
        params={"motif_refus": "Signature du jeune absente"}, now=NOW)
    db.session.commit()
    assert db.session.get(Cerfa, c.id).statut == S.REFUSE
    run(db.session, CERFA, "corriger", Selection.of_ids([c.id]), ref.comptes["conseiller"], now=NOW)
    db.session.commit()
    assert db.session.get(Cerfa, c.id).statut == S.SIGNE_RECU
    assert valider(db, ref, c.id).changed == 1
