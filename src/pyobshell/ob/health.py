"""What the upgrade's pre-checks read about the cluster's state (obshell's ``preCheckForObUpgrade``)."""

from __future__ import annotations

from pyobshell.ob.sql import Sql, column, count


def tenants_with_unrefreshed_schema(sql: Sql) -> list[str]:
    return [str(name) for name in column(
        sql,
        "SELECT DISTINCT tenant_name FROM (SELECT t.tenant_id, t.tenant_name, s.svr_ip, s.svr_port"
        " FROM oceanbase.DBA_OB_TENANTS t, oceanbase.DBA_OB_SERVERS s) ts"
        " LEFT JOIN oceanbase.GV$OB_SERVER_SCHEMA_INFO os ON ts.tenant_id = os.tenant_id"
        " AND ts.svr_ip = os.svr_ip AND ts.svr_port = os.svr_port"
        " WHERE os.refreshed_schema_version IS NULL OR os.refreshed_schema_version <= 1"
        " OR os.refreshed_schema_version % 8 != 0")]


def merging_tablets(sql: Sql) -> int:
    return count(sql, "SELECT count(1) FROM oceanbase.__all_virtual_tablet_compaction_info"
                      " WHERE max_received_scn > finished_scn AND max_received_scn > 0")


def tenants_in_major_compaction(sql: Sql) -> int:
    return count(sql, "SELECT count(*) FROM oceanbase.CDB_OB_MAJOR_COMPACTION WHERE STATUS != 'IDLE'")


def running_backup_jobs(sql: Sql) -> int:
    return count(sql, "SELECT count(1) FROM oceanbase.CDB_OB_BACKUP_JOBS")
