"""``AgentState.peer_statuses`` in cluster mode: ``GET /api/v1/status`` of every other agent
registered in ``all_agent``, asked in parallel; agents that do not answer are left out (obshell)."""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread
import httpx
from pydantic import ValidationError

from pyobshell.wire.agent import AgentStatus
from pyobshell.agent.tasks import AgentTasks
from pyobshell.wire.envelope import EnvelopeError, envelope_data

log = logging.getLogger(__name__)
PEER_STATUS_TIMEOUT_S = 3.0


async def _status_of(client: httpx.AsyncClient, ip: str, port: int) -> AgentStatus | None:
    try:
        response = await client.get(f"http://{ip}:{port}/api/v1/status")
        return AgentStatus.model_validate(envelope_data(response.status_code, response.content))
    except (httpx.HTTPError, EnvelopeError, ValidationError) as exc:
        log.info("agent %s:%d left out of the agents' status: %s", ip, port, type(exc).__name__)
        return None


async def cluster_peer_statuses(tasks: AgentTasks) -> dict[str, AgentStatus]:
    peers = [(a.ip, a.port) for a in await anyio.to_thread.run_sync(tasks.peers)]
    async with httpx.AsyncClient(timeout=PEER_STATUS_TIMEOUT_S) as client:
        found = await asyncio.gather(*(_status_of(client, ip, port) for ip, port in peers))
    return {f"{ip}:{port}": status for (ip, port), status in zip(peers, found) if status is not None}
