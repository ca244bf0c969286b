"""A small writer for binary RPM v3 files (the format rpm 4.x reads), in pure Python.

An RPM file is a 96-byte lead, a signature header (sizes and digests), the main header
(package facts and the file list) and a compressed cpio "newc" payload holding the files.
The writer trusts its input on purpose: entry names are written as given (``../x``,
absolute paths, symlinks pointing anywhere), so tests can build hostile packages.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import stat
import struct
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable, Literal

Compressor = Literal["gzip", "xz"]
# Signs a main header: returns the signature header tag (RPMSIGTAG_RSA or _DSA) and the
# OpenPGP signature packet over the header bytes (see package_signing).
HeaderSigner = Callable[[bytes], tuple[int, bytes]]


class EntryKind(Enum):
    """What a payload entry is; its value is the file-type bits of ``st_mode``."""

    FILE = stat.S_IFREG
    DIRECTORY = stat.S_IFDIR
    SYMLINK = stat.S_IFLNK


@dataclass(frozen=True)
class RpmFileEntry:
    """One payload entry. ``name`` is the cpio name, e.g. ``./home/admin/oceanbase/bin/observer``."""

    name: str
    kind: EntryKind = EntryKind.FILE
    data: bytes = b""
    mode: int = 0o644  # permission bits only; the kind supplies the type bits
    link_target: str = ""
    user: str = "root"
    group: str = "root"
    mtime: int | None = None  # None: the package's build time

    @classmethod
    def file(cls, name: str, data: bytes, mode: int = 0o644) -> "RpmFileEntry":
        return cls(name=name, kind=EntryKind.FILE, data=data, mode=mode)

    @classmethod
    def directory(cls, name: str, mode: int = 0o755) -> "RpmFileEntry":
        return cls(name=name, kind=EntryKind.DIRECTORY, mode=mode)

    @classmethod
    def symlink(cls, name: str, target: str) -> "RpmFileEntry":
        return cls(name=name, kind=EntryKind.SYMLINK, mode=0o777, link_target=target)

    @property
    def st_mode(self) -> int:
        return self.kind.value | (self.mode & 0o7777)

    @property
    def content(self) -> bytes:
        """The bytes cpio stores for the entry: a symlink stores its target."""
        if self.kind is EntryKind.SYMLINK:
            return self.link_target.encode()
        return self.data if self.kind is EntryKind.FILE else b""

    @property
    def installed_path(self) -> str:
        """The path the header's file list records: ``./a/b`` → ``/a/b``."""
        if self.name.startswith("./"):
            return self.name[1:]
        return self.name if self.name.startswith("/") else "/" + self.name


@dataclass
class RpmPackageSpec:
    """Everything that goes into one binary package."""

    name: str
    version: str
    release: str
    arch: str = "x86_64"
    epoch: int | None = None
    summary: str = ""
    description: str = ""
    license: str = "Mulan PubL v2"
    group: str = "Applications/Databases"
    url: str = ""
    vendor: str = ""
    buildhost: str = "localhost"
    os: str = "linux"
    buildtime: int | None = None  # None: now
    compressor: Compressor = "gzip"
    files: list[RpmFileEntry] = field(default_factory=list)
    payload_digest: bool = True  # RPMTAG_PAYLOADDIGEST, as rpm >= 4.14 writes it; False: as older rpm

    @property
    def nvra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"

    def validate(self) -> None:
        """Raise ValueError when rpm could not represent the spec."""
        words = {"name": self.name, "version": self.version, "release": self.release, "arch": self.arch}
        for label, value in words.items():
            if not value or any(ch.isspace() for ch in value):
                raise ValueError(f"RPM {label} must be a non-empty word without spaces, got {value!r}")
        for label, value in (("version", self.version), ("release", self.release)):
            if "-" in value:
                raise ValueError(f"RPM {label} must not contain '-', got {value!r}")
        if self.compressor not in ("gzip", "xz"):
            raise ValueError(f"unsupported payload compressor {self.compressor!r} (use gzip or xz)")
        for entry in self.files:
            if not entry.name or "\0" in entry.name:
                raise ValueError(f"bad payload entry name {entry.name!r}")
            if entry.kind is EntryKind.SYMLINK and not entry.link_target:
                raise ValueError(f"symlink {entry.name!r} has no target")


