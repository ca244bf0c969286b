"""Remembers header ciphertexts until they expire, so each one is accepted only once.

obshell has no nonce, so a captured header could be replayed until its ``Ts``. Every honest
client encrypts a fresh header per request (random AES keys, random PKCS#1 padding), so a
second arrival of the same ciphertext is a replay. An entry is kept until the header's ``Ts``
(plus the allowed skew) has passed, after which the time check refuses it anyway.

Memory is bounded: at ``max_entries`` the entry closest to expiry is dropped first. The only
way to fill the cache is a flood of distinct, decryptable, unexpired headers, and even then a
dropped entry only reopens a window that was about to close.
"""

from __future__ import annotations

import hashlib
import heapq
import threading

from pyobshell.security.clock import Clock, system_clock

DEFAULT_MAX_ENTRIES = 100_000


class ReplayCache:
    """Thread-safe set of seen header digests, each with an expiry time."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Clock = system_clock):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []  # (expires_at, digest), soonest first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired(self._clock())
            return len(self._expiry)

    def add_if_new(self, ciphertext: bytes, expires_at: float) -> bool:
        """Record ``ciphertext`` until ``expires_at``; False if it is already recorded and live."""
        digest = hashlib.sha256(ciphertext).digest()
        with self._lock:
            now = self._clock()
            self._drop_expired(now)
            if digest in self._expiry:
                return False
            if expires_at <= now:
                return True  # nothing to remember: the time check refuses it from now on
            while len(self._expiry) >= self._max_entries:
                _, oldest = heapq.heappop(self._heap)
                self._expiry.pop(oldest, None)
            self._expiry[digest] = expires_at
            heapq.heappush(self._heap, (expires_at, digest))
            return True

    def _drop_expired(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, digest = heapq.heappop(self._heap)
            self._expiry.pop(digest, None)
