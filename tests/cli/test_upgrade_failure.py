"""A failing upgrade under a pseudo-terminal: the confirmation question, the live view (one
row per section), exit 1 with the failed step's logs and the commands to go on; then
`task retry --watch --json` finishes it once the cause is gone."""

from __future__ import annotations

import json
import os
import re
import sys

import pexpect
import pytest

from tests.helpers.sim import run_cli, sim_cluster
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

PASSWORD = "cli-fail-Passw0rd"
NEW_VERSION, NEW_RELEASE = "4.2.1.1", "101000062023110109.el7"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cli-failure")
    with sim_cluster(root / "c", net=nets.CLI_UPGRADE_FAILURE, zones=3, password=PASSWORD, agents=True) as document:
        run_cli("sim", "package", "--version", NEW_VERSION, "--release", NEW_RELEASE, "--out", str(root / "pkg"))
        run_cli("sim", "fault", "--dir", str(root / "c"), "--kind", "upgrade_job_fails")  # the post script fails
        document["dir"], document["pkg_dir"] = root / "c", root / "pkg"
        document["agent"] = f"{document['agents'][0]['ip']}:{document['agents'][0]['port']}"
        yield document


@pytest.fixture(scope="module")
def failed_run(cluster: dict) -> str:
    """`cluster upgrade` in a terminal (password typed at the hidden prompt, 'y' to the question)."""
    env = {key: value for key, value in os.environ.items() if key != "OB_ROOT_PASSWORD"}
    child = pexpect.spawn(sys.executable, ["-m", "pyobshell.cli.main", "cluster", "upgrade", "--agent",
                                           cluster["agent"], "-V", NEW_VERSION, "-d", str(cluster["pkg_dir"])],
                          # rich trusts COLUMNS/LINES over the pty's size, and test runners may set them
                          env={**env, "TERM": "xterm", "COLUMNS": "200", "LINES": "60"},
                          encoding="utf-8", timeout=240, dimensions=(60, 200))
    try:
        child.expect("root@sys password")
        child.sendline(PASSWORD)
        child.expect(r"Upgrade the cluster from 4\.2\.1\.0-\d+ to 4\.2\.1\.1-101000062023110109\.el7 \(ROLLING\)\?")
        child.sendline("y")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 1, child.before
    return ANSI.sub("", child.before)


def test_the_live_view_shows_every_section(failed_run: str) -> None:
    # rich redraws in place: the header row and every section appear, with states and steps.
    assert re.search(r"section\s+state\s+steps\s+current step\s+elapsed\s+latest log", failed_run)
    for section in ("packages", "checks", "zone1", "zone2", "zone3", "finish", "cleanup"):
        assert re.search(rf"\n{section}\s+(SUCCEED|RUNNING|FAILED|PENDING)\s+\d/\d", failed_run), section
    assert re.search(r"zone2\s+SUCCEED\s+5/5\s+\[18/26\] Start zone2", failed_run)
    assert re.search(r"finish\s+FAILED\s+0/2\s+\[24/26\] Execute upgrade post script", failed_run)


def test_the_failure_shows_the_logs_and_the_commands(cluster: dict, failed_run: str) -> None:
    assert "FAILED at stage 24/26: Execute upgrade post script" in failed_run
    assert "upgrade job UPGRADE_ALL failed" in failed_run  # from the failed sub-task's log
    match = re.search(rf"pyobshell task retry (1\d+) --agent {re.escape(cluster['agent'])}", failed_run)
    assert match, failed_run[-3000:]
    assert f"pyobshell task rollback {match[1]} --agent {cluster['agent']}" in failed_run
    assert re.search(rf"pyobshell task pass 1\d+ --node --agent {re.escape(cluster['agent'])}", failed_run)
    cluster["task_id"] = match[1]


def test_retry_finishes_the_upgrade_once_the_cause_is_gone(cluster: dict, failed_run: str) -> None:
    assert "task_id" in cluster, "needs the failure report's retry command"
    run_cli("sim", "fault", "--dir", str(cluster["dir"]), "--kind", "upgrade_job_fails", "--clear")
    other_agent = f"{cluster['agents'][2]['ip']}:2886"
    result = run_cli("task", "retry", cluster["task_id"], "--agent", other_agent, "--watch", "--json", timeout=240,
                     env={**os.environ, "OB_ROOT_PASSWORD": PASSWORD}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["succeeded"] is True and document["task"]["state"] == "SUCCEED"
    assert document["task"]["id"] == cluster["task_id"]
