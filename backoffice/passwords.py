"""argon2id hashing (argon2-cffi); a dummy hash keeps timing even for unknown users.

argon2 takes the whole password (no 72-byte cut as with bcrypt): nothing is ever truncated. The
forms refuse what is too long before any hashing (R67 rule: 256 characters; login form: 1024).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
_DUMMY = _hasher.hash("mot de passe factice pour égaliser le temps de réponse")


def _bytes(password: str) -> bytes:
    # "surrogatepass": a lone surrogate (never typed, but possible in a crafted request) neither
    # crashes the check nor collides with another password
    return (password or "").encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    return _hasher.hash(_bytes(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, _bytes(password)) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
