"""Tables of the package store, ``upgrade_pkg_info`` and ``upgrade_pkg_chunk``, and the
row type read back from them.

They follow obshell's tables in the ``ocs`` database, with additions: ``sha256`` and
``file_size`` of the whole RPM file, so a download can be verified end to end, and who signed
the package (``signature_state``, ``signer_key_id``, ``signer_fingerprint``, ``signer_user_id``;
an empty state marks rows stored before signatures were read). Older tables get the columns
on first use (:func:`migrate_package_tables`). Only
dialect-neutral Core types are used, with MySQL variants where sizes matter (MEDIUMBLOB
chunks, LONGTEXT route files), so the same tables work on SQLite and on OceanBase.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

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
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateIndex

from pyobshell.db import add_missing_columns, index_names
from pyobshell.upgrade.packages.signature import PackageSignature, SignatureState
from pyobshell.versions import Version
from pyobshell.wire import package as wire

log = logging.getLogger(__name__)

# SQLite only auto-increments INTEGER primary keys.
Id = BigInteger().with_variant(Integer(), "sqlite")
Time = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ChunkBlob = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
MAX_CHUNK_BYTES = (1 << 24) - 1  # what a MEDIUMBLOB holds

IDENTITY_INDEX = "uk_upgrade_pkg_identity"
MAX_USER_ID_CHARS = 512  # a longer signer user id is stored cut


@dataclass(frozen=True)
class StoredPackage:
    """One stored package, with the fields of obshell's ``upgrade/package/info`` answer
    plus ``sha256`` and ``file_size`` of the whole RPM file and who signed it."""

    pkg_id: int
    name: str
    version: str
    release: str  # the build number, e.g. 101000062023110109
    distribution: str  # e.g. el7
    release_distribution: str  # the full RPM release, e.g. 101000062023110109.el7
    architecture: str
    size: int  # installed size
    payload_size: int  # main header + compressed payload, what ``md5`` covers
    chunk_count: int
    md5: str
    gmt_modify: datetime | None
    sha256: str
    file_size: int
    signature: PackageSignature = PackageSignature(SignatureState.NOT_CHECKED)

    @property
    def rpm_file_name(self) -> str:
        return f"{self.name}-{self.version}-{self.release_distribution}.{self.architecture}.rpm"

    @property
    def build_number(self) -> int:
        return int(self.release) if _is_build(self.release) else 0

    @property
    def build_version(self) -> Version:
        """``4.2.1.1-101000062023110109``; the build is dropped if it is not numeric."""
        return Version.parse(self.version).with_build(self.release if _is_build(self.release) else None)

    def signature_info(self) -> wire.PackageSignature:
        s = self.signature
        return wire.PackageSignature(state=s.state.value, key_id=s.key_id, fingerprint=s.fingerprint,
                                     user_id=s.user_id)

    def info(self) -> wire.PackageInfo:
        """As ``/api/v1/package`` and the package list answer it."""
        return wire.PackageInfo(
            pkg_id=self.pkg_id, name=self.name, version=self.version, release_distribution=self.release_distribution,
            distribution=self.distribution, release=self.release, architecture=self.architecture, size=self.size,
            payload_size=self.payload_size, chunk_count=self.chunk_count, md5=self.md5,
            gmt_modify=_utc(self.gmt_modify), sha256=self.sha256, file_size=self.file_size,
            signer=self.signature.summary, signature=self.signature_info(),
        )

    def storage_struct(self, route_file_text: str | None) -> wire.UpgradePkgInfo:
        """As obshell's ``/api/v1/upgrade/package`` answers it: Go field names, the route file."""
        return wire.UpgradePkgInfo(
            PkgId=self.pkg_id, Name=self.name, Version=self.version, ReleaseDistribution=self.release_distribution,
            Distribution=self.distribution, Release=self.release, Architecture=self.architecture, Size=self.size,
            PayloadSize=self.payload_size, ChunkCount=self.chunk_count, Md5=self.md5,
            UpgradeDepYaml=route_file_text or "", GmtModify=_utc(self.gmt_modify), Sha256=self.sha256,
            FileSize=self.file_size,
        )

    @classmethod
    def from_row(cls, row: Any) -> "StoredPackage":
        m = row._mapping
        return cls(
            pkg_id=int(m["pkg_id"]), name=m["name"], version=m["version"], release=m["release"],
            distribution=m["distribution"], release_distribution=m["release_distribution"],
            architecture=m["architecture"], size=int(m["size"] or 0), payload_size=int(m["payload_size"] or 0),
            chunk_count=int(m["chunk_count"] or 0), md5=m["md5"] or "", gmt_modify=m["gmt_modify"],
            sha256=m["sha256"] or "", file_size=int(m["file_size"] or 0), signature=_signature(m),
        )


def _signature(m: Any) -> PackageSignature:
    try:
        state = SignatureState(m["signature_state"] or SignatureState.NOT_CHECKED.value)
    except ValueError:  # a state this version does not know
        state = SignatureState.NOT_CHECKED
    return PackageSignature(state, m["signer_key_id"] or "", m["signer_fingerprint"] or "", m["signer_user_id"] or "")


def _utc(moment: datetime | None) -> datetime | None:
    # The store keeps naive UTC; say so on the wire ("...Z").
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def _is_build(text: str) -> bool:
    return text.isascii() and text.isdigit()  # rows obshell wrote may hold anything


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
        Column("signature_state", String(16), nullable=False, server_default=""),
        Column("signer_key_id", String(40), nullable=False, server_default=""),
        Column("signer_fingerprint", String(64), nullable=False, server_default=""),
        Column("signer_user_id", String(MAX_USER_ID_CHARS), nullable=False, server_default=""),
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
        add_missing_columns(conn, tables.metadata)
        has_index = IDENTITY_INDEX in index_names(conn, tables.info.name)
    if not has_index:
        index = next(ix for ix in tables.info.indexes if ix.name == IDENTITY_INDEX)
        try:
            with engine.begin() as conn:
                conn.execute(CreateIndex(index))
        except SQLAlchemyError as exc:
            # Rows obshell stored may repeat a package; the store still checks before inserting.
            log.warning("upgrade_pkg_info keeps duplicate packages, no unique index: %s", exc)
