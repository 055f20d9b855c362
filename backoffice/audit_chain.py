"""Hash chain of the audit journal: seal committed events in blocks, verify the chain.

Design (migration 0007; it replaced a per-row chain whose sealing UPDATE rewrote every event)
- Events are inserted by anyone, row by row or set-based (INSERT … SELECT from a bulk transition),
  and never updated: the trigger of migration 0007 refuses every UPDATE and DELETE. On PostgreSQL each
  row carries the id of the transaction that inserted it (`xid`, a column default).
- `sceller` (under a transaction-level advisory lock, so sealers never interleave) writes one block
  (`audit_sceau`) for every event not sealed yet whose transaction is over. On PostgreSQL a block
  covers the transaction ids [borne_min, borne_max): borne_min is the previous block's borne_max,
  borne_max the xmin of the sealer's snapshot. Every transaction below it has ended, so no event of
  that range can appear later, and contiguous ranges put each event in exactly one block, in one
  statement, whatever order transactions commit in. On SQLite (the demo: one writer at a time) the
  ranges are on the id, and the block's INSERT is conditional on the head it read (two processes seal there
  too: the web and its RQ worker), so a sealer that lost the race writes nothing.
- A block stores, in id order, the SHA-256 digest of each event's canonical row (32 bytes each), its
  count, and hash = SHA-256(prev_hash ‖ SHA-256(digests) ‖ count ‖ bounds), prev_hash = the previous
  block's hash (the first one after GENESIS). The database computes the digests set-based.
- Sealing runs right after each commit that inserted audit rows (`install`, a session event), on its
  own connection and only if no other sealer holds the lock (it picks our rows up anyway), and again
  at the start of `backoffice audit verify`.
- `verifier` recomputes every block's digests in one query (set-based) and compares digests, counts,
  hashes and the chaining of blocks; on a mismatch it compares the block's digests one by one to name
  the first event in cause.

What it detects: any edit of a sealed event, a deleted event, an event inserted into a sealed range,
any edit of a block. What it cannot detect alone: blocks removed from the end of the chain together
with their events; `verify` prints the head (block and hash) so that it can be kept elsewhere.
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
_LOCK_KEY = 0x61756469  # "audi": pg_advisory_xact_lock key of the sealer

# Columns that make an event's content, in this order (the canonical form; never reorder).
CANONICAL_COLUMNS = ("id", "at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status",
                     "params", "diff", "bulk_run_id", "ip")

_PG_DIGEST = ("sha256(convert_to(jsonb_build_array("
              + ", ".join(f"e.{c}" for c in CANONICAL_COLUMNS) + ")::text, 'UTF8'))")
# After a logical restore into another cluster, `backoffice audit recaler` sets this database-level offset so
# that the numbering goes on above the sealed ranges; the column default of audit_event.xid adds it too.
DECALAGE = "backoffice.xid_decalage"
_PG_DECALAGE = f"coalesce(nullif(current_setting('{DECALAGE}', true), ''), '0')::bigint"
_PG_XMIN = f"(pg_snapshot_xmin(pg_current_snapshot())::text::bigint + {_PG_DECALAGE})"


# A snapshot's xmin never goes back on one PostgreSQL cluster (physical backups, replicas and pg_upgrade keep
# the counter); a logical dump restored into another cluster starts it again from low values.
_RECUL_TOLERE = 1000


class CompteurEnArriere(RuntimeError):
    """The cluster's transaction counter is behind the sealed ranges: sealing stops, loudly."""


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
            tete = f" ; tête de chaîne : bloc n° {self.tete_seq}, {self.tete_hash}" if self.tete_seq else ""
            return f"Journal d'audit intègre : {self.nb_evenements} événement(s) scellé(s){tete}."
        return (f"Journal d'audit altéré : premier événement en cause n° {self.premier_id} "
                f"({self.raison}).")


def _is_pg(conn) -> bool:
    bind = conn if isinstance(conn, sa.engine.Connection) else conn.get_bind()  # Session or scoped_session
    return bind.dialect.name == "postgresql"


