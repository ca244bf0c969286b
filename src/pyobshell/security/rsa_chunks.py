"""obshell's "sectional" RSA: PKCS#1 v1.5 over data longer than one block.

Encryption cuts the plaintext into chunks of at most ``k - 11`` bytes (k = modulus length in
bytes), encrypts each on its own and concatenates the k-byte blocks; the text form is padded
standard base64 of that concatenation. An empty plaintext still gives one block. The chunk
size is the sender's choice (obshell's SDKs and web UI use 53 bytes, the 512-bit limit), so
decryption only cuts the ciphertext into k-byte blocks and accepts any chunk length.

PKCS#1 v1.5 is kept for wire compatibility only. With current OpenSSL the ``cryptography``
package applies implicit rejection: a bad block usually decrypts to random bytes instead of
raising, which removes the padding oracle; the caller's later parsing fails instead.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from pyobshell.security import strict_base64
from pyobshell.security.crypto_errors import DecryptionError

PKCS1_V15_OVERHEAD = 11
# Chunk size hard-coded by obshell's web UI and SDKs (the largest chunk for a 512-bit key).
LEGACY_CHUNK_SIZE = 53
# A request header is a few hundred bytes; refusing more blocks bounds the work per request.
DEFAULT_MAX_BLOCKS = 64


def block_size(key: RSAPublicKey | RSAPrivateKey) -> int:
    """k: the modulus length in bytes, which is also the length of every ciphertext block."""
    return (key.key_size + 7) // 8


def max_chunk_size(key: RSAPublicKey | RSAPrivateKey) -> int:
    """The largest plaintext chunk PKCS#1 v1.5 can carry in one block (k - 11)."""
    return block_size(key) - PKCS1_V15_OVERHEAD


def encrypt(public_key: RSAPublicKey, plaintext: bytes, chunk_size: int | None = None) -> bytes:
    """Encrypt in chunks of ``chunk_size`` bytes (default k - 11); returns the raw blocks."""
    limit = max_chunk_size(public_key)
    size = limit if chunk_size is None else chunk_size
    if not 1 <= size <= limit:
        raise ValueError(f"chunk size must be between 1 and {limit} bytes, got {size}")
    chunks = [plaintext[i : i + size] for i in range(0, len(plaintext), size)] or [b""]
    return b"".join(public_key.encrypt(chunk, padding.PKCS1v15()) for chunk in chunks)


def decrypt(private_key: RSAPrivateKey, ciphertext: bytes, max_blocks: int = DEFAULT_MAX_BLOCKS) -> bytes:
    """Decrypt concatenated k-byte blocks; raise :class:`DecryptionError` on any failure."""
    k = block_size(private_key)
    if not ciphertext or len(ciphertext) % k:
        raise DecryptionError("ciphertext is not a whole number of RSA blocks")
    if len(ciphertext) // k > max_blocks:
        raise DecryptionError("ciphertext has too many RSA blocks")
    parts = []
    for start in range(0, len(ciphertext), k):
        try:
            parts.append(private_key.decrypt(ciphertext[start : start + k], padding.PKCS1v15()))
        except ValueError:
            raise DecryptionError("RSA block does not decrypt") from None
    return b"".join(parts)


def encrypt_b64(public_key: RSAPublicKey, plaintext: bytes, chunk_size: int | None = None) -> str:
    """:func:`encrypt`, then standard base64: the form used in headers and stored secrets."""
    return strict_base64.encode(encrypt(public_key, plaintext, chunk_size))


def decrypt_b64(private_key: RSAPrivateKey, text: str | bytes, max_blocks: int = DEFAULT_MAX_BLOCKS) -> bytes:
    """Strict base64 decoding, then :func:`decrypt`."""
    return decrypt(private_key, strict_base64.decode(text), max_blocks)