# --- header encoding -------------------------------------------------------------------

HEADER_MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
LEAD_MAGIC = b"\xed\xab\xee\xdb"


class TagType(Enum):
    INT16 = 3
    INT32 = 4
    STRING = 6
    BIN = 7
    STRING_ARRAY = 8
    I18NSTRING = 9


# Tag numbers, from rpm's rpmtag.h.
HEADERSIGNATURES, HEADERIMMUTABLE, HEADERI18NTABLE = 62, 63, 100
SIG_DSA, SIG_RSA = 267, 268  # header-only OpenPGP signatures
SIG_SHA1, SIG_SHA256, SIG_SIZE, SIG_MD5, SIG_PAYLOADSIZE = 269, 273, 1000, 1004, 1007
FILEDIGESTALGO_SHA256 = 8
RPMFILE_NONE, VERIFY_ALL = 0, 0xFFFFFFFF
SENSE_EQUAL, SENSE_LESS_EQUAL_RPMLIB = 0x08, 0x02 | 0x08 | 0x1000000


@dataclass(frozen=True)
class Tag:
    number: int
    type: TagType
    value: str | bytes | list[str] | list[int]


def _encode_value(tag: Tag) -> tuple[bytes, int]:
    """The stored bytes of a tag and its count."""
    value = tag.value
    if tag.type in (TagType.STRING, TagType.I18NSTRING):
        return str(value).encode() + b"\0", 1
    if tag.type is TagType.STRING_ARRAY:
        return b"".join(s.encode() + b"\0" for s in value), len(value)  # type: ignore[union-attr]
    if tag.type is TagType.BIN:
        return bytes(value), len(value)  # type: ignore[arg-type]
    fmt = ">H" if tag.type is TagType.INT16 else ">I"
    ints = [v & (0xFFFF if tag.type is TagType.INT16 else 0xFFFFFFFF) for v in value]  # type: ignore[union-attr]
    return b"".join(struct.pack(fmt, v) for v in ints), len(ints)


_ALIGNMENT = {TagType.INT16: 2, TagType.INT32: 4}


def encode_header(tags: list[Tag], region_tag: int) -> bytes:
    """One header structure. rpm wants the data in index order and an immutable region
    around all of it: a first index entry pointing at a 16-byte trailer at the end of the data."""
    ordered = sorted((t for t in tags if not _is_empty(t)), key=lambda t: t.number)
    store = bytearray()
    index = []
    for tag in ordered:
        store += b"\0" * (-len(store) % _ALIGNMENT.get(tag.type, 1))
        data, count = _encode_value(tag)
        index.append(struct.pack(">IIiI", tag.number, tag.type.value, len(store), count))
        store += data
    entry_count = len(ordered) + 1
    trailer_offset = len(store)
    store += struct.pack(">IIiI", region_tag, TagType.BIN.value, -16 * entry_count, 16)
    region = struct.pack(">IIiI", region_tag, TagType.BIN.value, trailer_offset, 16)
    return HEADER_MAGIC + struct.pack(">II", entry_count, len(store)) + region + b"".join(index) + bytes(store)


def _is_empty(tag: Tag) -> bool:
    # rpm rejects zero-count entries, so a package without files simply has no file tags.
    return tag.type in (TagType.STRING_ARRAY, TagType.INT16, TagType.INT32) and len(tag.value) == 0


# --- payload -----------------------------------------------------------------------------


def _cpio_record(name: str, ino: int, mode: int, mtime: int, nlink: int, content: bytes) -> bytes:
    encoded_name = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, mtime, len(content), 0, 0, 0, 0, len(encoded_name), 0)
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + encoded_name
    head += b"\0" * (-len(head) % 4)
    return head + content + b"\0" * (-len(content) % 4)


def build_cpio(entries: list[RpmFileEntry], default_mtime: int) -> bytes:
    """A cpio "newc" archive of the entries, inode numbers 1..n, as rpm writes it."""
    records = []
    for ino, entry in enumerate(entries, start=1):
        nlink = 2 if entry.kind is EntryKind.DIRECTORY else 1
        records.append(_cpio_record(entry.name, ino, entry.st_mode, _mtime(entry, default_mtime), nlink, entry.content))
    records.append(_cpio_record("TRAILER!!!", 0, 0, 0, 1, b""))
    return b"".join(records)


