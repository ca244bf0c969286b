"""``X-OCS-File-SHA256`` of a package upload: RSA(lower-case hex SHA-256 of the file).

Anyone holding the public key can make this value, so it only proves integrity (the file
arrived as the client hashed it), not who sent it. pyobshell therefore also requires the
normal authenticated header on the upload; the body is not AES-encrypted there
(``RequestVerifier.verify(..., body_encrypted=False)``).
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pyobshell.security import rsa_chunks
from pyobshell.security.credentials import secrets_equal
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import AgentKeyPair

FILE_SHA256_HEADER = "X-OCS-File-SHA256"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_file_sha256_header(public_key: RSAPublicKey, digest_hex: str) -> str:
    """The header value a client sends along with a file whose SHA-256 is ``digest_hex``."""
    return rsa_chunks.encrypt_b64(public_key, digest_hex.lower().encode("ascii"))


def file_sha256_matches(key_pair: AgentKeyPair, header_value: str, actual_digest_hex: str) -> bool:
    """True if the header decrypts to the received file's digest (any failure is just False)."""
    try:
        declared = key_pair.decrypt_text(header_value)
    except DecryptionError:
        return False
    return secrets_equal(declared.lower(), actual_digest_hex.lower())
