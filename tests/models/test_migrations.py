"""The Alembic chain builds the schema (the test database is created by it) and matches the models."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_migrations_upgrade_an_empty_postgresql_database_to_the_models(app, db):
    from backoffice.models.paiements import include_object
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": include_object}), db.metadata)
    assert diff == []  # nothing the models declare is missing from the migrated schema, nor the reverse


def test_every_table_is_created_by_the_migrations(app, db):
    tables = set(sa.inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables and "alembic_version" in tables
