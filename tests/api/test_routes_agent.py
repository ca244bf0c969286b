from __future__ import annotations

import os

import pyobshell
import platform
from datetime import datetime, timezone
from pathlib import Path

from fastapi.testclient import TestClient

from pyobshell.client import ObshellClient

from pyobshell.api.app import create_app
from pyobshell.wire.agent import AgentIdentity, AgentInfoWithIdentity, AgentStatus, ServerState
from pyobshell.api.state import AgentState
from pyobshell.observer_config import write_config
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.monitor import ObStateMonitor
from pyobshell.ob.target import load_observer_target


def data(client: TestClient, path: str, method: str = "GET") -> dict:
    body = client.request(method, path).json()
    assert body["successful"] is True, body
    return body["data"]


def test_status_fields(client: TestClient) -> None:
    status = data(client, "/api/v1/status")
    assert status["agent"] == {"ip": "127.0.0.1", "port": 2886, "identity": "SINGLE"}
    assert status["state"] == ServerState.RUNNING == 2
    assert status["pid"] == os.getpid() and status["port"] == 2886
    assert status["version"] == "4.5.0.0-0"  # the obshell API level; clients compare it with obshell's
    assert status["pyobshellVersion"] == pyobshell.__version__
    assert abs(status["startAt"] / 1e9 - datetime.now().timestamp()) < 3600  # nanoseconds, not seconds
    assert status["obState"] == 0 and status["underMaintenance"] is False
    assert "sqlPort" not in status  # no observer configured: omitted, like obshell's omitempty


def test_status_answers_post_too(client: TestClient) -> None:
    assert data(client, "/api/v1/status", "POST")["agent"]["ip"] == "127.0.0.1"


def test_status_reports_the_observer(tmp_path: Path) -> None:
    ob_home = tmp_path / "ob"
    write_config(ob_home, {"mysql_port": "1", "zone": "zone3"})
    target = load_observer_target(ob_home, "127.0.0.1", "pw")
    state = AgentState(ip="127.0.0.1", port=2886, home=tmp_path, observer=target, ob_monitor=ObStateMonitor(ObConnectionPool(target)))
    state.under_maintenance = lambda: True
    with TestClient(create_app(state)) as client:
        status = data(client, "/api/v1/status?ob_query_timeout=500000")
        info = data(client, "/api/v1/info")
    assert status["sqlPort"] == 1 and status["obState"] == 0 and status["underMaintenance"] is True
    assert info["zone"] == "zone3"


def test_info_fields(client: TestClient, tmp_path: Path) -> None:
    info = data(client, "/api/v1/info")
    assert info["homePath"] == str(tmp_path)
    assert info["identity"] == "SINGLE" and info["supportedAuth"] == ["v2"]
    assert (info["version"], info["pyobshellVersion"]) == ("4.5.0.0-0", pyobshell.__version__)
    assert info["architecture"] == platform.machine()
    assert info["security"] is False and info["isObproxyAgent"] is False
    assert {"pid", "state", "startAt", "obVersion", "ip", "port", "zone", "version"} <= set(info)


def test_time_is_now(client: TestClient) -> None:
    stamp = data(client, "/api/v1/time")
    moment = datetime.fromisoformat(stamp[:26] + stamp[29:])
    assert abs((moment - datetime.now(timezone.utc)).total_seconds()) < 60


def test_secret_returns_the_public_key(agent_state: AgentState, client: TestClient) -> None:
    expected = {"ip": "127.0.0.1", "port": 2886, "public_key": agent_state.public_key()}
    assert data(client, "/api/v1/secret") == expected


def test_secret_without_a_key_source_is_a_clear_error(tmp_path: Path) -> None:
    with TestClient(create_app(AgentState(ip="127.0.0.1", port=1, home=tmp_path))) as client:
        body = client.get("/api/v1/secret").json()
    assert body["status"] == 500 and body["error"]["errCode"] == "Security.KeyPair.NotReady"


def test_agents_status_is_a_map_with_this_agent_and_peers(agent_state: AgentState, api: ObshellClient) -> None:
    peer = AgentStatus(
        agent=AgentInfoWithIdentity(ip="127.0.0.2", port=2886, identity=AgentIdentity.CLUSTER_AGENT),
        state=ServerState.RUNNING, version="0.1.0-1", pid=1, startAt=1, port=2886, obState=3, underMaintenance=False,
    )  # fmt: skip

    async def peers() -> dict[str, AgentStatus]:
        return {"127.0.0.2:2886": peer}

    agent_state.peer_statuses = peers
    statuses = api.request("GET", "/api/v1/agents/status")
    assert set(statuses) == {"127.0.0.1:2886", "127.0.0.2:2886"}
    assert statuses["127.0.0.2:2886"]["agent"]["identity"] == "CLUSTER AGENT"
    assert "contents" not in statuses


def test_agents_status_survives_failing_peers(agent_state: AgentState, api: ObshellClient) -> None:
    async def broken() -> dict[str, AgentStatus]:
        raise ConnectionError("peer down")

    agent_state.peer_statuses = broken
    assert list(api.request("GET", "/api/v1/agents/status")) == ["127.0.0.1:2886"]


def test_agents_status_needs_credentials(client: TestClient) -> None:
    body = client.get("/api/v1/agents/status").json()
    assert body["status"] == 400 and body["error"]["errCode"] == "Request.Header.NotFound"
