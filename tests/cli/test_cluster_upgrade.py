"""`pyobshell cluster upgrade` as a subprocess against a simulated 3-zone cluster with agents:
plain line-by-line output when stdout is no terminal, exit 0, every server upgraded; then the
status, package and task commands with ``--json`` on the same cluster."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.helpers.sim import run_cli, sim_cluster
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

PASSWORD = "cli-Passw0rd"
NEW_VERSION, NEW_RELEASE = "4.2.1.1", "101000062023110109.el7"
ENV = {**os.environ, "OB_ROOT_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cli-upgrade")
    with sim_cluster(root / "c", net=nets.CLI_UPGRADE, zones=3, password=PASSWORD, agents=True) as document:
        run_cli("sim", "package", "--version", NEW_VERSION, "--release", NEW_RELEASE, "--out", str(root / "pkg"))
        (root / "pkg" / "README.rpm").write_text("not a package")  # skipped with a warning
        document["pkg_dir"] = root / "pkg"
        document["agent"] = f"{document['agents'][1]['ip']}:{document['agents'][1]['port']}"
        yield document


def cli_json(*args: str) -> dict | list:
    result = run_cli(*args, "--json", env=ENV)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def upgrade(cluster: dict):
    """The upgrade, run once: its CompletedProcess."""
    return run_cli("cluster", "upgrade", "--agent", cluster["agent"], "-V", NEW_VERSION, "-d", str(cluster["pkg_dir"]),
                   "-m", "ROLLING", "-y", check=False, timeout=300, env=ENV)


def test_the_upgrade_succeeds_with_plain_progress(cluster: dict, upgrade) -> None:
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    lines = upgrade.stdout.splitlines()
    assert "README.rpm" in upgrade.stderr and "warning: skipped" in upgrade.stderr
    assert any(line.startswith("uploaded oceanbase-ce-4.2.1.1") for line in lines)
    assert any("ROLLING, 26 stages" in line for line in lines)
    # One line per step as it changes (never redrawn), zone by zone, in order.
    stopped = [match[1] for line in lines if (match := re.search(r"\] (zone\d): Stop zone\d SUCCEED", line))]
    assert stopped == ["zone1", "zone2", "zone3"]
    assert "\x1b[" not in upgrade.stdout  # no terminal control sequences when not a terminal
    assert lines[-1].startswith("Congratulations! Task 1")


def test_json_documents_parse(cluster: dict, upgrade) -> None:
    status = cli_json("cluster", "status", "--agent", cluster["agent"])
    topology = status["ob_info"]["obcluster_info"]["topology"]
    builds = {server["build_version"].split("_")[0] for zone in topology.values() for server in zone}
    assert sorted(topology) == ["zone1", "zone2", "zone3"] and builds == {NEW_VERSION}
    assert len(status["agents"]) == 3 and status["ob_info"]["maintainer"]["port"] == 2886
    packages = cli_json("package", "list", "--agent", cluster["agent"])
    assert sorted(p["name"] for p in packages) == ["oceanbase-ce", "oceanbase-ce-libs"]
    gid = status["maintenance_task"]["id"]
    task = cli_json("task", "show", gid, "--agent", f"{cluster['agents'][2]['ip']}:2886")
    assert task["state"] == "SUCCEED" and len(task["nodes"]) == 26


def test_nothing_to_do_is_a_failure_with_a_clear_line(cluster: dict, upgrade) -> None:
    again = run_cli("cluster", "upgrade", "--agent", cluster["agent"], "-V", NEW_VERSION, "-d",
                    str(cluster["pkg_dir"]), "-y", "--json", check=False, env=ENV)
    assert again.returncode == 1
    assert "already runs 4.2.1.1" in json.loads(again.stdout)["error"]["message"]


def test_status_names_states_and_shows_both_versions(cluster: dict, upgrade) -> None:
    plain = run_cli("cluster", "status", "--agent", cluster["agent"], env={**ENV, "COLUMNS": "200"}).stdout
    agent_rows = [line for line in plain.splitlines() if ":2886" in line and "CLUSTER AGENT" in line]
    assert len(agent_rows) == 3, plain
    for row in agent_rows:
        assert "RUNNING" in row and "CONNECTION_AVAILABLE" in row and "4.5.0.0-0" in row, row
    status = cli_json("cluster", "status", "--agent", cluster["agent"])
    assert {a["state"] for a in status["agents"].values()} == {2}  # the numbers stay in --json
    assert {a["obState"] for a in status["agents"].values()} == {3}
