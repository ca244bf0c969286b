"""Request body encryption: AES-128-CBC with PKCS#7 padding, as obshell's ``Keys`` header field.

``Keys`` is the 16-byte AES key followed by the 16-byte IV (32 bytes, 44 base64 characters).
The wire body is standard base64 of the ciphertext, sent as the raw HTTP body. The same key and
IV also encrypt the few values obshell returns encrypted (login session id, SSO token).

Unlike obshell (which ignores base64 errors and trusts the last padding byte), decryption here
is strict: canonical base64, whole blocks, exactly 32 key bytes and fully valid PKCS#7 padding.
CBC has no integrity check, so these checks are all we can do within the wire format; the
verifier answers every failure with the same error so they give no padding oracle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pyobshell.security import strict_base64
from pyobshell.security.crypto_errors import DecryptionError

AES_KEY_SIZE = 16
AES_BLOCK_SIZE = 16
KEYS_SIZE = AES_KEY_SIZE + AES_BLOCK_SIZE


@dataclass(frozen=True, repr=False)
class AesKeys:
    """An AES-128 key and a CBC IV (``repr`` hides them so they never reach a log)."""

    key: bytes
    iv: bytes

    def __post_init__(self) -> None:
        if len(self.key) != AES_KEY_SIZE or len(self.iv) != AES_BLOCK_SIZE:
            raise DecryptionError(f"AES key and IV must be {AES_KEY_SIZE} bytes each")

    def __repr__(self) -> str:
        return "AesKeys(<hidden>)"

    @classmethod
    def generate(cls) -> "AesKeys":
        return cls(os.urandom(AES_KEY_SIZE), os.urandom(AES_BLOCK_SIZE))

    @classmethod
    def from_bytes(cls, keys: bytes) -> "AesKeys":
        """Split obshell's ``Keys`` (key ‖ IV); anything but exactly 32 bytes is refused."""
        if len(keys) != KEYS_SIZE:
            raise DecryptionError(f"Keys must be {KEYS_SIZE} bytes, got {len(keys)}")
        return cls(keys[:AES_KEY_SIZE], keys[AES_KEY_SIZE:])

    def to_bytes(self) -> bytes:
        return self.key + self.iv

    def to_b64(self) -> str:
        """The header's ``Keys`` value."""
        return strict_base64.encode(self.to_bytes())

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.iv))


def encrypt(keys: AesKeys, plaintext: bytes) -> bytes:
    """PKCS#7-pad, AES-128-CBC encrypt, base64: the wire body as ASCII bytes."""
    padder = padding.PKCS7(AES_BLOCK_SIZE * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = keys._cipher().encryptor()
    return strict_base64.encode(encryptor.update(padded) + encryptor.finalize()).encode("ascii")


def decrypt(keys: AesKeys, body: bytes | str) -> bytes:
    """Inverse of :func:`encrypt`; raises :class:`DecryptionError` on any malformed input."""
    ciphertext = strict_base64.decode(body)
    if not ciphertext or len(ciphertext) % AES_BLOCK_SIZE:
        raise DecryptionError("AES ciphertext is not a whole, non-zero number of blocks")
    decryptor = keys._cipher().decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(AES_BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionError("invalid PKCS#7 padding") from None


def encrypt_text(keys: AesKeys, value: str) -> str:
    """Encrypt a reply value (session id, SSO token) the way obshell returns it in ``data``."""
    return encrypt(keys, value.encode("utf-8")).decode("ascii")


class StreamDecryptor:
    """:func:`decrypt` for a body that arrives in pieces (an encrypted multipart upload of
    hundreds of MiB): base64 and AES-CBC are both decoded block by block, so memory stays at one
    piece whatever the size. The same strictness: canonical base64 (padding only at the very
    end), whole blocks, valid PKCS#7 padding, checked by :meth:`finish`.
    """

    def __init__(self, keys: AesKeys):
        self._text = bytearray()  # base64 not decoded yet (held back: it may be the end)
        self._decryptor = keys._cipher().decryptor()
        self._unpadder = padding.PKCS7(AES_BLOCK_SIZE * 8).unpadder()
        self._ciphertext_bytes = 0

    def update(self, piece: bytes) -> bytes:
        """The plaintext that ``piece`` completes (possibly none yet)."""
        self._text += piece
        # Keep the last quantum back: only the final one may carry '=' padding.
        ready = (len(self._text) - 1) // 4 * 4 if self._text else 0
        if ready <= 0:
            return b""
        head = bytes(self._text[:ready])
        del self._text[:ready]
        if b"=" in head:
            raise DecryptionError("base64 padding before the end of the body")
        return self._decrypt(strict_base64.decode(head))

    def finish(self) -> bytes:
        """The last plaintext; raises :class:`DecryptionError` if the body was not a whole ciphertext."""
        tail = strict_base64.decode(bytes(self._text)) if self._text else b""
        self._text.clear()
        plaintext = self._decrypt(tail)
        if not self._ciphertext_bytes or self._ciphertext_bytes % AES_BLOCK_SIZE:
            raise DecryptionError("AES ciphertext is not a whole, non-zero number of blocks")
        plaintext += self._unpadder.update(self._decryptor.finalize())
        try:
            return plaintext + self._unpadder.finalize()
        except ValueError:
            raise DecryptionError("invalid PKCS#7 padding") from None

    def _decrypt(self, ciphertext: bytes) -> bytes:
        self._ciphertext_bytes += len(ciphertext)
        return self._unpadder.update(self._decryptor.update(ciphertext))
