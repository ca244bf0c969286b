"""Package files through HTTP: one uploaded file received from a multipart/form-data body,
streamed to disk and stored; a stored one streamed back.

Starlette's form parser spools files to the system temp directory and has no limit on a
file's size; a package upload needs both: the file goes to a private temporary file in a
directory the agent chooses (its home), at most ``max_bytes`` of it, hashed on the way, and
only a chunk of it is in memory at a time. Disk writes run in a worker thread.

obshell decrypts the body of ``POST /api/v1/upgrade/package`` like any other when the header
carries ``Keys``, and its Python SDK sends the whole multipart body AES-encrypted there. Given
the request's keys, the body is therefore decrypted as it streams in, unless it is plainly a
multipart body already (it starts with the ``--`` of a boundary, which base64 never does: the
web UI sends its form data unencrypted).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from fastapi.responses import StreamingResponse
from starlette.requests import Request

from pyobshell.api.audit_middleware import note
from pyobshell.api.dependencies import UploadSettings

from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.security.aes_body import AesKeys, StreamDecryptor
from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.file_digest import FILE_SHA256_HEADER, file_sha256_matches
from pyobshell.upgrade.packages.schema import StoredPackage
from pyobshell.upgrade.packages.store import PackageStore

_B = ErrorKind.BAD_REQUEST
FILE_MISSING = ErrorCode("Request.File.Missing", _B, "File '{}' in the request is missing: {}")
FILE_TOO_LARGE = ErrorCode("Request.File.TooLarge", _B, "File '{}' is larger than the limit of {} bytes")
MULTIPART_INVALID = ErrorCode("Request.Multipart.Invalid", _B, "The multipart/form-data body cannot be read: {}")
UPLOAD_SAVE_FAILED = ErrorCode("Request.File.SaveFailed", ErrorKind.UNEXPECTED, "Cannot save the uploaded file: {}")

FILE_FIELD = "file"
RPM_MEDIA_TYPE = "application/x-rpm"
DIGEST_HEADER = "Repr-Digest"
_READ_BYTES = 1 << 20
FLUSH_BYTES = 1 << 20  # hand the parser about this much per worker-thread call
MAX_OTHER_FIELD_BYTES = 64 * 1024  # form fields besides the file: only a little text is expected
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the file


@dataclass
class ReceivedFile:
    """The uploaded file, in a temporary file the caller must remove (:meth:`remove`)."""

    path: Path
    filename: str
    size: int
    sha256: str

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None


class _Receiver:
    """The parser's callbacks: the wanted field goes to disk, anything else is counted."""

    def __init__(self, field_name: str, directory: Path, max_bytes: int):
        self.field_name = field_name
        self.directory = directory
        self.max_bytes = max_bytes
        self.part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self.file: Any = None
        self.path: Path | None = None
        self.filename = ""
        self.size = 0
        self.other_bytes = 0
        self.digest = hashlib.sha256()
        self.ended = False
        self.in_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.part = _Part()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = bytes(self._header_field).decode("latin-1").strip().lower()
        self.part.headers[name] = bytes(self._header_value).decode("latin-1").strip()
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, options = parse_options_header(self.part.headers.get("content-disposition", ""))
        if disposition != b"form-data":
            raise MULTIPART_INVALID("a part is not form-data")
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.part.filename = None if filename is None else filename.decode("utf-8", "replace")
        if self.part.name != self.field_name:
            return
        if self.path is not None:
            raise MULTIPART_INVALID(f"the field '{self.field_name}' is sent more than once")
        fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self.directory)
        self.file, self.path = os.fdopen(fd, "wb"), Path(name)
        self.filename = self.part.filename or ""
        self.in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            self.other_bytes += end - start
            if self.other_bytes > MAX_OTHER_FIELD_BYTES:
                raise MULTIPART_INVALID(f"form fields besides '{self.field_name}' exceed {MAX_OTHER_FIELD_BYTES} bytes")
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise FILE_TOO_LARGE(self.field_name, self.max_bytes)
        chunk = data[start:end]
        self.digest.update(chunk)
        self.file.write(chunk)

    def _part_end(self) -> None:
        if self.in_file:
            self.in_file = False
            self.file.close()

    def _end(self) -> None:
        self.ended = True

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_file(request: Request, field_name: str, directory: Path, max_bytes: int,
                       keys: AesKeys | None = None) -> ReceivedFile:
    """Stream the multipart field ``field_name`` of ``request`` into ``directory``; ``keys``:
    the body may be AES-encrypted with them (see the module's note).

    Raises a 400 :class:`~pyobshell.errors.ObshellError` (nothing left on disk) when the
    body is not multipart, is malformed or truncated, lacks the field, or the file is larger
    than ``max_bytes``."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise FILE_MISSING(field_name, "the body is not multipart/form-data")
    declared = request.headers.get("content-length", "")
    limit = max_bytes + MULTIPART_OVERHEAD_BYTES
    if keys is not None:
        limit = limit * 4 // 3 + 64  # base64 of the ciphertext
    if declared.isdigit() and int(declared) > limit:
        raise FILE_TOO_LARGE(field_name, max_bytes)  # refused before reading anything
    receiver = _Receiver(field_name, directory, max_bytes)
    try:
        await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
        parser = _parser(boundary, receiver)
        pending = bytearray()
        async for chunk in _plain_body(request, keys):
            pending += chunk
            if len(pending) >= FLUSH_BYTES:
                await _feed(parser, bytes(pending))
                pending.clear()
        if pending:
            await _feed(parser, bytes(pending))
        if not receiver.ended:
            raise MULTIPART_INVALID("the body ends before its closing boundary (truncated upload?)")
        if receiver.path is None:
            raise FILE_MISSING(field_name, "no such form field")
    except OSError as exc:  # the agent's disk, not the request
        await anyio.to_thread.run_sync(receiver.discard)
        raise UPLOAD_SAVE_FAILED(f"{exc.strerror or exc}") from exc
    except BaseException:
        await anyio.to_thread.run_sync(receiver.discard)
        raise
    return ReceivedFile(receiver.path, receiver.filename, receiver.size, receiver.digest.hexdigest())


async def _plain_body(request: Request, keys: AesKeys | None) -> AsyncIterator[bytes]:
    """The body's bytes as multipart: decrypted on the way when it came encrypted."""
    stream = request.stream()
    decryptor: StreamDecryptor | None = None
    first = True
    async for chunk in stream:
        if first and chunk:
            first = False
            if keys is not None and not chunk.lstrip(b"\r\n").startswith(b"--"):
                decryptor = StreamDecryptor(keys)
        if decryptor is None:
            yield chunk
            continue
        try:
            yield decryptor.update(chunk)
        except DecryptionError as exc:
            raise AuthError(AuthFailure.BODY_UNDECRYPTABLE, str(exc)) from None
    if decryptor is not None:
        try:
            yield decryptor.finish()
        except DecryptionError as exc:
            raise AuthError(AuthFailure.BODY_UNDECRYPTABLE, f"{exc} (truncated upload?)") from None