def block_hash(prev: str, digests: bytes, nb: int, borne_min: int, borne_max: int) -> str:
    return hashlib.sha256(f"{prev}{hashlib.sha256(digests).hexdigest()}{nb}:{borne_min}:{borne_max}"
                          .encode("ascii")).hexdigest()


def _py_digest(row) -> bytes:
    """Digest of a row on databases without sha256() in SQL (the SQLite demo): the raw stored
    values, so sealing and verifying read exactly the same thing."""
    values = [getattr(row, c) for c in CANONICAL_COLUMNS]
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _head(conn) -> tuple[int, int, str]:
    row = conn.execute(sa.text("SELECT id, borne_max, hash FROM audit_sceau ORDER BY id DESC LIMIT 1")).first()
    return (row[0], row[1], row[2]) if row else (0, 0, GENESIS)


def _pairs(conn, lo: int, hi: int | None = None) -> list[tuple[int, bytes]]:
    """(id, digest) of the events of a range, in id order: transaction ids on PostgreSQL (digests computed
    by the database), event ids on SQLite (digests computed here)."""
    key = "e.xid" if _is_pg(conn) else "e.id"
    where = f"{key} >= :lo" + (f" AND {key} < :hi" if hi is not None else "")
    if _is_pg(conn):
        rows = conn.execute(sa.text(f"SELECT e.id, {_PG_DIGEST} AS d FROM audit_event e "  # nosec B608
                                    f"WHERE {where} ORDER BY e.id"), {"lo": lo, "hi": hi}).all()
        return [(r.id, bytes(r.d)) for r in rows]
    rows = conn.execute(sa.text(f"SELECT {', '.join(CANONICAL_COLUMNS)} FROM audit_event e "  # nosec B608
                                f"WHERE {where} ORDER BY e.id"), {"lo": lo, "hi": hi}).all()
    return [(r.id, _py_digest(r)) for r in rows]


def sceller(conn, *, attendre: bool = True) -> int:
    """Seal every event whose transaction is over into one new block; returns how many were sealed.
    `conn` is a Session or a Connection inside a transaction (the caller commits). With
    attendre=False, returns 0 at once if another sealer holds the lock."""
    pg = _is_pg(conn)
    if pg:
        if attendre:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        elif not conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}).scalar():
            return 0
    seq, lo, prev = _head(conn)  # read under the lock
    if pg:
        # one statement, one snapshot for the bound and the rows: every transaction below its xmin has ended
        row = conn.execute(sa.text(
            f"WITH b AS (SELECT {_PG_XMIN} AS hi) "  # nosec B608
            f"SELECT b.hi, count(e.id) AS n, string_agg({_PG_DIGEST}, ''::bytea ORDER BY e.id) AS d "
            "FROM b LEFT JOIN audit_event e ON e.xid >= :lo AND e.xid < b.hi GROUP BY b.hi"), {"lo": lo}).one()
        hi, n, digests = row.hi, row.n, bytes(row.d or b"")
        if hi + _RECUL_TOLERE < lo:
            raise CompteurEnArriere(
                f"Journal d'audit : le compteur de transactions de PostgreSQL ({hi}) est en arrière de la dernière "
                f"plage scellée ({lo}) : la base a sans doute été restaurée par pg_dump dans un autre serveur. "
                "Les nouveaux événements ne peuvent plus être scellés : arrêtez l'application et les workers, "
                "lancez `backoffice audit recaler`, puis redémarrez-les.")
    else:
        pairs = _pairs(conn, lo)
        n, digests = len(pairs), b"".join(d for _, d in pairs)
        hi = (pairs[-1][0] + 1) if pairs else lo
    if not n:
        return 0
    # The block goes in only if the head read above is still the head. On PostgreSQL the advisory lock
    # makes that certain; on SQLite (the demo: the web process and its RQ worker both seal after their
    # commits) there is no lock to take, and a sealer that read the same head as another one would have
    # written a second block n° seq+1 (a UNIQUE error, logged as a traceback). The condition is evaluated
    # by the INSERT itself, under the database's write lock: the loser writes nothing and returns 0; the
    # events it saw are in the winner's block or wait for the next sealing.
    inserted = conn.execute(sa.text(
        "INSERT INTO audit_sceau (id, borne_min, borne_max, nb, empreintes, prev_hash, hash, scelle_at) "
        "SELECT :seq, :lo, :hi, :n, :d, :prev, :h, CURRENT_TIMESTAMP "
        "WHERE NOT EXISTS (SELECT 1 FROM audit_sceau WHERE id >= :seq)"),
        {"seq": seq + 1, "lo": lo, "hi": hi, "n": n, "d": digests, "prev": prev,
         "h": block_hash(prev, digests, n, lo, hi)}).rowcount
    if not inserted:
        log.info("scellement du journal d'audit : un autre scelleur a écrit le bloc n° %s", seq + 1)
        return 0
    return n


