"""Viewer passwords: `hashlib.scrypt` (memory-hard, in the standard library), stored as one text field.

Format: `scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>`, so the cost can be raised later and
old hashes still verify. n=2**15, r=8 takes 32 MiB and ~50-100 ms per check: slow for a guesser,
fine for a person signing in (checks run on a thread, off the event loop).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
COST_N, BLOCK_R, PARALLEL_P = 2**15, 8, 1
_SALT_BYTES, _HASH_BYTES = 16, 32
_MAX_MEMORY = 64 * 1024 * 1024  # above 128 * n * r (32 MiB), which OpenSSL's default cap refuses
MIN_LENGTH = 8
MAX_LENGTH = 1024  # scrypt's cost does not grow with the input, but a form field must end somewhere
# Checked against when there is no hash, so an unknown name costs the same time as a wrong password.
_DUMMY_SALT = secrets.token_bytes(_SALT_BYTES)


def check_new_password(password: str) -> str | None:
    """Why `password` cannot be set (too short, too long), or `None` when it can."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    """The stored form of `password`, with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, COST_N, BLOCK_R, PARALLEL_P)
    return "$".join((SCHEME, str(COST_N), str(BLOCK_R), str(PARALLEL_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`; `False` for no stored hash or a malformed one (same cost)."""
    if stored is None:
        _scrypt(password[:MAX_LENGTH], _DUMMY_SALT, COST_N, BLOCK_R, PARALLEL_P)
        return False
    if len(password) > MAX_LENGTH:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode("utf-8", "surrogatepass")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEMORY, dklen=_HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
