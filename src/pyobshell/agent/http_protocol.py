"""uvicorn's h11 protocol with a deadline on a request's head.

uvicorn closes a kept-alive connection that stays idle, but it waits without end for a
request line and headers that never finish, or a fresh connection that sends nothing (the
"slowloris" pattern): each holds a socket and a file descriptor of the agent. Here every
request head must be complete within ``header_timeout_s`` of its first byte (of the
connection, for the first request); otherwise the agent answers 408 and closes. Bodies have
their own read timeout (:mod:`pyobshell.api.request_timeouts`)."""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

_TIMEOUT_BODY = b"the request headers did not arrive in time\n"
_TIMEOUT_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
                   b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


class HeaderTimeoutProtocol(H11Protocol):
    header_timeout_s: float = 10.0

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the head is complete: the body's timeout takes over

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _head_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        peer = "%s:%d" % self.client if self.client else "a client"
        log.info("closed the connection of %s: no complete request head within %.0f s", peer, self.header_timeout_s)
        self.transport.write(_TIMEOUT_ANSWER)
        self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this deadline."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": seconds})
