"""Hash chain of the audit journal: seal committed events, verify the chain.

Design
- Events are inserted by anyone, row by row or set-based (INSERT … SELECT from a bulk transition),
  with chain_seq, prev_hash and hash left NULL. Computing a chain inside every INSERT would
  serialise every writer on the chain's head; sealing afterwards keeps writers independent.
- `sceller` (under a transaction-level advisory lock, so sealers never interleave) takes the unsealed
  rows in id order, chunk by chunk: the database computes each row's digest
  d = SHA-256(canonical row) set-based, Python chains them
  (hash = SHA-256(prev_hash ‖ d), prev_hash = the previous hash, the first one after GENESIS), and
  one UPDATE … FROM unnest(arrays) writes a whole chunk. The trigger of migration 0002 lets exactly
  this UPDATE through (three NULL columns filled once, nothing else changed) and refuses any other
  UPDATE or DELETE.
- The chain order is chain_seq, given at sealing, not the id: a transaction may commit id 100 after
  id 101 was sealed; 100 is then chained after it.
- Sealing runs right after each commit that inserted audit rows (`install`, a session event), on its
  own connection and only if no other sealer holds the lock (it picks our rows up anyway), and again
  at the start of `backoffice audit verify`.
- `verifier` is set-based too: one query recomputes every digest and hash, and compares prev_hash
  with the previous row's hash (window function) and chain_seq with the previous position + 1.

What it detects: any edit of a sealed row's content or hash, a deleted or inserted row inside the
chain. What it cannot detect alone: rows removed from the end of the chain together with nothing
else; `verify` prints the head (position and hash) so that it can be kept elsewhere (a mail, a log).
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa

log = logging.getLogger(__name__)

GENESIS = "0" * 64
CHUNK = 20_000
_LOCK_KEY = 0x61756469  # "audi": pg_advisory_xact_lock key of the sealer

# Columns that make an event's content, in this order (the canonical form; never reorder).
CANONICAL_COLUMNS = ("id", "at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status",
                     "params", "diff", "bulk_run_id", "ip")

_PG_DIGEST = ("encode(sha256(convert_to(jsonb_build_array("
              + ", ".join(f"e.{c}" for c in CANONICAL_COLUMNS) + ")::text, 'UTF8')), 'hex')")


@dataclass(frozen=True)
class Verification:
    ok: bool
    nb_evenements: int
    tete_seq: int | None = None
    tete_hash: str | None = None
    premier_id: int | None = None
    raison: str | None = None

    @property
    def message(self) -> str:
        if self.ok:
            tete = f" ; tête de chaîne n° {self.tete_seq} : {self.tete_hash}" if self.tete_seq else ""
            return f"Journal d'audit intègre : {self.nb_evenements} événement(s) chaîné(s){tete}."
        return (f"Journal d'audit altéré : premier événement en cause n° {self.premier_id} "
                f"({self.raison}).")


def _is_pg(conn) -> bool:
    bind = conn if isinstance(conn, sa.engine.Connection) else conn.get_bind()  # Session or scoped_session
    return bind.dialect.name == "postgresql"


def _chain(prev: str, digest: str) -> str:
    return hashlib.sha256((prev + digest).encode("ascii")).hexdigest()


def _py_digest(row) -> str:
    """Digest of a row on databases without sha256() in SQL (the SQLite demo): the raw stored
    values, so sealing and verifying read exactly the same thing."""
    values = [getattr(row, c) for c in CANONICAL_COLUMNS]
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _head(conn) -> tuple[int, str]:
    row = conn.execute(sa.text(
        "SELECT chain_seq, hash FROM audit_event WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1")).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def sceller(conn, *, attendre: bool = True, chunk: int = CHUNK) -> int:
    """Chain every unsealed audit event; returns how many were sealed. `conn` is a Session or a
    Connection inside a transaction (the caller commits). With attendre=False, returns 0 at once
    if another sealer holds the lock."""
    pg = _is_pg(conn)
    if pg:
        if attendre:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        elif not conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}).scalar():
            return 0
    seq, prev = _head(conn)
    total = 0
    while True:
        if pg:
            rows = conn.execute(sa.text(
                f"SELECT e.id, {_PG_DIGEST} AS d FROM audit_event e WHERE e.chain_seq IS NULL "  # nosec B608
                "ORDER BY e.id LIMIT :n"), {"n": chunk}).all()
            pairs = [(r.id, r.d) for r in rows]
        else:
            rows = conn.execute(sa.text(
                f"SELECT {', '.join(CANONICAL_COLUMNS)} FROM audit_event WHERE chain_seq IS NULL "  # nosec B608
                "ORDER BY id LIMIT :n"), {"n": chunk}).all()
            pairs = [(r.id, _py_digest(r)) for r in rows]
        if not pairs:
            return total
        ids, seqs, prevs, hashes = [], [], [], []
        for ident, digest in pairs:
            seq += 1
            h = _chain(prev, digest)
            ids.append(ident)
            seqs.append(seq)
            prevs.append(prev)
            hashes.append(h)
            prev = h
        if pg:
            conn.execute(sa.text(
                "UPDATE audit_event AS e SET chain_seq = v.seq, prev_hash = v.prev, hash = v.h "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:prevs AS text[]), "
                "CAST(:hashes AS text[])) AS v(id, seq, prev, h) WHERE e.id = v.id"),
                {"ids": ids, "seqs": seqs, "prevs": prevs, "hashes": hashes})
        else:
            conn.execute(sa.text("UPDATE audit_event SET chain_seq = :s, prev_hash = :p, hash = :h WHERE id = :i"),
                         [{"s": s, "p": p, "h": h, "i": i} for i, s, p, h in zip(ids, seqs, prevs, hashes)])
        total += len(pairs)


_VERIFY_TEMPLATE = """
WITH c AS (
    SELECT e.id, e.chain_seq, e.prev_hash, e.hash,
           encode(sha256(convert_to(coalesce(e.prev_hash, '') || DIGEST, 'UTF8')), 'hex') AS attendu,
           lag(e.hash) OVER (ORDER BY e.chain_seq) AS hash_precedent,
           lag(e.chain_seq) OVER (ORDER BY e.chain_seq) AS seq_precedent
    FROM audit_event e WHERE e.chain_seq IS NOT NULL
)
SELECT id, CASE
         WHEN chain_seq <> coalesce(seq_precedent, 0) + 1 THEN 'manquant'
         WHEN prev_hash IS DISTINCT FROM coalesce(hash_precedent, :genesis) THEN 'chainage'
         ELSE 'contenu' END AS raison
