"""``GET /api/v1/audit``: the cluster's audit trail, newest first (pyobshell's own route).

Every agent records the state-changing and the refused requests it receives; any agent answers
for all of them from the cluster store. ``since`` is epoch milliseconds or an ISO-8601 time (no
zone: UTC), ``dag`` a DAG's generic id, ``limit`` 1..1000 (default 100); a value that cannot be
used is a 400 ``Common.IllegalArgument`` naming it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.dependencies import AuditDep
from pyobshell.api.routing import obshell_router
from pyobshell.audit.query import AuditQuery
from pyobshell.wire.audit import DEFAULT_LIMIT, MAX_LIMIT, AuditRecord

router = obshell_router(prefix="/api/v1", tags=["audit"], dependencies=[accepts(PASSWORD)])

Since = Annotated[str | None, Query(max_length=64, description="records at or after this time: epoch "
                                                               "milliseconds or ISO-8601 (no zone: UTC)")]
Dag = Annotated[str | None, Query(max_length=32, description="only the records of this DAG (its generic id)")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most this many records (1..{MAX_LIMIT})")]


@router.get("/audit", response_model=list[AuditRecord], summary="The audit trail, newest first")
def list_audit(trail: AuditDep, since: Since = None, dag: Dag = None, limit: Limit = DEFAULT_LIMIT) -> list[AuditRecord]:
    return trail.read(AuditQuery.from_request(since, dag, limit))
