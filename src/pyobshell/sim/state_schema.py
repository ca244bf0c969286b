"""Tables of the simulated cluster's shared state, and the OceanBase views served over them.

The raw facts live in ``__sim_*`` tables of one SQLite file shared by every simulated observer
(standing in for OceanBase's replicated system tables). What changes with time (liveness,
start-up, log catch-up, parameter propagation, job completion) is not written by a background
process: it is derived when a query runs, from timestamps and the settings, so a killed
observer turns INACTIVE exactly one lease after its last heartbeat.

The OceanBase views are TEMP views created on each connection, because they read the
per-connection ``__sim_live`` table that the session refreshes before every system query.
"""

from __future__ import annotations

from pyobshell.sim import log_streams

TABLES = """
CREATE TABLE IF NOT EXISTS __sim_setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS __sim_zone (
    zone TEXT PRIMARY KEY, status TEXT NOT NULL COLLATE NOCASE, idc TEXT, region TEXT,
    create_us INTEGER NOT NULL, modify_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS __sim_server (
    id INTEGER PRIMARY KEY, svr_ip TEXT NOT NULL, svr_port INTEGER NOT NULL,
    sql_port INTEGER NOT NULL, zone TEXT NOT NULL, version TEXT NOT NULL, release TEXT NOT NULL,
    build_version TEXT NOT NULL, start_us INTEGER NOT NULL DEFAULT 0,
    stop_time_us INTEGER NOT NULL DEFAULT 0, last_offline_us INTEGER NOT NULL DEFAULT 0,
    create_us INTEGER NOT NULL, modify_us INTEGER NOT NULL, pid INTEGER NOT NULL DEFAULT 0,
    UNIQUE (svr_ip, svr_port));
CREATE TABLE IF NOT EXISTS __sim_fault (
    target TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (target, kind));
CREATE TABLE IF NOT EXISTS __sim_param (
    svr_ip TEXT NOT NULL, svr_port INTEGER NOT NULL, name TEXT NOT NULL,
    value TEXT NOT NULL, pending_value TEXT, pending_at_us INTEGER NOT NULL DEFAULT 0,
    data_type TEXT NOT NULL DEFAULT 'STRING', info TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (svr_ip, svr_port, name));
CREATE TABLE IF NOT EXISTS __sim_explicit_param (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS __sim_tenant (
    tenant_id INTEGER PRIMARY KEY, tenant_name TEXT NOT NULL UNIQUE, tenant_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'NORMAL', role TEXT NOT NULL DEFAULT 'PRIMARY',
    compatibility_mode INTEGER NOT NULL DEFAULT 0, create_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS __sim_tenant_param (
    tenant_id INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    pending_value TEXT, pending_at_us INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, name));
CREATE TABLE IF NOT EXISTS __sim_job (
    job_id INTEGER PRIMARY KEY, job_type TEXT NOT NULL, final_status TEXT NOT NULL,
    finish_at_us INTEGER NOT NULL, rs_svr_ip TEXT NOT NULL, rs_svr_port INTEGER NOT NULL,
    gmt_create_us INTEGER NOT NULL, extra_info TEXT NOT NULL DEFAULT '', target_version TEXT);
CREATE TABLE IF NOT EXISTS __sim_checkpoint (
    svr_ip TEXT NOT NULL, svr_port INTEGER NOT NULL, value INTEGER NOT NULL,
    pending_value INTEGER, pending_at_us INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (svr_ip, svr_port));
CREATE TABLE IF NOT EXISTS __sim_merge (
    tenant_id INTEGER PRIMARY KEY, suspended INTEGER NOT NULL DEFAULT 0,
    frozen_scn INTEGER NOT NULL DEFAULT 1, last_scn INTEGER NOT NULL DEFAULT 1,
    busy_until_us INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS __sim_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT, gmt_create_us INTEGER NOT NULL,
    history TEXT NOT NULL DEFAULT 'rootservice', module TEXT NOT NULL, event TEXT NOT NULL,
    name1 TEXT NOT NULL DEFAULT '', value1 TEXT NOT NULL DEFAULT '',
    name2 TEXT NOT NULL DEFAULT '', value2 TEXT NOT NULL DEFAULT '',
    name3 TEXT NOT NULL DEFAULT '', value3 TEXT NOT NULL DEFAULT '',
    name4 TEXT NOT NULL DEFAULT '', value4 TEXT NOT NULL DEFAULT '',
    name5 TEXT NOT NULL DEFAULT '', value5 TEXT NOT NULL DEFAULT '',
    name6 TEXT NOT NULL DEFAULT '', value6 TEXT NOT NULL DEFAULT '',
    extra_info TEXT NOT NULL DEFAULT '', rs_svr_ip TEXT NOT NULL DEFAULT '',
    rs_svr_port INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS __sim_inspection (name TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS __sim_database (name TEXT PRIMARY KEY, create_us INTEGER NOT NULL);
""" + log_streams.TABLES

