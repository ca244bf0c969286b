"""/api/v1/task in process: DTOs by generic id, operators, lists, cluster routing, errors, auth.

The app is the agent's own (real request verification, the task engine on a SQLite file); the
test talks to it through ObshellClient, so every request is encrypted as a real client's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pyobshell.agent.tasks import AgentTasks
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.api.app import create_app
from pyobshell.api.state import AgentState
from pyobshell.client import ObshellClient
from pyobshell.engine import (
    AgentInfo,
    Maintainer,
    StoreKind,
    Task,
    TaskRegistry,
    TaskService,
    TaskStore,
    TemplateBuilder,
    encode_local_id,
)
from pyobshell.security.keypair import AgentKeyPair

ROOT_PASSWORD = "task-root-pw"
AGENT_PASSWORD = "task-agent-pw"
OWNER = AgentInfo("127.0.0.1", 2886)
BASE = "http://testserver"
RELEASE = threading.Event()


class Ok(Task):
    can_retry = can_rollback = can_pass = can_cancel = True

    def execute(self) -> None:
        self.log_info(f"{self.task_name} done")
        self.context.set_data("done", [self.task_name])

    def get_additional_data(self) -> dict[str, Any] | None:
        return {"done": self.context.get_data("done", [])}


class Broken(Ok):
    def execute(self) -> None:
        self.log_info("about to fail")
        raise RuntimeError("scripted failure")


class Hold(Task):
    can_cancel = True

    def execute(self) -> None:
        while not RELEASE.is_set():
            self.sleep(0.01)


REGISTRY = TaskRegistry()
for _type in (Ok, Broken, Hold):
    REGISTRY.register(_type)


@pytest.fixture
def tasks(tmp_path: Path) -> AgentTasks:
    return AgentTasks.for_agent(tmp_path / "tasks.db", OWNER, registry=REGISTRY)


@pytest.fixture
def http(tmp_path: Path, key_pair: AgentKeyPair, tasks: AgentTasks) -> Iterator[TestClient]:
    RELEASE.clear()
    security = AgentSecurity.create(key_pair, root_check=lambda pw: pw == ROOT_PASSWORD,
                                    agent_password=lambda: AGENT_PASSWORD)
    state = AgentState(ip=OWNER.ip, port=OWNER.port, home=tmp_path, public_key=key_pair.public_key_b64,
                       security=security, tasks=tasks)
    with TestClient(create_app(state), raise_server_exceptions=False) as client:
        yield client
    RELEASE.set()


@pytest.fixture
def agent(http: TestClient) -> ObshellClient:
    return ObshellClient(BASE, password=ROOT_PASSWORD, http_client=http)


def call(agent: ObshellClient, method: str, path: str, body: Any = None, **query: str) -> tuple[int, dict]:
    response = agent.raw_request(method, f"/api/v1/task{path}", body, query or None)
    envelope = response.json()
    assert envelope["status"] == response.status_code and "Traceback" not in response.text
    return response.status_code, envelope


def error_of(agent: ObshellClient, method: str, path: str, body: Any = None, **query: str) -> tuple[int, str]:
    status, envelope = call(agent, method, path, body, **query)
    assert envelope["successful"] is False and "data" not in envelope, envelope
    return status, envelope["error"]["errCode"]


def create(tasks: AgentTasks, *steps: Task, maintainer: Maintainer | None = None) -> str:
    builder = TemplateBuilder("api test")
    if maintainer is not None:
        builder.set_maintenance(maintainer)
    for step in steps:
        builder.add_task(step)
    return tasks.local.create_dag(builder.build()).id


def wait_state(agent: ObshellClient, gid: str, *states: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        status, envelope = call(agent, "GET", f"/dag/{gid}", show_details="false")
        assert status == 200, envelope
        if envelope["data"]["state"] in states:
            return envelope["data"]
        assert time.monotonic() < deadline, f"DAG {gid} stayed {envelope['data']['state']}"
        time.sleep(0.01)


def test_dag_with_details_by_default_and_without(agent: ObshellClient, tasks: AgentTasks) -> None:
    gid = create(tasks, Ok(name="one"), Ok(name="two"))
    wait_state(agent, gid, "SUCCEED")
    status, envelope = call(agent, "GET", f"/dag/{gid}")
    dag = envelope["data"]
    assert status == 200 and envelope["successful"] is True and len(envelope["traceId"]) == 16
    assert list(dag) == ["id", "dag_id", "name", "stage", "max_stage", "maintenance_type", "maintenance_key",
                         "state", "operator", "start_time", "end_time", "additional_data", "nodes"]
    assert (dag["id"], dag["stage"], dag["max_stage"], dag["operator"]) == (gid, 2, 2, "RUN")
    assert dag["additional_data"] == {"done": ["one", "two"]}  # merged one level up
    assert [n["name"] for n in dag["nodes"]] == ["one", "two"]
    assert all(n["additional_data"] is None and n["sub_tasks"][0]["additional_data"] is None for n in dag["nodes"])
    assert dag["nodes"][0]["sub_tasks"][0]["task_logs"] == ["one done"]
    assert dag["nodes"][0]["sub_tasks"][0]["execute_agent"] == {"ip": "127.0.0.1", "port": 2886}
    bare = call(agent, "GET", f"/dag/{gid}", show_details="false")[1]["data"]
    assert bare["nodes"] is None and bare["additional_data"] is None


def test_node_and_sub_task_views(agent: ObshellClient, tasks: AgentTasks) -> None:
    gid = create(tasks, Ok(name="only"))
    node = wait_state(agent, gid, "SUCCEED") and call(agent, "GET", f"/dag/{gid}")[1]["data"]["nodes"][0]
    detailed = call(agent, "GET", f"/node/{node['id']}")[1]["data"]
    assert detailed["additional_data"] == {"done": ["only"]} and len(detailed["sub_tasks"]) == 1
    status, envelope = call(agent, "GET", f"/node/{node['id']}", show_details="false")  # a 500 in obshell
    assert status == 200 and envelope["data"]["sub_tasks"] is None and envelope["data"]["node_id"] == node["node_id"]
    sub_id = detailed["sub_tasks"][0]["id"]
    sub = call(agent, "GET", f"/sub_task/{sub_id}")[1]["data"]
    assert sub["additional_data"] == {"done": ["only"]} and sub["execute_times"] == 1 and sub["state"] == "SUCCEED"
    logs = call(agent, "GET", f"/sub_task/{sub_id}/logs")[1]["data"]
    assert [(e["log_content"], e["execute_times"], e["is_sync"]) for e in logs["contents"]] == [("only done", 1, True)]


def test_operators_move_a_failed_dag(agent: ObshellClient, tasks: AgentTasks) -> None:
    gid = create(tasks, Ok(name="first"), Broken(name="second"), Ok(name="third"))
    wait_state(agent, gid, "FAILED")
    assert error_of(agent, "POST", f"/dag/{gid}", {"operator": "cancel"}) == (400, "Task.Dag.Operator.CancelFinishedDag")
    status, envelope = call(agent, "POST", f"/dag/{gid}", {"operator": "retry"})
    assert status == 200 and envelope["successful"] is True and "data" not in envelope
    failed = wait_state(agent, gid, "FAILED")
    assert failed["operator"] == "RUN" and failed["stage"] == 2
    node = call(agent, "GET", f"/dag/{gid}")[1]["data"]["nodes"][1]
    assert call(agent, "POST", f"/node/{node['id']}", {"operator": "Pass"})[0] == 200
    assert wait_state(agent, gid, "SUCCEED")["stage"] == 3
    assert error_of(agent, "POST", f"/dag/{gid}", {"operator": "RETRY"}) == (400, "Task.Dag.Operator.RetryNotFailedDag")
    assert error_of(agent, "POST", f"/dag/{gid}", {"operator": "ROLLBACK"}) == (400, "Task.Dag.Operator.RollbackNotFailedDag")
    assert error_of(agent, "POST", f"/dag/{gid}", {"operator": "PASS"}) == (400, "Task.Dag.Operator.PassNotFailedDag")
    assert error_of(agent, "POST", f"/node/{node['id']}", {"operator": "pass"}) == (400, "Task.Node.Operator.PassNotFailedDag")


def test_rollback_and_dag_pass(agent: ObshellClient, tasks: AgentTasks) -> None:
    rolled = create(tasks, Ok(name="a"), Broken(name="b"))
    passed = create(tasks, Broken(name="c"), Ok(name="never"))
    wait_state(agent, rolled, "FAILED")
    wait_state(agent, passed, "FAILED")
    assert call(agent, "POST", f"/dag/{rolled}", {"operator": "ROLLBACK"})[0] == 200
    assert wait_state(agent, rolled, "SUCCEED")["operator"] == "ROLLBACK"
    assert call(agent, "POST", f"/dag/{passed}", {"operator": "pass", "name": "ignored", "stage": 9})[0] == 200
    dag = call(agent, "GET", f"/dag/{passed}")[1]["data"]
    assert (dag["state"], dag["operator"]) == ("SUCCEED", "PASS")
    never = dag["nodes"][1]["sub_tasks"][0]
    assert (never["operator"], never["execute_times"], never["task_logs"]) == ("PASS", 0, [])  # never ran


def test_cancel_a_running_dag(agent: ObshellClient, tasks: AgentTasks) -> None:
    gid = create(tasks, Hold(name="hold"))
    wait_state(agent, gid, "RUNNING")
    assert call(agent, "POST", f"/dag/{gid}", {"operator": "CANCEL"})[0] == 200
    assert wait_state(agent, gid, "FAILED")["operator"] == "CANCEL"


def test_pause_and_resume_over_http(agent: ObshellClient, tasks: AgentTasks) -> None:
    done = create(tasks, Ok(name="done"))
    wait_state(agent, done, "SUCCEED")
    assert error_of(agent, "POST", f"/dag/{done}", {"operator": "PAUSE"}) == (400, "Task.Dag.Operator.PauseNotRunningDag")
    assert error_of(agent, "POST", f"/dag/{done}", {"operator": "resume"}) == (400, "Task.Dag.Operator.ResumeNotPausedDag")
    gid = create(tasks, Hold(name="hold"), Ok(name="after"))
    wait_state(agent, gid, "RUNNING")
    assert error_of(agent, "POST", f"/dag/{gid}", {"operator": "RESUME"}) == (400, "Task.Dag.Operator.ResumeNotPausedDag")
    assert call(agent, "POST", f"/dag/{gid}", {"operator": "pause"})[0] == 200
    dag = call(agent, "GET", f"/dag/{gid}")[1]["data"]
    assert dag["additional_data"]["pause"]["reason"] == "paused by an operator (PAUSE)"
    assert call(agent, "POST", f"/dag/{gid}", {"operator": "CANCEL"})[0] == 200  # a cancel clears the pause
    assert wait_state(agent, gid, "FAILED")["operator"] == "CANCEL"


@pytest.mark.parametrize("gid", ["abc", "9", "1", "1x", "1-5", "2", "21234", "7123", "2" + "9" * 10 + "02886" + "1",
                                 "2213070643302886" + "0", "2213070643399999" + "1"])
def test_bad_generic_ids_are_400(agent: ObshellClient, gid: str) -> None:
    for path in (f"/dag/{gid}", f"/node/{gid}", f"/sub_task/{gid}", f"/sub_task/{gid}/logs"):
        assert error_of(agent, "GET", path) == (400, "Task.GenericID.Invalid"), path
    assert error_of(agent, "POST", f"/dag/{gid}", {"operator": "retry"}) == (400, "Task.GenericID.Invalid")


def test_unknown_ids_are_404(agent: ObshellClient, tasks: AgentTasks) -> None:
    gid = create(tasks, Ok(name="x"))
    wait_state(agent, gid, "SUCCEED")
    unknown = encode_local_id(999, OWNER)
    for path in (f"/dag/{unknown}", f"/node/{unknown}", f"/sub_task/{unknown}", f"/sub_task/{unknown}/logs"):
        assert error_of(agent, "GET", path) == (404, "Task.NotFound"), path
    assert error_of(agent, "POST", f"/dag/{unknown}", {"operator": "retry"}) == (404, "Task.NotFound")
    assert error_of(agent, "POST", f"/node/{unknown}", {"operator": "pass"}) == (404, "Task.NotFound")
    assert error_of(agent, "GET", f"/dag/{gid}0") == (404, "Task.NotFound")
    assert error_of(agent, "GET", "/dag/15") == (404, "Task.NotFound")  # no cluster store on this agent
    other = encode_local_id(1, AgentInfo("10.0.0.9", 2886))
    assert error_of(agent, "GET", f"/dag/{other}") == (400, "Task.GenericID.OtherAgent")


@pytest.mark.parametrize(("body", "code"), [
    (b'{"operator": ', "Common.BindJsonFailed"),
    (b"[1, 2]", "Common.BindJsonFailed"),
    ({"operator": 5}, "Common.BindJsonFailed"),
    ({"operator": None}, "Common.BindJsonFailed"),
    ({"operator": ""}, "Common.BindJsonFailed"),
    ({}, "Common.BindJsonFailed"),
    ({"operator": "jump"}, "Task.Dag.Operator.NotSupport"),
    ({"operator": "RUN"}, "Task.Dag.Operator.NotSupport"),
])
def test_malformed_dag_operator_bodies_are_400(agent: ObshellClient, tasks: AgentTasks, body: Any, code: str) -> None:
    gid = create(tasks, Broken(name="x"))
    wait_state(agent, gid, "FAILED")
    assert error_of(agent, "POST", f"/dag/{gid}", body) == (400, code)
    assert wait_state(agent, gid, "FAILED")["operator"] == "RUN"  # nothing was applied


def test_node_operator_other_than_pass_is_400_before_the_id_is_looked_up(agent: ObshellClient) -> None:
    unknown = encode_local_id(999, OWNER)
    assert error_of(agent, "POST", f"/node/{unknown}", {"operator": "retry"}) == (400, "Task.Node.Operator.NotSupport")
    assert error_of(agent, "POST", f"/node/{unknown}", {"operator": 1}) == (400, "Common.BindJsonFailed")


def test_bad_query_and_unknown_routes(agent: ObshellClient, tasks: AgentTasks) -> None:
    gid = create(tasks, Ok(name="x"))
    assert error_of(agent, "GET", f"/dag/{gid}", show_details="maybe") == (400, "Common.IllegalArgument")
    assert error_of(agent, "GET", "/dag/") == (404, "Common.NotFound")
    assert error_of(agent, "DELETE", f"/dag/{gid}") == (405, "Common.MethodNotAllowed")


def test_local_lists_and_maintenance(agent: ObshellClient, tasks: AgentTasks) -> None:
    assert error_of(agent, "GET", "/dag/maintain/agent") == (404, "Task.NotFound")
    assert call(agent, "GET", "/dag/maintain/agents")[1]["data"] == {"contents": []}
    done = create(tasks, Ok(name="x"))
    wait_state(agent, done, "SUCCEED")
    held = create(tasks, Hold(name="hold"), maintainer=Maintainer.global_())
    wait_state(agent, held, "RUNNING")
    assert agent.status().underMaintenance is True
    all_dags = call(agent, "GET", "/dags/agent")[1]["data"]["contents"]
    assert [d["id"] for d in all_dags] == [done, held] and all_dags[0]["nodes"] is not None
    for path in ("/dag/unfinish", "/dag/agent/unfinish"):
        assert [d["id"] for d in call(agent, "GET", path, show_details="false")[1]["data"]["contents"]] == [held]
    maintained = call(agent, "GET", "/dag/maintain/agent")[1]["data"]
    assert (maintained["id"], maintained["maintenance_type"]) == (held, 2)
    every = call(agent, "GET", "/dag/maintain/agents", show_details="false")[1]["data"]["contents"]
    assert [d["id"] for d in every] == [held]  # a single agent: its own (the peers: the SDK tier)
    RELEASE.set()
    wait_state(agent, held, "SUCCEED")
    assert agent.status().underMaintenance is False
    assert call(agent, "GET", "/dag/unfinish")[1]["data"] == {"contents": []}


def test_cluster_routes_need_the_cluster_store(agent: ObshellClient) -> None:
    for path in ("/dags/ob", "/dag/ob/unfinish", "/dag/maintain/ob"):
        assert error_of(agent, "GET", path) == (503, "Task.Engine.Unavailable"), path


def test_cluster_ids_use_the_cluster_store(agent: ObshellClient, tasks: AgentTasks, tmp_path: Path) -> None:
    store = TaskStore(f"sqlite:///{tmp_path / 'cluster.db'}", StoreKind.CLUSTER, owner=OWNER)
    tasks.services.cluster = TaskService(store, REGISTRY)
    try:
        assert error_of(agent, "GET", "/dag/maintain/ob") == (404, "Task.NotFound")
        template = TemplateBuilder("cluster job").set_maintenance(Maintainer.tenant("t1")).add_task(Ok(name="c")).build()
        created = tasks.services.cluster.create_dag(template)  # nobody schedules it yet
        assert created.id == f"1{created.dag_id}"
        dag = call(agent, "GET", f"/dag/{created.id}")[1]["data"]
        assert (dag["state"], dag["maintenance_type"], dag["maintenance_key"]) == ("READY", 3, "t1")
        node_id = dag["nodes"][0]["id"]
        assert node_id.startswith("1") and call(agent, "GET", f"/node/{node_id}")[0] == 200
        assert [d["id"] for d in call(agent, "GET", "/dags/ob")[1]["data"]["contents"]] == [created.id]
        assert [d["id"] for d in call(agent, "GET", "/dag/ob/unfinish")[1]["data"]["contents"]] == [created.id]
        assert [d["id"] for d in call(agent, "GET", "/dag/unfinish")[1]["data"]["contents"]] == [created.id]
        assert call(agent, "GET", "/dag/maintain/ob")[1]["data"]["id"] == created.id
        assert error_of(agent, "GET", f"/dag/1{created.dag_id + 1}") == (404, "Task.NotFound")
    finally:
        store.close()


def test_task_routes_need_credentials(agent: ObshellClient, http: TestClient, tasks: AgentTasks) -> None:
    gid = create(tasks, Broken(name="x"))
    wait_state(agent, gid, "FAILED")
    for method, path, body in (("GET", f"/dag/{gid}", None), ("POST", f"/dag/{gid}", {"operator": "pass"}),
                               ("GET", "/dags/agent", None), ("GET", "/dag/unfinish", None)):
        plain = http.request(method, f"/api/v1/task{path}", json=body)
        assert plain.status_code == 400 and plain.json()["error"]["errCode"] == "Request.Header.NotFound"
        wrong = ObshellClient(BASE, password="wrong", http_client=http).raw_request(method, f"/api/v1/task{path}", body)
        assert wrong.status_code == 401
        assert wrong.json()["error"]["errCode"] == "Security.Authentication.IncorrectOceanbasePassword"
    assert wait_state(agent, gid, "FAILED")["operator"] == "RUN"  # the refused PASS did nothing


def test_obproxy_ids_need_the_agent_password(agent: ObshellClient, http: TestClient) -> None:
    obproxy_gid = encode_local_id(3, OWNER, obproxy=True)
    assert error_of(agent, "GET", f"/dag/{obproxy_gid}") == (401, "Security.Authentication.WithAgentPassword")
    with_agent_password = ObshellClient(BASE, agent_password=AGENT_PASSWORD, http_client=http)
    response = with_agent_password.raw_request("GET", f"/api/v1/task/dag/{obproxy_gid}")
    assert response.status_code == 404 and response.json()["error"]["errCode"] == "Task.NotFound"
