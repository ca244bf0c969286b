"""A simulated 3-zone cluster as OceanBase clients see it: views, zone rules, errors,
processes, transactions on user databases, fault injection."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pymysql
import pytest

from tests.helpers.sim import connect, query, run_cli, sim_cluster, wait_for
from tests.helpers import nets
from pyobshell.observer_config import read_pid

pytestmark = pytest.mark.multiprocess
PASSWORD = "rootpw"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("sim") / "c"
    with sim_cluster(directory, net=nets.SIM_CLUSTER, password=PASSWORD) as document:
        document["dir"] = directory
        yield document


def test_views_after_sim_up(cluster: dict) -> None:
    for observer in cluster["observers"]:
        with connect(observer, PASSWORD) as conn:
            zones = query(conn, "SELECT ZONE, STATUS FROM DBA_OB_ZONES ORDER BY ZONE")
            assert zones == [("zone1", "ACTIVE"), ("zone2", "ACTIVE"), ("zone3", "ACTIVE")]
            servers = query(conn, "SELECT SVR_IP, STATUS, BUILD_VERSION, START_SERVICE_TIME FROM oceanbase.DBA_OB_SERVERS")
            assert len(servers) == 3
            assert all(status == "ACTIVE" and build.startswith("4.2.1.0_") and started for _, status, build, started in servers)
            assert query(conn, "select ob_version()") == [("4.2.1.0",)]
            assert query(conn, "select version()")[0][0].endswith("OceanBase_CE-v4.2.1.0")
            assert query(conn, "SELECT count(*) FROM DBA_OB_SERVERS WHERE WITH_ROOTSERVER = 'YES'") == [(1,)]


def test_stop_and_start_zone_rules(cluster: dict) -> None:
    with connect(cluster["observers"][2], PASSWORD) as conn:
        query(conn, "ALTER SYSTEM STOP ZONE 'zone1'")
        assert query(conn, "SELECT STATUS FROM DBA_OB_ZONES WHERE ZONE = 'zone1'") == [("INACTIVE",)]
        with pytest.raises(pymysql.MySQLError) as stop_second:
            query(conn, "ALTER SYSTEM STOP ZONE 'zone2'")
        assert stop_second.value.args[0] == 4660
        with pytest.raises(pymysql.MySQLError) as start_active:
            query(conn, "ALTER SYSTEM START ZONE 'zone2'")
        assert start_active.value.args[0] == 4633
        query(conn, "ALTER SYSTEM STOP ZONE 'zone1'")  # a retry on an INACTIVE zone succeeds
        query(conn, "ALTER SYSTEM START ZONE 'zone1'")
        assert query(conn, "SELECT count(*) FROM DBA_OB_ZONES WHERE STATUS = 'ACTIVE'") == [(3,)]
        with pytest.raises(pymysql.MySQLError) as unknown:
            query(conn, "ALTER SYSTEM STOP ZONE 'zone9'")
        assert unknown.value.args[0] == 4018


def test_bad_sql_gives_error_packets_and_keeps_the_connection(cluster: dict) -> None:
    with connect(cluster["observers"][0], PASSWORD) as conn:
        cases = {
            "SELEC 1 FRM": 1064,
            "ALTER SYSTEM START ZONE 'nowhere'": 4018,
            "ALTER SYSTEM FLY TO THE MOON": 1064,
            "SELECT * FROM oceanbase.NO_SUCH_VIEW": 1146,
            "ALTER SYSTEM SET no_such_parameter = 1": 1210,
            "GRANT ALL ON *.* TO x": 1235,
            "ALTER SYSTEM RUN JOB 'nonsense'": 1210,
        }
        for sql, code in cases.items():
            with pytest.raises(pymysql.MySQLError) as error:
                query(conn, sql)
            assert error.value.args[0] == code, (sql, error.value.args)
        assert query(conn, "SELECT 1") == [(1,)]  # still usable


def test_wrong_password_is_1045(cluster: dict) -> None:
    with pytest.raises(pymysql.MySQLError) as error:
        connect(cluster["observers"][0], "wrong")
    assert error.value.args[0] == 1045
    with pytest.raises(pymysql.MySQLError) as other_user:
        pymysql.connect(host=cluster["observers"][0]["ip"], port=2881, user="admin@sys", password=PASSWORD)
    assert other_user.value.args[0] == 1045


def test_parameters_propagate_to_every_server(cluster: dict) -> None:
    with connect(cluster["observers"][1], PASSWORD) as conn:
        query(conn, "ALTER SYSTEM SET server_permanent_offline_time = '72h'")
        wait_for(lambda: query(conn, "SELECT count(*) FROM GV$OB_PARAMETERS WHERE NAME = 'server_permanent_offline_time'"
                                     " AND VALUE != '72h'") == [(0,)], 10, "parameter propagation")
        target = f"{cluster['observers'][0]['ip']}:2882"
        query(conn, f"ALTER SYSTEM SET enable_rebalance = 'False' SERVER = '{target}'")
        rows = wait_for(lambda: query(conn, "SELECT SVR_IP, VALUE FROM GV$OB_PARAMETERS WHERE NAME = 'enable_rebalance'"
                                            " AND VALUE = 'False'"), 10, "server-scoped parameter")
        assert rows == [(cluster["observers"][0]["ip"], "False")]
        query(conn, "ALTER SYSTEM SET enable_rebalance = 'True'")


def test_conditional_updates_in_transactions_exactly_one_wins(cluster: dict) -> None:
    first, second = cluster["observers"][0], cluster["observers"][1]
    with connect(first, PASSWORD, database=None) as setup:
        query(setup, "CREATE DATABASE IF NOT EXISTS ocs")
        query(setup, "CREATE TABLE IF NOT EXISTS ocs.lock_row (id BIGINT NOT NULL AUTO_INCREMENT, owner VARCHAR(64),"
                     " version INT NOT NULL DEFAULT 0, PRIMARY KEY (id), UNIQUE KEY uk_owner (owner))")
        query(setup, "INSERT INTO ocs.lock_row (owner, version) VALUES ('nobody', 0)")
    results: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def contend(observer: dict, name: str) -> None:
        conn = connect(observer, PASSWORD, database="ocs", autocommit=False)
        try:
            barrier.wait()
            with conn.cursor() as cursor:
                cursor.execute("BEGIN")
                changed = cursor.execute("UPDATE lock_row SET owner = %s, version = version + 1"
                                         " WHERE owner = 'nobody' AND version = 0", (name,))
            conn.commit()
            results[name] = changed
        except pymysql.MySQLError as error:  # a deadlock answer also means "you lost"
            conn.rollback()
            results[name] = 0 if error.args[0] in (1205, 1213) else -1
        finally:
            conn.close()

    threads = [threading.Thread(target=contend, args=(obs, name)) for obs, name in ((first, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results.values()) == [0, 1]
    with connect(second, PASSWORD, database="ocs") as conn:
        winner = query(conn, "SELECT owner, version FROM lock_row")
        assert winner == [("a" if results["a"] else "b", 1)]
        with pytest.raises(pymysql.MySQLError) as duplicate:
            query(conn, "INSERT INTO lock_row (owner) VALUES (%s)", (winner[0][0],))
        assert duplicate.value.args[0] == 1062


def test_select_for_update_and_rollback(cluster: dict) -> None:
    with connect(cluster["observers"][0], PASSWORD, database=None) as setup:
        query(setup, "CREATE DATABASE IF NOT EXISTS ocs")
        query(setup, "CREATE TABLE IF NOT EXISTS ocs.counter (id INT PRIMARY KEY, n INT NOT NULL,"
                     " updated TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))")
        query(setup, "INSERT INTO ocs.counter (id, n) VALUES (1, 10)")
    conn = connect(cluster["observers"][2], PASSWORD, database="ocs", autocommit=False)
    with conn.cursor() as cursor:
        cursor.execute("SELECT n, updated FROM counter WHERE id = 1 FOR UPDATE")
        n, before = cursor.fetchone()
        cursor.execute("UPDATE counter SET n = %s WHERE id = 1", (n + 5,))
    conn.rollback()
    with conn.cursor() as cursor:
        cursor.execute("SELECT n FROM counter WHERE id = 1")
        assert cursor.fetchone() == (10,)
        cursor.execute("UPDATE counter SET n = 11 WHERE id = 1")
    conn.commit()
    with conn.cursor() as cursor:
        cursor.execute("SELECT n, updated FROM counter WHERE id = 1")
        n, after = cursor.fetchone()
    conn.close()
    assert n == 11 and after > before  # ON UPDATE CURRENT_TIMESTAMP(6) kept the row's time current


def test_killed_observer_turns_inactive_and_comes_back(cluster: dict) -> None:
    victim = cluster["observers"][2]
    home = Path(victim["home"])
    pid = read_pid(home)
    assert pid
    os.kill(pid, signal.SIGKILL)
    with connect(cluster["observers"][0], PASSWORD) as conn:
        def status() -> tuple:
            return query(conn, "SELECT STATUS, START_SERVICE_TIME, LAST_OFFLINE_TIME FROM DBA_OB_SERVERS WHERE SVR_IP = %s",
                         (victim["ip"],))[0]

        inactive = wait_for(lambda: status()[0] == "INACTIVE" and status(), 15, "observer INACTIVE after the lease")
        assert inactive[1] is None and inactive[2] is not None
        subprocess.run([str(home / "bin" / "observer")], cwd=home, check=True, timeout=30)
        wait_for(lambda: status()[0] == "ACTIVE" and status()[1] is not None, 15, "observer back in service")
        wait_for(lambda: query(conn, "SELECT count(*) FROM GV$OB_LOG_STAT WHERE IN_SYNC = 'NO'") == [(0,)], 15, "log sync")


def test_user_data_survives_an_observer_restart(cluster: dict) -> None:
    observer = cluster["observers"][1]
    with connect(observer, PASSWORD, database=None) as conn:
        query(conn, "CREATE DATABASE IF NOT EXISTS ocs")
        query(conn, "CREATE TABLE IF NOT EXISTS ocs.kept (k VARCHAR(16) PRIMARY KEY, v TEXT)")
        query(conn, "INSERT INTO ocs.kept VALUES ('key', 'value')")
    home = Path(observer["home"])
    os.kill(read_pid(home), signal.SIGKILL)
    wait_for(lambda: read_pid(home) is None or not Path(f"/proc/{read_pid(home)}").exists(), 10, "observer gone")
    subprocess.run([str(home / "bin" / "observer")], cwd=home, check=True, timeout=30)
    conn = wait_for(lambda: connect(observer, PASSWORD, database="ocs"), 15, "observer accepting logins")
    with conn:
        assert query(conn, "SELECT v FROM kept WHERE k = 'key'") == [("value",)]


def test_fault_never_serve(cluster: dict) -> None:
    victim = cluster["observers"][0]
    target = f"{victim['ip']}:2882"
    home = Path(victim["home"])
    run_cli("sim", "fault", "--dir", str(cluster["dir"]), "--kind", "never_serve", "--server", target)
    try:
        os.kill(read_pid(home), signal.SIGKILL)
        with connect(cluster["observers"][1], PASSWORD) as conn:
            wait_for(lambda: query(conn, "SELECT STATUS FROM DBA_OB_SERVERS WHERE SVR_IP = %s", (victim["ip"],)) == [("INACTIVE",)],
                     15, "victim INACTIVE")
            subprocess.run([str(home / "bin" / "observer")], cwd=home, check=True, timeout=30)
            wait_for(lambda: query(conn, "SELECT STATUS FROM DBA_OB_SERVERS WHERE SVR_IP = %s", (victim["ip"],)) == [("ACTIVE",)],
                     15, "victim ACTIVE")
            row = query(conn, "SELECT START_SERVICE_TIME FROM DBA_OB_SERVERS WHERE SVR_IP = %s", (victim["ip"],))
            assert row == [(None,)]
            run_cli("sim", "fault", "--dir", str(cluster["dir"]), "--kind", "never_serve", "--server", target, "--clear")
            wait_for(lambda: query(conn, "SELECT START_SERVICE_TIME FROM DBA_OB_SERVERS WHERE SVR_IP = %s",
                                   (victim["ip"],))[0][0] is not None, 15, "victim in service after the fault is cleared")
    finally:
        run_cli("sim", "fault", "--dir", str(cluster["dir"]), "--kind", "never_serve", "--server", target, "--clear")


def test_unknown_fault_is_a_usage_error(cluster: dict) -> None:
    result = run_cli("sim", "fault", "--dir", str(cluster["dir"]), "--kind", "meteor", check=False)
    assert result.returncode == 2 and "unknown fault" in result.stderr


def test_sim_up_refuses_a_used_directory_and_busy_ports(cluster: dict, tmp_path: Path) -> None:
    used = run_cli("sim", "up", "--dir", str(cluster["dir"]), "--net", str(nets.SIM_NEVER_STARTED), "--no-agents", "--profile", "fast", check=False)
    assert used.returncode != 0 and "not empty" in used.stderr
    busy = run_cli("sim", "up", "--dir", str(tmp_path / "other"), "--net", str(nets.SIM_CLUSTER), "--no-agents", "--profile", "fast",
                   check=False)
    assert busy.returncode != 0 and "already in use" in busy.stderr
    assert not (tmp_path / "other").exists()
    bad = run_cli("sim", "up", "--dir", str(tmp_path / "bad"), "--version", "4.2", "--no-agents", check=False)
    assert bad.returncode != 0 and "four dot-separated numbers" in bad.stderr


def test_sim_down_leaves_no_process(tmp_path: Path) -> None:
    directory = tmp_path / "short"
    with sim_cluster(directory, net=nets.SIM_FOUR_SERVERS, zones=2, servers_per_zone=2) as document:
        pids = [read_pid(Path(o["home"])) for o in document["observers"]]
        assert all(pid and Path(f"/proc/{pid}").exists() for pid in pids)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]


@pytest.mark.parametrize("binary_prefix", [False, True])
def test_blobs_round_trip(cluster: dict, binary_prefix: bool) -> None:
    """Package chunks are BLOBs of up to 8 MiB: raw bytes must survive the MySQL text protocol."""
    payloads = {1: b"", 2: bytes(range(256)) * 4, 3: os.urandom(3 * 1024 * 1024), 4: b"'\\\x00\"\x1a" * 500}
    conn = connect(cluster["observers"][0], PASSWORD, database=None, binary_prefix=binary_prefix)
    with conn:
        query(conn, "CREATE DATABASE IF NOT EXISTS ocs")
        query(conn, "CREATE TABLE IF NOT EXISTS ocs.chunk (id INT, prefix INT, data LONGBLOB, PRIMARY KEY (id, prefix))")
        for key, payload in payloads.items():
            query(conn, "INSERT INTO ocs.chunk VALUES (%s, %s, %s)", (key, int(binary_prefix), payload))
        for key, payload in payloads.items():
            assert query(conn, "SELECT data FROM ocs.chunk WHERE id = %s AND prefix = %s", (key, int(binary_prefix))) == [(payload,)]


def test_mysql_connector_reads_and_writes_blobs(cluster: dict) -> None:
    import mysql.connector

    payload = os.urandom(200_000)
    conn = mysql.connector.connect(host=cluster["observers"][1]["ip"], port=2881, user="root", password=PASSWORD)
    try:
        cursor = conn.cursor()
        cursor.execute("CREATE DATABASE IF NOT EXISTS ocs")
        cursor.execute("CREATE TABLE IF NOT EXISTS ocs.connector_blob (id INT PRIMARY KEY, data LONGBLOB)")
        cursor.execute("INSERT INTO ocs.connector_blob VALUES (%s, %s)", (1, payload))
        conn.commit()
        cursor.execute("SELECT data FROM ocs.connector_blob WHERE id = 1")
        assert bytes(cursor.fetchone()[0]) == payload
    finally:
        conn.close()