# Per-connection state derived by the session before each system query (see server_health.py).
LIVE_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS __sim_live (
    id INTEGER PRIMARY KEY, alive INTEGER NOT NULL, serving INTEGER NOT NULL,
    in_sync INTEGER NOT NULL, start_service_us INTEGER NOT NULL,
    last_offline_us INTEGER NOT NULL, is_rs INTEGER NOT NULL);
"""

# A pending value becomes the value once its time has come (parameter propagation, jobs).
_EFFECTIVE = "CASE WHEN {p}pending_value IS NOT NULL AND sim_now_us() >= {p}pending_at_us THEN {p}pending_value ELSE {p}value END"


def effective(prefix: str = "") -> str:
    return _EFFECTIVE.format(p=prefix)


# name1, value1 … name6, value6 of an event history table, lower and upper case.
_EVENT_PAIRS = ", ".join(f"name{i}, value{i}" for i in range(1, 7))
_EVENT_PAIRS_UPPER = ", ".join(f"name{i} AS NAME{i}, value{i} AS VALUE{i}" for i in range(1, 7))


def _ts(expr: str) -> str:
    """µs since the epoch → DATETIME text, NULL when unset (0), as OceanBase's views show."""
    return f"CASE WHEN {expr} > 0 THEN sim_us_to_datetime({expr}) ELSE NULL END"


