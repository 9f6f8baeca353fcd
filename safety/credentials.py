"""Credentials: API keys (``fgk_<id>_<secret>``; only a hash is stored) and passwords (scrypt)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "fgk"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str  # shown once
    secret_hash: str


def hash_secret(secret: str) -> str:
    """Keys are 256-bit random, so a fast hash is safe (no dictionary to attack) and cheap per request."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    token = f"{KEY_PREFIX}_{key_id}_{secret}"
    return NewKey(key_id, token, hash_secret(token))


def parse_key_id(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 16:
        return None
    return parts[1]


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)
