"""What the client proves itself with, and which header carries it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CredentialKind(Enum):
    ROOT_PASSWORD = "root_password"  # X-OCS-Header, Auth
    AGENT_PASSWORD = "agent_password"  # X-OCS-Agent-Header, Auth
    AGENT_TOKEN = "agent_token"  # X-OCS-Header, Token


@dataclass(frozen=True, repr=False)
class Credentials:
    kind: CredentialKind
    secret: str

    def __repr__(self) -> str:
        return f"Credentials({self.kind.value}, <hidden>)"

    @classmethod
    def choose(cls, password: str | None, agent_password: str | None, token: str | None) -> "Credentials":
        """Exactly one of the three; the root@sys password may be "" (an uninitialised agent)."""
        given = [
            (kind, value)
            for kind, value in (
                (CredentialKind.ROOT_PASSWORD, password),
                (CredentialKind.AGENT_PASSWORD, agent_password),
                (CredentialKind.AGENT_TOKEN, token),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of password, agent_password or token")
        kind, value = given[0]
        return cls(kind, value)

    def builder_arguments(self) -> dict[str, object]:
        """Keyword arguments for ``RequestBuilder.build``."""
        if self.kind is CredentialKind.AGENT_TOKEN:
            return {"token": self.secret}
        return {"password": self.secret, "agent_header": self.kind is CredentialKind.AGENT_PASSWORD}
