"""``GET /metrics`` on a simulated 3-zone cluster with agents during and after a rolling upgrade
(issue "Metrics"), with ``PYOBSHELL_METRICS_TOKEN`` set on every agent. Each scrape is parsed
with prometheus_client's own parser and checked against the DAG read through the task API:
during the upgrade its stage and max stage and its zones; after it, the DAG counted SUCCEED,
one node duration per finished node (summed over the agents: only the maintainer's scheduler
finishes cluster nodes), the maintainer gauge 1 on exactly one agent, the SQL probe's
statements, and the task route in the HTTP request counter."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.upgrade.upgrade_runs import body, build_packages, dag_detail, outline, route_file, wait_finished
from tests.helpers import nets
from tests.helpers.kill_matrix import Rig
from tests.helpers.sim import wait_for

pytestmark = pytest.mark.multiprocess
UPGRADE = "/api/v1/ob/upgrade"
VERSION = "4.2.1.1"
TOKEN = "metrics-scrape-token"
TASK_ROUTE = "/api/v1/task/dag/{gid}"
NODES = "pyobshell_dag_node_duration_seconds_count"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(agent: dict, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"http://{agent['ip']}:{agent['port']}/metrics", headers=headers, timeout=30)


def figures(agent: dict) -> Samples:
    answer = scrape(agent)
    assert answer.status_code == 200, answer.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def series(found: Samples, name: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(labels), v) for (sample, labels), v in found.items() if sample == name]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("metrics")
    rpms = build_packages(root / "rpm", [VERSION], route_file(root / "dep.yml", ["4.2.1.0", VERSION]))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYOBSHELL_METRICS_TOKEN", TOKEN)  # the agents `sim up` starts inherit it
        with Rig(root, nets.METRICS) as rig:
            with rig.client(rig.agents[0]) as api:
                for rpm in rpms:
                    api.upload_package(rpm)
            yield rig


def test_metrics_during_and_after_a_rolling_upgrade(rig: Rig) -> None:
    first = rig.agents[0]
    refused = scrape(first, token=None)
    assert refused.status_code == 401
    assert refused.json()["error"]["errCode"] == "Security.Authentication.Metrics.IncorrectToken"

    with rig.client(first) as api:
        created = api.request("POST", UPGRADE, body(VERSION))
        gid, dag_id = created["id"], str(created["dag_id"])
        # During: once zone1 is being upgraded, every agent shows the stage the task API shows.
        def in_zone1() -> bool:
            dag = dag_detail(api, gid)
            return dag["state"] == "RUNNING" and dag["stage"] >= 9  # after the header and the hop's checks

        wait_for(in_zone1, 240, f"DAG {gid} to reach zone1")
        for agent in rig.agents:
            before = dag_detail(api, gid)
            found = figures(agent)
            after = dag_detail(api, gid)
            stage = value(found, "pyobshell_upgrade_stage", dag_id=dag_id)
            assert stage is not None and before["stage"] <= stage <= after["stage"], (before["stage"], stage)
            assert value(found, "pyobshell_upgrade_max_stage", dag_id=dag_id) == created["max_stage"] == 26
            if after["stage"] < after["max_stage"]:
                assert value(found, "pyobshell_upgrade_running") == 1
            zones = {labels["zone"]: labels["state"] for labels, v in series(found, "pyobshell_upgrade_zone_state")
                     if v == 1}
            assert set(zones) == {"zone1", "zone2", "zone3"}, zones
            for node in before["nodes"]:
                if node["name"].startswith("Start ") and node["state"] == "SUCCEED":
                    assert zones[node["name"].removeprefix("Start ")] == "SUCCEED", (node["name"], zones)

        done = wait_finished(api, gid)
        assert done["state"] == "SUCCEED", outline(done)
        cluster_dags = Counter(d["state"] for d in api.request("GET", "/api/v1/task/dags/ob")["contents"])

    finished = Counter(node["name"] for node in done["nodes"] if node["state"] in ("SUCCEED", "FAILED"))
    assert sum(finished.values()) == 26

    def one_per_finished_node() -> Counter:
        counts: Counter = Counter()
        for agent in rig.agents:
            for labels, v in series(figures(agent), NODES):
                counts[labels["node"]] += int(v)
        assert counts == finished, dict(counts)
        return counts

    # The maintainer tells its histogram right after the pass that finished the DAG committed.
    seen = wait_for(one_per_finished_node, 30, f"one node duration per finished node: {dict(finished)}")
    assert sum(seen.values()) == 26

    after_upgrade = {f"{a['ip']}:{a['port']}": figures(a) for a in rig.agents}
    for address, found in after_upgrade.items():
        for state in ("PENDING", "READY", "RUNNING", "FAILED", "SUCCEED"):
            assert value(found, "pyobshell_dags", store="cluster", state=state) == cluster_dags.get(state, 0), \
                (address, state, cluster_dags)
        assert value(found, "pyobshell_upgrade_state", dag_id=dag_id, state="SUCCEED") == 1, address
        assert value(found, "pyobshell_upgrade_running") == 0, address
        assert value(found, "pyobshell_upgrade_stage", dag_id=dag_id) == done["stage"] == done["max_stage"]
        assert value(found, "pyobshell_task_store_up", store="cluster") == 1, address
    maintainers = [address for address, found in after_upgrade.items() if value(found, "pyobshell_maintainer") == 1]
    assert len(maintainers) == 1, maintainers
    gained = sum(value(found, "pyobshell_maintainer_changes_total", change="gained") or 0
                 for found in after_upgrade.values())
    assert gained >= 1
    probed = sum(v for found in after_upgrade.values()
                 for labels, v in series(found, "pyobshell_sql_probe_statements_total") if labels["result"] == "ok")
    assert probed > 0  # the maintainer probed every ACTIVE zone while the DAG ran

    mine = after_upgrade[f"{first['ip']}:{first['port']}"]
    assert (value(mine, "pyobshell_http_requests_total", route=TASK_ROUTE, method="GET", status="200") or 0) >= 1
    assert (value(mine, "pyobshell_http_request_duration_seconds_count", route=TASK_ROUTE, method="GET") or 0) >= 1
    assert value(mine, "pyobshell_auth_refusals_total",
                 err_code="Security.Authentication.Metrics.IncorrectToken") == 1
    assert not any(labels["route"].startswith("/api/v1/task/dag/1") for labels, _ in
                   series(mine, "pyobshell_http_requests_total"))  # templates, never the DAG's id