# Every SQL string of this module is built from the constant column list above, never from input.
_PG_VERIFY = f"""
WITH b AS (
    SELECT s.id, s.borne_min, s.borne_max, s.nb, s.empreintes, s.prev_hash, s.hash,
           lag(s.hash) OVER (ORDER BY s.id) AS hash_precedent,
           lag(s.borne_max) OVER (ORDER BY s.id) AS borne_precedente,
           lag(s.id) OVER (ORDER BY s.id) AS id_precedent
    FROM audit_sceau s
), r AS (
    SELECT b.id, count(e.id) AS n, coalesce(string_agg({_PG_DIGEST}, ''::bytea ORDER BY e.id), ''::bytea) AS d
    FROM b LEFT JOIN audit_event e ON e.xid >= b.borne_min AND e.xid < b.borne_max
    GROUP BY b.id
)
SELECT b.id, b.borne_min, b.borne_max, b.nb, b.empreintes, b.prev_hash, b.hash, r.n, r.d,
       b.hash_precedent, b.borne_precedente, b.id_precedent
FROM b JOIN r ON r.id = b.id
WHERE b.id <> coalesce(b.id_precedent, 0) + 1
   OR b.borne_min <> coalesce(b.borne_precedente, 0)
   OR b.prev_hash IS DISTINCT FROM coalesce(b.hash_precedent, :genesis)
   OR r.n <> b.nb OR r.d IS DISTINCT FROM b.empreintes
   OR b.nb <> length(b.empreintes) / 32
   OR b.hash <> encode(sha256(convert_to(b.prev_hash || encode(sha256(b.empreintes), 'hex') || b.nb || ':'
                                         || b.borne_min || ':' || b.borne_max, 'UTF8')), 'hex')  -- block_hash()
ORDER BY b.id
LIMIT 1
"""  # nosec B608

RAISONS = {
    "contenu": "contenu modifié",
    "manquant": "événement supprimé juste avant celui-ci",
    "ajoute": "événement ajouté dans une plage déjà scellée",
    "chainage": "sceau du bloc modifié ou chaînage des blocs rompu",
    "hors_chaine": "événement sans transaction d'origine, hors de la chaîne",
}


def _first_event(blk, pairs: list[tuple[int, bytes]]) -> tuple[int | None, str]:
    """The first event in cause inside a block whose recomputed digests differ from the sealed ones."""
    sealed = bytes(blk.empreintes or b"")
    stored = [sealed[i:i + 32] for i in range(0, len(sealed), 32)]
    for k, (ident, digest) in enumerate(pairs):
        if k >= len(stored):
            return ident, "ajoute"
        if digest != stored[k]:
            # an edit changes this digest only; a deletion shifts the next ones by one
            shifted = k + 1 < len(stored) and digest == stored[k + 1]
            return ident, "manquant" if shifted else "contenu"
    if len(stored) > len(pairs):  # events missing at the end of the block
        last = pairs[-1][0] if pairs else None
        return last, "manquant"
    return (pairs[0][0] if pairs else None), "chainage"


