"""Remembers the last password that a real login proved, so most requests need no new login.

The root@sys password cannot be checked locally: only the observer knows it. Logging in for
every request would be slow and would turn the agent into a password-guessing front end for
the observer. The cache keeps a keyed digest (HMAC-SHA256 with a per-process random key) of the
last password a login accepted, and when:

* a candidate matching a digest younger than ``ttl`` is accepted at once;
* an older match is checked again by a login (the password may have changed in OceanBase);
* when the observer cannot be reached (it restarts during an upgrade), the last known-good
  password stays valid, however old: nobody can change the password of a stopped observer;
* requests that arrive together with the same candidate share one login: a burst of twenty
  requests costs the observer one login, not twenty side by side.

Only the digest is kept here; the caller decides whether to keep the password itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from pyobshell.security.clock import Clock, system_clock

DEFAULT_TTL_S = 60.0


class LoginOutcome(Enum):
    ACCEPTED = "accepted"
    DENIED = "denied"  # the observer says the password is wrong
    UNREACHABLE = "unreachable"  # no answer either way (observer down, network, timeout)


Login = Callable[[str], LoginOutcome]
"""A real login attempt with a candidate password (blocking)."""


class Verdict(Enum):
    VERIFIED = "verified"  # a login accepted it now, or a recent one did
    KNOWN_GOOD = "known good"  # observer unreachable; matches the last known-good password
    WRONG = "wrong"

    @property
    def accepted(self) -> bool:
        return self is not Verdict.WRONG


@dataclass
class _Login:
    """One login in flight, which requests with the same candidate wait for."""

    done: threading.Event = field(default_factory=threading.Event)
    outcome: LoginOutcome = LoginOutcome.UNREACHABLE


class VerifiedPasswordCache:
    """A :data:`~pyobshell.security.credentials.PasswordChecker`-style check backed by ``login``."""

    def __init__(self, login: Login, *, ttl: float = DEFAULT_TTL_S, clock: Clock = system_clock):
        self._login = login
        self._ttl = ttl
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._digest: bytes | None = None
        self._verified_at = float("-inf")
        self._lock = threading.Lock()
        self._logins: dict[bytes, _Login] = {}  # in flight, by the candidate's digest

    def __repr__(self) -> str:
        return "VerifiedPasswordCache(<hidden>)"

    def seed(self, password: str) -> None:
        """Trust ``password`` while the observer is unreachable, without a login yet (start-up)."""
        with self._lock:
            self._digest, self._verified_at = self._hash(password), float("-inf")

    def check(self, candidate: str) -> Verdict:
        """Is ``candidate`` the password? Logs in unless a recent login already said so."""
        known = self._matches(candidate)
        with self._lock:
            fresh = known and self._clock() - self._verified_at < self._ttl
        if fresh:
            return Verdict.VERIFIED
        outcome = self._shared_login(candidate)
        with self._lock:
            if outcome is LoginOutcome.ACCEPTED:
                self._digest, self._verified_at = self._hash(candidate), self._clock()
                return Verdict.VERIFIED
            if outcome is LoginOutcome.DENIED:
                if known:  # the password changed under us: forget the old one
                    self._digest, self._verified_at = None, float("-inf")
                return Verdict.WRONG
        return Verdict.KNOWN_GOOD if known else Verdict.WRONG

    def _shared_login(self, candidate: str) -> LoginOutcome:
        digest = self._hash(candidate)
        with self._lock:
            login = self._logins.get(digest)
            leading = login is None
            if login is None:
                login = self._logins[digest] = _Login()
        if not leading:
            login.done.wait()
            return login.outcome
        try:
            login.outcome = self._login(candidate)
        finally:  # a login that raised leaves UNREACHABLE for those who waited on it
            with self._lock:
                del self._logins[digest]
            login.done.set()
        return login.outcome

    def _matches(self, candidate: str) -> bool:
        with self._lock:
            return self._digest is not None and hmac.compare_digest(self._digest, self._hash(candidate))

    def _hash(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()