VIEWS: dict[str, str] = {
    "__all_zone": """
        SELECT zone, 'status' AS name, 0 AS value, status AS info FROM __sim_zone
        UNION ALL SELECT zone, 'idc', 0, COALESCE(idc, '') FROM __sim_zone
        UNION ALL SELECT zone, 'region', 0, COALESCE(region, '') FROM __sim_zone
        UNION ALL SELECT zone, 'zone_type', 0, 'ReadWrite' FROM __sim_zone""",
    "DBA_OB_ZONES": f"""
        SELECT zone AS ZONE, {_ts('create_us')} AS CREATE_TIME, {_ts('modify_us')} AS MODIFY_TIME,
               status AS STATUS, COALESCE(idc, '') AS IDC, COALESCE(region, 'default_region') AS REGION,
               'ReadWrite' AS TYPE
        FROM __sim_zone""",
    "__all_server": """
        SELECT s.svr_ip, s.svr_port, s.id, s.zone, s.sql_port AS inner_port, s.sql_port,
               l.is_rs AS with_rootserver,
               CASE WHEN l.alive = 1 THEN 'active' ELSE 'inactive' END COLLATE NOCASE AS status,
               l.start_service_us AS start_service_time, s.stop_time_us AS stop_time,
               s.build_version, l.last_offline_us AS last_offline_time,
               s.create_us AS gmt_create, s.modify_us AS gmt_modify
        FROM __sim_server s JOIN __sim_live l ON l.id = s.id""",
    "DBA_OB_SERVERS": f"""
        SELECT s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, s.id AS ID, s.zone AS ZONE,
               s.sql_port AS SQL_PORT, CASE WHEN l.is_rs = 1 THEN 'YES' ELSE 'NO' END AS WITH_ROOTSERVER,
               CASE WHEN l.alive = 1 THEN 'ACTIVE' ELSE 'INACTIVE' END COLLATE NOCASE AS STATUS,
               {_ts('l.start_service_us')} AS START_SERVICE_TIME, {_ts('s.stop_time_us')} AS STOP_TIME,
               NULL AS BLOCK_MIGRATE_IN_TIME, {_ts('s.create_us')} AS CREATE_TIME,
               {_ts('s.modify_us')} AS MODIFY_TIME, s.build_version AS BUILD_VERSION,
               {_ts('l.last_offline_us')} AS LAST_OFFLINE_TIME
        FROM __sim_server s JOIN __sim_live l ON l.id = s.id""",
    "GV$OB_SERVERS": """
        SELECT s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, s.zone AS ZONE, s.sql_port AS SQL_PORT,
               16 AS CPU_CAPACITY, 16 AS CPU_CAPACITY_MAX, 2 AS CPU_ASSIGNED, 2 AS CPU_ASSIGNED_MAX,
               17179869184 AS MEM_CAPACITY, 4294967296 AS MEM_ASSIGNED,
               107374182400 AS DATA_DISK_CAPACITY, 1073741824 AS DATA_DISK_IN_USE
        FROM __sim_server s JOIN __sim_live l ON l.id = s.id WHERE l.alive = 1""",
    "GV$OB_PARAMETERS": f"""
        SELECT s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, s.zone AS ZONE, 'CLUSTER' AS SCOPE,
               NULL AS TENANT_ID, p.name AS NAME, p.data_type AS DATA_TYPE, {effective('p.')} AS VALUE,
               p.info AS INFO, 'OBSERVER' AS SECTION, 'DYNAMIC_EFFECTIVE' AS EDIT_LEVEL,
               p.value AS DEFAULT_VALUE
        FROM __sim_param p JOIN __sim_server s ON s.svr_ip = p.svr_ip AND s.svr_port = p.svr_port
        JOIN __sim_live l ON l.id = s.id WHERE l.alive = 1
        UNION ALL
        SELECT s.svr_ip, s.svr_port, s.zone, 'TENANT', t.tenant_id, tp.name, 'STRING',
               {effective('tp.')}, '', 'TENANT', 'DYNAMIC_EFFECTIVE', tp.value
        FROM __sim_tenant_param tp JOIN __sim_tenant t ON t.tenant_id = tp.tenant_id
        CROSS JOIN __sim_server s JOIN __sim_live l ON l.id = s.id WHERE l.alive = 1""",
    "__all_virtual_sys_parameter_stat": f"""
        SELECT p.svr_ip, p.svr_port, s.zone, p.name, {effective('p.')} AS value, p.data_type, p.info
        FROM __sim_param p JOIN __sim_server s ON s.svr_ip = p.svr_ip AND s.svr_port = p.svr_port
        JOIN __sim_live l ON l.id = s.id WHERE l.alive = 1""",
    "__all_sys_parameter": "SELECT name, value FROM __sim_explicit_param",
    "__all_virtual_tenant_parameter_info": f"""
        SELECT tp.tenant_id, s.svr_ip, s.svr_port, s.zone, tp.name, {effective('tp.')} AS value
        FROM __sim_tenant_param tp CROSS JOIN __sim_server s JOIN __sim_live l ON l.id = s.id
        WHERE l.alive = 1""",
    "DBA_OB_TENANTS": f"""
        SELECT tenant_id AS TENANT_ID, tenant_name AS TENANT_NAME, tenant_type AS TENANT_TYPE,
               {_ts('create_us')} AS CREATE_TIME, {_ts('create_us')} AS MODIFY_TIME,
               'zone1' AS PRIMARY_ZONE, NULL AS LOCALITY, status COLLATE NOCASE AS STATUS, 'NO' AS LOCKED,
               CASE WHEN compatibility_mode = 1 THEN 'ORACLE' ELSE 'MYSQL' END AS COMPATIBILITY_MODE,
               role AS TENANT_ROLE
        FROM __sim_tenant""",
    "__all_tenant": "SELECT tenant_id, tenant_name, compatibility_mode FROM __sim_tenant",
    "__all_virtual_tenant_info": """
        SELECT tenant_id, role AS tenant_role, 'NORMAL' AS switchover_status, 0 AS switchover_epoch,
               1000 AS sync_scn, 1000 AS replayable_scn, 1000 AS readable_scn,
               4611686018427387903 AS recovery_until_scn, 'NOARCHIVELOG' AS log_mode, 1001 AS max_ls_id
        FROM __sim_tenant""",
    "__all_virtual_core_table": f"""
        SELECT t.tenant_id, 'target_data_version' AS column_name,
               CAST(sim_encode_version({effective('tp.')}) AS TEXT) AS column_value
        FROM __sim_tenant t JOIN __sim_tenant_param tp ON tp.tenant_id = t.tenant_id AND tp.name = 'compatible'
        UNION ALL
        SELECT t.tenant_id, 'current_data_version',
               CAST(sim_encode_version({effective('tp.')}) AS TEXT)
        FROM __sim_tenant t JOIN __sim_tenant_param tp ON tp.tenant_id = t.tenant_id AND tp.name = 'compatible'""",
    "__all_table": """
        SELECT '__all_virtual_core_table' AS table_name, 1 AS tenant_id
        UNION ALL SELECT '__all_server', 1 UNION ALL SELECT '__all_zone', 1""",
    "GV$OB_SERVER_SCHEMA_INFO": """
        SELECT s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, t.tenant_id AS TENANT_ID,
               1000008 AS REFRESHED_SCHEMA_VERSION, 1000008 AS RECEIVED_SCHEMA_VERSION,
               100 AS SCHEMA_COUNT, 1024 AS SCHEMA_SIZE, 0 AS MIN_SSTABLE_SCHEMA_VERSION
        FROM __sim_server s JOIN __sim_live l ON l.id = s.id CROSS JOIN __sim_tenant t
        WHERE l.serving = 1""",
    "__all_virtual_server_schema_info": """
        SELECT s.svr_ip, s.svr_port, t.tenant_id, 1000008 AS refreshed_schema_version,
               1000008 AS received_schema_version
        FROM __sim_server s JOIN __sim_live l ON l.id = s.id CROSS JOIN __sim_tenant t
        WHERE l.serving = 1""",
    "CDB_OB_MAJOR_COMPACTION": """
        SELECT t.tenant_id AS TENANT_ID, m.frozen_scn AS FROZEN_SCN, NULL AS FROZEN_TIME,
               m.frozen_scn AS GLOBAL_BROADCAST_SCN, m.last_scn AS LAST_SCN, NULL AS LAST_FINISH_TIME,
               NULL AS START_TIME,
               CASE WHEN m.busy_until_us > sim_now_us() THEN 'COMPACTING' ELSE 'IDLE' END COLLATE NOCASE AS STATUS,
               'NO' AS IS_ERROR, CASE WHEN m.suspended = 1 THEN 'YES' ELSE 'NO' END AS IS_SUSPENDED,
               '' AS INFO
        FROM __sim_tenant t LEFT JOIN __sim_merge m ON m.tenant_id = t.tenant_id""",
    "__all_virtual_tablet_compaction_info": """
        SELECT s.svr_ip, s.svr_port, t.tenant_id, 1 AS tablet_id,
               1000 AS max_received_scn, 1000 AS finished_scn
        FROM __sim_server s CROSS JOIN __sim_tenant t""",
    "__all_virtual_ls_info": f"""
        SELECT c.svr_ip, c.svr_port, t.tenant_id, 1 AS ls_id, {effective('c.')} AS checkpoint_scn
        FROM __sim_checkpoint c CROSS JOIN __sim_tenant t""",
    "__all_rootservice_job": """
        SELECT job_id, job_type,
               CASE WHEN sim_now_us() >= finish_at_us THEN final_status ELSE 'INPROGRESS' END COLLATE NOCASE AS job_status,
               CASE WHEN sim_now_us() >= finish_at_us AND final_status = 'FAILED' THEN -4016
                    WHEN sim_now_us() >= finish_at_us THEN 0 ELSE NULL END AS return_code,
               rs_svr_ip, rs_svr_port, sim_us_to_datetime(gmt_create_us) AS gmt_create,
               extra_info, CASE WHEN sim_now_us() >= finish_at_us THEN 100 ELSE 50 END AS progress,
               1 AS tenant_id
        FROM __sim_job""",
    "DBA_OB_TENANT_JOBS": """
        SELECT job_id AS JOB_ID, job_type AS JOB_TYPE,
               CASE WHEN sim_now_us() >= finish_at_us THEN final_status ELSE 'INPROGRESS' END COLLATE NOCASE AS JOB_STATUS,
               CASE WHEN sim_now_us() >= finish_at_us THEN 0 ELSE NULL END AS RESULT_CODE,
               1 AS TENANT_ID
        FROM __sim_job WHERE job_type NOT IN ('UPGRADE_ALL', 'UPGRADE_VIRTUAL_SCHEMA', 'RUN_UPGRADE_POST_JOB')""",
    "__all_virtual_core_meta_table": """
        SELECT s.svr_ip, s.svr_port, 1 AS tenant_id, 1 AS ls_id, CASE WHEN l.is_rs = 1 THEN 1 ELSE 2 END AS role
        FROM __sim_server s JOIN __sim_live l ON l.id = s.id WHERE l.alive = 1""",
    "__all_rootservice_event_history": f"""
        SELECT sim_us_to_datetime(gmt_create_us) AS gmt_create, module, event, {_EVENT_PAIRS},
               extra_info, rs_svr_ip, rs_svr_port
        FROM __sim_event WHERE history = 'rootservice'""",
    "DBA_OB_ROOTSERVICE_EVENT_HISTORY": f"""
        SELECT sim_us_to_datetime(gmt_create_us) AS TIMESTAMP, module AS MODULE, event AS EVENT,
               {_EVENT_PAIRS_UPPER}, extra_info AS EXTRA_INFO, rs_svr_ip AS RS_SVR_IP, rs_svr_port AS RS_SVR_PORT
        FROM __sim_event WHERE history = 'rootservice'""",
    "__all_cluster_event_history": f"""
        SELECT sim_us_to_datetime(gmt_create_us) AS gmt_create, module, event, {_EVENT_PAIRS}, extra_info
        FROM __sim_event WHERE history = 'cluster'""",
    "DBA_OB_CLUSTER_EVENT_HISTORY": f"""
        SELECT sim_us_to_datetime(gmt_create_us) AS TIMESTAMP, module AS MODULE, event AS EVENT,
               {_EVENT_PAIRS_UPPER}, extra_info AS EXTRA_INFO
        FROM __sim_event WHERE history = 'cluster'""",
    "__all_virtual_upgrade_inspection": "SELECT name, info FROM __sim_inspection",
    "DBA_OB_UNITS": f"""
        SELECT 1000 + row_number() OVER (ORDER BY t.tenant_id, z.zone) AS UNIT_ID, t.tenant_id AS TENANT_ID,
               'ACTIVE' AS STATUS, t.tenant_id AS RESOURCE_POOL_ID, 1000 + t.tenant_id AS UNIT_GROUP_ID,
               {_ts('t.create_us')} AS CREATE_TIME, {_ts('t.create_us')} AS MODIFY_TIME, z.zone AS ZONE,
               s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, NULL AS MIGRATE_FROM_SVR_IP,
               NULL AS MIGRATE_FROM_SVR_PORT, NULL AS MANUAL_MIGRATE, t.tenant_id AS UNIT_CONFIG_ID,
               2 AS MAX_CPU, 2 AS MIN_CPU, 4294967296 AS MEMORY_SIZE, 12884901888 AS LOG_DISK_SIZE,
               9223372036854775807 AS MAX_IOPS, 9223372036854775807 AS MIN_IOPS, 2 AS IOPS_WEIGHT
        FROM __sim_tenant t CROSS JOIN __sim_zone z
        JOIN __sim_server s ON s.id = (SELECT min(id) FROM __sim_server WHERE zone = z.zone)
        WHERE t.tenant_type != 'META'""",
    "DBA_OB_RESOURCE_POOLS": """
        SELECT t.tenant_id AS TENANT_ID, t.tenant_id AS RESOURCE_POOL_ID, 'pool_' || t.tenant_name AS NAME,
               (SELECT group_concat(zone, ';') FROM __sim_zone) AS ZONE_LIST, 1 AS UNIT_COUNT
        FROM __sim_tenant t WHERE t.tenant_type != 'META'""",
}