FROM c
WHERE chain_seq <> coalesce(seq_precedent, 0) + 1
   OR prev_hash IS DISTINCT FROM coalesce(hash_precedent, :genesis)
   OR hash IS DISTINCT FROM attendu
ORDER BY chain_seq
LIMIT 1
"""
# Built from the constant column list above (never from input), like every query of this module.
_PG_VERIFY = _VERIFY_TEMPLATE.replace("DIGEST", _PG_DIGEST)  # nosec B608

RAISONS = {
    "contenu": "contenu ou empreinte modifiés",
    "chainage": "chaînage rompu : l'événement précédent a été modifié ou supprimé",
    "manquant": "un ou plusieurs événements manquent juste avant celui-ci",
}


def verifier(conn) -> Verification:
    """Recompute the chain; the first broken event in chain order, with a French reason."""
    n = conn.execute(sa.text("SELECT count(*) FROM audit_event WHERE chain_seq IS NOT NULL")).scalar_one()
    seq, head = _head(conn)
    if _is_pg(conn):
        bad = conn.execute(sa.text(_PG_VERIFY), {"genesis": GENESIS}).first()
        if bad is not None:
            return Verification(False, n, premier_id=bad.id, raison=RAISONS[bad.raison])
    else:
        expected_seq, prev = 0, GENESIS
        rows = conn.execute(sa.text(
            f"SELECT {', '.join(CANONICAL_COLUMNS)}, chain_seq, prev_hash, hash FROM audit_event "  # nosec B608
            "WHERE chain_seq IS NOT NULL ORDER BY chain_seq"))
        for r in rows:
            expected_seq += 1
            reason = ("manquant" if r.chain_seq != expected_seq else
                      "chainage" if r.prev_hash != prev else
                      "contenu" if r.hash != _chain(r.prev_hash or "", _py_digest(r)) else None)
            if reason:
                return Verification(False, n, premier_id=r.id, raison=RAISONS[reason])
            prev = r.hash
    return Verification(True, n, tete_seq=seq or None, tete_hash=head if seq else None)


# ---- sealing after commit ------------------------------------------------------------------------

_inserted: ContextVar[bool] = ContextVar("audit_inserted", default=False)


def _watch_inserts(conn, cursor, statement, parameters, context, executemany):
    if "INSERT INTO audit_event" in statement:
        _inserted.set(True)


def _seal_after_commit(session) -> None:
    # SQLAlchemy also reports the release of a SAVEPOINT as a commit: wait for the real one
    if not _inserted.get() or session.in_nested_transaction():
        return
    _inserted.set(False)
    try:
        from flask import current_app
        if not current_app.config.get("AUDIT_SEAL_AFTER_COMMIT", True):
            return
        bind = session.get_bind()
        with bind.connect() as conn, conn.begin():
            sceller(conn, attendre=False)
    except Exception:  # noqa: BLE001 - the commit is done; `audit verify` or the next commit seals them
        log.exception("scellement du journal d'audit reporté")


def install(db) -> None:
    """Seal right after every commit that inserted audit events (idempotent: installs once)."""
    if not sa.event.contains(sa.engine.Engine, "before_cursor_execute", _watch_inserts):
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", _watch_inserts)
    if not sa.event.contains(db.session, "after_commit", _seal_after_commit):
        sa.event.listen(db.session, "after_commit", _seal_after_commit)
