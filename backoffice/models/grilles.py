"""Grids (issue 18): a user's saved filters, and the trigram indexes of the grids' name search.

A saved filter belongs to one account and one grid: nobody else lists, opens or deletes it. Its state is kept
by meaning (column key and filter kind, sort column name, search text), not by Flask-Admin's positional URL
arguments, so a filter or column removed since is detected and shown as invalid (admin_views/grille.py).

The search indexes (migration 0026_grilles_recherche, PostgreSQL only): GIN pg_trgm on the normalised name
columns, served by `LIKE '%TERME%'`. Never on a secret (no IBAN, no e-mail, no token).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow
from .outbox import JSON


class FiltreEnregistre(Base):
    __tablename__ = "filtre_enregistre"

    id: Mapped[int] = mapped_column(primary_key=True)
    compte_id: Mapped[int] = mapped_column(sa.ForeignKey("compte.id", ondelete="CASCADE"))
    vue: Mapped[str] = mapped_column(sa.String(60))  # the grid's endpoint
    nom: Mapped[str] = mapped_column(sa.String(80))
    etat: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.now())

    __table_args__ = (
        sa.UniqueConstraint("compte_id", "vue", "nom", name="uq_filtre_enregistre_nom"),
    )


# (table, column) served by a GIN trigram index on the column itself (already normalised, or digits)
TRGM_COLONNES = (("beneficiaire", "nom_recherche"), ("etablissement", "siret"), ("demande_creation_compte", "siret"))
# (table, column) served by a GIN trigram index on bo_normalise(column): upper case, accents removed
TRGM_NORMALISEES = (("etablissement", "raison_sociale"), ("demande_creation_compte", "raison_sociale"),
                    ("reversement", "debiteur_nom"), ("contrat_service_civique", "volontaire_nom"),
                    ("poste_adulte_relais", "salarie_nom"))


# Issue 18, status tabs: a tab is `statut = X` under the default sort (id descending): (statut, id) walks it in
# order and stops after a page, for the grids that had no such index (cerfa, echeance, paiement already do).
STATUT_TRI = ("allocation", "demande_hors_delai", "demande_indemnisation", "reversement", "lot_paiement",
              "autorisation_ap", "declaration_partenaire")


def trgm_index_name(table: str, column: str) -> str:
    return f"ix_{table}_{column}_trgm"[:63]


def _declare_indexes() -> None:
    """The indexes, declared on the tables so the models and the migrated schema stay equal."""
    for table, column in TRGM_COLONNES:
        t = Base.metadata.tables[table]
        sa.Index(trgm_index_name(table, column), t.c[column], postgresql_using="gin",
                 postgresql_ops={column: "gin_trgm_ops"})
    for table in STATUT_TRI:
        t = Base.metadata.tables[table]
        sa.Index(f"ix_{table}_statut_tri", t.c.statut, t.c.id)
    # the identifiant i-milo's prefix, OR-ed with the name's trigram in the same search: without a pattern-ops
    # btree (the database's collation is not C) the OR turns the whole search into a sequential scan
    t = Base.metadata.tables["beneficiaire"]
    sa.Index("ix_beneficiaire_imilo_motif", t.c.identifiant_imilo,
             postgresql_ops={"identifiant_imilo": "varchar_pattern_ops"})
    for table, column in TRGM_NORMALISEES:
        t = Base.metadata.tables[table]
        label = f"{column}_normalise"
        sa.Index(trgm_index_name(table, column), sa.func.bo_normalise(t.c[column]).label(label),
                 postgresql_using="gin", postgresql_ops={label: "gin_trgm_ops"})
