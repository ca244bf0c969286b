"""Inspecting and safely unpacking uploaded OceanBase RPM packages.

``rpmfile`` reads the RPM headers and opens the decompressed payload stream. The cpio "newc"
records of that stream are walked here because rpmfile's member list hides directories,
file types and hard-link counts, all of which a safe unpacker has to see. Everything streams:
the file is hashed in chunks and the payload is decompressed as it is read.
"""

from __future__ import annotations

import hashlib
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import rpmfile

from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.upgrade.packages.keyring import Keyring
from pyobshell.upgrade.packages.signature import (
    UNSIGNED,
    PackageSignature,
    SignatureRefused,
    check_header_digests,
    check_signature,
    read_signature_header,
)
from pyobshell.versions import Release, Version

# obshell's SUPPORT_PKG_NAMES_MAP, per edition.
SUPPORTED_PACKAGE_NAMES: dict[str, tuple[str, ...]] = {
    "community": ("obshell", "oceanbase-ce", "oceanbase-ce-libs"),
    "business": ("obshell", "oceanbase"),
    "standalone": ("obshell", "oceanbase-standalone"),
}
ALL_PACKAGE_NAMES = tuple(sorted({n for names in SUPPORTED_PACKAGE_NAMES.values() for n in names}))
PACKAGE_HOME = "./home/admin/oceanbase"
ROUTE_FILE_PATH = ("home", "admin", "oceanbase", "etc", "oceanbase_upgrade_dep.yml")
MAX_ROUTE_FILE_BYTES = 1 << 20
MAX_LINK_TARGET_BYTES = 4096
MAX_NAME_BYTES = 4096
_CHUNK = 1 << 20
_LEAD_MAGIC = b"\xed\xab\xee\xdb"
_HEADER_MAGIC = b"\x8e\xad\xe8"
_STREAMABLE_COMPRESSIONS = ("xz", "gzip", "bzip2")  # what rpmfile decompresses as a stream
_NEWC_MAGICS = (b"070701", b"070702")
_NEWC_HEADER_SIZE = 110
_TRAILER = "TRAILER!!!"


class PackageProblem(Enum):
    """Why a package is refused; the value is the error code it is reported with."""

    IO_FAILED = "Package.IO.Failed"
    NOT_RPM = "Package.NotRpm"
    CORRUPTED = "OB.Package.Corrupted"
    CHECKSUM_MISMATCH = "Package.Checksum.Mismatch"
    NAME_NOT_SUPPORTED = "OB.Package.Name.NotSupport"
    VERSION_INVALID = "Package.ReleaseFormat.Invalid"
    COMPRESSION_UNSUPPORTED = "Package.Compression.NotSupported"
    FORMAT_UNSUPPORTED = "Package.Format.Invalid"
    UNSAFE_ENTRY = "Package.Entry.Unsafe"
    SIGNATURE_MISSING = "Package.Signature.Missing"
    SIGNATURE_UNKNOWN_KEY = "Package.Signature.UnknownKey"
    SIGNATURE_INVALID = "Package.Signature.Invalid"


_SIGNATURE_PROBLEMS = {
    "missing": PackageProblem.SIGNATURE_MISSING,
    "unknown_key": PackageProblem.SIGNATURE_UNKNOWN_KEY,
    "invalid": PackageProblem.SIGNATURE_INVALID,
    "corrupted": PackageProblem.CORRUPTED,
}


class PackageError(ObshellError):
    """The package at ``path`` is refused; ``problem`` says why."""

    def __init__(self, problem: PackageProblem, path: str | Path, detail: str, shown_as: str | None = None):
        kind = ErrorKind.UNEXPECTED if problem is PackageProblem.IO_FAILED else ErrorKind.BAD_REQUEST
        super().__init__(ErrorCode(problem.value, kind, "{}"), f"package '{shown_as or Path(path).name}': {detail}")
        self.problem = problem
        self.path = Path(path)


