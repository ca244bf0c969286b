"""The trusted keyring for package signatures: a file of OpenPGP certificates (public keys),
armored or binary, named by ``PYOBSHELL_PACKAGE_KEYRING``.

The file is read with Sequoia-PGP (PyPI ``pysequoia``). It is checked when the agent starts
(a bad file stops the agent with one clear line) and read again when it changes, so keys can
be added or rotated without a restart; if it becomes unreadable later, uploads are refused
(``Package.Keyring.Invalid``, 503) rather than accepted unchecked.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pysequoia

from pyobshell.errors import ErrorCode, ErrorKind

KEYRING_ENV = "PYOBSHELL_PACKAGE_KEYRING"
MAX_KEYRING_BYTES = 16 << 20
KEYRING_INVALID = ErrorCode("Package.Keyring.Invalid", ErrorKind.UNAVAILABLE,
                            "The trusted package keyring cannot be used, so no package is accepted: {}")


class KeyringError(ValueError):
    """The keyring file is missing, unreadable or not a set of OpenPGP certificates."""


def first_line(exc: BaseException) -> str:
    """Sequoia's errors may carry a Rust backtrace after their first line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class TrustedKey:
    """A key of the keyring that may have made a signature: the certificate's primary key or
    one of its subkeys (``key_id`` and ``key_fingerprint`` are that key's)."""

    key_id: str  # 16 upper-case hex digits
    key_fingerprint: str
    fingerprint: str  # the certificate's (primary key's) fingerprint, upper-case hex
    user_id: str  # the certificate's first user id, "" if it has none
    cert: pysequoia.Cert


class Keyring:
    """Certificates read from one file, indexed by every key id and fingerprint they hold."""

    def __init__(self, path: Path, certs: list[pysequoia.Cert]):
        self.path = path
        self.certs = tuple(certs)
        self._keys: dict[str, TrustedKey] = {}
        for cert in certs:
            user_ids = [str(u) for u in cert.user_ids]
            for key_id, key_fingerprint in _keys_of(cert):
                key = TrustedKey(key_id, key_fingerprint, cert.fingerprint.upper(), user_ids[0] if user_ids else "",
                                 cert)
                self._keys.setdefault(key_fingerprint, key)
                self._keys.setdefault(key_id, key)

    @classmethod
    def load(cls, path: str | Path) -> "Keyring":
        path = Path(path)
        where = f"keyring {str(path)!r}"
        try:
            if path.stat().st_size > MAX_KEYRING_BYTES:
                raise KeyringError(f"{where} is larger than {MAX_KEYRING_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise KeyringError(f"{where} cannot be read: {exc.strerror or exc}") from None
        try:
            certs = pysequoia.Cert.split_bytes(data)
        except Exception as exc:  # Sequoia raises RuntimeError (or ValueError) with its reason
            raise KeyringError(f"{where} is not a file of OpenPGP public keys: {first_line(exc)}") from None
        if not certs:
            raise KeyringError(f"{where} holds no OpenPGP public key")
        return cls(path, certs)

    def find(self, fingerprint: str | None, key_id: str | None) -> TrustedKey | None:
        """The key that the signature's issuer fingerprint or, failing that, key id names."""
        for wanted in (fingerprint, key_id):
            if wanted and wanted.upper() in self._keys:
                return self._keys[wanted.upper()]
        return None

    def __len__(self) -> int:
        return len(self.certs)


def _keys_of(cert: pysequoia.Cert) -> list[tuple[str, str]]:
    """(key id, fingerprint) of the primary key and every subkey."""
    keys = []
    for packet in pysequoia.packet.PacketPile.from_bytes(bytes(cert)):
        if packet.tag in (pysequoia.packet.Tag.PublicKey, pysequoia.packet.Tag.PublicSubkey,
                          pysequoia.packet.Tag.SecretKey, pysequoia.packet.Tag.SecretSubkey):
            if packet.key_id and packet.fingerprint:
                keys.append((packet.key_id.upper(), packet.fingerprint.upper()))
    return keys


class _Cache:
    """The keyring of one path, read again only when the file changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[str, int, int, int] | None = None
        self._keyring: Keyring | None = None

    def get(self, path: str) -> Keyring:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise KeyringError(f"keyring {path!r} cannot be read: {exc.strerror or exc}") from None
        stamp = (path, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if self._stamp != stamp or self._keyring is None:
                self._keyring = Keyring.load(path)
                self._stamp = stamp
            return self._keyring


_cache = _Cache()


def configured_keyring(env: dict[str, str] | None = None) -> Keyring | None:
    """The keyring ``PYOBSHELL_PACKAGE_KEYRING`` names (None when it is unset or empty).
    Raises :class:`KeyringError` with the reason when the file cannot be used."""
    path = (os.environ if env is None else env).get(KEYRING_ENV, "").strip()
    if not path:
        return None
    try:
        return _cache.get(path)
    except KeyringError as exc:
        raise KeyringError(f"{KEYRING_ENV}: {exc}") from None
