"""Locks out a client address after repeated wrong credentials.

obshell has no limit at all, and every wrong root password becomes a real OceanBase login
attempt. Here ``max_failures`` wrong credentials from one address within ``window`` seconds
lock that address for ``lock_seconds``; while locked, its requests are refused before any
decryption or password check. A success clears the address's count.

Memory is bounded: at most ``max_addresses`` addresses are tracked; beyond that the least
recently active one is forgotten (locked addresses are kept in preference).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from pyobshell.security.clock import Clock, system_clock


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    window: float = 300.0
    lock_seconds: float = 300.0
    max_addresses: int = 10_000

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window <= 0 or self.lock_seconds < 0 or self.max_addresses < 1:
            raise ValueError("lock-out policy values must be positive")


@dataclass
class _AddressState:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LockoutTracker:
    """Thread-safe failure counts and locks per client address."""

    def __init__(self, policy: LockoutPolicy = LockoutPolicy(), clock: Clock = system_clock):
        self.policy = policy
        self._clock = clock
        self._states: OrderedDict[str, _AddressState] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of addresses currently tracked."""
        with self._lock:
            return len(self._states)

    def is_locked(self, address: str) -> bool:
        with self._lock:
            state = self._states.get(address)
            return state is not None and state.locked_until > self._clock()

    def record_failure(self, address: str) -> bool:
        """Count one wrong credential; True if the address is now locked."""
        with self._lock:
            now = self._clock()
            state = self._states.pop(address, None) or _AddressState()
            self._states[address] = state  # most recently active last
            state.failures = [t for t in state.failures if t > now - self.policy.window]
            state.failures.append(now)
            if len(state.failures) >= self.policy.max_failures:
                state.locked_until = now + self.policy.lock_seconds
                state.failures.clear()
            self._evict(now)
            return state.locked_until > now

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
