"""Backup parameters / Restore parameters (reference §6.4): snapshot the three parameters the
upgrade scripts may change, and set them back after the hop."""

from __future__ import annotations

from typing import Any

from pyobshell.engine import register_task_type
from pyobshell.ob import parameters
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import UpgradeTask
from pyobshell.upgrade.tasks.codes import PARAMETER_SCOPE_INVALID

SAVED_PARAMETERS = ("server_permanent_offline_time", "enable_rebalance", "enable_rereplication")


def restore_statements(rows: list[dict[str, Any]], tenant_name: Any) -> list[str]:
    """The ALTER SYSTEM statements restoring ``rows``; ``tenant_name(id)`` looks tenants up.
    Duplicates (tenant parameters appear once per server) are issued once."""
    statements: list[str] = []
    for row in rows:
        name, value, scope = str(row["NAME"]), str(row["VALUE"]), str(row["SCOPE"]).upper()
        try:
            if scope == "TENANT":
                statement = parameters.set_statement(name, value, tenant=tenant_name(row["TENANT_ID"]))
            elif scope == "CLUSTER":
                statement = parameters.set_statement(name, value, server=f"{row['SVR_IP']}:{int(row['SVR_PORT'])}")
            else:
                raise PARAMETER_SCOPE_INVALID(f"parameter {name} has scope {scope!r}, expected CLUSTER or TENANT")
        except ValueError as exc:  # a name that is not a plain identifier: the row is not what it should be
            raise PARAMETER_SCOPE_INVALID(f"unexpected saved parameter {name!r}: {exc}") from None
        if statement not in statements:
            statements.append(statement)
    return statements


@register_task_type
class BackupParametersTask(UpgradeTask):
    name = "Backup parameters"
    can_retry = can_continue = can_cancel = True

    def execute(self) -> None:
        rows = parameters.parameter_rows(self.env, SAVED_PARAMETERS)
        saved = [{key: row[key] for key in ("SVR_IP", "SVR_PORT", "ZONE", "SCOPE", "TENANT_ID", "NAME", "VALUE")}
                 for row in rows]
        self.context.set_param(ctx.OB_PARAMETERS, saved)
        values = sorted({f"{r['NAME']}={r['VALUE']}" for r in saved})
        self.log_info(f"saved {len(saved)} parameter values ({', '.join(values)})")

    def rollback(self) -> None:
        RestoreParametersTask.restore(self)


@register_task_type
class RestoreParametersTask(UpgradeTask):
    name = "Restore parameters"
    can_continue = can_retry = True

    def execute(self) -> None:
        self.restore(self)

    @staticmethod
    def restore(task: UpgradeTask) -> None:
        rows = task.context.get_param(ctx.OB_PARAMETERS)
        if not isinstance(rows, list):
            task.log_warn(f"no saved parameters ({ctx.OB_PARAMETERS}) in the context: nothing to restore")
            return
        names: dict[Any, str] = {}

        def tenant_name(tenant_id: Any) -> str:
            if tenant_id not in names:
                found = parameters.tenant_name(task.env, tenant_id)
                if found is None:
                    raise PARAMETER_SCOPE_INVALID(f"tenant {tenant_id} of a saved parameter no longer exists")
                names[tenant_id] = found
            return names[tenant_id]

        # OceanBase commits each ALTER SYSTEM on its own, so statements are issued one by one;
        # each is idempotent, so a retry after a partial restore is safe.
        statements = restore_statements(rows, tenant_name)
        for statement in statements:
            task.env.execute(statement, None)
            task.log_info(statement)
        task.log_info(f"restored {len(statements)} parameter settings")
