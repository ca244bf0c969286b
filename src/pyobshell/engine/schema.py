"""Table definitions of the local (SQLite) and cluster (``ocs`` on OceanBase) task stores.

Columns follow obshell's GORM models, in dialect-neutral Core types (``db.Id``, ``db.Time``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from pyobshell.db import Id, Time


class StoreKind(str, Enum):
    LOCAL = "local"  # the agent's SQLite file
    CLUSTER = "cluster"  # the ocs database of the cluster


def _pk() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _times() -> list[Column]:
    return [
        Column("start_time", Time, nullable=True),
        Column("end_time", Time, nullable=True),
        Column("gmt_create", Time, nullable=True),
        Column("gmt_modify", Time, nullable=True),
    ]


def _executer() -> list[Column]:
    return [
        Column("executer_agent_ip", String(64), nullable=False, server_default=""),
        Column("executer_agent_port", Integer, nullable=False, server_default="0"),
    ]


def _pause() -> list[Column]:
    """pyobshell's operator gates (obshell has none): a paused DAG starts no next node.
    ``approved_stage`` is the gate stage a RESUME let through (0: none)."""
    return [
        Column("is_paused", Boolean, nullable=False, server_default="0"),
        Column("pause_reason", Text, nullable=True),
        Column("approved_stage", Integer, nullable=False, server_default="0"),
    ]


@dataclass(frozen=True)
class TaskTables:
    kind: StoreKind
    metadata: MetaData
    dag: Table
    node: Table
    subtask: Table
    log: Table
    ocs_info: Table | None  # local maintenance status row
    cluster_status: Table | None  # cluster maintenance status row
    partial_maintenance: Table | None  # tenant locks
    task_maintainer: Table | None
    task_mapping: Table | None


def build_tables(kind: StoreKind) -> TaskTables:
    md = MetaData()
    cluster = kind == StoreKind.CLUSTER
    dag_maintenance = [
        Column("maintenance_type", Integer, nullable=False, server_default="1"),
        Column("maintenance_key", String(128), nullable=False, server_default=""),
    ] if cluster else []
    dag = Table(
        "dag_instance", md, _pk(),
        Column("name", String(128), nullable=False),
        Column("type", String(128), nullable=False, server_default=""),
        Column("stage", Integer, nullable=False),
        Column("max_stage", Integer, nullable=False),
        Column("state", Integer, nullable=False),
        *_executer(),
        Column("is_maintenance", Boolean, nullable=False, server_default="0"),
        *dag_maintenance,
        Column("is_finished", Boolean, nullable=False, server_default="0"),
        Column("context", Text),
        Column("operator", Integer, nullable=False),
        *_times(),
        *_pause(),
    )
    node = Table(
        "node_instance", md, _pk(),
        Column("name", String(64), nullable=False),
        Column("dag_id", BigInteger, nullable=False),
        Column("dag_stage", Integer, nullable=False),
        Column("struct_name", String(128), nullable=False),
        Column("type", String(128), nullable=False),
        Column("state", Integer, nullable=False),
        Column("max_stage", Integer, nullable=False),
        *_executer(),
        Column("context", Text),
        Column("operator", Integer, nullable=False),
        *_times(),
        Index("idx_dag_stage", "dag_id", "dag_stage"),
    )
    subtask = Table(
        "subtask_instance", md, _pk(),
        Column("node_id", BigInteger, nullable=False),
        Column("name", String(64), nullable=False),
        Column("struct_name", String(128), nullable=False),
        *_executer(),
        Column("execute_times", Integer, nullable=False, server_default="0"),
        *(Column(flag, Boolean, nullable=False, server_default="0")
          for flag in ("can_cancel", "can_continue", "can_pass", "can_retry", "can_rollback")),
        Column("context", Text),
        Column("state", Integer, nullable=False),
        Column("operator", Integer, nullable=False),
        *_times(),
        Index("idx_node_id", "node_id"),
    )
    log = Table(
        "sub_task_log", md, _pk(),
        Column("sub_task_id", BigInteger, nullable=False),
        Column("execute_times", Integer, nullable=False),
        Column("log_content", Text),
        *([] if cluster else [Column("is_sync", Boolean, nullable=False, server_default="0")]),
        Column("create_time", Time, nullable=True),
        Column("update_time", Time, nullable=True),
        Index("idx_sub_task_id", "sub_task_id"),
    )
    if cluster:
        cluster_status = Table(
            "cluster_status", md, Column("id", Integer, primary_key=True, autoincrement=False),
            Column("status", Integer, nullable=False, server_default="1"),
        )
        partial = Table(
            "partial_maintenance", md, _pk(),
            Column("lock_type", Integer, nullable=False),
            Column("lock_name", String(64), nullable=False),
            Column("dag_id", BigInteger, nullable=False, server_default="0"),
            Column("count", Integer, nullable=False, server_default="0"),
            Column("gmt_locked", Time, nullable=True),
            Column("gmt_create", Time, nullable=True),
            Column("gmt_modify", Time, nullable=True),
            Index("idx_lock_type_name", "lock_type", "lock_name", unique=True),
        )
        maintainer = Table(
            "task_maintainer", md, Column("id", Integer, primary_key=True, autoincrement=False),
            Column("agent_ip", String(64), nullable=False, server_default=""),
            Column("agent_port", BigInteger, nullable=False, server_default="0"),
            Column("counter", Integer, nullable=False, server_default="0"),
            Column("agent_time", BigInteger, nullable=False, server_default="0"),
            Column("active_time", Time, nullable=True),
        )
        return TaskTables(kind, md, dag, node, subtask, log, None, cluster_status, partial, maintainer, None)
    ocs_info = Table(
        "ocs_info", md, _pk(),
        Column("name", String(128), nullable=False, unique=True),
        Column("value", String(256), nullable=False, server_default=""),
        Column("info", Text),
    )
    mapping = Table(
        "task_mapping", md,
        Column("remote_task_id", BigInteger, primary_key=True, autoincrement=False),
        Column("local_task_id", BigInteger, nullable=False),
        Column("execute_times", Integer, nullable=False),
        Column("is_sync", Boolean, nullable=False, server_default="0"),
        Column("gmt_modify", Time, nullable=True),
        Index("idx_gmt_modify", "gmt_modify"),
    )
    return TaskTables(kind, md, dag, node, subtask, log, ocs_info, None, None, None, mapping)
