"""Throwaway OpenPGP keys for the package-signature tests, generated at test time (Sequoia-PGP):
an RSA primary key with a signing subkey, as ``gpg --full-generate-key`` makes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pysequoia


@dataclass(frozen=True)
class TestKey:
    __test__ = False  # not a test class

    user_id: str
    secret_file: Path  # armored Transferable Secret Key: what ``sim package --sign`` takes
    public_file: Path  # armored certificate: what a keyring holds
    fingerprint: str  # the certificate's, upper-case hex
    signing_key_id: str  # the signing subkey's id: what a signature names

    def public_bytes(self, *, armored: bool = True) -> bytes:
        cert = pysequoia.Cert.from_file(str(self.public_file))
        return str(cert).encode() if armored else bytes(cert)


def make_key(directory: Path, user_id: str) -> TestKey:
    directory.mkdir(parents=True, exist_ok=True)
    tsk = pysequoia.Tsk.generate(user_id, cipher_suite=pysequoia.CipherSuite.RSA2k)
    cert = tsk.extract_certificate()
    stem = user_id.split("<")[-1].split("@")[0] or "key"
    secret, public = directory / f"{stem}.secret.asc", directory / f"{stem}.public.asc"
    secret.write_text(str(tsk))
    public.write_text(str(cert))
    probe = pysequoia.sign(tsk.signer(), b"probe", mode=pysequoia.SignatureMode.DETACHED, armor=False)
    key_id = (pysequoia.Sig.from_bytes(probe).issuer_key_id or "").upper()
    return TestKey(user_id, secret, public, cert.fingerprint.upper(), key_id)
