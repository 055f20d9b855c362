"""Valid identifiers for demo data: IBANs with their French RIB key (R76), SIRETs that pass Luhn (R75)."""

from __future__ import annotations

import random

from schwifty import IBAN

BANQUES = ["30004", "30006", "20041", "10278", "17515", "30003", "10107", "18206"]


def iban_fr(rng: random.Random) -> str:
    """schwifty computes the RIB key and the IBAN check digits."""
    return str(IBAN.generate("FR", bank_code=rng.choice(BANQUES), branch_code=f"{rng.randrange(100000):05d}",
                             account_code=f"{rng.randrange(10**11):011d}"))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _complete_luhn(prefix: str) -> str:
    for last in "0123456789":
        if _luhn_ok(prefix + last):
            return prefix + last
    raise AssertionError("unreachable")


def siret(rng: random.Random) -> str:
    """A SIREN (Luhn over 9 digits) + NIC so that the 14 digits pass Luhn too (checked by python-stdnum)."""
    from stdnum.fr import siret as stdnum_siret
    while True:
        siren = _complete_luhn(f"{rng.randrange(10**7, 10**8):08d}")
        candidate = _complete_luhn(siren + f"{rng.randrange(10**4):04d}")
        if stdnum_siret.is_valid(candidate):
            return candidate
