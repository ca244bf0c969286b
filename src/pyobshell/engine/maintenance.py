"""Maintenance locks: at most one global maintenance DAG, tenant locks per tenant name.

A lock is a compare-and-set on a status row, taken in the transaction that inserts the DAG
(obshell's ``clusterStatusMaintainer`` / ``agentStatusMaintainer``). Locally the status row is
``ocs_info(name='status')``; in the cluster it is ``cluster_status`` row 1 plus
``partial_maintenance`` rows for tenants.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pyobshell.engine.codes import MAINTAINER_NOT_INITED, TENANT_UNDER_MAINTENANCE
from pyobshell.engine.model import AgentInfo, Maintainer, MaintenanceType
from pyobshell.engine.rows import EPOCH, utcnow
from pyobshell.engine.generic_id import encode_cluster_id
from pyobshell.engine.schema import StoreKind, TaskTables
from pyobshell.errors import (
    AGENT_UNDER_MAINTENANCE,
    CLUSTER_UNDER_MAINTENANCE,
    CLUSTER_UNDER_MAINTENANCE_WITH_DAG,
    TASK_EXPIRED,
    ObshellError,
)

FREE = MaintenanceType.NOT_UNDER_MAINTENANCE
_LOCAL_STATUS_ROW = {
    MaintenanceType.GLOBAL_MAINTENANCE: "status",
    MaintenanceType.OBPROXY_MAINTENANCE: "obproxy_status",
}
_CLUSTER_STATUS_ID = 1
_UNLOCKED_BEFORE = EPOCH.replace(day=2)  # gmt_locked before 1970-01-02 means unlocked


def ensure_status_rows(conn: Connection, tables: TaskTables) -> None:
    """Create the "free" status rows if they are missing (first start)."""
    if tables.ocs_info is not None:
        for name in _LOCAL_STATUS_ROW.values():
            found = conn.execute(select(tables.ocs_info.c.id).where(tables.ocs_info.c.name == name)).first()
            if found is None:
                conn.execute(insert(tables.ocs_info).values(name=name, value=str(int(FREE)), info=""))
    if tables.cluster_status is not None:
        cs = tables.cluster_status
        if conn.execute(select(cs.c.id).where(cs.c.id == _CLUSTER_STATUS_ID)).first() is None:
            conn.execute(insert(cs).values(id=_CLUSTER_STATUS_ID, status=int(FREE)))
    if tables.task_maintainer is not None:
        tm = tables.task_maintainer
        if conn.execute(select(tm.c.id).where(tm.c.id == 1)).first() is None:
            conn.execute(insert(tm).values(id=1, active_time=EPOCH))


def _holder_name(conn: Connection, tables: TaskTables, exclude_dag: int) -> str | None:
    """The maintenance DAG that holds the lock, as "<name> (id <generic id>)"."""
    d = tables.dag
    row = conn.execute(select(d.c.id, d.c.name).where(d.c.is_maintenance.is_(True), d.c.id != exclude_dag)
                       .order_by(d.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    gid = encode_cluster_id(int(row.id)) if tables.kind is StoreKind.CLUSTER else str(row.id)
    return f"{row.name} (id {gid})"


def refuse_if_held(conn: Connection, tables: TaskTables) -> None:
    """Raise what a new maintenance DAG would meet now (409, naming the running DAG); cheap, so a
    request that cannot win is answered before any other work."""
    if is_under_maintenance(conn, tables):
        _raise_cluster_busy(conn, tables, 0)


def lock_status(conn: Connection, tables: TaskTables) -> None:
    """Lock the status rows (SELECT … FOR UPDATE) before deciding on them: a transaction whose
    first statement is a plain read may have to be given up when it then writes (a store that
    serializes writers cannot promote it), so a lock-first transaction asks for the lock first."""
    if tables.ocs_info is not None:
        info = tables.ocs_info
        conn.execute(select(info.c.value).where(info.c.name.in_(list(_LOCAL_STATUS_ROW.values()))).with_for_update())
    else:
        cs = tables.cluster_status
        assert cs is not None
        conn.execute(select(cs.c.status).where(cs.c.id == _CLUSTER_STATUS_ID).with_for_update())


def _local_acquire(conn: Connection, tables: TaskTables, maintainer: Maintainer, dag_id: int,
                   owner: AgentInfo) -> None:
    row_name = _LOCAL_STATUS_ROW.get(maintainer.type)
    if row_name is None:
        return  # tenant locks are a no-op on the local store (as in obshell)
    info = tables.ocs_info
    assert info is not None
    changed = conn.execute(update(info).where(info.c.name == row_name, info.c.value == str(int(FREE)))
                           .values(value=str(int(maintainer.type)))).rowcount
    if changed != 1:
        holder = _holder_name(conn, tables, dag_id)
        by = f" by DAG: {holder}" if holder else ""
        raise ObshellError(AGENT_UNDER_MAINTENANCE, f"{owner} is under maintenance{by}")


def _cluster_status_cas(conn: Connection, tables: TaskTables, old: int, new: int) -> bool:
    cs = tables.cluster_status
    assert cs is not None
    if conn.execute(select(cs.c.status).where(cs.c.id == _CLUSTER_STATUS_ID)).first() is None:
        raise MAINTAINER_NOT_INITED()
    stmt = update(cs).where(cs.c.id == _CLUSTER_STATUS_ID, cs.c.status == old).values(status=new)
    return conn.execute(stmt).rowcount == 1


def _cluster_acquire(conn: Connection, tables: TaskTables, maintainer: Maintainer, dag_id: int) -> None:
    if maintainer.type == MaintenanceType.TENANT_MAINTENANCE:
        tenant = int(MaintenanceType.TENANT_MAINTENANCE)
        cs = tables.cluster_status
        assert cs is not None
        already = conn.execute(select(cs.c.status).where(cs.c.id == _CLUSTER_STATUS_ID)).scalar() == tenant
        if not already and not _cluster_status_cas(conn, tables, int(FREE), tenant):
            _raise_cluster_busy(conn, tables, dag_id)
        _take_tenant_lock(conn, tables, maintainer.key, dag_id)
        return
    if not _cluster_status_cas(conn, tables, int(FREE), int(maintainer.type)):
        _raise_cluster_busy(conn, tables, dag_id)


def _raise_cluster_busy(conn: Connection, tables: TaskTables, dag_id: int) -> None:
    holder = _holder_name(conn, tables, dag_id)
    if holder:
        raise CLUSTER_UNDER_MAINTENANCE_WITH_DAG(holder)
    raise CLUSTER_UNDER_MAINTENANCE()


def _take_tenant_lock(conn: Connection, tables: TaskTables, tenant: str, dag_id: int,
                      *, retaking: bool = False) -> None:
    pm = tables.partial_maintenance
    assert pm is not None
    lock_type = int(MaintenanceType.TENANT_MAINTENANCE)
    where = (pm.c.lock_type == lock_type, pm.c.lock_name == tenant)
    row = conn.execute(select(pm).where(*where).with_for_update()).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(pm).values(lock_type=lock_type, lock_name=tenant, dag_id=0, count=0,
                                               gmt_locked=EPOCH, gmt_create=utcnow(), gmt_modify=utcnow()))
        except IntegrityError:
            pass  # another creator inserted it first; lock the existing row below
        row = conn.execute(select(pm).where(*where).with_for_update()).first()
    assert row is not None
    locked = row._mapping["gmt_locked"]
    if retaking and int(row._mapping["dag_id"]) != dag_id and locked is not None and locked >= _UNLOCKED_BEFORE:
        raise TASK_EXPIRED(f"tenant {tenant} is locked by another DAG")
    if not retaking and locked is not None and locked >= _UNLOCKED_BEFORE:
        raise TENANT_UNDER_MAINTENANCE(tenant)
    now = utcnow()
    conn.execute(update(pm).where(*where).values(dag_id=dag_id, count=pm.c.count + 1, gmt_locked=now,
                                                 gmt_modify=now))


def acquire(conn: Connection, tables: TaskTables, maintainer: Maintainer, dag_id: int, owner: AgentInfo,
            *, retaking: bool = False) -> None:
    """Take ``maintainer``'s lock for ``dag_id`` or raise the obshell maintenance error."""
    if not maintainer.is_maintenance:
        return
    if tables.ocs_info is not None:
        _local_acquire(conn, tables, maintainer, dag_id, owner)
    elif retaking and maintainer.type == MaintenanceType.TENANT_MAINTENANCE:
        cs = tables.cluster_status
        assert cs is not None
        tenant = int(MaintenanceType.TENANT_MAINTENANCE)
        status = conn.execute(select(cs.c.status).where(cs.c.id == _CLUSTER_STATUS_ID)).scalar()
        if status != tenant and not _cluster_status_cas(conn, tables, int(FREE), tenant):
            _raise_cluster_busy(conn, tables, dag_id)
        _take_tenant_lock(conn, tables, maintainer.key, dag_id, retaking=True)
    else:
        _cluster_acquire(conn, tables, maintainer, dag_id)


