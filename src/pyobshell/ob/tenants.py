"""Tenants and their data versions: what a finished upgrade must have raised.

OceanBase 4.x keeps a tenant's data version twice: as its tenant parameter ``compatible``
(one value per server in ``__all_virtual_tenant_parameter_info``, the table the upgrade scripts
read) and in the core table (``__all_virtual_core_table``: ``target_data_version`` and
``current_data_version`` per tenant, encoded ``major<<32 | minor<<16 | patch<<8 | bp``).
"""

from __future__ import annotations

from pyobshell.ob.sql import Row, Sql

DATA_VERSION_COLUMNS = ("target_data_version", "current_data_version")


def tenants(sql: Sql) -> list[Row]:
    """TENANT_ID, TENANT_NAME, TENANT_TYPE, TENANT_ROLE of every tenant (``DBA_OB_TENANTS``)."""
    return sql.query("SELECT TENANT_ID, TENANT_NAME, TENANT_TYPE, TENANT_ROLE FROM oceanbase.DBA_OB_TENANTS "
                     "ORDER BY TENANT_ID")


def compatible_values(sql: Sql) -> list[Row]:
    """TENANT_ID, SVR_IP, SVR_PORT, VALUE: every tenant's ``compatible`` on every live server."""
    return sql.query("SELECT tenant_id AS TENANT_ID, svr_ip AS SVR_IP, svr_port AS SVR_PORT, value AS VALUE "
                     "FROM oceanbase.__all_virtual_tenant_parameter_info WHERE name = 'compatible'")


def data_versions(sql: Sql) -> list[Row]:
    """TENANT_ID, COLUMN_NAME, COLUMN_VALUE: each tenant's encoded target and current data version."""
    return sql.query("SELECT tenant_id AS TENANT_ID, column_name AS COLUMN_NAME, column_value AS COLUMN_VALUE "
                     "FROM oceanbase.__all_virtual_core_table "
                     "WHERE column_name IN ('target_data_version', 'current_data_version')")


def decode_data_version(value: object) -> str:
    """``17180000512`` → ``4.0.0.0`` (the core table's encoding); ValueError if it is not one."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an encoded data version: {value!r}")
    text = str(value).strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"not an encoded data version: {value!r}")
    number = int(text)
    if number >= 1 << 48:
        raise ValueError(f"not an encoded data version: {value!r}")
    return f"{number >> 32}.{(number >> 16) & 0xFFFF}.{(number >> 8) & 0xFF}.{number & 0xFF}"
