"""Issue 13, migration 0031: the payments' and payables' foreign keys are checked once per statement (triggers with
transition tables) instead of once per row. The guarantees must be those of the foreign keys they replace: an
orphan is refused whatever writes it, a referenced row cannot be deleted, and one bad row refuses the whole
statement. On the populated database, so that the anti-joins see other rows than the test's."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

pytestmark = pytest.mark.populated


def refuse(db, sql, params=None):
    with pytest.raises(IntegrityError) as err:
        with db.session.begin_nested():
            db.session.execute(sa.text(sql), params or {})
    assert "intégrité" in str(err.value.orig)
    return err


def un_paiement(db):
    return db.session.execute(sa.text(
        "SELECT id, lot_id, echeance_id, allocation_id FROM paiement WHERE allocation_id IS NOT NULL "
        "ORDER BY id LIMIT 1")).one()


def copie_de(db, p, **change):
    """INSERT of a copy of payment `p` (a new end-to-end id, status rejete so that the live-payment index allows
    it), with some columns changed."""
    cols = {"lot_id": p.lot_id, "echeance_id": p.echeance_id, "allocation_id": p.allocation_id, **change}
    return (f"""INSERT INTO paiement (lot_id, echeance_id, allocation_id, end_to_end_id, montant, titulaire, iban,
                                      libelle, statut, motif_rejet, created_at, updated_at)
                SELECT {cols['lot_id']}, {cols['echeance_id']}, {cols['allocation_id'] or 'NULL'}, 'TEST-' || id,
                       montant, titulaire, iban, libelle, 'rejete', 'test', now(), now()
                FROM paiement WHERE id = {p.id}""")


def test_a_payment_pointing_to_a_missing_payable_lot_or_allocation_is_refused(populated_db):
    db = populated_db
    p = un_paiement(db)
    absent = db.session.execute(sa.text("SELECT max(id) + 1000 FROM echeance")).scalar_one()
    refuse(db, copie_de(db, p, echeance_id=absent))
    refuse(db, copie_de(db, p, lot_id=db.session.execute(sa.text("SELECT max(id) + 1000 FROM lot_paiement")).scalar()))
    refuse(db, copie_de(db, p, allocation_id=db.session.execute(
        sa.text("SELECT max(id) + 1000 FROM allocation")).scalar()))
    with db.session.begin_nested():  # the same copy with its real references is accepted
        db.session.execute(sa.text(copie_de(db, p)))
    assert db.session.execute(sa.text("SELECT count(*) FROM paiement WHERE end_to_end_id = :e"),
                              {"e": f"TEST-{p.id}"}).scalar_one() == 1


def test_one_orphan_among_valid_rows_refuses_the_whole_statement(populated_db):
    db = populated_db
    before = db.session.execute(sa.text("SELECT count(*) FROM paiement")).scalar_one()
    absent = db.session.execute(sa.text("SELECT max(id) + 1000 FROM echeance")).scalar_one()
    refuse(db, f"""INSERT INTO paiement (lot_id, echeance_id, allocation_id, end_to_end_id, montant, titulaire, iban,
                                         libelle, statut, motif_rejet, created_at, updated_at)
                   SELECT lot_id, CASE WHEN id = (SELECT max(id) FROM paiement) THEN {absent} ELSE echeance_id END,
                          allocation_id, 'LOT2-' || id, montant, titulaire, iban, libelle, 'rejete', 'test', now(), now()
                   FROM paiement""")
    assert db.session.execute(sa.text("SELECT count(*) FROM paiement")).scalar_one() == before


def test_moving_a_payment_or_a_payable_to_a_missing_row_is_refused(populated_db):
    db = populated_db
    p = un_paiement(db)
    refuse(db, "UPDATE paiement SET lot_id = (SELECT max(id) + 1000 FROM lot_paiement) WHERE id = :id", {"id": p.id})
    refuse(db, "UPDATE echeance SET dispositif_id = (SELECT max(id) + 1000 FROM dispositif) WHERE id = :id",
           {"id": p.echeance_id})
    with db.session.begin_nested():  # a change that is not a key's is not checked, and passes
        db.session.execute(sa.text("UPDATE paiement SET updated_at = now() WHERE id = :id"), {"id": p.id})


@pytest.mark.parametrize("table, colonne", [("echeance", "echeance_id"), ("lot_paiement", "lot_id"),
                                            ("allocation", "allocation_id")])
def test_a_row_still_referenced_by_a_payment_cannot_be_deleted(populated_db, table, colonne):
    db = populated_db
    p = un_paiement(db)
    refuse(db, f"DELETE FROM {table} WHERE id = :id", {"id": getattr(p, colonne)})
    assert db.session.execute(sa.text(f"SELECT count(*) FROM {table} WHERE id = :id"),
                              {"id": getattr(p, colonne)}).scalar_one() == 1


def test_a_programme_with_payables_cannot_be_deleted(populated_db):
    """A programme referenced by nothing but a payable (no batch, no calendar yet): only 0031's check stands."""
    db = populated_db
    with db.session.begin_nested():
        d = db.session.execute(sa.text(
            "INSERT INTO dispositif (code, libelle, renouvelable, nb_renouvellements_max, allocation_autorisee, "
            "france_travail_requis, sortie_positive, actif) VALUES ('TEST-0031', 'Test', false, 0, false, false, "
            "false, true) RETURNING id")).scalar_one()
        db.session.execute(sa.text(
            "INSERT INTO echeance (dispositif_id, source_type, source_id, periode, payee_type, payee_id, iban, "
            "titulaire, libelle, montant, statut, tentatives, version, created_at, updated_at) "
            "SELECT :d, source_type, source_id + 100000000, periode, payee_type, payee_id, iban, titulaire, libelle, "
            "montant, 'a_payer', 0, 1, now(), now() FROM echeance ORDER BY id LIMIT 1"), {"d": d})
    refuse(db, "DELETE FROM dispositif WHERE id = :id", {"id": d})


def test_the_per_row_foreign_keys_are_gone_and_the_statement_checks_are_there(populated_db):
    """What the migration is for: no per-row RI trigger left on the chain's two hot tables."""
    from backoffice.models import CONTROLES_ENSEMBLISTES
    db = populated_db
    names = set(db.session.execute(sa.text(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('paiement'::regclass, "
        "'echeance'::regclass)")).scalars())
    assert not (names & CONTROLES_ENSEMBLISTES)
    triggers = set(db.session.execute(sa.text(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN ('paiement'::regclass, "
        "'echeance'::regclass, 'lot_paiement'::regclass, 'allocation'::regclass, 'dispositif'::regclass)")).scalars())
    assert {"paiement_cles_insert", "paiement_cles_update", "echeance_cles_insert", "echeance_reference_delete",
            "lot_paiement_reference_delete", "allocation_reference_delete", "dispositif_reference_delete"} <= triggers