def compress(data: bytes, compressor: Compressor) -> bytes:
    if compressor == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, preset=6)
    return gzip.compress(data, compresslevel=9, mtime=0)


def _mtime(entry: RpmFileEntry, default: int) -> int:
    return default if entry.mtime is None else entry.mtime


# --- main header -------------------------------------------------------------------------


def _file_list_tags(entries: list[RpmFileEntry], default_mtime: int) -> list[Tag]:
    dirnames: list[str] = []
    dirindexes: list[int] = []
    basenames: list[str] = []
    for entry in entries:
        path = entry.installed_path
        cut = path.rfind("/") + 1
        if path[:cut] not in dirnames:
            dirnames.append(path[:cut])
        dirindexes.append(dirnames.index(path[:cut]))
        basenames.append(path[cut:])
    n = len(entries)
    digests = [hashlib.sha256(e.data).hexdigest() if e.kind is EntryKind.FILE else "" for e in entries]
    return [
        Tag(1028, TagType.INT32, [len(e.content) if e.kind is not EntryKind.DIRECTORY else 0 for e in entries]),
        Tag(1030, TagType.INT16, [e.st_mode for e in entries]),
        Tag(1033, TagType.INT16, [0] * n),  # FILERDEVS
        Tag(1034, TagType.INT32, [_mtime(e, default_mtime) for e in entries]),
        Tag(1035, TagType.STRING_ARRAY, digests),  # FILEDIGESTS
        Tag(1036, TagType.STRING_ARRAY, [e.link_target if e.kind is EntryKind.SYMLINK else "" for e in entries]),
        Tag(1037, TagType.INT32, [RPMFILE_NONE] * n),  # FILEFLAGS
        Tag(1039, TagType.STRING_ARRAY, [e.user for e in entries]),
        Tag(1040, TagType.STRING_ARRAY, [e.group for e in entries]),
        Tag(1045, TagType.INT32, [VERIFY_ALL] * n),  # FILEVERIFYFLAGS
        Tag(1095, TagType.INT32, [1] * n),  # FILEDEVICES
        Tag(1096, TagType.INT32, list(range(1, n + 1))),  # FILEINODES, as in the cpio
        Tag(1097, TagType.STRING_ARRAY, [""] * n),  # FILELANGS
        Tag(1116, TagType.INT32, dirindexes),
        Tag(1117, TagType.STRING_ARRAY, basenames),
        Tag(1118, TagType.STRING_ARRAY, dirnames),
    ] + ([Tag(5011, TagType.INT32, [FILEDIGESTALGO_SHA256])] if entries else [])


def _dependency_tags(spec: RpmPackageSpec) -> list[Tag]:
    evr = (f"{spec.epoch}:" if spec.epoch is not None else "") + f"{spec.version}-{spec.release}"
    rpmlib = {"rpmlib(CompressedFileNames)": "3.0.4-1", "rpmlib(PayloadFilesHavePrefix)": "4.0-1"}
    if spec.compressor == "xz":
        rpmlib["rpmlib(PayloadIsXz)"] = "5.2-1"
    provides = [spec.name, f"{spec.name}({spec.arch.replace('_', '-')})"]
    return [
        Tag(1047, TagType.STRING_ARRAY, provides),  # PROVIDENAME
        Tag(1112, TagType.INT32, [SENSE_EQUAL] * len(provides)),
        Tag(1113, TagType.STRING_ARRAY, [evr] * len(provides)),
        Tag(1048, TagType.INT32, [SENSE_LESS_EQUAL_RPMLIB] * len(rpmlib)),  # REQUIREFLAGS
        Tag(1049, TagType.STRING_ARRAY, list(rpmlib)),
        Tag(1050, TagType.STRING_ARRAY, list(rpmlib.values())),
    ]


