"""Tables of the package store: ``upgrade_pkg_info`` and ``upgrade_pkg_chunk``.

They follow obshell's tables in the ``ocs`` database, with two additions: ``sha256`` and
``file_size`` of the whole RPM file, so a download can be verified end to end. Only
dialect-neutral Core types are used, with MySQL variants where sizes matter (MEDIUMBLOB
chunks, LONGTEXT route files), so the same tables work on SQLite and on OceanBase.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    inspect,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateColumn, CreateIndex

log = logging.getLogger(__name__)

# SQLite only auto-increments INTEGER primary keys.
Id = BigInteger().with_variant(Integer(), "sqlite")
Time = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ChunkBlob = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
MAX_CHUNK_BYTES = (1 << 24) - 1  # what a MEDIUMBLOB holds

IDENTITY_INDEX = "uk_upgrade_pkg_identity"


@dataclass(frozen=True)
class PackageTables:
    metadata: MetaData
    info: Table
    chunk: Table


def build_package_tables() -> PackageTables:
    md = MetaData()
    info = Table(
        "upgrade_pkg_info", md,
        Column("pkg_id", Id, primary_key=True, autoincrement=True),
        Column("name", String(128), nullable=False),
        Column("version", String(128), nullable=False),
        Column("release_distribution", String(128), nullable=False),
        Column("distribution", String(128), nullable=False),
        Column("release", String(128), nullable=False),
        Column("architecture", String(128), nullable=False),
        Column("size", BigInteger, nullable=False, server_default="0"),
        Column("payload_size", BigInteger, nullable=False, server_default="0"),
        Column("chunk_count", Integer, nullable=False, server_default="0"),
        Column("md5", String(128), nullable=False, server_default=""),
        Column("upgrade_dep_yaml", LongText),
        Column("gmt_modify", Time, nullable=True),
        Column("sha256", String(64), nullable=False, server_default=""),
        Column("file_size", BigInteger, nullable=False, server_default="0"),
        # One row per package: a re-upload is refused instead of shadowing the first one.
        Index(IDENTITY_INDEX, "name", "version", "release_distribution", "architecture", unique=True),
        # A deleted pkg_id is never handed out again, so a stale id cannot reach another package.
        sqlite_autoincrement=True,
    )
    chunk = Table(
        "upgrade_pkg_chunk", md,
        Column("pkg_id", Id, primary_key=True, autoincrement=False),
        Column("chunk_id", Integer, primary_key=True, autoincrement=False),
        Column("chunk_count", Integer, nullable=False),
        Column("chunk", ChunkBlob, nullable=False),
    )
    return PackageTables(md, info, chunk)


def migrate_package_tables(engine: Engine, tables: PackageTables) -> None:
    """Create missing tables, then add the columns and the identity index that tables
    created by obshell (or an older pyobshell) lack."""
    with engine.begin() as conn:
        tables.metadata.create_all(conn)
        existing = inspect(conn)
        for table in tables.metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    log.info("adding column %s.%s", table.name, column.name)
                    ddl = CreateColumn(column).compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
        has_index = IDENTITY_INDEX in {ix["name"] for ix in existing.get_indexes(tables.info.name)}
    if not has_index:
        index = next(ix for ix in tables.info.indexes if ix.name == IDENTITY_INDEX)
        try:
            with engine.begin() as conn:
                conn.execute(CreateIndex(index))
        except SQLAlchemyError as exc:
            # Rows obshell stored may repeat a package; the store still checks before inserting.
            log.warning("upgrade_pkg_info keeps duplicate packages, no unique index: %s", exc)