def release(conn: Connection, tables: TaskTables, maintainer: Maintainer) -> None:
    """Give the lock back. Releasing a lock that is not held is harmless."""
    if not maintainer.is_maintenance:
        return
    if tables.ocs_info is not None:
        row_name = _LOCAL_STATUS_ROW.get(maintainer.type)
        if row_name is not None:
            info = tables.ocs_info
            conn.execute(update(info).where(info.c.name == row_name, info.c.value == str(int(maintainer.type)))
                         .values(value=str(int(FREE))))
        return
    if maintainer.type != MaintenanceType.TENANT_MAINTENANCE:
        _cluster_status_cas(conn, tables, int(maintainer.type), int(FREE))
        return
    pm = tables.partial_maintenance
    assert pm is not None
    conn.execute(update(pm).where(pm.c.lock_type == int(maintainer.type), pm.c.lock_name == maintainer.key)
                 .values(gmt_locked=EPOCH, gmt_modify=utcnow()))
    still_locked = conn.execute(select(func.count()).select_from(pm)
                                .where(pm.c.gmt_locked >= _UNLOCKED_BEFORE)).scalar()
    if not still_locked:
        _cluster_status_cas(conn, tables, int(MaintenanceType.TENANT_MAINTENANCE), int(FREE))


def is_under_maintenance(conn: Connection, tables: TaskTables) -> bool:
    """The ``underMaintenance`` flag of ``/api/v1/status``."""
    if tables.ocs_info is not None:
        info = tables.ocs_info
        value = conn.execute(select(info.c.value).where(info.c.name == "status")).scalar()
        return value is not None and value != str(int(FREE))
    cs = tables.cluster_status
    assert cs is not None
    return conn.execute(select(cs.c.status).where(cs.c.id == _CLUSTER_STATUS_ID)).scalar() not in (None, int(FREE))
