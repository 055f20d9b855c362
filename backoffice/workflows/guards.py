"""Guard helpers shared by several workflows (checks SQL cannot express)."""

from __future__ import annotations


def iban_invalides(rows) -> set[int]:
    """(id, iban) rows -> ids whose IBAN fails schwifty with the French RIB key (R76, E12)."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    bad = set()
    for ident, iban in rows:
        try:
            IBAN(iban, validate_bban=True)
        except (SchwiftyException, ValueError, TypeError):
            bad.add(ident)
    return bad
