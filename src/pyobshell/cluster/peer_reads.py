"""Reading the same thing from every other agent of the cluster at once (obshell's
``GET /api/v1/task/dag/maintain/agents``: each agent's own latest maintenance DAG).

Each peer is asked its public route with this agent's root@sys password, as obshell's agents
ask each other; the calls go out in parallel, and a peer that cannot answer is left out and
logged, never an error of the whole read.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyobshell.cluster.peer_client import PeerCallError, PeerClient, envelope_data
from pyobshell.engine.model import AgentInfo

log = logging.getLogger(__name__)
MAX_PARALLEL = 16


def read_from_peers(peers: PeerClient, agents: list[AgentInfo], path: str, password: str) -> dict[AgentInfo, Any]:
    """``GET path`` on each agent: its envelope ``data``, for those that answered successfully."""
    def one(agent: AgentInfo) -> tuple[AgentInfo, Any]:
        try:
            return agent, envelope_data(peers.send(agent, "GET", path, password=password))
        except PeerCallError as exc:
            log.info("agent %s left out of GET %s: %s", agent, path.split("?", 1)[0], exc)
            return agent, None

    if not agents:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(agents)), thread_name_prefix="peer-read") as pool:
        answers = list(pool.map(one, agents))
    return {agent: data for agent, data in answers if data is not None}
