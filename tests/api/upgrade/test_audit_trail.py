"""The audit trail on a simulated 3-zone cluster with agents (issue "Audit trail"): package
uploads, a refused request (a wrong password), a stop-service upgrade whose post script fails,
a RETRY through another agent, and a request forwarded between agents; the trail, read
through a third agent, lists each with the right fields. Then the root password is looked for
in every log file of every agent (the JSON lines included) and in every row of every table of
the cluster store, and found nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.engine import AgentInfo, encode_local_id
from pyobshell.sim.faults import clear_fault, set_fault
from pyobshell.wire.audit import AuditRecord
from tests.api.upgrade.upgrade_runs import RELEASES, build_packages, outline, route_file, wait_finished
from tests.helpers import nets
from tests.helpers.kill_matrix import PASSWORD, Rig
from tests.helpers.sim import connect, query, wait_for

pytestmark = pytest.mark.multiprocess
UPGRADE = "/api/v1/ob/upgrade"
VERSION = "4.2.1.1"
WRONG = "not-the-root-password"


def address(agent: dict) -> str:
    return f"{agent['ip']}:{agent['port']}"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    """The cluster after everything the trail should show; and what each step answered."""
    root = tmp_path_factory.mktemp("audit")
    rpms = build_packages(root / "rpm", [VERSION], route_file(root / "dep.yml", ["4.2.1.0", VERSION]))
    with Rig(root, nets.AUDIT) as rig:
        first, second, third = rig.agents
        seen: dict = {"rpms": rpms}
        with rig.client(first) as api:
            seen["uploads"] = [api.upload_package(rpm) for rpm in rpms]
        with ObshellClient(address(first), password=WRONG, timeout=30) as intruder:
            with pytest.raises(ObshellApiError) as refused:
                intruder.request("POST", UPGRADE, {"version": VERSION, "release": RELEASES[VERSION],
                                                   "mode": "STOPSERVICE", "upgradeDir": ""})
        seen["refused"] = refused.value
        set_fault(rig.directory, "upgrade_job_fails")  # the post script's upgrade job ends FAILED
        try:
            with rig.client(first) as api:
                created = api.request("POST", UPGRADE, {"version": VERSION, "release": RELEASES[VERSION],
                                                        "mode": "stopservice", "upgradeDir": ""})
                failed = wait_finished(api, created["id"])
        finally:
            clear_fault(rig.directory, "upgrade_job_fails")
        assert failed["state"] == "FAILED", outline(failed)
        with rig.client(second) as api:
            api.operate_dag(created["id"], "RETRY")
            done = wait_finished(api, created["id"])
        assert done["state"] == "SUCCEED", outline(done)
        seen["dag"] = created
        # A local id of the third agent, asked at the first: forwarded there (it has no such DAG).
        seen["foreign"] = encode_local_id(10**9, AgentInfo(third["ip"], third["port"]))
        with rig.client(first) as api:
            with pytest.raises(ObshellApiError) as forwarded:
                api.operate_dag(seen["foreign"], "CANCEL")
        seen["forwarded"] = forwarded.value
        yield rig, seen


def trail(rig: Rig, agent: dict, **query) -> list[AuditRecord]:
    with rig.client(agent) as api:
        return api.audit(limit=1000, **query)


def test_the_trail_read_through_another_agent_lists_every_step(run) -> None:
    rig, seen = run
    first, second, third = rig.agents
    gid = seen["dag"]["id"]

    def complete() -> list[AuditRecord] | None:
        records = trail(rig, third)
        wanted = [r for r in records if r.route == "/api/v1/task/dag/{gid}" and r.forwarded_from]
        return records if wanted and any(r.summary.get("operator") == "RETRY" for r in records) else None

    records = wait_for(complete, 60, "the trail to hold the RETRY and the forwarded request")
    assert [r.time_ms for r in records] == sorted((r.time_ms for r in records), reverse=True)  # newest first

    (start,) = [r for r in records if r.route == UPGRADE and r.status == 200]
    assert (start.method, start.agent, start.credential, start.dag_id, start.err_code) == (
        "POST", address(first), "password", gid, "")
    assert start.summary == {"version": VERSION, "release": RELEASES[VERSION], "mode": "stopservice",
                             "upgradeDir": ""}
    assert start.trace_id and start.client.startswith("127.")

    (retry,) = [r for r in records if r.summary.get("operator") == "RETRY"]
    assert (retry.route, retry.path, retry.agent, retry.status, retry.dag_id, retry.credential) == (
        "/api/v1/task/dag/{gid}", f"/api/v1/task/dag/{gid}", address(second), 200, gid, "password")
    assert retry.summary == {"gid": gid, "operator": "RETRY"}

    (refused,) = [r for r in records if r.status == 401]
    assert (refused.route, refused.agent, refused.credential, refused.err_code, refused.summary, refused.dag_id) == (
        UPGRADE, address(first), "password", seen["refused"].err_code, {}, "")
    assert refused.err_code == "Security.Authentication.IncorrectOceanbasePassword"
    assert refused.trace_id == seen["refused"].trace_id

    uploads = [r for r in records if r.route == "/api/v1/package"]
    assert sorted((r.summary["filename"], r.summary["size"], r.summary["sha256"]) for r in uploads) == sorted(
        (rpm.name, rpm.stat().st_size, info.sha256) for rpm, info in zip(seen["rpms"], seen["uploads"]))

    # The forwarded request: one record where it was received (naming where it went), one
    # marked forwarded_from where it was answered, under the same trace id.
    cancels = [r for r in records if r.summary.get("operator") == "CANCEL"]
    received = [r for r in cancels if not r.forwarded_from]
    assert [(r.agent, r.forwarded_to, r.status, r.err_code) for r in received] == [
        (address(first), address(third), 404, "Task.NotFound")]
    assert [(r.agent, r.forwarded_from, r.status) for r in cancels if r.forwarded_from] == [
        (address(third), address(first), 404)]
    assert len({r.trace_id for r in cancels}) == 1

    only = trail(rig, second, dag=gid)
    assert {r.dag_id for r in only} == {gid} and {r.id for r in only} >= {start.id, retry.id}
    for since in (str(retry.time_ms), retry.time.replace("Z", "+00:00")):
        later = trail(rig, first, since=since)
        assert retry.id in [r.id for r in later] and min(r.time_ms for r in later) >= retry.time_ms


def test_the_root_password_is_in_no_log_no_journal_and_no_row_of_the_cluster_store(run) -> None:
    rig, _ = run
    secrets = (PASSWORD.encode(), WRONG.encode())  # the wrong one a client tried is a secret too
    journals = 0
    for agent in rig.agents:
        for path in sorted((Path(agent["home"]) / "log").rglob("*")):
            if path.is_file():
                journals += path.name.startswith("audit.jsonl")
                text = path.read_bytes()
                assert not any(secret in text for secret in secrets), path
    assert journals == 3  # every agent kept its own JSON lines

    with connect(rig.document["observers"][0], PASSWORD, database="ocs") as conn:
        tables = [row[0] for row in query(conn, "SHOW TABLES")]
        assert "pyobshell_audit" in tables
        dumps = {}
        for table in tables:
            rows = query(conn, f"SELECT * FROM `{table}`")
            dumps[table] = repr(rows).encode() + b"".join(v for row in rows for v in row if isinstance(v, bytes))
        assert b"IncorrectOceanbasePassword" in dumps["pyobshell_audit"]  # the dump does hold the rows
        assert {table for table, dump in dumps.items() if any(secret in dump for secret in secrets)} == set()
