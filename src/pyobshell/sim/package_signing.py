"""Signing simulated packages as ``rpmsign --addsign`` does: an OpenPGP v4 signature of the
main header bytes, stored in the signature header (RPMSIGTAG_RSA for an RSA key, RPMSIGTAG_DSA
for others, as newer rpm stores EdDSA and ECDSA signatures).

The key is an OpenPGP secret key file (Transferable Secret Key, armored or binary, e.g. from
``gpg --export-secret-keys`` or ``sq key generate``), read with Sequoia-PGP (``pysequoia``);
its signing-capable key (a signing subkey, else the primary key) makes the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pysequoia

from pyobshell.sim.rpm_writer import SIG_DSA, SIG_RSA

_RSA = ("RSAEncryptSign", "RSASign")


class SigningKeyError(ValueError):
    """The key file cannot sign: unreadable, no secret key, protected by another password."""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class HeaderSigner:
    """Signs main headers with the signing key of one secret key file; callable as the RPM
    writer's ``signer``."""

    signer: pysequoia.PySigner
    fingerprint: str  # the certificate's, upper-case hex

    @classmethod
    def from_file(cls, path: str | Path, password: str | None = None) -> "HeaderSigner":
        where = f"signing key {str(path)!r}"
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"{where} cannot be read: {exc.strerror or exc}") from None
        try:
            tsk = pysequoia.Tsk.from_bytes(data)
        except Exception as exc:
            raise SigningKeyError(f"{where} is not an OpenPGP secret key: {_reason(exc)}") from None
        try:
            signer = tsk.signer(password)
        except Exception as exc:
            raise SigningKeyError(f"{where} cannot sign: {_reason(exc)}") from None
        return cls(signer, tsk.extract_certificate().fingerprint.upper())

    def __call__(self, header: bytes) -> tuple[int, bytes]:
        packet = pysequoia.sign(self.signer, header, mode=pysequoia.SignatureMode.DETACHED, armor=False)
        algorithm = repr(pysequoia.Sig.from_bytes(packet).key_algorithm).rsplit(".", 1)[-1]
        return (SIG_RSA if algorithm in _RSA else SIG_DSA), packet