def main_header(spec: RpmPackageSpec, buildtime: int, payload: bytes) -> bytes:
    text = TagType.STRING
    tags = [
        Tag(HEADERI18NTABLE, TagType.STRING_ARRAY, ["C"]),
        Tag(1000, text, spec.name),
        Tag(1001, text, spec.version),
        Tag(1002, text, spec.release),
        Tag(1004, TagType.I18NSTRING, spec.summary or spec.name),
        Tag(1005, TagType.I18NSTRING, spec.description or spec.summary or spec.name),
        Tag(1006, TagType.INT32, [buildtime]),
        Tag(1007, text, spec.buildhost),
        Tag(1009, TagType.INT32, [sum(len(e.content) for e in spec.files if e.kind is not EntryKind.DIRECTORY)]),
        Tag(1014, text, spec.license),
        Tag(1016, TagType.I18NSTRING, spec.group),
        Tag(1021, text, spec.os),
        Tag(1022, text, spec.arch),
        Tag(1044, text, f"{spec.name}-{spec.version}-{spec.release}.src.rpm"),
        Tag(1064, text, "4.11.3"),  # RPMVERSION: the rpm that "built" it
        Tag(1124, text, "cpio"),
        Tag(1125, text, spec.compressor),
        Tag(1126, text, "2" if spec.compressor == "xz" else "9"),
        Tag(1132, text, f"{spec.arch}-redhat-linux-gnu"),
    ]
    if spec.payload_digest:
        tags += [Tag(5092, TagType.STRING_ARRAY, [hashlib.sha256(payload).hexdigest()]),  # PAYLOADDIGEST
                 Tag(5093, TagType.INT32, [FILEDIGESTALGO_SHA256])]
    optional = [(1003, TagType.INT32, [spec.epoch] if spec.epoch is not None else []),
                (1011, text, spec.vendor), (1020, text, spec.url)]
    tags += [Tag(n, t, v) for n, t, v in optional if v]
    tags += _file_list_tags(spec.files, buildtime) + _dependency_tags(spec)
    return encode_header(tags, HEADERIMMUTABLE)


def signature_header(header: bytes, payload: bytes, uncompressed_size: int,
                     signature: tuple[int, bytes] | None = None) -> bytes:
    """Digests rpm -K checks: SHA1/SHA256 of the header, size and MD5 of header+payload; and
    ``signature``, a header signature (its tag and OpenPGP packet), when given."""
    tags = [
        Tag(SIG_SHA1, TagType.STRING, hashlib.sha1(header).hexdigest()),
        Tag(SIG_SHA256, TagType.STRING, hashlib.sha256(header).hexdigest()),
        Tag(SIG_SIZE, TagType.INT32, [len(header) + len(payload)]),
        Tag(SIG_MD5, TagType.BIN, hashlib.md5(header + payload).digest()),
        Tag(SIG_PAYLOADSIZE, TagType.INT32, [uncompressed_size]),
    ]
    if signature is not None:
        tags.append(Tag(signature[0], TagType.BIN, signature[1]))
    encoded = encode_header(tags, HEADERSIGNATURES)
    return encoded + b"\0" * (-len(encoded) % 8)  # the main header starts 8-aligned


def lead(spec: RpmPackageSpec) -> bytes:
    name = f"{spec.name}-{spec.version}-{spec.release}".encode()[:65]
    # binary package (0), arch 1 (x86), os 1 (Linux), signature type 5 (header-style)
    return struct.pack(">4sBBhh66shh16s", LEAD_MAGIC, 3, 0, 0, 1, name, 1, 5, b"")


def build_rpm(spec: RpmPackageSpec, signer: HeaderSigner | None = None) -> bytes:
    """The bytes of the RPM file described by ``spec``, its header signed by ``signer`` if given."""
    spec.validate()
    buildtime = int(time.time()) if spec.buildtime is None else spec.buildtime
    archive = build_cpio(spec.files, buildtime)
    payload = compress(archive, spec.compressor)
    header = main_header(spec, buildtime, payload)
    signature = signer(header) if signer is not None else None
    return lead(spec) + signature_header(header, payload, len(archive), signature) + header + payload


def write_rpm(spec: RpmPackageSpec, out_path: Path, signer: HeaderSigner | None = None) -> Path:
    """Write the package atomically (readers never see half a file) and return its path."""
    out_path = Path(out_path)
    data = build_rpm(spec, signer)
    partial = out_path.with_name(f".{out_path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    return out_path
