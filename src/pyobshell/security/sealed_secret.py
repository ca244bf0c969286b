"""A secret kept in the agent home, encrypted with the agent's own key pair (mode 0600).

The form is obshell's for the passwords it keeps (sectional RSA to its own public key, base64).
The private key sits in the same home, so this protects against a stray copy of the one file
(a backup, a support bundle), not against someone who can read the whole home.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.security import private_file
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import AgentKeyPair

SEALED_SECRET_FAILED = ErrorCode("Security.SealedSecret.Failed", ErrorKind.UNEXPECTED, "Stored secret unusable: {}")


@dataclass(frozen=True)
class SealedSecretFile:
    path: Path
    key_pair: AgentKeyPair

    def save(self, secret: str) -> None:
        sealed = self.key_pair.encrypt(secret.encode("utf-8"))
        try:
            private_file.replace(self.path, (sealed + "\n").encode("ascii"))
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
            return self.key_pair.decrypt_text(raw.decode("ascii").strip())
        except (UnicodeDecodeError, DecryptionError):
            raise SEALED_SECRET_FAILED(f"{self.path} cannot be decrypted with this agent's key") from None
