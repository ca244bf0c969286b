"""The root@sys password: checked by a real login to the observer, kept for the agent's own work.

:class:`RootPasswordKeeper` is the root-password check of the request verifier
(``check(candidate) -> bool``, blocking: the verifier runs in a worker thread) and the source of
``AgentState.root_password()``.

* A candidate is checked by a separate, short connection attempt as root@sys with that password
  (never through the agent's own pool). The last verified password is cached
  (:class:`~pyobshell.security.verified_password.VerifiedPasswordCache`), so a burst of requests
  costs one login, and the agent keeps accepting it while its observer is down.
* When a client proves a password different from the one the agent knows (it was changed in
  OceanBase), the agent adopts it, as obshell does: it becomes ``current()``, is stored encrypted
  in the agent home (``root_password.sealed``) and ``on_change`` is called (to update pools).
* At start-up the password given by the operator (``OB_ROOT_PASSWORD``) is the current one; when
  that is empty, the stored one is used. Either is trusted without a login only while the
  observer cannot be reached.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pymysql

from pyobshell.errors import ObshellError
from pyobshell.ob.connection import ObConnectionPool, PoolOptions
from pyobshell.ob.target import ObserverTarget
from pyobshell.security.clock import Clock, system_clock
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.sealed_secret import SealedSecretFile
from pyobshell.security.verified_password import DEFAULT_TTL_S, Login, LoginOutcome, VerifiedPasswordCache, Verdict

log = logging.getLogger(__name__)

SEALED_FILE_NAME = "root_password.sealed"
ACCESS_DENIED_ERRNO = 1045  # ER_ACCESS_DENIED_ERROR
LOGIN_TIMEOUT_S = 3.0


def observer_login(target: ObserverTarget, timeout_s: float = LOGIN_TIMEOUT_S) -> Login:
    """A :data:`Login` that connects to ``target`` as root@sys with the candidate password."""

    def login(candidate: str) -> LoginOutcome:
        options = PoolOptions(connect_timeout_s=timeout_s, read_timeout_s=timeout_s, write_timeout_s=timeout_s, max_idle=0)
        pool = ObConnectionPool(replace(target, password=candidate), options)
        try:
            with pool.connection():
                return LoginOutcome.ACCEPTED
        except ObshellError as exc:
            cause = exc.__cause__
            if isinstance(cause, pymysql.MySQLError) and cause.args and cause.args[0] == ACCESS_DENIED_ERRNO:
                return LoginOutcome.DENIED
            log.warning("cannot check the root password, observer unreachable: %s", exc.message)
            return LoginOutcome.UNREACHABLE
        finally:
            pool.close()

    return login


def _load_stored(store: SealedSecretFile | None) -> str | None:
    """The stored password; one that cannot be read (the agent's key pair was lost and made
    anew, the file is damaged) is forgotten with a warning: it is rewritten as soon as a client
    proves the password, and until then ``OB_ROOT_PASSWORD`` serves."""
    if store is None:
        return None
    try:
        return store.load()
    except ObshellError as exc:
        log.warning("%s; the stored root@sys password is ignored and will be stored again", exc.message)
        return None


class RootPasswordKeeper:
    def __init__(
        self,
        login: Login,
        initial: str,
        *,
        store: SealedSecretFile | None = None,
        on_change: Callable[[str], None] | None = None,
        ttl: float = DEFAULT_TTL_S,
        clock: Clock = system_clock,
    ):
        self._store = store
        self._on_change = on_change
        self._cache = VerifiedPasswordCache(login, ttl=ttl, clock=clock)
        self._lock = threading.Lock()
        self._current = initial
        self._stored = _load_stored(store)
        if not initial and self._stored:
            self._current = self._stored
        self._cache.seed(self._current)

    def __repr__(self) -> str:
        return "RootPasswordKeeper(<hidden>)"

    @classmethod
    def for_observer(
        cls, target: ObserverTarget, home: Path, key_pair: AgentKeyPair, on_change: Callable[[str], None] | None = None
    ) -> "RootPasswordKeeper":
        store = SealedSecretFile(Path(home) / SEALED_FILE_NAME, key_pair)
        return cls(observer_login(target), target.password, store=store, on_change=on_change)

    def current(self) -> str:
        """The root@sys password the agent should use now."""
        with self._lock:
            return self._current

    def check(self, candidate: str) -> bool:
        """Is ``candidate`` the root@sys password? (blocking: may log in to the observer)"""
        verdict = self._cache.check(candidate)
        if verdict is Verdict.VERIFIED:
            self._adopt(candidate)
        return verdict.accepted

    def _adopt(self, password: str) -> None:
        with self._lock:
            changed = password != self._current
            self._current = password
            must_store = self._store is not None and self._stored != password
            if must_store:
                self._stored = password
        if must_store:
            try:
                self._store.save(password)  # type: ignore[union-attr]
            except ObshellError as exc:  # keep serving; the next verified request tries again
                log.warning("%s", exc.message)
                with self._lock:
                    self._stored = None
        if changed:
            log.info("adopted a new root@sys password proved by a client")
            if self._on_change is not None:
                self._on_change(password)
