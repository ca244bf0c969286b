"""Locks out a client address after repeated *distinct* wrong credentials.

obshell has no limit at all, and every wrong root password becomes a real OceanBase login
attempt. Here ``max_failures`` different wrong credentials from one address within ``window``
seconds lock that address for ``lock_seconds``; while locked, its requests are refused before
any decryption or password check, with an answer that says so and for how long.

Only distinct credentials count: obshell's Python SDK sends every failed request a second
time, and an operator who mistyped a password tends to send the same typo again. A wrong
credential already counted within the window does not count again, so typos do not lock
anybody out, while guessing (a new candidate each time) does. Candidates are remembered as
keyed hashes (a random key per process), never as text.

Memory is bounded: at most ``max_addresses`` addresses are tracked; beyond that the least
recently active one is forgotten (locked addresses are kept in preference).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from pyobshell.security.clock import Clock, system_clock

_FINGERPRINT_KEY = os.urandom(32)


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 10
    window: float = 600.0
    lock_seconds: float = 300.0
    max_addresses: int = 10_000

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window <= 0 or self.lock_seconds < 0 or self.max_addresses < 1:
            raise ValueError("lock-out policy values must be positive")


@dataclass
class _AddressState:
    failures: dict[bytes, float] = field(default_factory=dict)  # fingerprint -> last seen
    locked_until: float = 0.0


def fingerprint(kind: str, candidate: str) -> bytes:
    """A keyed hash of one wrong credential (what is compared to tell a re-send from a guess)."""
    return hmac.new(_FINGERPRINT_KEY, f"{kind}\0{candidate}".encode("utf-8"), hashlib.sha256).digest()


class LockoutTracker:
    """Thread-safe failure counts and locks per client address. ``on_lockout`` hears of each
    address as it becomes locked (a figure for the agent's metrics), outside the tracker's lock."""

    def __init__(self, policy: LockoutPolicy = LockoutPolicy(), clock: Clock = system_clock,
                 on_lockout: Callable[[str], None] | None = None):
        self.policy = policy
        self._clock = clock
        self._on_lockout = on_lockout
        self._states: OrderedDict[str, _AddressState] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of addresses currently tracked."""
        with self._lock:
            return len(self._states)

    def seconds_left(self, address: str) -> float:
        """How long ``address`` stays locked (0 when it is not)."""
        with self._lock:
            state = self._states.get(address)
            return max(0.0, state.locked_until - self._clock()) if state is not None else 0.0

    def is_locked(self, address: str) -> bool:
        return self.seconds_left(address) > 0

    def record_failure(self, address: str, credential: bytes = b"") -> bool:
        """Count one wrong credential (its :func:`fingerprint`); True if the address is now locked."""
        newly_locked = False
        with self._lock:
            now = self._clock()
            state = self._states.pop(address, None) or _AddressState()
            self._states[address] = state  # most recently active last
            state.failures = {fp: t for fp, t in state.failures.items() if t > now - self.policy.window}
            state.failures[credential] = now
            if len(state.failures) >= self.policy.max_failures:
                newly_locked = state.locked_until <= now
                state.locked_until = now + self.policy.lock_seconds
                state.failures.clear()
            self._evict(now)
            locked = state.locked_until > now
        if newly_locked and locked and self._on_lockout is not None:
            self._on_lockout(address)
        return locked

    def record_success(self, address: str) -> None:
        with self._lock:
            state = self._states.get(address)
            if state is not None and state.locked_until <= self._clock():
                del self._states[address]

    def _evict(self, now: float) -> None:
        excess = len(self._states) - self.policy.max_addresses
        if excess <= 0:
            return
        victims = []
        for address, state in self._states.items():  # least recently active first
            if state.locked_until <= now:
                victims.append(address)
                if len(victims) == excess:
                    break
        for address in victims:
            del self._states[address]
        while len(self._states) > self.policy.max_addresses:
            self._states.popitem(last=False)
