"""Everything the HTTP layer needs to authenticate requests, bundled for ``AgentState.security``.

Built once per agent (``agent.wiring``) or by a test with injected checks::

    security = AgentSecurity.create(key_pair, root_check=lambda pw: pw == "secret", clock=fake_clock)
    state = AgentState(ip=..., port=..., home=..., security=security)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from pathlib import Path

from pyobshell.security.agent_token import AgentToken, token_file
from pyobshell.security.clock import Clock, system_clock
from pyobshell.security.credentials import AuthKind, secrets_equal
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.lockout import LockoutPolicy, LockoutTracker
from pyobshell.security.replay_cache import ReplayCache
from pyobshell.security.request_verifier import RequestVerifier, VerifierSettings
from pyobshell.security.session_store import SessionStore

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024  # encrypted JSON bodies; uploads are not read by the auth layer

class RootPassword(Protocol):
    """The root@sys password the agent knows (``agent.root_password.RootPasswordKeeper``)."""

    def current(self) -> str: ...

    def check(self, candidate: str) -> bool: ...


RootCheck = Callable[[str], bool]
"""candidate root@sys password -> correct? (blocking allowed: it runs in a worker thread)"""
AgentPasswordSource = Callable[[], "str | None"]
"""The agent password, or None while none is set (then no agent password is accepted)."""


def no_agent_password() -> str | None:
    return None


@dataclass(frozen=True)
class CredentialChecks:
    """The verifier's :data:`~pyobshell.security.credentials.PasswordChecker`."""

    root: RootCheck
    agent_password: AgentPasswordSource = no_agent_password

    def __call__(self, kind: AuthKind, candidate: str) -> bool:
        if kind is AuthKind.ROOT_PASSWORD:
            return self.root(candidate)
        if kind is AuthKind.AGENT_PASSWORD:
            expected = self.agent_password()
            return expected is not None and secrets_equal(candidate, expected)
        return False


class StoredAgentToken:
    """Checks candidates against ``<home>/agent_token``, re-read when the file changes (join, rotation)."""

    def __init__(self, home: Path):
        self._path = token_file(home)
        self._home = Path(home)
        self._seen: tuple[int, AgentToken | None] | None = None

    def current(self) -> AgentToken | None:
        try:
            stamp = os.stat(self._path).st_mtime_ns
        except FileNotFoundError:
            return None
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, AgentToken.load(self._home))
        return self._seen[1]

    def __call__(self, candidate: str) -> bool:
        try:
            token = self.current()
        except Exception:  # an unreadable token file authenticates nobody
            return False
        return token is not None and token.matches(candidate)


@dataclass
class AgentSecurity:
    key_pair: AgentKeyPair
    verifier: RequestVerifier
    root_password: RootPassword | None = None  # None: only tests, with an injected root check
    agent_password: AgentPasswordSource = no_agent_password
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    clock: Clock = field(default=system_clock)
    sessions: SessionStore | None = None  # web sessions (login); None: session ids are not honoured

    @classmethod
    def create(
        cls,
        key_pair: AgentKeyPair,
        *,
        root_check: RootCheck | None = None,
        root_password: RootPassword | None = None,
        agent_password: AgentPasswordSource = no_agent_password,
        token_checker: Callable[[str], bool] | None = None,
        sessions: SessionStore | None = None,
        clock: Clock = system_clock,
        lockout_policy: LockoutPolicy = LockoutPolicy(),
        settings: VerifierSettings = VerifierSettings(),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        on_lockout: Callable[[str], None] | None = None,
    ) -> "AgentSecurity":
        """Wire a verifier. The root check is ``root_password.check`` unless ``root_check`` is given."""
        if root_check is None:
            if root_password is None:
                raise ValueError("a root password check is needed: root_check or root_password")
            root_check = root_password.check
        verifier = RequestVerifier(
            key_pair,
            CredentialChecks(root_check, agent_password),
            clock=clock,
            replay_cache=ReplayCache(clock=clock),
            lockout=LockoutTracker(lockout_policy, clock=clock, on_lockout=on_lockout),
            token_checker=token_checker,
            session_checker=sessions.check if sessions is not None else None,
            settings=settings,
        )
        return cls(key_pair, verifier, root_password, agent_password, max_body_bytes, clock, sessions)

    @classmethod
    def for_agent(
        cls, home: Path, key_pair: AgentKeyPair, root_password: RootPassword, *,
        sessions: SessionStore | None = None, settings: VerifierSettings = VerifierSettings(),
        agent_password: AgentPasswordSource = no_agent_password,
        on_lockout: Callable[[str], None] | None = None,
    ) -> "AgentSecurity":
        """The production wiring: real root login, the stored cluster token, default limits."""
        AgentToken.load_or_create(home)  # the first agent of a cluster creates it
        return cls.create(
            key_pair, root_password=root_password, agent_password=agent_password, token_checker=StoredAgentToken(home),
            sessions=sessions, settings=settings, on_lockout=on_lockout,
        )