def _parser(boundary: bytes, receiver: _Receiver) -> MultipartParser:
    try:
        return MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    except FormParserError as exc:
        raise MULTIPART_INVALID(str(exc)) from exc


async def _feed(parser: MultipartParser, data: bytes) -> None:
    try:
        await anyio.to_thread.run_sync(parser.write, data)
    except FormParserError as exc:
        raise MULTIPART_INVALID(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


# -- the file header of an authenticated upload ----------------------------------------------


def verify_file_digest(request: Request, security: AgentSecurity | None, actual_sha256_hex: str) -> None:
    """Refuse the upload when it carries an ``X-OCS-File-SHA256`` that does not name the file.

    The header is optional (obshell's SDK sends none: the caller is authenticated anyway, and
    the package store verifies the RPM itself); a wrong one is obshell's ``Sha256Mismatch``."""
    value = request.headers.get(FILE_SHA256_HEADER)
    if value is None:
        return
    if security is None or not file_sha256_matches(security.key_pair, value, actual_sha256_hex):
        raise AuthError(AuthFailure.FILE_DIGEST_MISMATCH)


async def receive_package(request: Request, store: PackageStore, settings: UploadSettings,
                          security: AgentSecurity | None, keys: AesKeys | None = None) -> StoredPackage:
    """The uploaded RPM, received (decrypted with ``keys`` when it came encrypted), checked
    against its file header, verified (signed by the trusted keyring when there is one) and
    stored; nothing is left on disk either way. An unusable keyring refuses it before the body
    is read."""
    keyring = await anyio.to_thread.run_sync(settings.trusted_keyring)
    received = await receive_file(request, FILE_FIELD, settings.directory, settings.max_bytes, keys)
    note(request.scope, filename=Path(received.filename).name, size=received.size, sha256=received.sha256)
    try:
        await anyio.to_thread.run_sync(verify_file_digest, request, security, received.sha256)
        shown_as = Path(received.filename).name[:200] or "uploaded file"
        stored = await anyio.to_thread.run_sync(
            functools.partial(store.add, received.path, received.sha256, shown_as=shown_as, keyring=keyring))
        note(request.scope, signer=stored.signature.summary)  # the audit names who signed what was installed
        return stored
    finally:
        await anyio.to_thread.run_sync(received.remove)


# -- reading a stored package back -------------------------------------------------------------


async def package_download(store: PackageStore, settings: UploadSettings, package_id: int) -> StreamingResponse:
    """The RPM, verified against its stored digest before the first byte is sent, with its
    SHA-256 in ``Repr-Digest`` (RFC 9530)."""
    package = await anyio.to_thread.run_sync(store.get, package_id)
    path = settings.directory / f".download-{uuid.uuid4().hex}.rpm"
    await anyio.to_thread.run_sync(lambda: settings.directory.mkdir(parents=True, exist_ok=True))
    await anyio.to_thread.run_sync(store.download, package_id, path)  # verified, or raises
    try:
        stream, sha256 = await anyio.to_thread.run_sync(_open_unlinked, path, package)
    finally:
        path.unlink(missing_ok=True)  # normally gone already
    size = os.fstat(stream.fileno()).st_size
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="{package.rpm_file_name}"',
        DIGEST_HEADER: f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:",
    }
    return StreamingResponse(_chunks(stream), media_type=RPM_MEDIA_TYPE, headers=headers)


def _open_unlinked(path: Path, package: StoredPackage) -> tuple[BinaryIO, str]:
    """Open the verified file and remove its name at once: nothing is left behind, even if
    the client goes away mid-download. Rows obshell stored have no SHA-256: compute it."""
    stream = open(path, "rb")  # noqa: SIM115 - closed by _chunks
    path.unlink(missing_ok=True)
    if package.sha256:
        return stream, package.sha256
    digest = hashlib.sha256()
    while block := stream.read(_READ_BYTES):
        digest.update(block)
    stream.seek(0)
    return stream, digest.hexdigest()


async def _chunks(stream: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(stream.read, _READ_BYTES):
            yield chunk
    finally:
        stream.close()
