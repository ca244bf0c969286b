"""The agent's long-lived RSA key pair.

Size: 1024 bits, public exponent 65537, as obshell 4.4.2+ generates (older obshell used 512;
every known client derives or fixes its chunk size so any size of at least 1024 bits works).

Storage: ``<home>/agent_key.pem``, the private key as unencrypted PEM "RSA PRIVATE KEY"
(PKCS#1, i.e. the same DER obshell keeps base64-encoded in its SQLite file), mode 0600.
It is created atomically and never overwritten: two processes starting at once end up with
the same key. A file that exists but cannot be read as an RSA key of at least 1024 bits is an
error, not a reason to silently replace the key peers already know.

On the wire the public key is standard base64 of DER PKCS#1 RSAPublicKey (not SPKI), exactly
what ``GET /api/v1/secret`` returns in ``data.public_key``.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.security import private_file, rsa_chunks, strict_base64
from pyobshell.security.crypto_errors import DecryptionError

KEY_FILE_NAME = "agent_key.pem"
OBSHELL_KEY_BITS = 1024
MIN_KEY_BITS = 1024
PUBLIC_EXPONENT = 65537

KEY_PAIR_INVALID = ErrorCode("Security.KeyPair.Invalid", ErrorKind.UNEXPECTED, "Agent key pair unusable: {}")
PUBLIC_KEY_INVALID = ErrorCode("Security.PublicKey.Invalid", ErrorKind.BAD_REQUEST, "Invalid RSA public key: {}")


class AgentKeyPair:
    """An RSA private key with the helpers the agent needs around it."""

    def __init__(self, private_key: RSAPrivateKey):
        if private_key.key_size < MIN_KEY_BITS:
            raise KEY_PAIR_INVALID(f"RSA key of {private_key.key_size} bits, at least {MIN_KEY_BITS} required")
        self._private_key = private_key

    # -- creation and persistence ------------------------------------------------------

    @classmethod
    def generate(cls, bits: int = OBSHELL_KEY_BITS) -> "AgentKeyPair":
        return cls(rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits))

    @classmethod
    def from_pem(cls, pem: bytes) -> "AgentKeyPair":
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KEY_PAIR_INVALID(f"not an unencrypted PEM private key ({exc})") from None
        if not isinstance(key, RSAPrivateKey):
            raise KEY_PAIR_INVALID("the private key is not an RSA key")
        return cls(key)

    @classmethod
    def load(cls, home: Path) -> "AgentKeyPair":
        """Read ``<home>/agent_key.pem``; tighten its mode to 0600 if it was looser."""
        path = key_file(home)
        try:
            pem = private_file.read(path)
        except OSError as exc:
            raise KEY_PAIR_INVALID(f"cannot read {path}: {exc.strerror or exc}") from None
        return cls.from_pem(pem)

    @classmethod
    def load_or_create(cls, home: Path, bits: int = OBSHELL_KEY_BITS) -> "AgentKeyPair":
        """The agent's key pair: the stored one, or a new one generated and stored now."""
        path = key_file(home)
        if not path.exists():
            cls.generate(bits)._store_if_absent(path)
        return cls.load(home)

    def to_pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def _store_if_absent(self, path: Path) -> None:
        try:
            private_file.create_if_absent(path, self.to_pem())
        except OSError as exc:
            raise KEY_PAIR_INVALID(f"cannot write {path}: {exc.strerror or exc}") from None

    # -- public side ---------------------------------------------------------------------

    @property
    def private_key(self) -> RSAPrivateKey:
        return self._private_key

    @property
    def public_key(self) -> RSAPublicKey:
        return self._private_key.public_key()

    @property
    def key_bits(self) -> int:
        return self._private_key.key_size

    def public_key_b64(self) -> str:
        """base64 DER PKCS#1 RSAPublicKey, as in ``GET /api/v1/secret`` (``MIGJAoGBA…`` for 1024 bits)."""
        return public_key_to_b64(self.public_key)

    # -- helpers -------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes) -> str:
        """Encrypt to this agent's own public key (obshell's form for secrets it keeps)."""
        return rsa_chunks.encrypt_b64(self.public_key, plaintext)

    def decrypt(self, ciphertext_b64: str | bytes, max_blocks: int = rsa_chunks.DEFAULT_MAX_BLOCKS) -> bytes:
        """Decrypt base64 sectional RSA sent to this agent; raises :class:`DecryptionError`."""
        return rsa_chunks.decrypt_b64(self._private_key, ciphertext_b64, max_blocks)

    def decrypt_text(self, ciphertext_b64: str | bytes) -> str:
        """:meth:`decrypt` for UTF-8 text (passwords, tokens, digests)."""
        try:
            return self.decrypt(ciphertext_b64).decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("decrypted bytes are not UTF-8 text") from None


def key_file(home: Path) -> Path:
    return Path(home) / KEY_FILE_NAME


def public_key_to_b64(public_key: RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return strict_base64.encode(der)


def load_public_key_b64(text: str) -> RSAPublicKey:
    """Parse a peer's public key as ``/api/v1/secret`` gives it (PKCS#1 DER; SPKI also accepted)."""
    try:
        key = serialization.load_der_public_key(strict_base64.decode(text))
    except (DecryptionError, ValueError) as exc:
        raise PUBLIC_KEY_INVALID(str(exc)) from None
    if not isinstance(key, RSAPublicKey):
        raise PUBLIC_KEY_INVALID("not an RSA key")
    if key.key_size < 512:
        raise PUBLIC_KEY_INVALID(f"{key.key_size}-bit key is too small")
    return key
