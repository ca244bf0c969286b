"""The credential kinds a request can carry, and the callables that check them.

The verifier does not know where passwords live (memory, SQLite, a MySQL login attempt): it
asks a :data:`PasswordChecker`. Checkers should compare in constant time (:func:`secrets_equal`)
and must return a bool; an exception they raise (say, the database is unreachable) propagates
unchanged and is not counted as a wrong password.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import Enum
from typing import Callable


class AuthKind(Enum):
    """How a request authenticated."""

    ROOT_PASSWORD = "root_password"  # X-OCS-Header, Auth = root@sys password
    AGENT_PASSWORD = "agent_password"  # X-OCS-Agent-Header, Auth = agent password
    AGENT_TOKEN = "agent_token"  # either header, Token = cluster agent token (agent_token.py)
    SESSION = "session"  # X-OCS-Header, session_id of a web session


PASSWORD_KINDS = frozenset({AuthKind.ROOT_PASSWORD, AuthKind.AGENT_PASSWORD})

PasswordChecker = Callable[[AuthKind, str], bool]
"""``(ROOT_PASSWORD | AGENT_PASSWORD, candidate) -> correct?``"""

SecretChecker = Callable[[str], bool]
"""``candidate -> valid?`` for agent tokens."""


class SessionCheck(Enum):
    """What a session id turned out to be (the web UI signs in again on either refusal)."""

    VALID = "valid"
    INVALID = "invalid"  # unknown: never created, signed out, or ended by a password change
    EXPIRED = "expired"


SessionChecker = Callable[[str], SessionCheck]
"""``session id -> SessionCheck``; a valid session's expiry slides forward (blocking allowed)."""


def secrets_equal(candidate: str, expected: str) -> bool:
    """Constant-time comparison of two texts."""
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


@dataclass(frozen=True, repr=False)
class StaticPasswords:
    """A :data:`PasswordChecker` over known passwords.

    ``None`` means "not set": an unset root password accepts only "" (obshell's state before
    ``ob init``), an unset agent password accepts nothing.
    """

    root: str | None = None
    agent: str | None = None

    def __repr__(self) -> str:
        return "StaticPasswords(<hidden>)"

    def __call__(self, kind: AuthKind, candidate: str) -> bool:
        if kind is AuthKind.ROOT_PASSWORD:
            return secrets_equal(candidate, self.root or "")
        if kind is AuthKind.AGENT_PASSWORD:
            return self.agent is not None and secrets_equal(candidate, self.agent)
        return False