class _Refused(Exception):
    """Raised by the helpers below; the public functions add the package path."""

    def __init__(self, problem: PackageProblem, detail: str):
        super().__init__(detail)
        self.problem, self.detail = problem, detail


class EntryType(Enum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"


@dataclass(frozen=True)
class PayloadEntry:
    """One payload entry; ``parts`` is its path below the package root (``./``)."""

    name: str
    parts: tuple[str, ...]
    type: EntryType
    mode: int  # permission bits
    size: int
    link_target: str | None = None
    inode: int = 0
    nlink: int = 1


@dataclass(frozen=True)
class InspectedRpm:
    name: str
    version: str
    release: str  # e.g. 101000062023110109.el7
    build_number: str
    distribution: str
    arch: str
    size: int  # installed size (header tag 1009), as obshell stores it
    file_size: int
    payload_size: int  # header + compressed payload: what the signature MD5 covers
    md5: str  # of header + payload, checked against the signature
    sha256: str  # of the whole file
    compression: str
    entries: tuple[PayloadEntry, ...]
    upgrade_dep_yaml: str | None  # etc/oceanbase_upgrade_dep.yml, if packaged
    signature: PackageSignature = UNSIGNED  # who signed the header, and whether it was verified

    @property
    def build_version(self) -> Version:
        return Version.parse(self.version).with_build(self.build_number)

    def has_file(self, relative_path: str) -> bool:
        """Whether e.g. ``home/admin/oceanbase/bin/observer`` is in the payload."""
        wanted = tuple(p for p in relative_path.split("/") if p not in ("", "."))
        return any(e.parts == wanted for e in self.entries)


def inspect_rpm(
    path: str | Path, expected_sha256: str | None = None, allowed_names: tuple[str, ...] = ALL_PACKAGE_NAMES,
    *, shown_as: str | None = None, keyring: Keyring | None = None,
) -> InspectedRpm:
    """Read and fully verify a package. Raises :class:`PackageError` when it is refused, naming
    the package ``shown_as`` (an upload's own file name: the agent's temp file is nobody's
    business) or else by its file name.

    With a ``keyring``, the package must carry a header signature by one of its keys that
    matches the header, and the signed header's payload digest must match the payload (see
    :mod:`.signature`); without one, a signature is read and reported as not verified."""
    with _refusals_of(path, shown_as), _open(path) as file:
        rpm = _read_headers(file)
        header_start, payload_start = rpm.header_range
        signature_tags, header = _signature_header(file, header_start, payload_start)
        md5, sha256, payload_sha256, file_size = _digests(file, header_start, payload_start)
        expected = (expected_sha256 or "").strip().lower()
        if expected_sha256 is not None and sha256 != expected:
            raise _Refused(PackageProblem.CHECKSUM_MISMATCH, f"SHA-256 is {sha256}, expected {expected}")
        with _signature_refusals():
            signature = check_signature(signature_tags, header, payload_sha256, keyring)
            check_header_digests(signature_tags, header)
        _check_signed_digests(rpm, md5, payload_sha256)
        name, version, release, arch = (_text(rpm, tag) for tag in ("name", "version", "release", "arch"))
        if name not in allowed_names:
            raise _Refused(PackageProblem.NAME_NOT_SUPPORTED,
                           f"Unsupported name '{name}', the supported names are [{', '.join(allowed_names)}]")
        parsed_release = _check_version(version, release)
        compression = _payload_compression(rpm)
        tree, route_yaml = _Tree(), None
        for entry, read_chunk in _walk_payload(rpm):
            tree.add(entry)
            if entry.parts == ROUTE_FILE_PATH and entry.type is EntryType.FILE:
                text = _read_limited(read_chunk, entry.size, MAX_ROUTE_FILE_BYTES, "route file")
                route_yaml = _utf8(text, "route file")
        tree.check_links()
    installed = rpm.headers.get("size")
    return InspectedRpm(
        name=name, version=version, release=release, build_number=parsed_release.build,
        distribution=parsed_release.distribution, arch=arch, size=installed if isinstance(installed, int) else 0,
        file_size=file_size, payload_size=file_size - header_start, md5=md5, sha256=sha256,
        compression=compression, entries=tuple(tree.entries), upgrade_dep_yaml=route_yaml, signature=signature,
    )


def unpack_rpm(path: str | Path, dest_dir: str | Path, strip_prefix: str = PACKAGE_HOME) -> list[Path]:
    """Extract the entries under ``strip_prefix`` into ``dest_dir`` (``bin/observer`` lands at
    ``dest_dir/bin/observer``) and return the paths written.

    Nothing is ever written outside ``dest_dir``: escaping names and links are refused, and
    symlinks are only created after every file is written, so no write can pass through one.
    On refusal, whatever this call created is removed again. It does not verify digests:
    call :func:`inspect_rpm` for that."""
    with _refusals_of(path):
        prefix = _safe_parts(strip_prefix)
        writer = _Writer(Path(dest_dir))
        try:
            with _open(path) as file:
                rpm = _read_headers(file)
                _payload_compression(rpm)
                tree = _Tree()  # the whole package must be sound, not only the part unpacked
                for entry, read_chunk in _walk_payload(rpm):
                    tree.add(entry)
                    if entry.parts[: len(prefix)] == prefix and len(entry.parts) > len(prefix):
                        writer.write(entry.parts[len(prefix):], entry, read_chunk)
                tree.check_links()
                writer.finish()
        except BaseException:
            writer.undo()
            raise
    return writer.written


@contextmanager
def _refusals_of(path: str | Path, shown_as: str | None = None) -> Iterator[None]:
    """Turn the helpers' refusals and file-system errors into a PackageError naming ``path``
    (or ``shown_as``, and then no file-system path at all)."""
    try:
        yield
    except _Refused as refusal:
        raise PackageError(refusal.problem, path, refusal.detail, shown_as) from refusal.__cause__
    except OSError as exc:
        where = "" if shown_as else f": {exc.filename or ''}"
        raise PackageError(PackageProblem.IO_FAILED, path, f"{exc.strerror or exc}{where}", shown_as) from exc


# --- reading -----------------------------------------------------------------------------


def _open(path: str | Path) -> BinaryIO:
    return open(path, "rb")  # an OSError becomes IO_FAILED in _refusals_of


def _read_headers(file: BinaryIO) -> rpmfile.RPMFile:
    lead = file.read(96)
    if len(lead) < 96 or not lead.startswith(_LEAD_MAGIC):
        raise _Refused(PackageProblem.NOT_RPM, "not an RPM file (no RPM lead)")
    if file.read(3) != _HEADER_MAGIC:
        raise _Refused(PackageProblem.CORRUPTED, "no signature header after the RPM lead")
    file.seek(0)
    try:
        return rpmfile.RPMFile(fileobj=file)
    except Exception as exc:  # rpmfile raises bare asserts, struct and index errors on bad input
        raise _Refused(PackageProblem.CORRUPTED, f"RPM headers cannot be read ({exc!r})") from exc


@contextmanager
def _signature_refusals() -> Iterator[None]:
    try:
        yield
    except SignatureRefused as refusal:
        raise _Refused(_SIGNATURE_PROBLEMS[refusal.kind], refusal.detail) from None


def _signature_header(file: BinaryIO, header_start: int, payload_start: int):
    """The signature header's own tags (rpmfile merges them with the main header's) and the
    main header's bytes, which a header signature covers."""
    with _signature_refusals():
        tags, main_start = read_signature_header(file)
    if main_start != header_start:
        raise _Refused(PackageProblem.CORRUPTED, "the main header does not follow the signature header")
    file.seek(header_start)
    header = file.read(payload_start - header_start)
    if len(header) != payload_start - header_start:
        raise _Refused(PackageProblem.CORRUPTED, "the main header is truncated")
    return tags, header


def _text(rpm: rpmfile.RPMFile, tag: str) -> str:
    value = rpm.headers.get(tag)
    try:
        text = value.decode("utf-8") if isinstance(value, bytes) else None
    except UnicodeDecodeError:
        text = None
    if not text:
        raise _Refused(PackageProblem.CORRUPTED, f"RPM header has no readable '{tag}'")
    return text


def _check_version(version: str, release: str) -> Release:
    try:
        Version.parse(version)
        return Release.parse(release)
    except ValueError as exc:
        raise _Refused(PackageProblem.VERSION_INVALID, str(exc)) from exc


def _payload_compression(rpm: rpmfile.RPMFile) -> str:
    archive_format = rpm.headers.get("archive_format", b"cpio")
    if archive_format != b"cpio":
        raise _Refused(PackageProblem.FORMAT_UNSUPPORTED,
                       f"Unsupported payload format {archive_format!r}, the supported payload format is 'cpio'")
    compression = rpm.headers.get("archive_compression", b"gzip")  # rpm's default
    name = compression.decode("ascii", "replace") if isinstance(compression, bytes) else repr(compression)
    if name not in _STREAMABLE_COMPRESSIONS:
        raise _Refused(PackageProblem.COMPRESSION_UNSUPPORTED,
                       f"Unsupported compression '{name}', supported: {', '.join(_STREAMABLE_COMPRESSIONS)}")
    return name


def _digests(file: BinaryIO, header_start: int, payload_start: int) -> tuple[str, str, str, int]:
    """In one pass: MD5 of header+payload, SHA-256 of the whole file and of the payload, size."""
    md5, sha256, payload_sha256, offset = hashlib.md5(), hashlib.sha256(), hashlib.sha256(), 0
    file.seek(0)
    while chunk := file.read(_CHUNK):
        sha256.update(chunk)
        md5.update(chunk[max(0, header_start - offset):])
        payload_sha256.update(chunk[max(0, payload_start - offset):])
        offset += len(chunk)
    return md5.hexdigest(), sha256.hexdigest(), payload_sha256.hexdigest(), offset


def _check_signed_digests(rpm: rpmfile.RPMFile, md5: str, payload_sha256: str) -> None:
    """The digests rpm itself records: signature MD5 of header+payload and, in rpm >= 4.14,
    the header's SHA-256 of the compressed payload (algorithm 8)."""
    signed_md5 = rpm.headers.get("sigmd5")
    if isinstance(signed_md5, bytes) and signed_md5.hex() != md5:
        raise _Refused(PackageProblem.CORRUPTED, "header and payload do not match the signature MD5")
    recorded = rpm.headers.get("payloaddigest")
    recorded = recorded[0] if isinstance(recorded, list) and recorded else recorded
    sha256_recorded = rpm.headers.get("payloaddigestalgo") == 8 and isinstance(recorded, bytes)
    if sha256_recorded and recorded.decode("ascii", "replace") != payload_sha256:
        raise _Refused(PackageProblem.CORRUPTED, "payload does not match its recorded SHA-256")


def _walk_payload(rpm: rpmfile.RPMFile) -> Iterator[tuple[PayloadEntry, Callable[[], bytes]]]:
    """Yield each cpio record with a function that reads its next content chunk (b"" at the end).
    Content a caller leaves unread is skipped."""
    stream = rpm.data_file
    while True:
        header = _read_exact(stream, _NEWC_HEADER_SIZE, "cpio header")
        try:
            if header[:6] not in _NEWC_MAGICS:
                raise ValueError("bad magic")
            fields = [int(header[6 + 8 * i: 14 + 8 * i], 16) for i in range(13)]
        except ValueError as exc:
            raise _Refused(PackageProblem.CORRUPTED, "payload is not a cpio newc archive") from exc
        inode, mode, nlink, size, name_size = fields[0], fields[1], fields[4], fields[6], fields[11]
        if not 0 < name_size <= MAX_NAME_BYTES:
            raise _Refused(PackageProblem.CORRUPTED, f"cpio entry name of {name_size} bytes")
        name = _utf8(_read_exact(stream, name_size, "cpio name").rstrip(b"\0"), "entry name")
        _read_exact(stream, -(_NEWC_HEADER_SIZE + name_size) % 4, "cpio padding")
        if name == _TRAILER:
            return
        left = [size]

        def read_chunk(left: list[int] = left) -> bytes:
            data = _read_exact(stream, min(left[0], _CHUNK), "file data") if left[0] else b""
            left[0] -= len(data)
            return data

        link_target = None
        if stat.S_ISLNK(mode):
            link_target = _utf8(_read_limited(read_chunk, size, MAX_LINK_TARGET_BYTES, f"link {name}"), "link")
        kind = _entry_type(mode, name)
        yield PayloadEntry(name, _safe_parts(name), kind, mode & 0o7777, size, link_target, inode, nlink), read_chunk
        while read_chunk():
            pass
        _read_exact(stream, -size % 4, "cpio padding")


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    data = b""
    try:
        while len(data) < size:
            more = stream.read(size - len(data))
            if not more:
                raise EOFError("end of payload")
            data += more
    except Exception as exc:  # EOFError, lzma.LZMAError, zlib.error, OSError: all mean a damaged payload
        raise _Refused(PackageProblem.CORRUPTED, f"payload cannot be read fully: {what} ({exc})") from exc
    return data


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(PackageProblem.CORRUPTED, f"{what} is not UTF-8") from exc


def _read_limited(read_chunk: Callable[[], bytes], size: int, limit: int, what: str) -> bytes:
    if size > limit:
        raise _Refused(PackageProblem.CORRUPTED, f"{what} is {size} bytes, more than {limit}")
    data = b""
    while chunk := read_chunk():
        data += chunk
    return data


def _entry_type(mode: int, name: str) -> EntryType:
    if stat.S_ISREG(mode):
        return EntryType.FILE
    if stat.S_ISDIR(mode):
        return EntryType.DIRECTORY
    if stat.S_ISLNK(mode):
        return EntryType.SYMLINK
    raise _Refused(PackageProblem.UNSAFE_ENTRY, f"entry '{name}' is a device, FIFO or socket (mode {mode:o})")


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path below the package root; names that are absolute or climb out are refused."""
    if name.startswith("/"):
        raise _Refused(PackageProblem.UNSAFE_ENTRY, f"entry '{name}' is an absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _Refused(PackageProblem.UNSAFE_ENTRY, f"entry '{name}' climbs out of the package root")
    return parts


# --- safety model ------------------------------------------------------------------------


class _Tree:
    """The payload's paths, to refuse entries below a symlink and symlinks that resolve
    outside the package root (following link chains, as the kernel would)."""

    def __init__(self) -> None:
        self.entries: list[PayloadEntry] = []
        self.links: dict[tuple[str, ...], PayloadEntry] = {}
        self.parents: set[tuple[str, ...]] = set()

    def add(self, entry: PayloadEntry) -> None:
        for depth in range(1, len(entry.parts)):
            if entry.parts[:depth] in self.links:
                self._refuse(f"entry '{entry.name}' lies below the symlink '{'/'.join(entry.parts[:depth])}'")
            self.parents.add(entry.parts[:depth])
        if not entry.parts and entry.type is not EntryType.DIRECTORY:
            self._refuse(f"entry '{entry.name}' would replace the package root")
        if entry.type is EntryType.SYMLINK:
            if entry.parts in self.parents:
                self._refuse(f"symlink '{entry.name}' replaces a directory")
            self.links[entry.parts] = entry
        self.entries.append(entry)

    def check_links(self) -> None:
        for parts, entry in self.links.items():
            budget = [40]  # the kernel's symlink-follow limit
            if self._resolve(list(parts[:-1]), entry.link_target or "", budget) is None:
                self._refuse(f"symlink '{entry.name}' -> '{entry.link_target}' points outside the package")

    def _resolve(self, stack: list[str], target: str, budget: list[int]) -> list[str] | None:
        if target.startswith("/"):
            return None
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not stack:
                    return None
                stack.pop()
                continue
            stack.append(part)
            link = self.links.get(tuple(stack))
            if link is not None:
                budget[0] -= 1
                if budget[0] < 0:
                    self._refuse(f"symlink loop through '{link.name}'")
                resolved = self._resolve(stack[:-1], link.link_target or "", budget)
                if resolved is None:
                    return None
                stack = resolved
        return stack

    def _refuse(self, detail: str) -> None:
        raise _Refused(PackageProblem.UNSAFE_ENTRY, detail)


class _Writer:
    """Writes entries below ``dest``; symlinks and directory modes are applied last."""

    def __init__(self, dest: Path):
        self.written: list[Path] = []
        self.created: list[Path] = []
        existed = dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        self.dest = dest.resolve()  # every later path is checked against this real location
        if not existed:
            self.created.append(self.dest)
        self.tree = _Tree()
        self.dir_modes: dict[Path, int] = {}
        self.hard_links: dict[int, list[Path]] = {}  # inode -> members; rpm stores data with the last

    def write(self, parts: tuple[str, ...], entry: PayloadEntry, read_chunk: Callable[[], bytes]) -> None:
        relative = PayloadEntry(entry.name, parts, entry.type, entry.mode, entry.size, entry.link_target)
        self.tree.add(relative)  # links are judged against dest, not the package root
        target = self.dest.joinpath(*parts)
        self._make_dirs(target.parent)
        if entry.type is EntryType.DIRECTORY:
            self._make_dirs(target)
            self.dir_modes[target] = entry.mode & 0o777
        elif entry.type is EntryType.FILE:
            self._write_file(target, entry.mode & 0o777, read_chunk)
            if entry.nlink > 1:
                self._link_members(target, entry)

    def _link_members(self, target: Path, entry: PayloadEntry) -> None:
        members = self.hard_links.setdefault(entry.inode, [])
        members.append(target)
        if entry.size:
            for member in members[:-1]:
                member.unlink()
                os.link(target, member)

    def finish(self) -> None:
        self.tree.check_links()
        for parts, link in self.tree.links.items():
            target = self.dest.joinpath(*parts)
            self._make_dirs(target.parent)
            try:
                os.symlink(link.link_target or "", target)
            except FileExistsError as exc:
                raise _Refused(PackageProblem.UNSAFE_ENTRY, f"symlink '{link.name}' collides with a file") from exc
            self._record(target)
        for directory in sorted(self.dir_modes, key=lambda p: len(p.parts), reverse=True):
            os.chmod(directory, self.dir_modes[directory] | stat.S_IRWXU)  # keep it removable by us

    def undo(self) -> None:
        for created in reversed(self.created):
            try:
                created.rmdir() if created.is_dir() and not created.is_symlink() else created.unlink()
            except OSError:
                pass  # leave what cannot be removed (e.g. a directory someone else filled)

    def _make_dirs(self, directory: Path) -> None:
        missing = []
        while not directory.exists() and not directory.is_symlink():
            missing.append(directory)
            directory = directory.parent
        inside = Path(os.path.realpath(directory)).is_relative_to(self.dest)
        if directory.is_symlink() or not directory.is_dir() or not inside:
            raise _Refused(PackageProblem.UNSAFE_ENTRY, f"'{directory}' in the destination is not a plain directory")
        for new in reversed(missing):
            new.mkdir()
            self.created.append(new)

    def _write_file(self, target: Path, mode: int, read_chunk: Callable[[], bytes]) -> None:
        existed = target.exists()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(target, flags, 0o600)
        except OSError as exc:
            raise _Refused(PackageProblem.UNSAFE_ENTRY, f"cannot write '{target.name}': {exc.strerror}") from exc
        if not existed:
            self.created.append(target)
        with os.fdopen(fd, "wb") as out:
            while chunk := read_chunk():
                out.write(chunk)
            # setuid/setgid/sticky bits are dropped: a package has no business granting them.
            os.fchmod(out.fileno(), mode)
        self.written.append(target)

    def _record(self, target: Path) -> None:
        self.created.append(target)
        self.written.append(target)
