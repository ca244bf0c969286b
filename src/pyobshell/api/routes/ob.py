"""``GET /api/v1/ob/info``: the cluster at a glance, read only (root@sys or agent password).

Answers obshell's ``ObInfoResp`` shape — ``agent_info`` (every registered agent) and
``obcluster_info`` (``id``, ``name``, ``version``, ``topology``: zone → servers with their
status and build) — plus two pyobshell additions a status command needs: ``zones`` (each
zone's status, in ``DBA_OB_ZONES`` order) and ``maintainer`` (the agent that runs cluster
DAGs now, or null).
"""

from __future__ import annotations

import anyio.to_thread

from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.dependencies import StateDep, SysSqlDep
from pyobshell.api.routing import obshell_router
from pyobshell.wire.ob import ObInfo

router = obshell_router(prefix="/api/v1/ob", tags=["ob"], dependencies=[accepts(PASSWORD)])


@router.get("/info", response_model=ObInfo, summary="Servers, zones, builds, agents and maintainer")
async def get_ob_info(state: StateDep, sql: SysSqlDep) -> ObInfo:
    return await anyio.to_thread.run_sync(state.overview, sql)
