"""Cluster and tenant parameters (``GV$OB_PARAMETERS``) and setting them back."""

from __future__ import annotations

from collections.abc import Sequence

from pyobshell.ob.sql import Row, Sql, column, optional_rows, quote


def distinct_values(sql: Sql, name: str) -> list[str]:
    """The distinct values of parameter ``name`` across servers (more than one: not in sync)."""
    return [str(value) for value in column(
        sql, "SELECT DISTINCT VALUE FROM oceanbase.GV$OB_PARAMETERS WHERE NAME = %s", (name,))]


def startup_mode(sql: Sql) -> str:
    """``ob_startup_mode`` (``SHARED_STORAGE`` or normal); "" where the cluster has no such parameter."""
    rows = optional_rows(sql, "SELECT VALUE FROM oceanbase.GV$OB_PARAMETERS WHERE NAME = 'ob_startup_mode'")
    return str(rows[0]["VALUE"]).upper() if rows else ""


def cluster_identity(sql: Sql) -> dict[str, str]:
    """``cluster`` (its name) and ``cluster_id``."""
    rows = optional_rows(sql, "SELECT DISTINCT NAME, VALUE FROM oceanbase.GV$OB_PARAMETERS "
                              "WHERE NAME IN ('cluster', 'cluster_id')")
    return {str(r["NAME"]): str(r["VALUE"]) for r in rows}


def parameter_rows(sql: Sql, names: Sequence[str]) -> list[Row]:
    """SVR_IP, SVR_PORT, ZONE, SCOPE, TENANT_ID, NAME, VALUE of every server's value of ``names``."""
    marks = ", ".join(["%s"] * len(names))
    return sql.query("SELECT SVR_IP, SVR_PORT, ZONE, SCOPE, TENANT_ID, NAME, VALUE FROM oceanbase.GV$OB_PARAMETERS "
                     f"WHERE NAME IN ({marks})", tuple(names))


def tenant_name(sql: Sql, tenant_id: object) -> str | None:
    rows = sql.query("SELECT TENANT_NAME FROM oceanbase.DBA_OB_TENANTS WHERE TENANT_ID = %s", (tenant_id,))
    return str(rows[0]["TENANT_NAME"]) if rows else None


def _identifier(name: str) -> str:
    if not name or not all(ch.isalnum() or ch in "_$" for ch in name):
        raise ValueError(f"unexpected name {name!r}")
    return name


def set_statement(name: str, value: str, *, tenant: str | None = None, server: str | None = None) -> str:
    """``ALTER SYSTEM SET name = 'value' [TENANT = t | SERVER = 'ip:port']``; names that are
    not plain identifiers are refused (they come from the database, but never trust a row)."""
    statement = f"ALTER SYSTEM SET {_identifier(name)} = {quote(value)}"
    if tenant is not None:
        return statement + f" TENANT = {_identifier(tenant)}"
    if server is not None:
        ip, _, port = server.rpartition(":")
        return statement + f" SERVER = '{ip}:{int(port)}'"
    return statement
