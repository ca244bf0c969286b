"""A secret kept in the agent home, encrypted with the agent's own key pair (mode 0600).

The form is obshell's for the passwords it keeps (sectional RSA to its own public key, base64).
The private key sits in the same home, so this protects against a stray copy of the one file
(a backup, a support bundle), not against someone who can read the whole home.

A second line names the public key the secret was sealed to (a SHA-256 prefix of it). RSA
PKCS#1 v1.5 decryption with another key does not reliably fail (OpenSSL's implicit rejection
returns random bytes instead), so a file from another key is recognised by that line, not by
luck. A file of one line (written before) is still read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.security import private_file
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import AgentKeyPair

_KEY_PREFIX = "key="  # the second line: key=<fingerprint of the public key sealed to>
SEALED_SECRET_FAILED = ErrorCode("Security.SealedSecret.Failed", ErrorKind.UNEXPECTED, "Stored secret unusable: {}")


@dataclass(frozen=True)
class SealedSecretFile:
    path: Path
    key_pair: AgentKeyPair

    def save(self, secret: str) -> None:
        sealed = self.key_pair.encrypt(secret.encode("utf-8"))
        try:
            private_file.replace(self.path, f"{sealed}\n{_KEY_PREFIX}{self._fingerprint()}\n".encode("ascii"))
        except OSError as exc:
            raise SEALED_SECRET_FAILED(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def load(self) -> str | None:
        """The stored secret, or None when there is none; unreadable content is an error."""
        try:
            raw = private_file.read(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SEALED_SECRET_FAILED(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            sealed, *rest = raw.decode("ascii").split()
            sealed_to = next((line[len(_KEY_PREFIX):] for line in rest if line.startswith(_KEY_PREFIX)), None)
            if sealed_to is not None and sealed_to != self._fingerprint():
                raise DecryptionError("sealed to another key")
            return self.key_pair.decrypt_text(sealed)
        except (UnicodeDecodeError, ValueError, DecryptionError):
            raise SEALED_SECRET_FAILED(f"{self.path} cannot be decrypted with this agent's key") from None

    def _fingerprint(self) -> str:
        return hashlib.sha256(self.key_pair.public_key_b64().encode("ascii")).hexdigest()[:32]
