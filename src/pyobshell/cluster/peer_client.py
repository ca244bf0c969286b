"""Agent-to-agent calls: ``/rpc/v1`` requests encrypted for the peer, authenticated with the
cluster's shared agent token (``Token`` in the RSA-encrypted header, see
:mod:`pyobshell.security.agent_token`), sent with httpx.

The peer's public key comes from ``all_agent`` (no ``/api/v1/secret`` round trip); when a call
is refused because the key changed (the peer was re-installed), it is looked up once more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pyobshell.cluster.agent_registry import AgentRegistry
from pyobshell.engine.model import AgentInfo
from pyobshell.security.agent_token import AgentToken
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.security.request_header import ForwardAgent, ForwardType
from pyobshell.wire.envelope import EnvelopeError
from pyobshell.wire.envelope import envelope_data as read_envelope

log = logging.getLogger(__name__)
JSON = "application/json"
TRACE_HEADER = "X-OBSHELL-Trace-ID"  # as api.trace names it (a lower layer cannot import it)


class PeerCallError(Exception):
    """A peer could not be reached or refused the call; ``status`` 0 means no answer."""

    def __init__(self, message: str, status: int = 0, code: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class PeerReply:
    status: int
    body: bytes
    content_type: str


def envelope_data(reply: PeerReply) -> Any:
    """The reply's ``data``, or :class:`PeerCallError` with the peer's status and errCode."""
    try:
        return read_envelope(reply.status, reply.body)
    except EnvelopeError as error:
        raise PeerCallError(error.message, error.status, error.err_code) from None


class PeerClient:
    def __init__(self, registry: AgentRegistry, home: Path, timeout_s: float = 5.0,
                 token: Callable[[], AgentToken | None] | None = None):
        self.registry = registry
        self._token = token or (lambda: AgentToken.load(home))
        self._http = httpx.Client(timeout=timeout_s)
        self._keys: dict[AgentInfo, str] = {}

    def close(self) -> None:
        self._http.close()

    def call(self, agent: AgentInfo, method: str, path: str, body: Any = None) -> Any:
        """An ``/rpc/v1`` call with the agent token; returns the envelope's ``data``."""
        token = self._token()
        if token is None:
            raise PeerCallError("this agent has no agent token yet")
        return envelope_data(self.send(agent, method, path, body, token=token.value))

    def send(self, agent: AgentInfo, method: str, path: str, body: Any = None, *, token: str = "",
             password: str = "", raw_body: bytes | None = None, forwarded_by: AgentInfo | None = None,
             trace_id: str = "") -> PeerReply:
        """One encrypted request (``raw_body``: JSON bytes as they are); the reply as it came.

        ``forwarded_by``: a client's request sent on by that agent (obshell's manual forward:
        ``ForwardType`` 2 and ``ForwardAgent`` in the header), under the client's ``trace_id``."""
        plaintext = raw_body if raw_body is not None else (
            None if body is None else json.dumps(body, separators=(",", ":")).encode())
        forward = {} if forwarded_by is None else {
            "forward_type": ForwardType.MANUAL_FORWARD,
            "forward_agent": ForwardAgent(ip=forwarded_by.ip, port=forwarded_by.port)}
        for attempt in (1, 2):
            key = self._public_key(agent, refresh=attempt == 2)
            url = httpx.URL(f"http://{agent.ip}:{agent.port}{path}")
            target = url.raw_path.decode("ascii")
            built = RequestBuilder(key, ClientStyle.AGENT).build(target, plaintext, token=token, password=password,
                                                                 **forward)
            headers = dict(built.headers)
            if trace_id:
                headers[TRACE_HEADER] = trace_id
            if plaintext is not None:
                headers["Content-Type"] = JSON
            try:
                response = self._http.request(method, url, headers=headers,
                                              content=built.body if plaintext is not None else None)
            except httpx.HTTPError as exc:
                raise PeerCallError(f"{method} {path} to {agent}: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 401 or attempt == 2:
                return PeerReply(response.status_code, response.content, response.headers.get("content-type", JSON))
        raise AssertionError("unreachable")

    def learn_key(self, agent: AgentInfo) -> None:
        """Look the peer's key up now, while the cluster store answers, for a call made later."""
        try:
            self._public_key(agent, refresh=False)
        except Exception as exc:  # the call itself reports it
            log.info("public key of agent %s not known yet: %s", agent, exc)

    def _public_key(self, agent: AgentInfo, *, refresh: bool) -> str:
        if refresh or agent not in self._keys:
            record = self.registry.find(agent)
            if record is None or not record.public_key:
                raise PeerCallError(f"agent {agent} is not registered in all_agent")
            self._keys[agent] = record.public_key
        return self._keys[agent]
