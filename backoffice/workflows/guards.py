"""Guard helpers shared by several workflows (checks SQL cannot express)."""

from __future__ import annotations


import functools


@functools.lru_cache(maxsize=65536)
def iban_valide(iban: str) -> bool:
    """schwifty with the French RIB key (R76, E12); cached: a batch often repeats an account."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException
    try:
        IBAN(iban, validate_bban=True)
        return True
    except (SchwiftyException, ValueError, TypeError):
        return False


def iban_invalides(rows) -> set[int]:
    """(id, iban) rows -> ids whose IBAN fails schwifty with the French RIB key (R76, E12)."""
    return {ident for ident, iban in rows if not iban_valide(iban)}
