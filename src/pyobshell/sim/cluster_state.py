"""The shared state file of a simulated cluster: creating it, and opening connections to it."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pyobshell.sim import log_streams, sql_functions, state_schema
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_functions import now_us

STATE_FILE = "cluster.sqlite"
USER_DB_PREFIX = "db_"
BUSY_TIMEOUT_MS = 10_000

SYS_TENANT, META_TENANT, USER_TENANT = 1, 1001, 1002


@dataclass(frozen=True)
class ServerSpec:
    ip: str
    rpc_port: int
    sql_port: int
    zone: str


@dataclass
class ClusterSpec:
    version: str
    release: str
    servers: list[ServerSpec]
    settings: SimSettings = field(default_factory=SimSettings)

    @property
    def zones(self) -> list[str]:
        return list(dict.fromkeys(server.zone for server in self.servers))


def build_version_string(version: str, release: str) -> str:
    """BUILD_VERSION as OceanBase prints it: ``<version>_<build>-<revision>(<date> <time>)``."""
    build = release.split(".", 1)[0]
    revision = hashlib.sha1(f"{version}-{release}".encode()).hexdigest()
    return f"{version}_{build}-{revision}(Nov  1 2023 10:00:00)"


# name → (value, data type); the parameters an upgrade reads or changes.
def cluster_parameters(version: str) -> dict[str, tuple[str, str]]:
    return {
        "enable_upgrade_mode": ("False", "BOOL"),
        "_upgrade_stage": ("NONE", "STRING"),
        "min_observer_version": (version, "VERSION"),
        "server_permanent_offline_time": ("3600s", "TIME"),
        "enable_rebalance": ("True", "BOOL"),
        "enable_rereplication": ("True", "BOOL"),
        "enable_ddl": ("True", "BOOL"),
        "enable_sys_table_ddl": ("False", "BOOL"),
        "enable_major_freeze": ("True", "BOOL"),
        "syslog_level": ("INFO", "STRING"),
        "tableapi_transport_compress_func": ("none", "STRING"),
        "log_transport_compress_func": ("none", "STRING"),
        "rpc_timeout": ("2s", "TIME"),
        "_bloom_filter_enabled": ("True", "BOOL"),
    }


def tenant_parameters(version: str) -> dict[str, str]:
    return {"compatible": version, "_enable_adaptive_compaction": "True"}


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def user_db_path(state_dir: Path, name: str) -> Path:
    return state_dir / f"{USER_DB_PREFIX}{name.lower()}.sqlite"


def connect(path: Path) -> sqlite3.Connection:
    """A connection in explicit-transaction mode, usable from worker threads one at a time."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def open_system(state_dir: Path, ob_version: str) -> sqlite3.Connection:
    """A connection to the system tables with the OceanBase views of this connection."""
    conn = connect(state_path(state_dir))
    sql_functions.register(conn, ob_version)
    conn.executescript(state_schema.LIVE_TABLE)
    for statement in state_schema.view_statements():
        conn.execute(statement)
    return conn


def bootstrap(state_dir: Path, spec: ClusterSpec) -> None:
    """Create the shared state of a new cluster: zones, servers, tenants, parameters."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "heartbeat").mkdir(exist_ok=True)
    conn = connect(state_path(state_dir))
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(state_schema.TABLES)
        now = now_us()
        conn.execute("BEGIN IMMEDIATE")
        spec.settings.save(conn)
        conn.executemany(
            "INSERT INTO __sim_zone (zone, status, idc, region, create_us, modify_us) VALUES (?, 'ACTIVE', ?, 'default_region', ?, ?)",
            [(zone, f"idc{i}", now, now) for i, zone in enumerate(spec.zones, 1)],
        )
        build = build_version_string(spec.version, spec.release)
        for server_id, server in enumerate(spec.servers, 1):
            conn.execute(
                "INSERT INTO __sim_server (id, svr_ip, svr_port, sql_port, zone, version, release, build_version,"
                " create_us, modify_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (server_id, server.ip, server.rpc_port, server.sql_port, server.zone, spec.version, spec.release,
                 build, now, now),
            )
            conn.executemany(
                "INSERT INTO __sim_param (svr_ip, svr_port, name, value, data_type) VALUES (?, ?, ?, ?, ?)",
                [(server.ip, server.rpc_port, name, value, kind) for name, (value, kind) in cluster_parameters(spec.version).items()],
            )
            conn.execute("INSERT INTO __sim_checkpoint (svr_ip, svr_port, value) VALUES (?, ?, 1000)", (server.ip, server.rpc_port))
        tenants = [(SYS_TENANT, "sys", "SYS"), (META_TENANT, f"META${USER_TENANT}", "META"), (USER_TENANT, "tenant1", "USER")]
        for tenant_id, name, kind in tenants:
            conn.execute(
                "INSERT INTO __sim_tenant (tenant_id, tenant_name, tenant_type, create_us) VALUES (?, ?, ?, ?)",
                (tenant_id, name, kind, now),
            )
            conn.executemany(
                "INSERT INTO __sim_tenant_param (tenant_id, name, value) VALUES (?, ?, ?)",
                [(tenant_id, name, value) for name, value in tenant_parameters(spec.version).items()],
            )
            conn.execute("INSERT INTO __sim_merge (tenant_id) VALUES (?)", (tenant_id,))
        by_zone = [[i for i, s in enumerate(spec.servers, 1) if s.zone == zone] for zone in spec.zones]
        log_streams.bootstrap(conn, [(tenant_id, kind) for tenant_id, _, kind in tenants], by_zone, now)
        conn.execute(
            "INSERT INTO __sim_event (gmt_create_us, module, event) VALUES (?, 'root_service', 'bootstrap')", (now,)
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
