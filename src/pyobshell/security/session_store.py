"""Web sessions (obshell's ``POST /api/v1/login``), kept in the cluster store so every agent knows them.

obshell keeps sessions in one agent's memory: a session made on one agent fails on the next, and
all are lost when it restarts. Here a session is a row of ``web_session`` in the cluster's ``ocs``
database, keyed by the SHA-256 of its id (the id itself, 64 random hex characters, exists only
in the client and in transit), so any agent accepts it and a restart loses nothing.

* Expiry slides: each use moves it to ``now + timeout`` (written at most every
  ``SLIDE_EVERY_S``, so polling clients do not write on every request).
* An expired session is kept for ``KEEP_EXPIRED_S`` so that it is answered as *expired*, not as
  unknown; older rows are removed when sessions are created.
* A changed root@sys password ends every session (:meth:`SessionStore.end_all`).
* When the cluster store cannot be reached for a moment, a session this agent saw valid keeps
  working until its known expiry; one it never saw cannot be checked (503).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.security import aes_body
from pyobshell.security.aes_body import AesKeys
from pyobshell.security.clock import Clock, system_clock
from pyobshell.security.credentials import SessionCheck

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 1800.0  # obshell's session_timeout
SLIDE_EVERY_S = 30.0
KEEP_EXPIRED_S = 24 * 3600.0
MAX_REMEMBERED = 10_000

SESSIONS_UNAVAILABLE = ErrorCode(
    "Security.Session.StoreUnavailable", ErrorKind.UNAVAILABLE,
    "Sessions cannot be checked now: {}; sign in with the root@sys password or try again")

LOGIN_KEYS_MISSING = ErrorCode(
    "Request.AESKey.NotFound", ErrorKind.BAD_REQUEST,
    "The login header must carry Keys (32 bytes: AES key and IV): the session id is returned encrypted with them")

metadata = MetaData()
web_session = Table(
    "web_session", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("agent", String(128), nullable=False, server_default=""),
)

EngineSource = Callable[[], "Engine | None"]
"""The cluster store's engine, or None while it is not open."""


def new_session_id() -> str:
    return secrets.token_hex(32)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).hexdigest()


class SessionStore:
    """Create, check and end sessions (blocking; the verifier calls it from a worker thread)."""

    def __init__(self, engine_source: EngineSource, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 clock: Clock = system_clock, origin: str = ""):
        if timeout_s <= 0:
            raise ValueError("the session timeout must be positive")
        self._engine_source = engine_source
        self.timeout_s = timeout_s
        self._clock = clock
        self._origin = origin
        self._ready: set[int] = set()  # engines whose table is known to exist
        self._seen: dict[str, float] = {}  # id hash -> expiry, last read from the store
        self._lock = threading.Lock()

    def create(self) -> str:
        """A new session, valid for ``timeout_s``; its id is returned once and never stored."""
        session_id = new_session_id()
        now = int(self._clock())
        engine = self._engine()
        try:
            with engine.begin() as conn:
                conn.execute(delete(web_session).where(web_session.c.expires_at < now - KEEP_EXPIRED_S))
                conn.execute(insert(web_session).values(
                    id_hash=session_hash(session_id), expires_at=now + int(self.timeout_s), created_at=now,
                    agent=self._origin))
        except SQLAlchemyError as exc:
            raise SESSIONS_UNAVAILABLE(_reason(exc)) from exc
        self._remember(session_hash(session_id), now + self.timeout_s)
        return session_id

    def check(self, session_id: str) -> SessionCheck:
        """VALID (and its expiry moved forward), EXPIRED or INVALID."""
        key, now = session_hash(session_id), self._clock()
        try:
            engine = self._engine()
            with engine.begin() as conn:
                expires_at = conn.execute(
                    select(web_session.c.expires_at).where(web_session.c.id_hash == key)).scalar_one_or_none()
                if expires_at is None:
                    self._forget(key)
                    return SessionCheck.INVALID
                if expires_at <= now:
                    self._forget(key)
                    return SessionCheck.EXPIRED
                if expires_at < now + self.timeout_s - SLIDE_EVERY_S:
                    expires_at = int(now + self.timeout_s)
                    conn.execute(update(web_session).where(web_session.c.id_hash == key).values(expires_at=expires_at))
        except (SQLAlchemyError, ObshellError) as exc:
            return self._check_remembered(key, now, exc)
        self._remember(key, float(expires_at))
        return SessionCheck.VALID

    def end(self, session_id: str) -> bool:
        """Sign a session out; True if it existed."""
        key = session_hash(session_id)
        self._forget(key)
        try:
            with self._engine().begin() as conn:
                return conn.execute(delete(web_session).where(web_session.c.id_hash == key)).rowcount > 0
        except SQLAlchemyError as exc:
            raise SESSIONS_UNAVAILABLE(_reason(exc)) from exc

    def sign_in(self, keys: AesKeys | None) -> str:
        """``POST /api/v1/login``: a new session's id, AES-encrypted with the request's ``Keys``
        (base64), as obshell answers it."""
        if keys is None:
            raise LOGIN_KEYS_MISSING()
        return aes_body.encrypt_text(keys, self.create())

    def sign_out(self, session_id: str, *, header_session_id: str | None) -> None:
        """``POST /api/v1/logout``: a caller signed in by a session may end only that session;
        one authenticated by the password may end any (obshell's rules). Unknown ids are ignored."""
        if not session_id:
            return
        if header_session_id is not None and session_id != header_session_id:
            return
        self.end(session_id)

    def end_all(self) -> int:
        """End every session of the cluster (the root password changed); how many there were."""
        with self._lock:
            self._seen.clear()
        try:
            with self._engine().begin() as conn:
                return conn.execute(delete(web_session)).rowcount
        except SQLAlchemyError as exc:
            raise SESSIONS_UNAVAILABLE(_reason(exc)) from exc

    # -- internals --------------------------------------------------------------------------
    def _engine(self) -> Engine:
        engine = self._engine_source()
        if engine is None:
            raise SESSIONS_UNAVAILABLE("they live in the cluster's ocs database, which this agent has not opened")
        if id(engine) not in self._ready:
            try:
                metadata.create_all(engine, checkfirst=True)
            except SQLAlchemyError as exc:
                raise SESSIONS_UNAVAILABLE(_reason(exc)) from exc
            self._ready.add(id(engine))
        return engine

    def _check_remembered(self, key: str, now: float, exc: Exception) -> SessionCheck:
        with self._lock:
            expires_at = self._seen.get(key)
        if expires_at is None:
            if isinstance(exc, ObshellError):
                raise exc
            raise SESSIONS_UNAVAILABLE(_reason(exc)) from exc
        log.info("session checked from memory, the cluster store is unreachable: %s", _reason(exc))
        return SessionCheck.VALID if expires_at > now else SessionCheck.EXPIRED

    def _remember(self, key: str, expires_at: float) -> None:
        with self._lock:
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = expires_at

    def _forget(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ObshellError):
        return exc.message
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).splitlines()[0]