def verifier(conn) -> Verification:
    """Recompute the chain; the first event in cause, in block order, with a French reason."""
    n = conn.execute(sa.text("SELECT coalesce(sum(nb), 0) FROM audit_sceau")).scalar_one()
    seq, _, head = _head(conn)
    if _is_pg(conn):
        orphan = conn.execute(sa.text("SELECT min(id) FROM audit_event WHERE xid IS NULL")).scalar()
        if orphan is not None:
            return Verification(False, n, premier_id=orphan, raison=RAISONS["hors_chaine"])
        bad = conn.execute(sa.text(_PG_VERIFY), {"genesis": GENESIS}).first()
        if bad is not None:
            pairs = _pairs(conn, bad.borne_min, bad.borne_max)
            if bytes(bad.d) == bytes(bad.empreintes or b"") and bad.n == bad.nb:  # the events hold: the seal does not
                return Verification(False, n, premier_id=pairs[0][0] if pairs else None,
                                    raison=RAISONS["chainage"])
            ident, reason = _first_event(bad, pairs)
            return Verification(False, n, premier_id=ident, raison=RAISONS[reason])
    else:
        blocks = conn.execute(sa.text(
            "SELECT id, borne_min, borne_max, nb, empreintes, prev_hash, hash FROM audit_sceau ORDER BY id")).all()
        expected_seq, prev, bound = 0, GENESIS, 0
        for blk in blocks:
            expected_seq += 1
            pairs = _pairs(conn, blk.borne_min, blk.borne_max)
            digests = b"".join(d for _, d in pairs)
            if digests != bytes(blk.empreintes) or len(pairs) != blk.nb:
                ident, reason = _first_event(blk, pairs)
                return Verification(False, n, premier_id=ident, raison=RAISONS[reason])
            if (blk.id != expected_seq or blk.borne_min != bound or blk.prev_hash != prev
                    or blk.hash != block_hash(prev, digests, blk.nb, blk.borne_min, blk.borne_max)):
                return Verification(False, n, premier_id=pairs[0][0] if pairs else None, raison=RAISONS["chainage"])
            prev, bound = blk.hash, blk.borne_max
    return Verification(True, n, tete_seq=seq or None, tete_hash=head if seq else None)


def recaler(conn) -> int | None:
    """After a logical restore into another cluster: the offset (database setting) that puts the numbering
    of new transactions above every sealed range and every event's xid; None if nothing is needed. Applies
    to new connections: run it with the application and the workers stopped. Needs the database's owner.
    (SQLite numbers blocks by event id: nothing to do there.)"""
    if not _is_pg(conn):
        return None
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    _, lo, _ = _head(conn)
    top = conn.execute(sa.text("SELECT coalesce(max(xid), 0) FROM audit_event")).scalar_one()
    raw = conn.execute(sa.text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
    current = conn.execute(sa.text(f"SELECT {_PG_DECALAGE}")).scalar_one()  # nosec B608
    if raw + current > max(lo, top):
        return None
    offset = max(lo, top) - raw + 1_000_000  # room for the transactions already running elsewhere
    database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    quoted = conn.execute(sa.text("SELECT quote_ident(:d)"), {"d": database}).scalar_one()
    conn.execute(sa.text(f"ALTER DATABASE {quoted} SET {DECALAGE} = '{int(offset)}'"))  # nosec B608
    conn.execute(sa.text("SELECT set_config(:k, :v, false)"), {"k": DECALAGE, "v": str(int(offset))})
    return offset


def non_scelles(conn) -> int:
    """Events not sealed yet (their transaction was still running at the last sealing, or no sealing ran)."""
    _, lo, _ = _head(conn)
    key = "xid" if _is_pg(conn) else "id"
    return conn.execute(sa.text(f"SELECT count(*) FROM audit_event WHERE {key} >= :lo OR {key} IS NULL"),  # nosec B608
                        {"lo": lo}).scalar_one()


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
