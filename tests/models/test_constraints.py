"""The database refuses what slips past a form: money, statuses, unique keys, rules as CHECKs."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError

from backoffice import models as m
from tests import factories as f


def insert_fails(db, stmt, params=None):
    with pytest.raises((IntegrityError, StatementError)):
        with db.session.begin_nested():
            db.session.execute(sa.text(stmt) if isinstance(stmt, str) else stmt, params or {})


@pytest.fixture
def alloc(db, ref):
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    a = f.make_allocation(db.session, i, c)
    db.session.commit()
    return a


@pytest.mark.parametrize("amount", ["-0.01", "NaN", "Infinity", "-Infinity", "10000000000.00"])
def test_money_columns_refuse_negative_nan_and_infinite_amounts(db, alloc, amount):
    insert_fails(db, "UPDATE allocation SET montant = CAST(:v AS numeric) WHERE id = :id", {"v": amount, "id": alloc.id})


def test_money_is_numeric_12_2_and_decimal_in_python(db, alloc):
    col = m.Allocation.__table__.c.montant.type
    assert (col.precision, col.scale) == (12, 2)
    db.session.expire_all()
    assert isinstance(db.session.get(m.Allocation, alloc.id).montant, Decimal)


def test_unknown_status_is_refused_by_the_database(db, alloc):
    insert_fails(db, "UPDATE allocation SET statut = 'payee_deux_fois' WHERE id = :id", {"id": alloc.id})


def test_one_allowance_per_youth_and_month_R15(db, ref, alloc):
    other = m.Allocation(inscription_id=alloc.inscription_id, beneficiaire_id=alloc.beneficiaire_id,
                         dispositif_id=alloc.dispositif_id, antenne_id=alloc.antenne_id, mois=alloc.mois,
                         nature="courante", statut="enregistree")
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(other)
            db.session.flush()


def test_one_payable_per_source_and_period_and_one_live_payment_per_payable(db, ref, alloc):
    """Issue 13: the exactly-once key is the payable's (source, id, period), and a payable has one payment that is
    not rejected; after a rejection another may be made."""
    from backoffice.models.enums import PaiementStatut
    cb = db.session.get(m.CompteBancaire, db.session.get(m.Cerfa, alloc.cerfa_id).compte_bancaire_id)
    e = f.make_echeance_allocation(db.session, alloc, cb)
    insert_fails(db, sa.insert(m.Echeance).values(
        dispositif_id=e.dispositif_id, source_type="allocation", source_id=alloc.id, periode=e.periode,
        payee_type="jeune", payee_id=alloc.beneficiaire_id, iban=cb.iban, titulaire="X", libelle="x",
        montant=Decimal("1.00"), statut="a_payer", tentatives=0))
    lot = m.LotPaiement(reference="LOT-X", dispositif_id=alloc.dispositif_id, date_execution=date(2025, 5, 15))
    db.session.add(lot)
    db.session.flush()
    row = dict(lot_id=lot.id, echeance_id=e.id, allocation_id=alloc.id, beneficiaire_id=alloc.beneficiaire_id,
               antenne_id=alloc.antenne_id, montant=Decimal("10.00"), titulaire="X", iban="FR7630006000011234567890189",
               libelle="x")
    db.session.execute(sa.insert(m.Paiement), [dict(row, end_to_end_id="E1")])
    insert_fails(db, sa.insert(m.Paiement).values(**dict(row, end_to_end_id="E2")))
    db.session.execute(sa.update(m.Paiement).where(m.Paiement.end_to_end_id == "E1")
                       .values(statut=PaiementStatut.REJETE, motif_rejet="AC04"))
    db.session.execute(sa.insert(m.Paiement), [dict(row, end_to_end_id="E3")])  # paid again after the rejection
    insert_fails(db, sa.insert(m.Paiement).values(**dict(row, end_to_end_id="E4")))


def test_a_non_eea_youth_without_agdref_is_refused_R14(db, ref):
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            f.make_beneficiaire(db.session, ref.nord, ressortissant_eee=False, numero_agdref=None)


def test_the_requester_of_a_hors_delai_cannot_be_its_approver_in_the_database_R48(db, ref, alloc):
    d = m.DemandeHorsDelai(inscription_id=alloc.inscription_id, antenne_id=alloc.antenne_id, mois=date(2025, 1, 1),
                           montant_demande=Decimal("1.00"), motif="x", demandeur_id=ref.comptes["manager"].id)
    db.session.add(d)
    db.session.commit()
    insert_fails(db, "UPDATE demande_hors_delai SET approbateur_id = demandeur_id WHERE id = :id", {"id": d.id})


def test_a_livret_a_rib_is_refused_R38(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            f.make_compte_bancaire(db.session, b, type_compte="livret_a")


def test_duplicate_siret_is_refused_R62(db):
    values = dict(raison_sociale="A", libelle_voie="1 rue A", code_postal="59000", ville="Lille", email="a@b.fr")
    db.session.add(m.Etablissement(siret="73282932000074", **values))
    db.session.flush()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(m.Etablissement(siret="73282932000074", **values))
            db.session.flush()
