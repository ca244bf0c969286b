"""The post-upgrade report on a simulated 3-zone cluster with agents: a rolling upgrade to
4.2.1.1, then the report read through another agent than the one that started it — every check
ok with the cluster's real values (build, ``min_observer_version``, each tenant's ``compatible``
and data version), each zone's time out of service, the probe's figures — and shown by `task
show`; then ``enable_upgrade_mode`` set on through SQL, and `cluster verify` exits 1 naming it."""

from __future__ import annotations

import json
import os

import pytest

from tests.api.upgrade.upgrade_runs import cluster_versions, outline
from tests.helpers import nets
from tests.helpers.kill_matrix import NEW_RELEASE, NEW_VERSION, PASSWORD, Rig, build_packages, wait_dag
from tests.helpers.sim import connect, query, run_cli, wait_for

pytestmark = pytest.mark.multiprocess
CLI_ENV = {**os.environ, "OB_ROOT_PASSWORD": PASSWORD, "COLUMNS": "250"}


def address(agent: dict) -> str:
    return f"{agent['ip']}:{agent['port']}"


def test_a_rolling_upgrade_leaves_a_report_and_verify_catches_upgrade_mode_left_on(tmp_path) -> None:
    rpms = build_packages(tmp_path / "rpm")
    with Rig(tmp_path, nets.UPGRADE_REPORT) as rig:
        starter, reader, other = rig.agents
        with rig.client(starter) as api:
            for rpm in rpms:
                api.upload_package(rpm)
            created = api.request("POST", "/api/v1/ob/upgrade", {"version": NEW_VERSION, "release": NEW_RELEASE,
                                                                 "mode": "ROLLING", "upgradeDir": ""})
        gid = created["id"]
        done = wait_dag(lambda: rig.client(starter), gid)
        with rig.client(starter) as api:
            assert done["state"] == "SUCCEED", outline(api.request("GET", f"/api/v1/task/dag/{gid}"))
        assert cluster_versions(rig.document["observers"][0], PASSWORD) == ({NEW_VERSION}, {NEW_VERSION})

        with rig.client(reader) as api:
            report = wait_for(lambda: api.upgrade_report(gid), 90, f"the report of DAG {gid}")
        checks = {check.name: check for check in report.checks}
        assert report.ok and all(check.ok for check in report.checks), report.checks
        assert (report.id, report.target_version) == (gid, f"{NEW_VERSION}-{NEW_RELEASE}")
        build = f"{NEW_VERSION}_{NEW_RELEASE.split('.')[0]}"
        assert checks["one_build"].expected == build
        assert checks["one_build"].found == f"{build} on " + ", ".join(
            f"{o['ip']}:{o['rpc_port']}" for o in rig.document["observers"])
        assert checks["min_observer_version"].found == f"{NEW_VERSION} on every server (3)"
        assert checks["tenant_compatible"].found == ", ".join(
            f"{tenant}={NEW_VERSION}" for tenant in ("sys", "META$1002", "tenant1"))
        assert checks["tenant_data_version"].found == checks["tenant_compatible"].found
        assert checks["upgrade_mode_off"].found == "False on every server (3)"
        assert checks["parameters_restored"].found == "9 of 9 values as backed up"
        assert [zone.zone for zone in report.zone_durations] == ["zone1", "zone2", "zone3"]
        assert all(zone.seconds > 0 for zone in report.zone_durations)
        assert report.probe is not None and report.probe.total.samples > 0

        shown = run_cli("task", "show", gid, "--agent", address(other), env=CLI_ENV)
        assert "post-upgrade report:" in shown.stdout and "all 8 checks passed" in shown.stdout
        verified = run_cli("cluster", "verify", "--agent", address(other), "--json", env=CLI_ENV)
        assert json.loads(verified.stdout)["ok"] is True

        with connect(rig.document["observers"][1], PASSWORD) as conn:
            query(conn, "ALTER SYSTEM SET enable_upgrade_mode = 'True'")

        def verify_fails():
            result = run_cli("cluster", "verify", "--agent", address(reader), check=False, env=CLI_ENV)
            return result if result.returncode == 1 else None

        failed = wait_for(verify_fails, 60, "cluster verify to fail")
        assert "1 of 8 checks FAILED: upgrade_mode_off" in failed.stdout, failed.stdout
        assert "enable_upgrade_mode is not False on" in failed.stdout
        with rig.client(reader) as api:
            assert api.upgrade_report(gid) == report  # the kept report is what the upgrade left
