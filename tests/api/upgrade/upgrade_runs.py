"""Driving whole upgrades through the API of a simulated cluster's agents: route files and
packages built by `pyobshell sim package`, the upgrade request, the DAG followed to its end."""

from __future__ import annotations

from pathlib import Path

from pyobshell.client import ObshellClient
from pyobshell.sim.package_builder import build_packages as sim_packages
from tests.helpers.sim import connect, query, wait_for

OLD_VERSION = "4.2.1.0"
RELEASES = {  # one build per simulated version
    "4.2.1.1": "101000062023110109.el7",
    "4.2.1.2": "102000032023120512.el7",
    "4.2.1.3": "103000012024011516.el7",
}
UPGRADE = "/api/v1/ob/upgrade"
PLAN = "/api/v1/ob/upgrade/plan"
DAG_TIMEOUT_S = 240
# The agents' timings (see UpgradeTimings.from_env): readiness polls backing off to 0.3 s at
# most; with SHORT_WAITS also an observer that never serves fails its restart after 12 s, not
# 300 s (still room for three observers starting at once on a busy machine).
QUICK_POLLS: dict[str, str] = {}  # the defaults poll every 0.2 s at most
SHORT_WAITS = {"PYOBSHELL_UPGRADE_TIMINGS": "cluster_ready_wait_s=12"}


def route_file(path: Path, versions: list[str], barriers: tuple[str, ...] = ()) -> Path:
    """A route file where each version can be upgraded to the next one; ``barriers`` must have
    their binary installed on the way."""
    lines = []
    for current, following in zip(versions, [*versions[1:], None]):
        lines.append(f"- version: {current}")
        lines.append("  can_be_upgraded_to:" + (f"\n    - {following}" if following else " []"))
        if current in barriers:
            lines.append("  require_from_binary: True")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def build_packages(out: Path, versions: list[str], dep_yml: Path) -> list[Path]:
    """oceanbase-ce and -libs of every version, each carrying ``dep_yml`` (what `pyobshell sim
    package --dep-yml` writes, built in this process to save an interpreter start per version)."""
    return sorted(path for version in versions
                  for path in sim_packages(version, RELEASES[version], out, dep_yml=dep_yml))


def client_for(agent: dict, password: str) -> ObshellClient:
    return ObshellClient(f"{agent['ip']}:{agent['port']}", password=password, timeout=60)


def body(version: str, mode: str = "ROLLING") -> dict:
    return {"version": version, "release": RELEASES[version], "mode": mode, "upgradeDir": ""}


def dag_detail(api: ObshellClient, gid: str) -> dict:
    return api.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "true"})


def wait_finished(api: ObshellClient, gid: str, timeout: float = DAG_TIMEOUT_S) -> dict:
    """The DAG with its nodes once it is SUCCEED or FAILED."""
    def finished() -> dict | None:
        current = api.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "false"})
        return current if current["state"] in ("SUCCEED", "FAILED") else None

    wait_for(finished, timeout, f"DAG {gid} to finish")
    return dag_detail(api, gid)


def outline(dag: dict) -> str:
    """Each node's name and state, then the last log lines of the nodes that did not succeed.

    A string, not a structure: pytest shows an assertion's message whole, but cuts a long
    list's repr in the middle, which hid the failed step's logs in CI."""
    rows = [f"{node['name']}: {node['state']}" for node in dag["nodes"] or []]
    for node in dag["nodes"] or []:
        if node["state"] != "SUCCEED":
            lines = [line for task in node["sub_tasks"] or [] for line in (task["task_logs"] or [])[-6:]]
            rows += [f"--- {node['name']} ({node['state']}):", *lines]
    return "\n".join(rows)


def failed_node(dag: dict) -> dict:
    failed = [node for node in dag["nodes"] if node["state"] == "FAILED"]
    assert len(failed) == 1, outline(dag)
    return failed[0]


def node_logs(dag: dict, name: str) -> list[str]:
    return [line for node in dag["nodes"] if node["name"] == name
            for task in node["sub_tasks"] or [] for line in task["task_logs"] or []]


def retry(api: ObshellClient, gid: str) -> None:
    api.request("POST", f"/api/v1/task/dag/{gid}", {"operator": "RETRY"})


def cluster_versions(observer: dict, password: str) -> tuple[set[str], set[str]]:
    """(the versions every server's build starts with, the min_observer_version values)."""
    with connect(observer, password) as conn:
        builds = {row[0].split("_")[0] for row in query(conn, "SELECT BUILD_VERSION FROM DBA_OB_SERVERS")}
        minimum = {row[0] for row in query(
            conn, "SELECT DISTINCT VALUE FROM GV$OB_PARAMETERS WHERE NAME = 'min_observer_version'")}
    return builds, minimum

