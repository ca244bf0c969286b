"""The cluster's package store: uploaded OceanBase RPMs kept in ``upgrade_pkg_info`` and
``upgrade_pkg_chunk`` (the ``ocs`` database, or SQLite in tests and single-host setups).

A package is verified by :func:`inspect_rpm` before anything is written, then stored in one
transaction: its info row, then the whole file in chunks of ``chunk_size`` bytes. Files are
streamed both ways, so the process never holds more than a chunk of a package.

Differences from obshell, on purpose:

* the chunk count comes from the file size (obshell's, from the signature payload size, can
  drop the file's last bytes);
* ``sha256`` and ``file_size`` of the whole file are stored, and a download is checked
  against them;
* storing a package already present (same name, version, release, architecture) is refused
  with ``Package.Duplicate`` instead of adding a second row that shadows the first: delete
  the old one first. A unique index backs the check against concurrent uploads;
* ``distribution`` is the last dot part of the release (obshell stores the second one).

The methods block: the agent calls them from worker threads.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from pyobshell.engine.rows import utcnow  # naive UTC, as the task store keeps times
from pyobshell.errors import COMMON_ILLEGAL_ARGUMENT, ErrorCode, ErrorKind
from pyobshell.db import run_restarting
from pyobshell.upgrade.packages.inspector import (
    ALL_PACKAGE_NAMES,
    PackageError,
    InspectedRpm,
    PackageProblem,
    inspect_rpm,
)
from pyobshell.upgrade.packages.keyring import Keyring
from pyobshell.upgrade.packages.schema import (
    MAX_CHUNK_BYTES,
    MAX_USER_ID_CHARS,
    StoredPackage,
    build_package_tables,
    migrate_package_tables,
)
from pyobshell.upgrade.route import MIN_SUPPORTED_TARGET, VERSION_NOT_SUPPORTED

CHUNK_SIZE = 8 * 1024 * 1024 - 1  # obshell's chunk size
_READ_SIZE = 1 << 20  # for re-reading a downloaded file
_DEADLOCK_ATTEMPTS = 4
# obshell sets both to 1e9 µs around package reads and writes: big chunks take a while.
_OB_SESSION_TIMEOUTS = "SET SESSION ob_query_timeout=1000000000, ob_trx_timeout=1000000000"

_B, _N, _X = ErrorKind.BAD_REQUEST, ErrorKind.NOT_FOUND, ErrorKind.UNEXPECTED
PACKAGE_DUPLICATE = ErrorCode("Package.Duplicate", _B,
                              "Package '{}' is already stored (pkg_id {}); delete it first to replace it")
PACKAGE_MISSING_FILE = ErrorCode("OB.Package.MissingFile", _B, "These files are missing in package '{}': '{}'")
PACKAGE_NOT_FOUND = ErrorCode("OB.Package.NotExist", _N, "Package {} does not exist")
PACKAGE_CORRUPTED = ErrorCode("OB.Package.Corrupted", _X, "Package '{}' in OB is corrupted: {}")
PACKAGE_STORE_FAILED = ErrorCode("Package.Store.Failed", _X, "Package store failed: {}")
PACKAGE_STORE_UNAVAILABLE = ErrorCode(
    "Package.Store.Unavailable", ErrorKind.UNAVAILABLE, "The package store is not available: {}")

_HOME = "home/admin/oceanbase"
# Paths each package must carry (obshell's upload check).
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "obshell": (f"{_HOME}/bin/obshell",),
    "oceanbase": (f"{_HOME}/bin/observer",),
    "oceanbase-ce": (f"{_HOME}/bin/observer", f"{_HOME}/bin/obshell"),
    "oceanbase-standalone": (f"{_HOME}/bin/observer", f"{_HOME}/bin/obshell"),
    "oceanbase-ce-libs": (f"{_HOME}/lib",),
}


class PackageStore:
    """Packages in the database behind ``engine`` (tables created or migrated on first use)."""

    def __init__(self, engine: Engine, *, chunk_size: int = CHUNK_SIZE):
        if not 0 < chunk_size <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_BYTES} bytes (a MEDIUMBLOB)")
        self.engine = engine
        self.chunk_size = chunk_size
        self.tables = build_package_tables()
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- writes ---------------------------------------------------------------------------
    def add(self, path: str | Path, expected_sha256: str | None = None, *,
            allowed_names: tuple[str, ...] = ALL_PACKAGE_NAMES, shown_as: str | None = None,
            keyring: Keyring | None = None) -> StoredPackage:
        """Verify the RPM at ``path`` and store it. Raises a 400-kind :class:`ObshellError`
        (a :class:`PackageError` for what the inspection finds) when it is refused; then
        nothing is stored. Refusals name the package ``shown_as`` when given (see
        :func:`inspect_rpm`). With a ``keyring``, only packages signed by one of its keys are
        stored; the signer is stored either way."""
        info = inspect_rpm(path, expected_sha256, allowed_names, shown_as=shown_as, keyring=keyring)
        _check_supported(info)
        self._ensure_tables()
        # The database may roll the transaction back to break a deadlock: then it is restarted.
        return run_restarting(lambda: self.get(self._store(Path(path), info)), f"storing package {info.name}",
                              attempts=_DEADLOCK_ATTEMPTS)

    def _store(self, path: Path, info: InspectedRpm) -> int:
        try:
            with self._transaction("store the package", integrity_errors=True) as conn:
                self._refuse_duplicate(conn, info)
                pkg_id = self._insert_info(conn, info)
                self._insert_chunks(conn, pkg_id, path, info)
        except IntegrityError as exc:
            # Most likely another upload of the same package committed first.
            with self._transaction("read the package") as conn:
                self._refuse_duplicate(conn, info)
            raise PACKAGE_STORE_FAILED(f"cannot store the package: {_reason(exc)}") from exc
        return pkg_id

    def delete(self, pkg_id: int) -> None:
        """Remove a package and its chunks; :data:`PACKAGE_NOT_FOUND` (404) if unknown."""
        _check_id(pkg_id)
        self._ensure_tables()
        info, chunk = self.tables.info, self.tables.chunk
        with self._transaction("delete the package") as conn:
            conn.execute(chunk.delete().where(chunk.c.pkg_id == pkg_id))
            if conn.execute(info.delete().where(info.c.pkg_id == pkg_id)).rowcount == 0:
                raise PACKAGE_NOT_FOUND(pkg_id)

    # -- reads ----------------------------------------------------------------------------
    def list(self) -> list[StoredPackage]:
        """Every package, newest first (one per identity, as obshell lists them)."""
        self._ensure_tables()
        with self._transaction("list packages") as conn:
            rows = conn.execute(self._info_query().order_by(self.tables.info.c.pkg_id.desc()))
            packages = [StoredPackage.from_row(row) for row in rows]
        seen: set[str] = set()
        unique = []
        for package in packages:  # rows obshell stored may repeat a package
            if package.rpm_file_name not in seen:
                seen.add(package.rpm_file_name)
                unique.append(package)
        return unique

    def get(self, pkg_id: int) -> StoredPackage:
        _check_id(pkg_id)
        self._ensure_tables()
        with self._transaction("read the package") as conn:
            return self._get(conn, pkg_id)

    def find(self, name: str, version: str, release: str | None, arch: str, *,
             distribution: str | None = None) -> StoredPackage | None:
        """The newest matching package, or None.

        ``release`` is the full RPM release (``101000062023110109.el7``) or a bare build
        number; None means the newest build of ``version``. ``distribution`` (``el7``)
        narrows the match further."""
        self._ensure_tables()
        info = self.tables.info
        query = self._info_query().where(info.c.name == name, info.c.version == version,
                                         info.c.architecture == arch)
        if release is not None:
            column = info.c.release_distribution if "." in release else info.c.release
            query = query.where(column == release)
        if distribution is not None:
            query = query.where(info.c.distribution == distribution)
        with self._transaction("find the package") as conn:
            matches = [StoredPackage.from_row(row) for row in conn.execute(query)]
        return max(matches, key=lambda p: (p.build_number, p.pkg_id), default=None)

    def route_file_text(self, pkg_id: int) -> str | None:
        """The package's ``etc/oceanbase_upgrade_dep.yml``, or None if it carries none."""
        _check_id(pkg_id)
        self._ensure_tables()
        info = self.tables.info
        with self._transaction("read the route file") as conn:
            row = conn.execute(select(info.c.upgrade_dep_yaml).where(info.c.pkg_id == pkg_id)).first()
        if row is None:
            raise PACKAGE_NOT_FOUND(pkg_id)
        return row[0] or None

    def check_chunks(self, pkg_id: int) -> StoredPackage:
        """Raise :data:`PACKAGE_CORRUPTED` unless all ``chunk_count`` chunks are stored."""
        _check_id(pkg_id)
        self._ensure_tables()
        chunk = self.tables.chunk
        with self._transaction("count the package chunks") as conn:
            package = self._get(conn, pkg_id)
            count = conn.execute(select(func.count()).where(chunk.c.pkg_id == pkg_id)).scalar_one()
        if count != package.chunk_count:
            raise PACKAGE_CORRUPTED(package.rpm_file_name,
                                    f"actual chunk count {count} is not equal to expected chunk count "
                                    f"{package.chunk_count}")
        return package

    def download(self, pkg_id: int, dest_path: str | Path) -> Path:
        """Write the package to ``dest_path`` chunk by chunk and verify its size and digest.
        A missing or damaged chunk raises :data:`PACKAGE_CORRUPTED`, and nothing is left at
        ``dest_path``."""
        _check_id(pkg_id)
        self._ensure_tables()
        dest = Path(dest_path)
        partial: Path | None = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            # A private name next to dest: concurrent downloads never share a partial file.
            fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
            partial = Path(name)
            with os.fdopen(fd, "wb") as out, self._transaction("read the package") as conn:
                package = self._get(conn, pkg_id)
                written, sha256 = self._write_chunks(conn, package, out)
            _verify_download(package, partial, written, sha256)
            os.replace(partial, dest)
        except OSError as exc:
            _remove(partial)
            raise PackageError(PackageProblem.IO_FAILED, dest, f"cannot write the package: {exc}") from exc
        except BaseException:
            _remove(partial)
            raise
        return dest

    # -- helpers --------------------------------------------------------------------------
    def prepare(self) -> None:
        """Create or upgrade the package tables now (else the first use does)."""
        self._ensure_tables()

    def _ensure_tables(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                try:
                    migrate_package_tables(self.engine, self.tables)
                except SQLAlchemyError as exc:
                    raise PACKAGE_STORE_FAILED(f"cannot prepare the package tables: {_reason(exc)}") from exc
                self._ready = True

    @contextmanager
    def _transaction(self, action: str, *, integrity_errors: bool = False) -> Iterator[Connection]:
        """One transaction; database failures become :data:`PACKAGE_STORE_FAILED`, except
        integrity errors when the caller asks for them (to tell a duplicate apart)."""
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name in ("mysql", "mariadb"):
                    _lengthen_ob_timeouts(conn)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            if integrity_errors and isinstance(exc, IntegrityError):
                raise
            raise PACKAGE_STORE_FAILED(f"cannot {action}: {_reason(exc)}") from exc

    def _info_query(self) -> Any:
        info = self.tables.info
        return select(*(c for c in info.columns if c.name != "upgrade_dep_yaml"))

    def _get(self, conn: Connection, pkg_id: int) -> StoredPackage:
        row = conn.execute(self._info_query().where(self.tables.info.c.pkg_id == pkg_id)).first()
        if row is None:
            raise PACKAGE_NOT_FOUND(pkg_id)
        return StoredPackage.from_row(row)

    def _refuse_duplicate(self, conn: Connection, package: InspectedRpm) -> None:
        info = self.tables.info
        existing = conn.execute(select(info.c.pkg_id).where(
            info.c.name == package.name, info.c.version == package.version,
            info.c.release_distribution == package.release, info.c.architecture == package.arch,
        ).limit(1)).scalar()
        if existing is not None:
            raise PACKAGE_DUPLICATE(f"{package.name}-{package.version}-{package.release}.{package.arch}", existing)

    def _insert_info(self, conn: Connection, package: InspectedRpm) -> int:
        result = conn.execute(self.tables.info.insert().values(
            name=package.name, version=package.version, release_distribution=package.release,
            distribution=package.distribution, release=package.build_number, architecture=package.arch,
            size=package.size, payload_size=package.payload_size,
            chunk_count=self._chunk_count(package), md5=package.md5,
            upgrade_dep_yaml=package.upgrade_dep_yaml or "", gmt_modify=utcnow(),
            sha256=package.sha256, file_size=package.file_size,
            signature_state=package.signature.state.value, signer_key_id=package.signature.key_id,
            signer_fingerprint=package.signature.fingerprint,
            signer_user_id=package.signature.user_id[:MAX_USER_ID_CHARS],
        ))
        return int(result.inserted_primary_key[0])

    def _chunk_count(self, package: InspectedRpm) -> int:
        return math.ceil(package.file_size / self.chunk_size)  # the file's, not the payload's

    def _insert_chunks(self, conn: Connection, pkg_id: int, path: Path, package: InspectedRpm) -> None:
        count = self._chunk_count(package)
        insert = self.tables.chunk.insert()
        digest, stored = hashlib.sha256(), 0
        try:
            with open(path, "rb") as file:
                for chunk_id in range(count):
                    chunk = file.read(self.chunk_size)
                    digest.update(chunk)
                    stored += len(chunk)
                    conn.execute(insert, {"pkg_id": pkg_id, "chunk_id": chunk_id, "chunk_count": count,
                                          "chunk": chunk})
                    del chunk  # let the buffer go before the next read
                longer = bool(file.read(1))
        except OSError as exc:
            raise PackageError(PackageProblem.IO_FAILED, path, f"cannot read the package: {exc}") from exc
        if longer or stored != package.file_size or digest.hexdigest() != package.sha256:
            raise PackageError(PackageProblem.CHECKSUM_MISMATCH, path, "the file changed while it was stored")

    def _write_chunks(self, conn: Connection, package: StoredPackage, out: BinaryIO) -> tuple[int, str]:
        chunk_table = self.tables.chunk
        digest, written = hashlib.sha256(), 0
        for chunk_id in range(package.chunk_count):
            chunk = conn.execute(select(chunk_table.c.chunk).where(
                chunk_table.c.pkg_id == package.pkg_id, chunk_table.c.chunk_id == chunk_id)).scalar()
            if chunk is None:
                raise PACKAGE_CORRUPTED(package.rpm_file_name, f"chunk {chunk_id} of {package.chunk_count} is missing")
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            del chunk
        return written, digest.hexdigest()


def _check_supported(info: InspectedRpm) -> None:
    """obshell's upload checks that the inspection leaves to its caller."""
    label = f"{info.name}-{info.version}-{info.release}.{info.arch}.rpm"
    if info.build_version < MIN_SUPPORTED_TARGET:
        raise VERSION_NOT_SUPPORTED(f"Unsupported OB version '{info.version}' in package '{label}', "
                                    f"the minimum supported version is '{MIN_SUPPORTED_TARGET}'")
    missing = [f"/{path}" for path in REQUIRED_FILES.get(info.name, ()) if not info.has_file(path)]
    if missing:
        raise PACKAGE_MISSING_FILE(label, ", ".join(missing))


def _verify_download(package: StoredPackage, path: Path, written: int, sha256: str) -> None:
    """Size and SHA-256 of the whole file; rows stored by obshell have neither, so for them
    the MD5 of header and payload (the file's last ``payload_size`` bytes) is checked."""
    name = package.rpm_file_name
    if package.file_size and written != package.file_size:
        raise PACKAGE_CORRUPTED(name, f"{written} bytes stored, expected {package.file_size}")
    if package.sha256:
        if sha256 != package.sha256:
            raise PACKAGE_CORRUPTED(name, f"SHA-256 is {sha256}, expected {package.sha256}")
        return
    if written < package.payload_size or _md5_of_tail(path, package.payload_size) != package.md5:
        raise PACKAGE_CORRUPTED(name, "MD5 of header and payload does not match")


def _md5_of_tail(path: Path, length: int) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        file.seek(-length, os.SEEK_END)
        while block := file.read(_READ_SIZE):
            digest.update(block)
    return digest.hexdigest()


def _lengthen_ob_timeouts(conn: Connection) -> None:
    """Once per pooled connection: session variables last as long as the connection."""
    info = conn.connection.info
    if info.get(_OB_SESSION_TIMEOUTS):
        return
    try:
        conn.exec_driver_sql(_OB_SESSION_TIMEOUTS)
        conn.commit()
    except DBAPIError:
        conn.rollback()  # not OceanBase (a plain MySQL server): its defaults apply
    info[_OB_SESSION_TIMEOUTS] = True


def _remove(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _check_id(pkg_id: int) -> None:
    if isinstance(pkg_id, bool) or not isinstance(pkg_id, int) or pkg_id <= 0:
        raise COMMON_ILLEGAL_ARGUMENT(f"pkg_id must be a positive integer, got {pkg_id!r}")


def _reason(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]