VIEWS.update(log_streams.VIEWS)  # GV$OB_LOG_STAT, DBA_/CDB_OB_LS_LOCATIONS, DBA_/CDB_OB_LS

# Views that are empty while the cluster is healthy (backup, restore, DDL, clone jobs …).
EMPTY_VIEWS: dict[str, str] = {
    "CDB_OB_BACKUP_JOBS": "TENANT_ID, JOB_ID, STATUS",
    "CDB_OB_RESTORE_PROGRESS": "TENANT_ID, JOB_ID, STATUS",
    "CDB_OB_LS_REPLICA_TASKS": "TENANT_ID, LS_ID, TASK_TYPE",
    "__all_virtual_ddl_task_status": "tenant_id, task_id, status",
    "__all_virtual_load_data_stat": "tenant_id, job_id",
    "__all_virtual_clone_job": "tenant_id, job_id, status",
    "__all_virtual_tenant_snapshot": "tenant_id, snapshot_id, status",
    "CDB_OB_ARCHIVELOG": "TENANT_ID, DEST_NO, STATUS",
    "CDB_OB_ARCHIVE_DEST": "TENANT_ID, DEST_NO, NAME, VALUE",
    "CDB_OB_BACKUP_PARAMETER": "TENANT_ID, NAME, VALUE",
}


def view_statements() -> list[str]:
    """CREATE TEMP VIEW statements for every OceanBase view the simulator serves."""
    statements = [f'CREATE TEMP VIEW IF NOT EXISTS "{name}" AS {body}' for name, body in VIEWS.items()]
    for name, columns in EMPTY_VIEWS.items():
        nulls = ", ".join(f"NULL AS {c.strip()}" for c in columns.split(","))
        statements.append(f'CREATE TEMP VIEW IF NOT EXISTS "{name}" AS SELECT {nulls} WHERE 0')
    return statements


def served_object_names() -> list[str]:
    """Every system table or view a query may name, as OceanBase spells it."""
    return [*VIEWS, *EMPTY_VIEWS]


def known_system_objects() -> set[str]:
    """Lower-case names of every system table or view a query may name."""
    return {name.lower() for name in served_object_names()}
