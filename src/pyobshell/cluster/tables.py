"""Cluster-mode tables in ``ocs`` (beside the task engine's): ``all_agent`` and ``agent_token``.

``all_agent`` has one row per agent, keyed by ``ip:port`` (unique), with what peers need to
reach it (public key), what the upgrade needs (zone, architecture) and what operators want to
see (version, home), and a heart-beat counter the maintainer watches (cluster/liveness.py).
``agent_token``
holds the cluster's shared agent token in row 1 (every agent knows root@sys, which can read
``ocs`` anyway, so keeping it there gives nothing away).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text

from pyobshell.db import Id, Time
from pyobshell.db import add_missing_columns

metadata = MetaData()

all_agent = Table(
    "all_agent", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ip", String(64), nullable=False),
    Column("port", Integer, nullable=False),
    Column("zone", String(128), nullable=False, server_default=""),
    Column("version", String(64), nullable=False, server_default=""),
    Column("home_path", String(1024), nullable=False, server_default=""),
    Column("identity", String(32), nullable=False, server_default=""),
    Column("public_key", Text),
    Column("architecture", String(64), nullable=False, server_default=""),
    Column("pid", BigInteger, nullable=False, server_default="0"),
    Column("heartbeat", BigInteger, nullable=False, server_default="0"),  # counts up while the agent lives
    Column("gmt_create", Time, nullable=True),
    Column("gmt_modify", Time, nullable=True),
    Index("idx_all_agent_ip_port", "ip", "port", unique=True),
)

agent_token = Table(
    "agent_token", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", String(64), nullable=False),
    Column("gmt_create", Time, nullable=True),
)


def ensure_tables(engine: Engine) -> None:
    """Create the tables if missing (agents starting together may race: CREATE IF NOT EXISTS),
    and add the columns an older version's tables lack."""
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        add_missing_columns(conn, metadata)
